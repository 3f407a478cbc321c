/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slow reference for the volatility estimators of SPEC §3, for the tests of
 * src/core/vol*.c only. It stores every applied tick and recomputes each
 * estimate from the stored ticks, straight from the definitions written at
 * the top of src/core/vol.c: P(t) by binary search over the ticks, one loop
 * iteration per grid point (no closed forms), bars rebuilt from the ticks
 * inside each bucket, two-pass sample variances, long double recursions.
 * Nothing here shares code with the fast implementation.
 */
#ifndef LVC_TEST_VOL_REF_H
#define LVC_TEST_VOL_REF_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/vol.h"

#define REF_PI 3.14159265358979323846

typedef struct ref_s {
	lvc_vol_params_t p;
	double prior;
	int64_t *ts;
	double *px;
	size_t n, cap;
	/* incremental recursions (one step per grid point / per bar) */
	int started;      /* ewma and garch initialized at the first tick */
	int64_t ewma_k;   /* last grid return folded into ewma */
	size_t ewma_u;    /* ticks with ts <= ewma_k * S */
	long double ewma; /* variance per sample interval */
	int64_t garch_j;  /* last bar folded into garch */
	long double garch;
} ref_t;

static inline void ref_init(ref_t *r, const lvc_vol_params_t *p, double prior)
{
	memset(r, 0, sizeof(*r));
	r->p = *p;
	r->prior = prior;
}

static inline void ref_free(ref_t *r)
{
	free(r->ts);
	free(r->px);
}

/* Applies a tick as SPEC §3 says; returns what lvc_vol_update must return. */
static inline lvc_vol_result_t ref_update(ref_t *r, int64_t ts, double px)
{
	if (!(px > 0) || !isfinite(px) || ts > (INT64_C(1) << 62) || ts < -(INT64_C(1) << 62)) {
		return LVC_VOL_REJECTED;
	}
	if (r->n > 0 && ts < r->ts[r->n - 1]) {
		return LVC_VOL_LATE;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->ts = realloc(r->ts, r->cap * sizeof(*r->ts));
		r->px = realloc(r->px, r->cap * sizeof(*r->px));
	}
	r->ts[r->n] = ts;
	r->px[r->n] = px;
	r->n++;
	return LVC_VOL_APPLIED;
}

static inline int64_t ref_ceil(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (q * b < a) ? q + 1 : q;
}

static inline int64_t ref_floor(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (q * b > a) ? q - 1 : q;
}

/* Index one past the last tick with ts <= t. */
static inline size_t ref_upper(const ref_t *r, int64_t t)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->ts[mid] <= t) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* P(t): price of the last tick with ts <= t (callers ask only t >= first). */
static inline double ref_price_at(const ref_t *r, int64_t t)
{
	size_t u = ref_upper(r, t);

	return u == 0 ? r->px[0] : r->px[u - 1];
}

/* ln(a / b), ln a - ln b when the quotient leaves the normal range. */
static inline double ref_ln(double a, double b)
{
	double q = a / b;

	if (isfinite(q) && q >= DBL_MIN) {
		return log(q);
	}
	return log(a) - log(b);
}

static inline int64_t ref_k0(const ref_t *r)
{
	return ref_ceil(r->ts[0], r->p.sample_interval_us);
}

static inline int64_t ref_kc(const ref_t *r)
{
	return ref_ceil(r->ts[r->n - 1], r->p.sample_interval_us);
}

static inline double ref_ret(const ref_t *r, int64_t k)
{
	int64_t s = r->p.sample_interval_us;

	return ref_ln(ref_price_at(r, k * s), ref_price_at(r, (k - 1) * s));
}

static inline double ref_ann(const ref_t *r, double var, int64_t unit_us)
{
	return sqrt(var * r->p.annualization_days * 86400.0 * 1e6 / (double)unit_us);
}

/* Bar j (ticks in (jB, (j+1)B]); empty: all equal to the previous close. */
typedef struct ref_bar_s {
	double o, h, l, c, cp;
} ref_bar_t;

