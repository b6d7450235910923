/*-------------------------------------------------------------------------
 *
 * pageutil.h
 *	  Page helpers shared by engram's access methods.
 *
 * src/pageutil.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_PAGEUTIL_H
#define ENGRAM_PAGEUTIL_H

#include "common/relpath.h"
#include "storage/buf.h"
#include "utils/relcache.h"

extern Buffer EngramExtendByOnePage(Relation index, ForkNumber forknum);

#endif							/* ENGRAM_PAGEUTIL_H */
