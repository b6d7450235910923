/*-------------------------------------------------------------------------
 *
 * simd_test.c
 *	  Stand-alone tests of every kernel table against double references.
 *
 * For each variant compiled in (and each base table whose entries the
 * dispatcher may replace), every table entry is checked on every length
 * from 1 to MAX_N, with the operands at 0-3 elements past a 64-byte
 * boundary, in several value classes: ordinary, large (the result close to
 * FLT_MAX / 8), tiny (subnormal inputs or products) and mixed exponents.
 * Half-precision kernels are also run over every finite binary16 value.
 * Variants this CPU cannot run are reported as skipped.  Output is TAP,
 * one line per (variant, kernel); exit status 1 if anything failed.
 *
 * Integer kernels and conversions must match exactly.  Float kernels must
 * be within the standard bound for floating-point summation in any order:
 * for terms t_i whose computed values carry a relative error of at most
 * 3u (a subtraction, a square and no FMA in the worst case), and a
 * summation tree of depth at most n - 1,
 *
 *	 |computed - exact| <= (n + 4) * u * sum |t_i| + n * 2^-149
 *
 * with u = 2^-24 the unit roundoff of float; the second term allows each
 * product that underflows into the subnormal range to lose half an ulp of
 * 2^-149.  (The double-precision reference adds n * 2^-53 relative error,
 * which the slack of the first term covers.)  Cosine combines the bounds
 * of its three sums, see check_cosine().
 *
 * src/simd/test/simd_test.c
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f16.h"
#include "kernels.h"

#define MAX_N		2100
#define PAD			64			/* room for offsets and masked loads */
#define NCLASSES	4

typedef enum Kernel
{
	K_F32_L2SQ,
	K_F32_DOT,
	K_F32_L1,
	K_F32_COSINE,
	K_F16_L2SQ,
	K_F16_DOT,
	K_F16_L1,
	K_F16_COSINE,
	K_I8_DOT,
	K_I8_L2SQ,
	K_U8_DOT,
	K_U8_L2SQ,
	K_HAMMING,
	K_F16_TO_F32,
	K_F32_TO_F16,
	NKERNELS
} Kernel;

static const char *const kernel_names[NKERNELS] = {
	"f32_l2sq", "f32_dot", "f32_l1", "f32_cosine_sim",
	"f16_l2sq", "f16_dot", "f16_l1", "f16_cosine_sim",
	"i8_dot", "i8_l2sq", "u8_dot", "u8_l2sq", "hamming",
	"f16_to_f32", "f32_to_f16"
};

typedef enum FloatOp
{
	OP_L2SQ,
	OP_DOT,
	OP_L1,
	OP_COSINE
} FloatOp;

typedef enum ValueClass
{
	VC_ORDINARY,
	VC_LARGE,
	VC_TINY,
	VC_MIXED
} ValueClass;

static const char *const class_names[NCLASSES] = {
	"ordinary", "large", "tiny", "mixed"
};

/* Operand buffers, 64-byte aligned */
static float *fa,
		   *fb;
static uint16_t *ha,
		   *hb;
static uint8_t *ba,
		   *bb;

/* Every finite binary16 value, shuffled */
static uint16_t all_halves[63488];

/* Whether the current (variant, kernel) has printed a diagnostic yet */
static bool reported;

/* splitmix64: deterministic, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) */
static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) * 0x1p-53;
}

static int
rng_range(int lo, int hi)
{
	return lo + (int) (rng_next() % (uint64_t) (hi - lo + 1));
}

static double
rng_sign(void)
{
	return (rng_next() & 1) ? -1.0 : 1.0;
}

static void
diag_failure(const char *fmt, int n, const char *cls, double got, double want,
			 double tol)
{
	if (reported)
		return;
	reported = true;
	printf(fmt, n, cls, got, want, tol);
}

/*
 * Reference conversions, written independently of f16.h: arithmetic in
 * double rather than bit manipulation.
 */
