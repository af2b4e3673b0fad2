/* Exposition number formatting: integers and Go-compatible shortest round-trip floats. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo_priv.h"

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
				     "25262728293031323334353637383940414243444546474849"
				     "50515253545556575859606162636465666768697071727374"
				     "75767778798081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
	1ULL,
	10ULL,
	100ULL,
	1000ULL,
	10000ULL,
	100000ULL,
	1000000ULL,
	10000000ULL,
	100000000ULL,
	1000000000ULL,
	10000000000ULL,
	100000000000ULL,
	1000000000000ULL,
	10000000000000ULL,
	100000000000000ULL,
	1000000000000000ULL,
	10000000000000000ULL,
	100000000000000000ULL,
	1000000000000000000ULL,
	10000000000000000000ULL,
};

char *expo_num_u64(char *p, uint64_t v)
{
	unsigned n = 1;
	char *end;

	/* Digits counted first, then written from the end in place, two per division: a
	 * bucket line is mostly this number. */
	while (n < 20 && v >= pow10_u64[n])
		n++;
	end = p + n;
	p = end;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		*--p = digit_pairs[d + 1];
		*--p = digit_pairs[d];
	}
	if (v >= 10) {
		*--p = digit_pairs[v * 2 + 1];
		*--p = digit_pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	return end;
}

/* "%.{p-1}e" of v into tmp; true when it reads back as v. */
static bool try_precision(double v, int p, char *tmp, size_t len)
{
	snprintf(tmp, len, "%.*e", p - 1, v);
	return strtod(tmp, NULL) == v;
}

/*
 * Rounds the 17 significant digits d17 (with decimal exponent exp) to p < 17 digits and
 * writes "[-]d.ddde[+-]XX" to tmp (at most 26 bytes with the NUL). Returns false when the
 * digits dropped are exactly a half ("5", "50"): d17 may then be rounded up from just below
 * it, so only rounding the exact binary value (snprintf) is right.
 */
static bool round_digits(bool neg, const char d17[17], int exp, int p, char *tmp)
{
	char d[17];
	int o = 0;

	if (d17[p] == '5' && (p == 16 || d17[p + 1] == '0'))
		return false;
	memcpy(d, d17, (size_t)p);
	if (d17[p] >= '5') {
		int i = p - 1;

		while (i >= 0 && d[i] == '9')
			d[i--] = '0';
		if (i >= 0) {
			d[i]++;
		} else {
			d[0] = '1'; /* 9.99..9 rounded up: 1.00..0 of the next power of ten */
			exp++;
		}
	}
	if (neg)
		tmp[o++] = '-';
	tmp[o++] = d[0];
	tmp[o++] = '.';
	memcpy(tmp + o, d + 1, (size_t)p - 1);
	o += p - 1;
	tmp[o++] = 'e';
	tmp[o++] = exp < 0 ? '-' : '+';
	exp = exp < 0 ? -exp : exp;
	if (exp >= 100)
		tmp[o++] = (char)('0' + exp / 100);
	tmp[o++] = (char)('0' + exp / 10 % 10);
	tmp[o++] = (char)('0' + exp % 10);
	tmp[o] = '\0';
	return true;
}

/* The shortest "%e" text of finite, non-zero v that reads back as v, into tmp. */
static void shortest_e(double v, char *tmp, size_t len)
{
	char t17[40], d17[17];
	int lo = 1, hi = 17, p, nd = 0, exp;

	/*
	 * A normal double is within 2^-53 (relative) of any decimal that reads back as it, closer
	 * than half the spacing of 15 significant digits: when one of at most 15 digits exists,
	 * rounding to 15 digits yields exactly it. So 15 decides between "at most 15" (the
	 * trailing zeros are stripped later) and 16 or 17 (17 always reads back). The 15 and 16
	 * digit roundings are derived from one 17-digit conversion where that is exact.
	 */
	if (fabs(v) >= DBL_MIN) {
		snprintf(t17, sizeof(t17), "%.16e", v);
		for (const char *c = t17; *c != 'e'; c++) {
			if (*c >= '0' && *c <= '9')
				d17[nd++] = *c;
		}
		exp = atoi(strchr(t17, 'e') + 1);
		for (p = 15; p <= 16; p++) {
			if (!round_digits(signbit(v), d17, exp, p, tmp))
				snprintf(tmp, len, "%.*e", p - 1, v);
			if (strtod(tmp, NULL) == v)
				return;
		}
		snprintf(tmp, len, "%s", t17);
		return;
	}
	/* Subnormals have fewer bits: search the shortest precision (monotonic in p). */
	while (lo < hi) {
		p = (lo + hi) / 2;
		if (try_precision(v, p, tmp, len))
			hi = p;
		else
			lo = p + 1;
	}
	snprintf(tmp, len, "%.*e", lo - 1, v);
}