static inline void ref_bar(const ref_t *r, int64_t j, ref_bar_t *b)
{
	int64_t bar = r->p.bar_interval_us;
	size_t a = ref_upper(r, j * bar);
	size_t e = ref_upper(r, (j + 1) * bar);

	b->cp = ref_price_at(r, j * bar);
	if (a == e) {
		b->o = b->h = b->l = b->c = b->cp;
		return;
	}
	b->o = r->px[a];
	b->h = b->l = r->px[a];
	for (size_t i = a; i < e; i++) {
		b->h = r->px[i] > b->h ? r->px[i] : b->h;
		b->l = r->px[i] < b->l ? r->px[i] : b->l;
	}
	b->c = r->px[e - 1];
}

static inline double ref_sample_var(const double *x, size_t n)
{
	double mean = 0, ss = 0;

	for (size_t i = 0; i < n; i++) {
		mean += x[i];
	}
	mean /= (double)n;
	for (size_t i = 0; i < n; i++) {
		ss += (x[i] - mean) * (x[i] - mean);
	}
	return ss / (double)(n - 1);
}

/* sigma_ann of estimator e as of the stored ticks. */
static inline double ref_sigma(ref_t *r, lvc_estimator_t e)
{
	const lvc_vol_params_t *p = &r->p;
	const int64_t S = p->sample_interval_us, B = p->bar_interval_us;
	const int64_t R = B / S, N = p->window_us / B;
	int64_t k0, kc, cur_j, j_seed, j_lo;

	if (r->n == 0) {
		return r->prior; /* ewma and garch: the prior up to rounding */
	}
	k0 = ref_k0(r);
	kc = ref_kc(r);
	cur_j = ref_floor(kc - 1, R);
	j_seed = ref_floor(k0 - 1, R);
	j_lo = cur_j - N > j_seed ? cur_j - N : j_seed; /* first bucket in window */

	if (!r->started) {
		long double ann_us = p->annualization_days * 86400.0L * 1e6L;

		r->started = 1;
		r->ewma = (long double)r->prior * r->prior / (ann_us / (long double)S);
		r->ewma_k = k0;
		r->garch = (long double)r->prior * r->prior / (ann_us / (long double)B);
		r->garch_j = j_seed;
	}
	if (e == LVC_EST_EWMA) {
		long double lam = exp2l(-(long double)S / (long double)p->half_life_us);
		double prev;

		if (r->ewma_k == k0) {
			/* P(t_k0) is final only once a later tick exists. */
			r->ewma_u = ref_upper(r, k0 * S);
		}
		prev = r->px[r->ewma_u - 1];

		/* One step per grid point; P(t_k) by walking the ticks. */
		for (int64_t k = r->ewma_k + 1; k <= kc - 1; k++) {
			size_t u = r->ewma_u;
			long double x;

			while (u < r->n && r->ts[u] <= k * S) {
				u++;
			}
			x = ref_ln(r->px[u - 1], prev);
			r->ewma = lam * r->ewma + (1.0L - lam) * x * x;
			prev = r->px[u - 1];
			r->ewma_u = u;
			r->ewma_k = k;
		}
		return ref_ann(r, (double)r->ewma, S);
	}
	if (e == LVC_EST_GARCH) {
		for (int64_t j = r->garch_j + 1; j <= cur_j - 1; j++) {
			ref_bar_t b;
			long double x;

			ref_bar(r, j, &b);
			x = ref_ln(b.c, b.cp);
			r->garch =
			    p->garch_omega + p->garch_alpha * x * x + p->garch_beta * r->garch;
			r->garch_j = j;
		}
		return ref_ann(r, (double)r->garch, B);
	}
	if (e == LVC_EST_REALIZED || e == LVC_EST_BIPOWER) {
		/* Returns k in (j_lo R, cur_j R], k >= k0 + 1 (pairs: k >= k0 + 2). */
		double sum = 0;
		int64_t cnt = 0;
		int64_t kmin = e == LVC_EST_REALIZED ? k0 + 1 : k0 + 2;

		for (int64_t k = j_lo * R + 1; k <= cur_j * R; k++) {
			double x;

			if (k < kmin) {
				continue;
			}
			x = ref_ret(r, k);
			sum += e == LVC_EST_REALIZED ? x * x : fabs(x) * fabs(ref_ret(r, k - 1));
			cnt++;
		}
		if (cnt == 0) {
			return r->prior;
		}
		if (e == LVC_EST_REALIZED) {
			return ref_ann(r, sum / (double)cnt, S);
		}
		return ref_ann(r, REF_PI / 2 * sum / (double)cnt, S);
	}
	{
		/* Bars of the window: j_lo .. cur_j - 1, the seed bar excluded. */
		int64_t first = j_lo > j_seed ? j_lo : j_seed + 1;
		size_t nb = cur_j - first > 0 ? (size_t)(cur_j - first) : 0;
		double *xo = calloc(nb + 1, sizeof(double));
		double *xc = calloc(nb + 1, sizeof(double));
		double *xcc = calloc(nb + 1, sizeof(double));
		double sp = 0, sgk = 0, srs = 0, var = 0;
		size_t i = 0;
		int enough;

		for (int64_t j = first; j < cur_j; j++, i++) {
			ref_bar_t b;
			double hl;

			ref_bar(r, j, &b);
			hl = ref_ln(b.h, b.l);
			xo[i] = ref_ln(b.o, b.cp);
			xc[i] = ref_ln(b.c, b.o);
			xcc[i] = ref_ln(b.c, b.cp);
			sp += hl * hl;
			sgk += 0.5 * hl * hl - (2 * log(2.0) - 1) * xc[i] * xc[i];
			srs += ref_ln(b.h, b.c) * ref_ln(b.h, b.o) +
			       ref_ln(b.l, b.c) * ref_ln(b.l, b.o);
		}
		enough = (e == LVC_EST_CLOSE || e == LVC_EST_YANG_ZHANG) ? nb >= 2 : nb >= 1;
		if (enough) {
			double n = (double)nb;

			switch (e) {
			case LVC_EST_CLOSE:
				var = ref_sample_var(xcc, nb);
				break;
			case LVC_EST_PARKINSON:
				var = sp / (4 * n * log(2.0));
				break;
			case LVC_EST_GARMAN_KLASS:
				var = sgk / n;
				break;
			case LVC_EST_ROGERS_SATCHELL:
				var = srs / n;
				break;
			default: {
				double k = 0.34 / (1.34 + (n + 1) / (n - 1));

				var = ref_sample_var(xo, nb) + k * ref_sample_var(xc, nb) +
				      (1 - k) * srs / n;
				break;
			}
			}
		}
		free(xo);
		free(xc);
		free(xcc);
		return enough ? ref_ann(r, var, B) : r->prior;
	}
}

/* |a - b| <= 1e-9 max(|a|, |b|) + 1e-12 (sigma_ann units). */
static inline int ref_close(double a, double b)
{
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return fabs(a - b) <= 1e-9 * m + 1e-12;
}

/* splitmix64: a small deterministic generator for the streams. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline double rng_unif(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static inline double rng_normal(uint64_t *s)
{
	double u = rng_unif(s), v = rng_unif(s);

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * REF_PI * v);
}

/* Volatility params of the defaults with these durations, estimator max
 * over every estimator. */
static inline lvc_vol_params_t ref_params_all(int64_t s_us, int64_t bar_us, int64_t win_us,
                                              int64_t hl_us)
{
	lvc_params_t all;
	lvc_vol_params_t p;

	lvc_params_defaults(&all);
	p = all.vol;
	p.sample_interval_us = s_us;
	p.bar_interval_us = bar_us;
	p.window_us = win_us;
	p.half_life_us = hl_us;
	p.estimator = LVC_EST_MAX;
	p.max_of_n = 0;
	for (int e = 0; e < LVC_EST_MAX; e++) {
		p.max_of[p.max_of_n++] = (lvc_estimator_t)e;
	}
	return p;
}

#endif