static float
ref_half_to_float(uint16_t h)
{
	int			exponent = (h >> 10) & 0x1f;
	int			mantissa = h & 0x3ff;
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	bits;
	float		f;

	if (exponent == 0x1f)
		bits = 0x7f800000 | (mantissa ? 0x00400000 | (uint32_t) mantissa << 13 : 0);
	else
	{
		f = (float) (exponent ? ldexp(1024 + mantissa, exponent - 25)
					 : ldexp(mantissa, -24));
		memcpy(&bits, &f, sizeof(bits));
	}
	bits |= sign;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static uint16_t
ref_float_to_half(float f)
{
	uint32_t	bits;
	uint16_t	sign;
	double		x = fabs((double) f);
	double		quantum;
	double		r;
	int			e;

	memcpy(&bits, &f, sizeof(bits));
	sign = (uint16_t) ((bits >> 16) & 0x8000);
	if (isnan(f))
		return sign | 0x7e00 | ((bits >> 13) & 0x3ff);
	if (x >= 65520.0)
		return sign | 0x7c00;
	frexp(x, &e);
	quantum = x < 0x1p-14 ? 0x1p-24 : ldexp(1.0, e - 11);
	r = nearbyint(x / quantum) * quantum;	/* ties to even */
	if (r < 0x1p-14)
		return sign | (uint16_t) (r * 0x1p24);
	frexp(r, &e);
	return sign | (uint16_t) ((e + 14) << 10) |
		(uint16_t) ((ldexp(r, 1 - e) - 1.0) * 1024.0);
}

/*
 * Float inputs of one class for a kernel, scaled so that sum |t_i| stays
 * below FLT_MAX / 8 (and, for cosine, the norms stay normal floats).
 */
static double
class_value(ValueClass vc, FloatOp op, int n)
{
	double		limit = FLT_MAX / 8.0;
	double		m;

	switch (vc)
	{
		case VC_ORDINARY:
			return rng_sign() * rng_unit();
		case VC_LARGE:
			if (op == OP_L1)
				m = limit / (2.0 * n);
			else if (op == OP_L2SQ)
				m = sqrt(limit / (4.0 * n));
			else
				m = sqrt(limit / n);
			return rng_sign() * m * (0.5 + 0.5 * rng_unit());
		case VC_TINY:
			if (op == OP_COSINE)
				return rng_sign() * ldexp(1.0 + rng_unit(), rng_range(-63, -40));
			return rng_sign() * ldexp(1.0 + rng_unit(), rng_range(-149, -50));
		case VC_MIXED:
			return rng_sign() * ldexp(1.0 + rng_unit(), rng_range(-20, 20));
	}
	return 0.0;
}

/* Checks one float result against the summation bound in the header */
static bool
check_sum(FloatOp op, const float *a, const float *b, int n, double got,
		  const char *cls)
{
	double		sum = 0.0;
	double		abssum = 0.0;
	double		tol;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];
		double		t = op == OP_L2SQ ? d * d : op == OP_L1 ? fabs(d)
			: (double) a[i] * (double) b[i];

		sum += t;
		abssum += fabs(t);
	}
	tol = (n + 4) * 0x1p-24 * abssum + n * 0x1p-149;
	if (fabs(got - sum) <= tol)
		return true;
	diag_failure("# n=%d class=%s got=%.9g want=%.9g tol=%.3g\n",
				 n, cls, got, sum, tol);
	return false;
}

/*
 * Cosine: the dot product D and the norms A, B are each within the sum
 * bound (E_d, E_a, E_b).  D / sqrt(A * B) is then off by at most
 * E_d / sqrt(A * B) plus |cos| times the relative error of sqrt(A * B),
 * (E_a / A + E_b / B) / 2 to first order; we allow the full sum of the
 * relative errors to cover second-order terms and the final rounding.
 */
