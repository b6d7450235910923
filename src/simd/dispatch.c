/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  CPU detection and selection of the kernel table in use.
 *
 * Detection runs once (engram_simd_init(), or lazily from any function
 * here) and records which variants this CPU and OS can run.  A variant is
 * usable only if the CPU reports every extension its kernels are compiled
 * for and, on x86, the OS saves the register state those extensions use
 * (XCR0): a CPU with AVX-512 under an OS or hypervisor that does not save
 * ZMM state must not run AVX-512 code.
 *
 * engram_kernels starts out pointing at the scalar table, so a distance
 * computed before init is merely slow, never a crash.
 *
 * Not thread-safe; a backend is single-threaded and calls init first.
 *
 * src/simd/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

const EngramKernels *engram_kernels = &engram_kernels_scalar;

static const char *const variant_names[ENGRAM_SIMD_NVARIANTS] = {
	[ENGRAM_SIMD_SCALAR] = "scalar",
	[ENGRAM_SIMD_AVX2] = "avx2",
	[ENGRAM_SIMD_AVX512] = "avx512",
	[ENGRAM_SIMD_NEON] = "neon",
};

#define MAX_FEATURES 16

static bool detected = false;

/* Usable table of each variant, NULL where unsupported */
static const EngramKernels *tables[ENGRAM_SIMD_NVARIANTS];

/* NULL-terminated list of the CPU features seen */
static const char *features[MAX_FEATURES + 1];
static int	nfeatures = 0;

/* Base tables with the entries for optional extensions patched in */
#if defined(__x86_64__)
static EngramKernels avx512_tuned;
#endif
#if defined(__aarch64__)
static EngramKernels neon_tuned;
#endif

/* Record a feature as seen if present; returns present */
static bool
note_feature(bool present, const char *name)
{
	if (present && nfeatures < MAX_FEATURES)
		features[nfeatures++] = name;
	return present;
}

#if defined(__x86_64__)

/* CPUID.1:ECX */
#define CPUID1_ECX_FMA			(1u << 12)
#define CPUID1_ECX_OSXSAVE		(1u << 27)
#define CPUID1_ECX_AVX			(1u << 28)
#define CPUID1_ECX_F16C			(1u << 29)
/* CPUID.(7,0):EBX */
#define CPUID7_EBX_AVX2			(1u << 5)
#define CPUID7_EBX_AVX512F		(1u << 16)
#define CPUID7_EBX_AVX512BW		(1u << 30)
#define CPUID7_EBX_AVX512VL		(1u << 31)
/* CPUID.(7,0):ECX */
#define CPUID7_ECX_AVX512VNNI	(1u << 11)
#define CPUID7_ECX_AVX512VPOPCNTDQ (1u << 14)
/* CPUID.(7,0):EDX */
#define CPUID7_EDX_AVX512FP16	(1u << 23)

/* XCR0: SSE and AVX (YMM) state; opmask, upper ZMM0-15 and ZMM16-31 */
#define XCR0_YMM				0x06
#define XCR0_ZMM				0xe0

static uint64_t
read_xcr0(void)
{
	uint32_t	lo;
	uint32_t	hi;

	__asm__ volatile ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));
	return ((uint64_t) hi << 32) | lo;
}