/* 10^0 .. 10^27: exact in long double (5^27 < 2^64), so one scaling rounds once. */
static const long double pow10_ld[28] = {
	1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
	1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
	1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/* 10^0 .. 10^22: exact in double. */
static const double pow10_d[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * Rounds |v| (normal) to p <= 17 significant digits: *m gets them as an integer, *e10 the
 * decimal exponent of the first. |v| * 10^s is computed in long double with one rounding,
 * off by less than 2^-64 relative, under 0.006 of a unit at 17 digits; false (the caller
 * then uses the exact, slow path) when the fraction is that close to a half, or when the
 * scale is out of the exact table.
 */
static bool round_fast(double v, int p, uint64_t *m, int *e10)
{
	long double a = fabs(v);
	int e = (int)floor(log10(fabs(v)));

	for (int tries = 0; tries < 3; tries++) {
		int s = p - 1 - e;
		long double x, frac;
		uint64_t mi;

		if (s > 27 || s < -27)
			return false;
		x = s >= 0 ? a * pow10_ld[s] : a / pow10_ld[-s];
		/* log10 may be one off near powers of ten: move the scale by one. */
		if (x < pow10_ld[p - 1]) {
			e--;
			continue;
		}
		if (x >= pow10_ld[p]) {
			e++;
			continue;
		}
		mi = (uint64_t)x;
		frac = x - (long double)mi;
		/* 4x the bound on the scaling error: x * 2^-64. */
		if (fabsl(frac - 0.5L) < x * 0x1p-62L)
			return false;
		if (frac > 0.5L)
			mi++;
		if (mi == pow10_u64[p]) {
			mi = pow10_u64[p - 1];
			e++;
		}
		*m = mi;
		*e10 = e;
		return true;
	}
	return false;
}

/*
 * reads_back for m up to 2^64: m * 10^e is rounded to long double (64 bits) and then to
 * double. Rounding twice differs from rounding once only when the first lands exactly
 * half-way between two doubles; then -1.
 */
static int reads_back_ld(uint64_t m, int e, double v)
{
	long double y;
	uint64_t sig;
	int ex;

	if (e > 27 || e < -27)
		return -1;
	y = e >= 0 ? (long double)m * pow10_ld[e] : (long double)m / pow10_ld[-e];
	sig = (uint64_t)ldexpl(frexpl(y, &ex), 64);
	if ((sig & 0x7ff) == 0x400)
		return -1;
	return (double)y == fabs(v);
}

/* Whether m * 10^e reads back as |v| (normal): 1 or 0, exact (m and 10^e are exact
 * doubles and one IEEE operation rounds, as strtod does), or -1 when that does not apply. */
static int reads_back(uint64_t m, int e, double v)
{
	double d, scale = 1;

	/* An even m up to 2^54 is 2 * (m / 2): doubling a normal double is exact and commutes
	 * with rounding. */
	if (m > (1ULL << 53) && m <= (1ULL << 54) && !(m & 1)) {
		m /= 2;
		scale = 2;
	}
	if (m > (1ULL << 53) || e > 22 || e < -22)
		return reads_back_ld(m * (uint64_t)scale, e, v);
	d = e >= 0 ? (double)m * pow10_d[e] : (double)m / pow10_d[-e];
	return d * scale == fabs(v);
}

/* The shortest round-trip digits of finite, non-zero v (no sign, trailing zeros kept) and
 * the decimal exponent of the first digit; *nd is their count. */
static void shortest_digits(double v, char *digits, int *nd, int *exp)
{
	char tmp[40];
	uint64_t m;
	int e;

	/* 15 digits, else 16, else 17, as shortest_e decides (see there), when exact. */
	for (int p = 15; fabs(v) >= DBL_MIN && p <= 17; p++) {
		int rb = 1;

		if (!round_fast(v, p, &m, &e))
			break;
		if (p < 17)
			rb = reads_back(m, e - (p - 1), v);
		if (rb < 0)
			break;
		if (rb) {
			*nd = (int)(expo_num_u64(digits, m) - digits);
			*exp = e;
			return;
		}
	}
	shortest_e(v, tmp, sizeof(tmp));
	*nd = 0;
	for (const char *c = tmp; *c && *c != 'e'; c++) {
		if (*c >= '0' && *c <= '9')
			digits[(*nd)++] = *c;
	}
	*exp = atoi(strchr(tmp, 'e') + 1);
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) into res (at least 40 bytes); returns length. */
static size_t format_go(double v, char *res)
{
	char digits[24];
	int exp = 0, nd = 0;
	size_t o = 0;

	if (isnan(v))
		return (size_t)sprintf(res, "NaN");
	if (isinf(v))
		return (size_t)sprintf(res, signbit(v) ? "-Inf" : "+Inf");
	if (v == 0)
		return (size_t)sprintf(res, "0");
	shortest_digits(v, digits, &nd, &exp);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;

	if (signbit(v))
		res[o++] = '-';
	/* Go's 'g' with shortest precision uses %e below 1e-4 and from 1e+06 (eprec = 6). */
	if (exp < -4 || exp >= 6) {
		res[o++] = digits[0];
		if (nd > 1) {
			res[o++] = '.';
			memcpy(res + o, digits + 1, (size_t)nd - 1);
			o += (size_t)nd - 1;
		}
		o += (size_t)sprintf(res + o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp >= 0) {
		for (int i = 0; i <= exp; i++)
			res[o++] = i < nd ? digits[i] : '0';
		if (nd > exp + 1) {
			res[o++] = '.';
			memcpy(res + o, digits + exp + 1, (size_t)(nd - exp - 1));
			o += (size_t)(nd - exp - 1);
		}
	} else {
		res[o++] = '0';
		res[o++] = '.';
		for (int i = 0; i < -exp - 1; i++)
			res[o++] = '0';
		memcpy(res + o, digits, (size_t)nd);
		o += (size_t)nd;
	}
	res[o] = '\0';
	return o;
}

char *expo_format_double(double v, char *out, size_t len)
{
	char res[64];

	format_go(v, res);
	snprintf(out, len, "%s", res);
	return out;
}

char *expo_num_value(char *p, double v)
{
	char res[64];
	size_t n;

	/* Integers exactly (counters must never read 1e+06), else Go's 'g'. */
	if (v == floor(v) && fabs(v) < 9.2e18) {
		if (v < 0)
			*p++ = '-';
		/* -(int64) of a negative integral double below 2^63 in magnitude is exact. */
		return expo_num_u64(p, (uint64_t)(v < 0 ? -(long long)v : (long long)v));
	}
	n = format_go(v, res);
	memcpy(p, res, n);
	return p + n;
}