static bool
check_cosine(const float *a, const float *b, int n, double got,
			 const char *cls)
{
	double		dot = 0.0;
	double		absdot = 0.0;
	double		na = 0.0;
	double		nb = 0.0;
	double		want;
	double		rel;
	double		tol;

	for (int i = 0; i < n; i++)
	{
		double		x = a[i];
		double		y = b[i];

		dot += x * y;
		absdot += fabs(x * y);
		na += x * x;
		nb += y * y;
	}
	want = dot / sqrt(na * nb);
	rel = 2 * ((n + 4) * 0x1p-24 + n * 0x1p-149 / fmin(na, nb));
	tol = ((n + 4) * 0x1p-24 * absdot + n * 0x1p-149) / sqrt(na * nb) +
		fabs(want) * rel + 0x1p-52;
	if (fabs(got - want) <= tol)
		return true;
	diag_failure("# n=%d class=%s got=%.17g want=%.17g tol=%.3g\n",
				 n, cls, got, want, tol);
	return false;
}

static bool
check_float(FloatOp op, const float *a, const float *b, int n, double got,
			const char *cls)
{
	if (op == OP_COSINE)
		return check_cosine(a, b, n, got, cls);
	return check_sum(op, a, b, n, got, cls);
}

static double
call_f32(const EngramKernels *k, FloatOp op, const float *a, const float *b,
		 int n)
{
	switch (op)
	{
		case OP_L2SQ:
			return k->f32_l2sq(a, b, n);
		case OP_DOT:
			return k->f32_dot(a, b, n);
		case OP_L1:
			return k->f32_l1(a, b, n);
		case OP_COSINE:
			return k->f32_cosine_sim(a, b, n);
	}
	return NAN;
}

static double
call_f16(const EngramKernels *k, FloatOp op, const uint16_t *a,
		 const uint16_t *b, int n)
{
	switch (op)
	{
		case OP_L2SQ:
			return k->f16_l2sq(a, b, n);
		case OP_DOT:
			return k->f16_dot(a, b, n);
		case OP_L1:
			return k->f16_l1(a, b, n);
		case OP_COSINE:
			return k->f16_cosine_sim(a, b, n);
	}
	return NAN;
}

static bool
test_f32(const EngramKernels *k, FloatOp op)
{
	bool		ok = true;

	for (int vc = 0; vc < NCLASSES; vc++)
	{
		for (int n = 1; n <= MAX_N; n++)
		{
			float	   *a = fa + n % 4;
			float	   *b = fb + (n / 4) % 4;

			for (int i = 0; i < n; i++)
			{
				a[i] = (float) class_value(vc, op, n);
				b[i] = (float) class_value(vc, op, n);
			}
			ok &= check_float(op, a, b, n, call_f32(k, op, a, b, n),
							  class_names[vc]);
		}
	}
	return ok;
}

/* Runs a half kernel and checks it on the widened inputs */
static bool
check_f16(const EngramKernels *k, FloatOp op, const uint16_t *a,
		  const uint16_t *b, int n, const char *cls)
{
	static float wa[MAX_N];
	static float wb[MAX_N];

	for (int i = 0; i < n; i++)
	{
		wa[i] = ref_half_to_float(a[i]);
		wb[i] = ref_half_to_float(b[i]);
	}
	return check_float(op, wa, wb, n, call_f16(k, op, a, b, n), cls);
}

/* A random finite half: any bit pattern but infinities and NaNs */
static uint16_t
random_finite_half(void)
{
	uint16_t	h;

	do
		h = (uint16_t) rng_next();
	while ((h & 0x7c00) == 0x7c00);
	return h;
}

static bool
test_f16(const EngramKernels *k, FloatOp op)
{
	int			total = (int) (sizeof(all_halves) / sizeof(all_halves[0]));
	bool		ok = true;

	for (int n = 1; n <= MAX_N; n++)
	{
		uint16_t   *a = ha + n % 4;
		uint16_t   *b = hb + (n / 4) % 4;

		for (int i = 0; i < n; i++)
		{
			a[i] = random_finite_half();
			b[i] = random_finite_half();
		}
		ok &= check_f16(k, op, a, b, n, "finite");
		for (int i = 0; i < n; i++)
		{
			a[i] = ref_float_to_half((float) (rng_sign() * rng_unit()));
			b[i] = ref_float_to_half((float) (rng_sign() * rng_unit()));
		}
		ok &= check_f16(k, op, a, b, n, "ordinary");
	}

	/* every finite half, against another permutation of them */
	for (int start = 0; start < total; start += MAX_N)
	{
		int			n = total - start < MAX_N ? total - start : MAX_N;

		for (int i = 0; i < n; i++)
			hb[1 + i] = all_halves[total - 1 - start - i];
		ok &= check_f16(k, op, all_halves + start, hb + 1, n, "all-halves");
	}
	return ok;
}