static void
detect_cpu(void)
{
	unsigned int eax = 0,
				ecx1 = 0,
				ebx7 = 0,
				ecx7 = 0,
				edx7 = 0,
				unused = 0;
	uint64_t	xcr0 = 0;
	bool		os_ymm;
	bool		os_zmm;
	bool		avx2;
	bool		avx512;

	if (!__get_cpuid_count(1, 0, &eax, &unused, &ecx1, &unused))
		return;
	if (!__get_cpuid_count(7, 0, &eax, &ebx7, &ecx7, &edx7))
		ebx7 = ecx7 = edx7 = 0;
	if (ecx1 & CPUID1_ECX_OSXSAVE)
		xcr0 = read_xcr0();
	os_ymm = (ecx1 & CPUID1_ECX_AVX) && (xcr0 & XCR0_YMM) == XCR0_YMM;
	os_zmm = os_ymm && (xcr0 & XCR0_ZMM) == XCR0_ZMM;

	avx2 = note_feature(os_ymm && (ebx7 & CPUID7_EBX_AVX2), "avx2");
	avx2 &= note_feature(os_ymm && (ecx1 & CPUID1_ECX_FMA), "fma");
	avx2 &= note_feature(os_ymm && (ecx1 & CPUID1_ECX_F16C), "f16c");

	/* every AVX-512 CPU has AVX2; the kernels may use it */
	avx512 = avx2;
	avx512 &= note_feature(os_zmm && (ebx7 & CPUID7_EBX_AVX512F), "avx512f");
	avx512 &= note_feature(os_zmm && (ebx7 & CPUID7_EBX_AVX512BW), "avx512bw");
	avx512 &= note_feature(os_zmm && (ebx7 & CPUID7_EBX_AVX512VL), "avx512vl");

	if (avx2)
		tables[ENGRAM_SIMD_AVX2] = &engram_kernels_avx2;
	if (avx512)
	{
		avx512_tuned = engram_kernels_avx512;
		if (note_feature(os_zmm && (ecx7 & CPUID7_ECX_AVX512VPOPCNTDQ),
						 "avx512vpopcntdq"))
			avx512_tuned.hamming = engram_avx512_hamming_vpopcntdq;
		if (note_feature(os_zmm && (ecx7 & CPUID7_ECX_AVX512VNNI),
						 "avx512vnni"))
		{
			avx512_tuned.i8_dot = engram_avx512_i8_dot_vnni;
			avx512_tuned.u8_dot = engram_avx512_u8_dot_vnni;
		}
		note_feature(os_zmm && (edx7 & CPUID7_EDX_AVX512FP16), "avx512fp16");
		tables[ENGRAM_SIMD_AVX512] = &avx512_tuned;
	}
}

#elif defined(__aarch64__)

/* AT_HWCAP bit of FEAT_DotProd (HWCAP_ASIMDDP in <asm/hwcap.h>) */
#define ENGRAM_HWCAP_ASIMDDP	(1ul << 20)

static void
detect_cpu(void)
{
	bool		dotprod = false;

	/* Advanced SIMD is part of the AArch64 base architecture */
	note_feature(true, "neon");
	neon_tuned = engram_kernels_neon;
#if defined(__linux__)
	dotprod = (getauxval(AT_HWCAP) & ENGRAM_HWCAP_ASIMDDP) != 0;
#endif
#ifdef ENGRAM_NEON_DOTPROD
	if (note_feature(dotprod, "dotprod"))
	{
		neon_tuned.i8_dot = engram_neon_i8_dot_dotprod;
		neon_tuned.u8_dot = engram_neon_u8_dot_dotprod;
	}
#else
	note_feature(dotprod, "dotprod");
#endif
	tables[ENGRAM_SIMD_NEON] = &neon_tuned;
}

#else

static void
detect_cpu(void)
{
}

#endif

/* Run detection once */
static void
ensure_detected(void)
{
	if (detected)
		return;
	tables[ENGRAM_SIMD_SCALAR] = &engram_kernels_scalar;
	detect_cpu();
	features[nfeatures] = NULL;
	detected = true;
}

void
engram_simd_init(void)
{
	ensure_detected();
	engram_kernels = tables[engram_simd_best()];
}

EngramSimdVariant
engram_simd_best(void)
{
	static const EngramSimdVariant preference[] = {
		ENGRAM_SIMD_AVX512, ENGRAM_SIMD_AVX2, ENGRAM_SIMD_NEON
	};

	ensure_detected();
	for (int i = 0; i < (int) (sizeof(preference) / sizeof(preference[0])); i++)
	{
		if (tables[preference[i]] != NULL)
			return preference[i];
	}
	return ENGRAM_SIMD_SCALAR;
}

bool
engram_simd_supported(EngramSimdVariant variant)
{
	return engram_simd_table(variant) != NULL;
}

const EngramKernels *
engram_simd_table(EngramSimdVariant variant)
{
	if ((int) variant < 0 || variant >= ENGRAM_SIMD_NVARIANTS)
		return NULL;
	ensure_detected();
	return tables[variant];
}

bool
engram_simd_select(EngramSimdVariant variant)
{
	const EngramKernels *table = engram_simd_table(variant);

	if (table == NULL)
		return false;
	engram_kernels = table;
	return true;
}

const char *
engram_simd_variant_name(EngramSimdVariant variant)
{
	if ((int) variant < 0 || variant >= ENGRAM_SIMD_NVARIANTS)
		return "unknown";
	return variant_names[variant];
}

int
engram_simd_variant_from_name(const char *name)
{
	for (int i = 0; i < ENGRAM_SIMD_NVARIANTS; i++)
	{
		if (strcmp(name, variant_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *const *
engram_simd_cpu_features(void)
{
	ensure_detected();
	return features;
}
