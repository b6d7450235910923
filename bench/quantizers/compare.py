#!/usr/bin/python3
"""
Compare per-vector codes for engram_hnsw's distance estimates on GloVe-100,
cosine distance (vectors normalised), by brute force over the whole base set.

Codes (base vectors; see README.md in this directory):
  exact-f32   float32 vectors (reference: what no quantisation gives)
  sq8-q8      SQ8, scale = max|x|/127, query quantised the same way (as engram)
  sq8         SQ8, float query
  sq4         SQ4, scale = max|x|/7 (levels -7..7), float query
  binary      sign bits of x, Hamming distance, mapped to 1 - cos(pi h / D)
  rabitq      RaBitQ 1 bit/dim: seeded random rotation, centred on the base
              mean, unbiased estimator <o_bar,q>/<o_bar,o>; float rotated query

For each code and the 1,000 held-out queries: recall@10 after exact re-ranking
of the top R by estimated distance, and, over each query's true top 100, the
mean absolute (and signed) error of the estimated cosine distance and the
Spearman rank correlation of estimated vs exact distance.  Also an analytic
index-size model for m = 16 (own code per node vs codes inline in every
neighbour slot).

Usage (from the repository root):
    /usr/bin/python3 bench/quantizers/compare.py [--queries N] [--batch B]
        [--seed S] [--out FILE]
Needs numpy only.
"""
import argparse
import datetime
import math
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.normpath(os.path.join(HERE, '..', 'data', 'cache'))
R_LIST = (10, 20, 40, 100, 200)
K = 10


def load_vectors(path):
    """id<TAB>word<TAB>[f1,...,fD] -> (ids int64[n], X float64[n, D])"""
    ids = []
    parts = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            fields = line.rstrip('\n').split('\t')
            ids.append(int(fields[0]))
            v = fields[-1].strip()
            assert v[0] == '[' and v[-1] == ']', line[:80]
            parts.append(v[1:-1])
    flat = np.array(','.join(parts).split(','), dtype=np.float64)
    n = len(ids)
    assert flat.size % n == 0
    return np.array(ids, dtype=np.int64), flat.reshape(n, flat.size // n)


def load_gt(path):
    gt = {}
    with open(path) as f:
        for line in f:
            qid, lst = line.rstrip('\n').split('\t')
            gt[int(qid)] = [int(t) for t in lst.strip('{}').split(',')]
    return gt


def normalise(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / n, n[:, 0]


def rankdata(a):
    """Average ranks along the last axis (ties share their mean rank)."""
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=np.float64)
    for i in range(a.shape[0]):
        row = a[i]
        order = np.argsort(row, kind='mergesort')
        s = row[order]
        # boundaries of runs of equal values
        starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
        ends = np.r_[starts[1:], len(s)]
        avg = (starts + ends - 1) / 2.0 + 1.0
        ranks = np.repeat(avg, ends - starts)
        out[i, order] = ranks
    return out


def spearman_rows(x, y):
    rx = rankdata(x)
    ry = rankdata(y)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid='ignore', divide='ignore'):
        return (rx * ry).sum(axis=1) / den


def top_r(est, R):
    """Row-wise indices of the R smallest estimates, ordered by (estimate,
    row index); ties at the boundary go to the smaller row index (= smaller
    id: the base file is sorted by id), so coarse estimates (Hamming) are
    reproducible."""
    B = est.shape[0]
    out = np.empty((B, R), dtype=np.int64)
    kth = np.partition(est, R - 1, axis=1)[:, R - 1]
    for b in range(B):
        row = est[b]
        cand = np.flatnonzero(row <= kth[b])
        order = np.lexsort((cand, row[cand]))
        out[b] = cand[order[:R]]
    return out


# ---------------------------------------------------------------- codes

class Code:
    name = ''
    desc = ''
    code_bytes = 0      # packed code
    float_bytes = 0     # per-vector floats the estimate needs

    def est(self, Qn):
        """estimated cosine distances, float32 [B, N]"""
        raise NotImplementedError


class ExactF32(Code):
    name = 'exact-f32'
    desc = 'float32 vectors (reference)'

    def __init__(self, Xn, D):
        self.X = Xn.astype(np.float32)
        self.code_bytes = 4 * D

    def est(self, Qn):
        return 1.0 - Qn.astype(np.float32) @ self.X.T


def sq_encode(X, levels):
    maxabs = np.abs(X).max(axis=1)
    s = np.where(maxabs > 0, maxabs / levels, 1.0)
    # engram: lrintf (round half to even) and clamp, in float32
    s32 = s.astype(np.float32)
    c = np.rint(X.astype(np.float32) / s32[:, None])
    c = np.clip(c, -levels, levels)
    return c.astype(np.float32), s32