/* Byte operands: random, or only extreme values */
static void
fill_bytes(uint8_t *p, int n, bool extremes, bool is_signed)
{
	static const uint8_t signed_extremes[] = {0x80, 0x81, 0xff, 0, 1, 0x7e, 0x7f};
	static const uint8_t unsigned_extremes[] = {0, 1, 0x7f, 0x80, 0xfe, 0xff};

	for (int i = 0; i < n; i++)
	{
		if (!extremes)
			p[i] = (uint8_t) rng_next();
		else if (is_signed)
			p[i] = signed_extremes[rng_next() % sizeof(signed_extremes)];
		else
			p[i] = unsigned_extremes[rng_next() % sizeof(unsigned_extremes)];
	}
}

/* Exact reference of an integer kernel, modulo 2^64 */
static uint64_t
ref_integer(Kernel kern, const uint8_t *a, const uint8_t *b, int n)
{
	const int8_t *sa = (const int8_t *) a;
	const int8_t *sb = (const int8_t *) b;
	int64_t		sum = 0;

	for (int i = 0; i < n; i++)
	{
		switch (kern)
		{
			case K_I8_DOT:
				sum += (int64_t) sa[i] * sb[i];
				break;
			case K_I8_L2SQ:
				sum += (int64_t) (sa[i] - sb[i]) * (sa[i] - sb[i]);
				break;
			case K_U8_DOT:
				sum += (int64_t) a[i] * b[i];
				break;
			case K_U8_L2SQ:
				sum += (int64_t) (a[i] - b[i]) * (a[i] - b[i]);
				break;
			default:
				for (int bit = 0; bit < 8; bit++)
					sum += ((a[i] ^ b[i]) >> bit) & 1;
				break;
		}
	}
	return (uint64_t) sum;
}

/* The kernel's result, widened as its C type would be */
static uint64_t
call_integer(const EngramKernels *k, Kernel kern, const uint8_t *a,
			 const uint8_t *b, int n)
{
	switch (kern)
	{
		case K_I8_DOT:
			return (uint64_t) (int64_t) k->i8_dot((const int8_t *) a, (const int8_t *) b, n);
		case K_I8_L2SQ:
			return k->i8_l2sq((const int8_t *) a, (const int8_t *) b, n);
		case K_U8_DOT:
			return k->u8_dot(a, b, n);
		case K_U8_L2SQ:
			return k->u8_l2sq(a, b, n);
		default:
			return k->hamming(a, b, n);
	}
}

static bool
test_integer(const EngramKernels *k, Kernel kern)
{
	bool		is_signed = kern == K_I8_DOT || kern == K_I8_L2SQ;
	bool		ok = true;

	for (int extremes = 0; extremes <= 1; extremes++)
	{
		for (int n = 1; n <= MAX_N; n++)
		{
			uint8_t    *a = ba + n % 4;
			uint8_t    *b = bb + (n / 4) % 4;
			uint64_t	want;
			uint64_t	got;

			fill_bytes(a, n, extremes, is_signed);
			fill_bytes(b, n, extremes, is_signed);
			want = ref_integer(kern, a, b, n);
			got = call_integer(k, kern, a, b, n);
			if (kern == K_I8_DOT)
				want = (uint64_t) (int64_t) (int32_t) want;
			if (got != want)
			{
				diag_failure("# n=%d class=%s got=%.0f want=%.0f tol=%g\n", n,
							 extremes ? "extremes" : "random",
							 (double) (int64_t) got, (double) (int64_t) want, 0.0);
				ok = false;
			}
		}
	}
	return ok;
}

static bool
same_float_bits(float x, float y)
{
	return memcmp(&x, &y, sizeof(float)) == 0;
}

