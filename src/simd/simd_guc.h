/*-------------------------------------------------------------------------
 *
 * simd_guc.h
 *	  The engram.simd setting, defined from _PG_init.
 *
 * src/simd/simd_guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGRAM_SIMD_GUC_H
#define ENGRAM_SIMD_GUC_H

/* Define engram.simd; call after engram_simd_init() */
extern void EngramSimdDefineGuc(void);

#endif							/* ENGRAM_SIMD_GUC_H */