class SQ8Q8(Code):
    name = 'sq8-q8'
    desc = 'SQ8 per-vector scale, query also int8 (engram today)'

    def __init__(self, Xn, D):
        self.C, self.s = sq_encode(Xn, 127)
        self.code_bytes, self.float_bytes = D, 4

    def est(self, Qn):
        Cq, sq = sq_encode(Qn, 127)
        # integer dot products are exact in float32 (|sum| <= 127^2 * D < 2^24)
        dot = Cq @ self.C.T
        return 1.0 - (sq[:, None] * self.s[None, :]) * dot


class SQ8(Code):
    name = 'sq8'
    desc = 'SQ8 per-vector scale, float query'

    def __init__(self, Xn, D):
        self.C, self.s = sq_encode(Xn, 127)
        self.code_bytes, self.float_bytes = D, 4

    def est(self, Qn):
        return 1.0 - self.s[None, :] * (Qn.astype(np.float32) @ self.C.T)


class SQ4(Code):
    name = 'sq4'
    desc = 'SQ4 per-vector scale (levels -7..7), float query'

    def __init__(self, Xn, D):
        self.C, self.s = sq_encode(Xn, 7)
        self.code_bytes, self.float_bytes = (D + 1) // 2, 4

    def est(self, Qn):
        return 1.0 - self.s[None, :] * (Qn.astype(np.float32) @ self.C.T)


def signs(X):
    return np.where(X >= 0, 1.0, -1.0).astype(np.float32)


class Binary(Code):
    name = 'binary'
    desc = 'sign bits, Hamming; estimate 1 - cos(pi h / D)'

    def __init__(self, Xn, D):
        self.D = D
        self.S = signs(Xn)
        self.code_bytes = (D + 7) // 8

    def est(self, Qn):
        # h = (D - <s_x, s_q>) / 2, exact in float32
        h = (self.D - signs(Qn) @ self.S.T) * 0.5
        # monotone in h; the mapping only matters for the error columns
        return (1.0 - np.cos(np.pi * h / self.D)).astype(np.float32)


def random_orthogonal(D, seed):
    """Haar-distributed orthogonal matrix (QR of a Gaussian, signs fixed)"""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, D))
    Q, Rm = np.linalg.qr(A)
    return Q * np.sign(np.diag(Rm))[None, :]


class RaBitQ(Code):
    name = 'rabitq'
    desc = ('RaBitQ 1 bit/dim, random rotation, centred on the base mean; '
            'float rotated query')

    def __init__(self, Xn, D, seed):
        self.D = D
        self.P = random_orthogonal(D, seed)
        self.c = Xn.mean(axis=0)
        Rx = Xn - self.c
        self.nr = np.linalg.norm(Rx, axis=1)              # |x - c|
        O = (Rx / self.nr[:, None]) @ self.P.T             # o = P (x-c)/|x-c|
        self.S = signs(O)                                  # code
        # <o_bar, o> with o_bar = sign(o) / sqrt(D)
        self.ob_o = (np.abs(O).sum(axis=1) / math.sqrt(D))
        self.code_bytes, self.float_bytes = (D + 7) // 8, 8
        self.nr32 = self.nr.astype(np.float32)
        self.scale = (1.0 / (math.sqrt(D) * self.ob_o)).astype(np.float32)

    def est(self, Qn):
        Rq = Qn - self.c
        nq = np.linalg.norm(Rq, axis=1)
        qo = ((Rq / nq[:, None]) @ self.P.T).astype(np.float32)
        # unbiased estimate of <o, q'>: <o_bar, q'> / <o_bar, o>
        ip = (qo @ self.S.T) * self.scale[None, :]
        nq32 = nq.astype(np.float32)[:, None]
        nr = self.nr32[None, :]
        # |x - q|^2 = |x-c|^2 + |q-c|^2 - 2 |x-c| |q-c| <o, q'>;
        # cosine distance of unit vectors = |x - q|^2 / 2
        return 0.5 * (nr * nr + nq32 * nq32 - 2.0 * nr * nq32 * ip)


# ---------------------------------------------------------------- size model

PAGE = 8192
PAGE_HEADER = 24
SPECIAL = 8            # HnswPageOpaqueData, MAXALIGNed
ITEMID = 4
NODE_HEADER = 20       # heaptid 6, level 1, flags 1, three float4
TID = 6


def maxalign(n):
    return (n + 7) & ~7


def align2(n):
    return (n + 1) & ~1


def node_bytes(own_code, level, m, inline):
    """engram's node layout (src/am/hnsw/hnsw.h), optionally with `inline`
    code bytes next to every neighbour pointer.  The header's three float4
    hold the own code's per-vector floats (SQ: scale, norm, residual;
    RaBitQ: |x-c|, <o_bar,o>)."""
    size = align2(NODE_HEADER + own_code)
    size = align2(size + 2 * (level + 1))
    slots = 2 * m + level * m
    return size + slots * (TID + inline)