static bool
test_f16_to_f32(const EngramKernels *k)
{
	static uint16_t src[65536 + PAD];
	static float dst[65536 + PAD];
	bool		ok = true;

	/* all 65536 inputs in one call */
	for (int i = 0; i < 65536; i++)
		src[1 + i] = (uint16_t) i;
	k->f16_to_f32(src + 1, dst + 3, 65536);
	for (int i = 0; i < 65536 && ok; i++)
	{
		if (!same_float_bits(dst[3 + i], ref_half_to_float((uint16_t) i)))
		{
			printf("# input 0x%04x: got %a\n", i, dst[3 + i]);
			ok = false;
		}
	}

	/* every length, checking nothing is written past the end */
	for (int n = 1; n <= MAX_N && ok; n++)
	{
		uint16_t   *s = src + n % 4;
		float	   *d = dst + (n / 4) % 4;

		for (int i = 0; i < n; i++)
			s[i] = (uint16_t) rng_next();
		d[n] = 42.0f;
		k->f16_to_f32(s, d, n);
		for (int i = 0; i < n && ok; i++)
			ok = same_float_bits(d[i], ref_half_to_float(s[i]));
		ok = ok && d[n] == 42.0f;
		if (!ok)
			printf("# length %d\n", n);
	}
	return ok;
}

/*
 * Float inputs for narrowing: every finite half exactly, the ties halfway
 * to the next half and one float ulp either side of them, the overflow
 * threshold region, the subnormal range, NaNs, and random bit patterns.
 * Returns the number of values written.
 */
static int
fill_narrowing_inputs(float *v)
{
	int			count = 0;

	for (int h = 0; h < 0x7c00; h++)
	{
		float		lo = ref_half_to_float((uint16_t) h);
		float		hi = h + 1 < 0x7c00 ? ref_half_to_float((uint16_t) (h + 1)) : 65536.0f;
		float		mid = (float) (((double) lo + hi) / 2);

		v[count++] = lo;
		v[count++] = -mid;
		v[count++] = nextafterf(mid, 0.0f);
		v[count++] = -nextafterf(mid, INFINITY);
	}
	for (float x = 65504.0f; x <= 65536.0f; x = nextafterf(x, INFINITY))
		v[count++] = x;
	v[count++] = INFINITY;
	v[count++] = -INFINITY;
	v[count++] = FLT_MAX;
	v[count++] = 0x1p-149f;
	for (int i = 0; i < 200000; i++)
		v[count++] = (float) (rng_sign() * ldexp(1.0 + rng_unit(), rng_range(-27, -14)));
	for (int i = 0; i < 1000; i++)
	{
		uint32_t	nan = 0x7f800001 | (uint32_t) rng_next();

		memcpy(&v[count++], &nan, sizeof(float));
	}
	for (int i = 0; i < 500000; i++)
	{
		uint32_t	bits = (uint32_t) rng_next();

		memcpy(&v[count++], &bits, sizeof(float));
	}
	return count;
}

static bool
test_f32_to_f16(const EngramKernels *k)
{
	static float src[900000];
	static uint16_t dst[900000];
	int			count = fill_narrowing_inputs(src);
	bool		ok = true;

	k->f32_to_f16(src, dst, count);
	for (int i = 0; i < count && ok; i++)
	{
		if (dst[i] != ref_float_to_half(src[i]))
		{
			uint32_t	bits;

			memcpy(&bits, &src[i], sizeof(bits));
			printf("# input %a (0x%08x): got 0x%04x want 0x%04x\n",
				   src[i], bits, dst[i], ref_float_to_half(src[i]));
			ok = false;
		}
	}

	/* every length and alignment, checking nothing is written past the end */
	for (int n = 1; n <= MAX_N && ok; n++)
	{
		const float *s = src + rng_range(0, count - MAX_N - 1);
		uint16_t   *d = hb + n % 4;

		d[n] = 0x1234;
		k->f32_to_f16(s, d, n);
		for (int i = 0; i < n && ok; i++)
			ok = d[i] == ref_float_to_half(s[i]);
		ok = ok && d[n] == 0x1234;
		if (!ok)
			printf("# length %d\n", n);
	}
	return ok;
}

