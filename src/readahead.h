/*-------------------------------------------------------------------------
 *
 * readahead.h
 *	  Batched read-ahead of relation blocks that are not in shared buffers:
 *	  one io_uring submission where the kernel allows it, PrefetchBuffer
 *	  (posix_fadvise) otherwise.  See readahead.c.
 *
 * src/readahead.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_READAHEAD_H
#define ENGRAM_READAHEAD_H

#include "storage/block.h"
#include "storage/buf.h"
#include "utils/relcache.h"

#define ENGRAM_READAHEAD_MAX	64	/* blocks queued before a submission */

typedef struct EngramReadAhead
{
	Relation	rel;
	bool		use_uring;		/* decided once per batch */
	int			added;			/* blocks asked about since the last submit */
	int			n;				/* of them, missing from shared buffers */
	BlockNumber blocks[ENGRAM_READAHEAD_MAX];
} EngramReadAhead;

/* GUC engram.io_uring */
extern bool engram_io_uring;

extern void EngramReadAheadInit(void);
extern bool EngramReadAheadEnabled(void);
extern void EngramReadAheadBegin(EngramReadAhead *ra, Relation rel);
extern Buffer EngramReadAheadAdd(EngramReadAhead *ra, BlockNumber blkno);
extern void EngramReadAheadSubmit(EngramReadAhead *ra);

#endif							/* ENGRAM_READAHEAD_H */