def index_mib(n, m, own_code, inline):
    """layer-0-only nodes in the warm tier, nodes with upper layers (a
    fraction 1/m, counted as level 1) in the hot tier, plus the meta page"""
    usable = PAGE - PAGE_HEADER - SPECIAL
    n_hot = round(n / m)
    n_warm = n - n_hot
    pages = 1
    sizes = {}
    for cnt, level in ((n_warm, 0), (n_hot, 1)):
        sz = node_bytes(own_code, level, m, inline)
        per_page = usable // (maxalign(sz) + ITEMID)
        sizes[level] = (sz, per_page)
        pages += -(-cnt // per_page)
    return pages * PAGE / 2**20, sizes


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base', default=os.path.join(CACHE, 'glove-base.tsv'))
    ap.add_argument('--queries-file', default=os.path.join(CACHE, 'glove-queries.tsv'))
    ap.add_argument('--gt', default=os.path.join(CACHE, 'glove-gt-cosine.tsv'))
    ap.add_argument('--queries', type=int, default=0, help='first N queries (0 = all)')
    ap.add_argument('--batch', type=int, default=50, help='queries per batch')
    ap.add_argument('--seed', type=int, default=20261206, help='RaBitQ rotation seed')
    ap.add_argument('--m', type=int, default=16, help='HNSW m for the size model')
    ap.add_argument('--out', default=None,
                    help='Markdown output (default bench/quantizers/results-YYYYMMDD.md)')
    args = ap.parse_args()

    t0 = time.time()
    cmd = ' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
    base_ids, X = load_vectors(args.base)
    q_ids, Q = load_vectors(args.queries_file)
    gt = load_gt(args.gt)
    if args.queries:
        q_ids, Q = q_ids[:args.queries], Q[:args.queries]
    N, D = X.shape
    nq = len(q_ids)
    Xn, xnorm = normalise(X)
    Qn, qnorm = normalise(Q)
    assert (xnorm > 0).all() and (qnorm > 0).all(), 'zero vectors'
    del X, Q
    assert (np.diff(base_ids) > 0).all(), 'base ids must be increasing'
    pos = {int(i): k for k, i in enumerate(base_ids)}
    GT = np.array([[pos[i] for i in gt[int(q)]] for q in q_ids], dtype=np.int64)
    t_load = time.time() - t0
    print(f'loaded {N} x {D} base, {nq} queries, gt top-{GT.shape[1]} '
          f'in {t_load:.1f} s', file=sys.stderr)

    t1 = time.time()
    codes = [ExactF32(Xn, D), SQ8Q8(Xn, D), SQ8(Xn, D), SQ4(Xn, D),
             Binary(Xn, D), RaBitQ(Xn, D, args.seed)]
    t_enc = time.time() - t1
    print(f'encoded in {t_enc:.1f} s', file=sys.stderr)

    Rmax = max(R_LIST)
    hits = {c.name: {R: 0 for R in R_LIST} for c in codes}
    abs_err = {c.name: [] for c in codes}
    sgn_err = {c.name: [] for c in codes}
    rho = {c.name: [] for c in codes}
    t_code = {c.name: 0.0 for c in codes}
    gt10 = GT[:, :K]

    for b0 in range(0, nq, args.batch):
        Qb = Qn[b0:b0 + args.batch]
        Gb = GT[b0:b0 + args.batch]
        B = Qb.shape[0]
        # exact distances of the true top 100, float64
        ex100 = 1.0 - np.einsum('bkd,bd->bk', Xn[Gb], Qb)
        for c in codes:
            tc = time.time()
            est = c.est(Qb)
            e100 = np.take_along_axis(est, Gb, axis=1).astype(np.float64)
            d = e100 - ex100
            abs_err[c.name].append(np.abs(d).mean(axis=1))
            sgn_err[c.name].append(d.mean(axis=1))
            rho[c.name].append(spearman_rows(e100, ex100))
            cand = top_r(est, Rmax)
            del est
            exc = 1.0 - np.einsum('brd,bd->br', Xn[cand], Qb)
            for R in R_LIST:
                cr, er = cand[:, :R], exc[:, :R]
                for i in range(B):
                    order = np.lexsort((cr[i], er[i]))[:K]
                    hits[c.name][R] += np.intersect1d(cr[i][order], gt10[b0 + i]).size
            t_code[c.name] += time.time() - tc
        print(f'  {b0 + B}/{nq} queries, {time.time() - t0:.0f} s', file=sys.stderr)

    runtime = time.time() - t0

    # ------------------------------------------------------------ report
    L = []
    L.append(f'# Quantizer comparison: GloVe-100 cosine, brute force '
             f'({datetime.datetime.now():%Y%m%d-%H%M})')
    L.append('')
    L.append(f'- command: `/usr/bin/python3 {cmd}`')
    L.append(f'- data: {N} base vectors, {nq} held-out queries, D = {D}, '
             f'all normalised; ground truth `{os.path.basename(args.gt)}` '
             f'(exact top-100)')
    L.append(f'- RaBitQ rotation seed {args.seed}; python {platform.python_version()}, '
             f'numpy {np.__version__}; runtime {runtime:.0f} s '
             f'(load {t_load:.0f} s, encode {t_enc:.0f} s)')
    L.append('')
    L.append('recall@10 (R = R): the R base vectors with the smallest estimated '
             'distance (brute force, ties by id) re-ranked by exact distance, '
             'top 10 compared with the true top 10.  MAE, bias, Spearman: '
             'estimated vs exact cosine distance over each query\'s true '
             'top 100, mean over queries.')
    L.append('')
    hdr = ('| code | bytes/vector | ' +
           ' | '.join(f'R={R}' for R in R_LIST) +
           ' | MAE | bias | Spearman ρ |')
    L.append(hdr)
    L.append('|' + '---|' * (hdr.count('|') - 1))
    for c in codes:
        rec = [hits[c.name][R] / (K * nq) for R in R_LIST]
        mae = np.concatenate(abs_err[c.name]).mean()
        bias = np.concatenate(sgn_err[c.name]).mean()
        r = np.nanmean(np.concatenate(rho[c.name]))
        nb = c.code_bytes + c.float_bytes
        bstr = (f'{nb} ({c.code_bytes} + {c.float_bytes})' if c.float_bytes
                else f'{nb}')
        L.append(f'| {c.name} | {bstr} | ' +
                 ' | '.join(f'{x:.4f}' for x in rec) +
                 f' | {mae:.4f} | {bias:+.4f} | {r:.3f} |')
    L.append('')
    for c in codes:
        L.append(f'- `{c.name}`: {c.desc}')
    L.append('')

    # size model
    m = args.m
    L.append(f'## Index size model, m = {m}, {N} nodes, 8 kB pages')
    L.append('')
    L.append(f'Node = {NODE_HEADER}-byte header (its three float4 hold the '
             f'code\'s per-vector floats) + own code + uint16 counts + '
             f'{2 * m} layer-0 slots (+{m} per upper layer) of {TID}-byte '
             f'neighbour pointers, MAXALIGNed, + {ITEMID}-byte line pointer; '
             f'{PAGE - PAGE_HEADER - SPECIAL} usable bytes a page; 1/m of the '
             f'nodes counted with one upper layer.  "inline": every neighbour '
             f'slot also carries that neighbour\'s code and floats.  The '
             f'model gives the sq8 / own-code row as the current layout '
             f'(measured: 108.7 MiB in bench/results/glove-20261203-1038.md); '
             f'pgvector 241.8 MiB, target ≤ 121 MiB.')
    L.append('')
    L.append('| own code | inline neighbour code | layer-0 node bytes | '
             'nodes/page | index MiB |')
    L.append('|---|---|---|---|---|')
    variants = [('sq8', 100, None), ('sq4', 50, None), ('binary / rabitq', 13, None),
                ('sq8', 100, ('sq8', 104)), ('sq4', 50, ('sq4', 54)),
                ('binary', 13, ('binary', 13)), ('rabitq', 13, ('rabitq', 21)),
                ('sq8', 100, ('binary', 13)), ('sq8', 100, ('rabitq', 21))]
    for own_name, own, inl in variants:
        ib = inl[1] if inl else 0
        mib, sizes = index_mib(N, m, own, ib)
        L.append(f'| {own_name} ({own} B) | '
                 f'{"–" if not inl else f"{inl[0]} ({ib} B)"} | '
                 f'{sizes[0][0]} | {sizes[0][1]} | {mib:.1f} |')
    L.append('')
    target = 121.0
    fits = []
    for own_name, own in (('sq8', 100), ('sq4', 50), ('binary / rabitq', 13)):
        best = max((b for b in range(0, 128)
                    if index_mib(N, m, own, b)[0] <= target), default=None)
        fits.append(f'{own_name} own code: '
                    + ('none' if best is None else
                       f'{best} B' + (' (no inline code at all)' if best == 0 else '')))
    L.append(f'Largest inline code per neighbour slot that keeps the index '
             f'≤ {target:.0f} MiB: ' + '; '.join(fits) + '.')
    L.append('')

    text = '\n'.join(L)
    print(text)
    out = args.out or os.path.join(
        HERE, f'results-{datetime.date.today():%Y%m%d}.md')
    with open(out, 'w') as f:
        f.write(text)
    print(f'wrote {out}; per-code seconds: ' +
          ', '.join(f'{k} {v:.0f}' for k, v in t_code.items()), file=sys.stderr)


if __name__ == '__main__':
    main()