static bool
run_kernel(const EngramKernels *k, Kernel kern)
{
	switch (kern)
	{
		case K_F32_L2SQ:
		case K_F32_DOT:
		case K_F32_L1:
		case K_F32_COSINE:
			return test_f32(k, (FloatOp) (kern - K_F32_L2SQ));
		case K_F16_L2SQ:
		case K_F16_DOT:
		case K_F16_L1:
		case K_F16_COSINE:
			return test_f16(k, (FloatOp) (kern - K_F16_L2SQ));
		case K_F16_TO_F32:
			return test_f16_to_f32(k);
		case K_F32_TO_F16:
			return test_f32_to_f16(k);
		default:
			return test_integer(k, kern);
	}
}

static void *
aligned_buffer(size_t bytes)
{
	void	   *p = aligned_alloc(64, (bytes + 63) / 64 * 64);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static void
setup(void)
{
	int			n = 0;

	fa = aligned_buffer((MAX_N + PAD) * sizeof(float));
	fb = aligned_buffer((MAX_N + PAD) * sizeof(float));
	ha = aligned_buffer((MAX_N + PAD) * sizeof(uint16_t));
	hb = aligned_buffer((MAX_N + PAD) * sizeof(uint16_t));
	ba = aligned_buffer(MAX_N + PAD);
	bb = aligned_buffer(MAX_N + PAD);

	for (int h = 0; h < 65536; h++)
	{
		if ((h & 0x7c00) != 0x7c00)
			all_halves[n++] = (uint16_t) h;
	}
	for (int i = n - 1; i > 0; i--)
	{
		int			j = rng_range(0, i);
		uint16_t	t = all_halves[i];

		all_halves[i] = all_halves[j];
		all_halves[j] = t;
	}
}

/*
 * The tables under test: each variant as dispatch.c assembles it, plus the
 * base tables whose entries it may replace, so that the fallback entries
 * are tested on CPUs that have the extension too.
 */
typedef struct TestedTable
{
	const char *label;
	EngramSimdVariant variant;
	bool		base;
} TestedTable;

static const TestedTable tested[] = {
	{"scalar", ENGRAM_SIMD_SCALAR, false},
	{"avx2", ENGRAM_SIMD_AVX2, false},
	{"avx512", ENGRAM_SIMD_AVX512, false},
	{"avx512-base", ENGRAM_SIMD_AVX512, true},
	{"neon", ENGRAM_SIMD_NEON, false},
	{"neon-base", ENGRAM_SIMD_NEON, true},
};

static const EngramKernels *
base_table(EngramSimdVariant variant)
{
#if defined(__x86_64__)
	if (variant == ENGRAM_SIMD_AVX512)
		return &engram_kernels_avx512;
#endif
#if defined(__aarch64__)
	if (variant == ENGRAM_SIMD_NEON)
		return &engram_kernels_neon;
#endif
	(void) variant;
	return NULL;
}

int
main(void)
{
	int			ntables = (int) (sizeof(tested) / sizeof(tested[0]));
	int			test = 0;
	int			failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	engram_simd_init();
	printf("1..%d\n", ntables * NKERNELS);
	printf("# best variant: %s\n", engram_simd_variant_name(engram_simd_best()));

	for (int t = 0; t < ntables; t++)
	{
		const EngramKernels *k = engram_simd_table(tested[t].variant);

		if (k != NULL && tested[t].base)
			k = base_table(tested[t].variant);
		for (int kern = 0; kern < NKERNELS; kern++)
		{
			test++;
			if (k == NULL)
			{
				printf("ok %d # SKIP %s %s: not supported by this CPU or build\n",
					   test, tested[t].label, kernel_names[kern]);
				continue;
			}
			reported = false;
			if (run_kernel(k, kern))
				printf("ok %d - %s %s\n", test, tested[t].label, kernel_names[kern]);
			else
			{
				printf("not ok %d - %s %s\n", test, tested[t].label, kernel_names[kern]);
				failed++;
			}
		}
	}
	if (failed > 0)
		printf("# %d of %d tests failed\n", failed, test);
	return failed > 0 ? 1 : 0;
}
