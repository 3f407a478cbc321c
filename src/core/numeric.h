/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small numeric helpers shared by the event-time code (the grid and bars of
 * core/vol.c) and by calibration's return sampler, which must cut time and
 * take log-returns exactly as the estimators do, and calibration's
 * compensated sums.
 */
#ifndef LVC_CORE_NUMERIC_H
#define LVC_CORE_NUMERIC_H

#include <float.h>
#include <math.h>
#include <stdint.h>

/* Floor and ceiling of a / b for b > 0, also for negative a (times before
 * the epoch). */
static inline int64_t lvc_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static inline int64_t lvc_ceil_div(int64_t a, int64_t b)
{
	return a / b + (a % b > 0);
}

/* ln(a / b) for finite a, b > 0, finite for every such pair (the quotient
 * may overflow or underflow where the logs do not). */
static inline double lvc_lnratio(double a, double b)
{
	double q = a / b;

	if (q >= DBL_MIN && q <= DBL_MAX) {
		return log(q);
	}
	return log(a) - log(b);
}

/* A compensated sum (Neumaier): its rounding error stays near one ulp of
 * the total instead of growing with the count (likelihoods over long
 * samples). Start from { 0, 0 }; the sum is s + c. */
typedef struct lvc_ksum_s {
	double s, c;
} lvc_ksum_t;

static inline void lvc_ksum_add(lvc_ksum_t *k, double x)
{
	double t = k->s + x;

	if (fabs(k->s) >= fabs(x)) {
		k->c += (k->s - t) + x;
	} else {
		k->c += (x - t) + k->s;
	}
	k->s = t;
}

static inline double lvc_ksum_get(const lvc_ksum_t *k)
{
	return k->s + k->c;
}

#endif
