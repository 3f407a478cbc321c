/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Coverage backtest of published margins (calib.h): exceedances of the
 * initial and maintenance margin over the horizon, on non-overlapping
 * horizon blocks (tested: Kupiec POF, Christoffersen independence and
 * conditional coverage) and on every observation (descriptive), per
 * instrument and pooled.
 *
 * Invariants: observations are read in one forward pass with two trailing
 * indexes (the state at t and the price at t + h), so a series costs
 * O(n + span / h) and nothing allocates; counts are integers and the tests
 * are recomputed from them, so pooling is exact. Load: a year of one-second
 * observations per instrument (3e7) is a few hundred milliseconds.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/calib.h"
#include "core/stats.h"
#include "core/numeric.h"

#define MAX_BLOCKS INT64_C(100000000) /* anchors per series: a guard, not a model limit */

/* k ln p with 0 ln 0 = 0 (the limit, as the likelihoods need). */
static double xlogy(int64_t k, double p)
{
	return k == 0 ? 0.0 : (double)k * log(p);
}

lvc_err_t lvc_kupiec_pof(int64_t trials, int64_t exceed, double p, double *lr, double *p_value)
{
	double l0, l1, stat;

	if (trials <= 0 || exceed < 0 || exceed > trials || !(p > 0.0 && p < 1.0)) {
		return LVC_ERR_INVALID;
	}
	l0 = xlogy(trials - exceed, 1.0 - p) + xlogy(exceed, p);
	l1 = xlogy(trials - exceed, (double)(trials - exceed) / (double)trials) +
	     xlogy(exceed, (double)exceed / (double)trials);
	/* l1 >= l0 in exact arithmetic (l1 is the maximum); clamp rounding. */
	stat = fmax(0.0, -2.0 * (l0 - l1));
	if (lr != NULL) {
		*lr = stat;
	}
	if (p_value != NULL) {
		*p_value = lvc_stats_chi2_sf(stat, 1.0);
	}
	return LVC_OK;
}

lvc_err_t lvc_christoffersen(int64_t n00, int64_t n01, int64_t n10, int64_t n11, double p,
                             double *lr_ind, double *p_ind, double *lr_cc, double *p_cc)
{
	int64_t n0 = n00 + n01, n1 = n10 + n11, tot, hits;
	double l1, l0, lp, ind, cc;

	if (n00 < 0 || n01 < 0 || n10 < 0 || n11 < 0 || n0 + n1 == 0 || !(p > 0.0 && p < 1.0)) {
		return LVC_ERR_INVALID;
	}
	tot = n0 + n1;
	hits = n01 + n11;
	/* Ratios are formed from the counts directly (n00 / n0 rather than
	 * 1 - n01 / n0) so that no probability is a difference of near-equal
	 * numbers. */
	l1 = 0.0;
	if (n0 > 0) {
		l1 += xlogy(n00, (double)n00 / (double)n0) + xlogy(n01, (double)n01 / (double)n0);
	}
	if (n1 > 0) {
		l1 += xlogy(n10, (double)n10 / (double)n1) + xlogy(n11, (double)n11 / (double)n1);
	}
	l0 = xlogy(tot - hits, (double)(tot - hits) / (double)tot) +
	     xlogy(hits, (double)hits / (double)tot);
	lp = xlogy(tot - hits, 1.0 - p) + xlogy(hits, p);
	ind = fmax(0.0, -2.0 * (l0 - l1));
	cc = fmax(0.0, -2.0 * (lp - l1));
	if (lr_ind != NULL) {
		*lr_ind = ind;
	}
	if (p_ind != NULL) {
		*p_ind = lvc_stats_chi2_sf(ind, 1.0);
	}
	if (lr_cc != NULL) {
		*lr_cc = cc;
	}
	if (p_cc != NULL) {
		*p_cc = lvc_stats_chi2_sf(cc, 2.0);
	}
	return LVC_OK;
}

/* Fills rate and the tests of t from its counts and t->expected. */
static void test_finish(lvc_cov_test_t *t)
{
	double p = t->expected, dummy = 0.0;
	int p_ok = p > 0.0 && p < 1.0;

	t->rate = t->trials > 0 ? (double)t->exceed / (double)t->trials : NAN;
	t->lr_pof = t->p_pof = t->lr_ind = t->p_ind = t->lr_cc = t->p_cc = NAN;
	if (t->trials > 0 && p_ok) {
		(void)lvc_kupiec_pof(t->trials, t->exceed, p, &t->lr_pof, &t->p_pof);
	}
	if (t->n00 + t->n01 + t->n10 + t->n11 > 0) {
		/* Independence does not involve p: it is reported even without an
		 * expected rate (any valid p serves the call). */
		(void)lvc_christoffersen(t->n00, t->n01, t->n10, t->n11, p_ok ? p : 0.5, &t->lr_ind,
		                         &t->p_ind, p_ok ? &t->lr_cc : &dummy,
		                         p_ok ? &t->p_cc : &dummy);
	}
}

static void test_reset(lvc_cov_test_t *t, double expected)
{
	memset(t, 0, sizeof(*t));
	t->expected = expected;
}

/* Adds one trial with outcome hit (0/1) after state prev (-1: chain start). */
static void test_add(lvc_cov_test_t *t, int *prev, int hit)
{
	t->trials++;
	t->exceed += hit;
	if (*prev == 0) {
		if (hit) {
			t->n01++;
		} else {
			t->n00++;
		}
	} else if (*prev == 1) {
		if (hit) {
			t->n11++;
		} else {
			t->n10++;
		}
	}
	*prev = hit;
}

void lvc_cov_test_hits(const unsigned char *hits, size_t n, double p, lvc_cov_test_t *out)
{
	int prev = -1;

	test_reset(out, p);
	for (size_t i = 0; i < n && hits != NULL; i++) {
		if (hits[i] == 0 || hits[i] == 1) {
			test_add(out, &prev, hits[i]);
		} else {
			prev = -1;
		}
	}
	test_finish(out);
}

/* Expected probability of each side given the one-side p of a margin:
 * the long and short events are disjoint, so EITHER has 2p. */
static double side_expected(double p, int side)
{
	if (!(p > 0.0 && p < 1.0)) {
		return NAN;
	}
	return side == LVC_COV_EITHER ? 2.0 * p : p;
}

static lvc_err_t check_series(const lvc_cov_obs_t *obs, size_t n, int64_t horizon_us, char *errstr,
                              size_t errstr_size)
{
	if (obs == NULL && n > 0) {
		snprintf(errstr, errstr_size, "coverage: no observations given");
		return LVC_ERR_INVALID;
	}
	if (horizon_us <= 0) {
		snprintf(errstr, errstr_size, "coverage: horizon %" PRId64 " us: allowed > 0",
		         horizon_us);
		return LVC_ERR_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(obs[i].price > 0.0) || !isfinite(obs[i].price)) {
			snprintf(errstr, errstr_size,
			         "coverage: observation %zu has price %g: allowed finite and > 0",
			         i, obs[i].price);
			return LVC_ERR_INVALID;
		}
		if (i > 0 && obs[i].ts_us < obs[i - 1].ts_us) {
			snprintf(errstr, errstr_size,
			         "coverage: observation %zu has ts_us %" PRId64 " before %" PRId64
			         ": allowed ascending",
			         i, obs[i].ts_us, obs[i - 1].ts_us);
			return LVC_ERR_INVALID;
		}
	}
	return LVC_OK;
}

static double margin_of(const lvc_cov_obs_t *o, int m)
{
	double v = m == LVC_COV_IM ? o->imr : o->mmr;

	return v > 0.0 && isfinite(v) ? v : NAN;
}

/* Exceedance of margin rate mr by the move ratio R = P(t+h)/P(t) - 1. */
static int exceeds(double ret, double mr, int side)
{
	switch (side) {
	case LVC_COV_LONG:
		return -ret > mr;
	case LVC_COV_SHORT:
		return ret > mr;
	default:
		return fabs(ret) > mr;
	}
}

/* to - from >= h for from <= to, without signed overflow at any span. */
static int span_covers(int64_t from, int64_t to, int64_t h)
{
	return (uint64_t)to - (uint64_t)from >= (uint64_t)h;
}

/* The first multiple of h at or after t0 (event times may be negative). */
static int64_t first_anchor(int64_t t0, int64_t h)
{
	int64_t a = lvc_floor_div(t0, h) * h;

	return a < t0 ? a + h : a;
}

int lvc_coverage_blocks(const lvc_cov_obs_t *obs, size_t n, int64_t horizon_us,
                        lvc_cov_block_fn *fn, void *opaque)
{
	int64_t h = horizon_us, a, last;
	size_t si = 0, oi = 0;

	if (n == 0 || h <= 0 || !span_covers(obs[0].ts_us, obs[n - 1].ts_us, h)) {
		return 0;
	}
	last = obs[n - 1].ts_us;
	for (a = first_anchor(obs[0].ts_us, h); a <= last - h; a += h) {
		lvc_cov_block_t b;
		int rc;

		while (si + 1 < n && obs[si + 1].ts_us <= a) {
			si++;
		}
		if (oi < si) {
			oi = si;
		}
		while (oi + 1 < n && obs[oi + 1].ts_us <= a + h) {
			oi++;
		}
		b.anchor_us = a;
		b.i = si;
		b.j = oi;
		b.ret = obs[oi].price / obs[si].price - 1.0;
		if ((rc = fn(opaque, &b)) != 0) {
			return rc;
		}
	}
	return 0;
}

/* lvc_coverage_series' tests over the blocks. */
typedef struct block_ctx_s {
	const lvc_cov_obs_t *obs;
	lvc_cov_result_t *out;
	int (*prev)[LVC_COV_SIDE__COUNT];
} block_ctx_t;

static int block_add(void *opaque, const lvc_cov_block_t *b)
{
	block_ctx_t *c = opaque;
	const lvc_cov_obs_t *at = &c->obs[b->i];

	c->out->blocks_total++;
	if (isnan(margin_of(at, LVC_COV_IM))) {
		c->out->blocks_no_limit++;
	}
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		double mr = margin_of(at, m);

		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			if (isnan(mr)) {
				c->prev[m][s] = -1;
				continue;
			}
			test_add(&c->out->block[m][s], &c->prev[m][s], exceeds(b->ret, mr, s));
		}
	}
	return 0;
}

lvc_err_t lvc_coverage_series(const lvc_cov_obs_t *obs, size_t n, const lvc_cov_opts_t *opts,
                              lvc_cov_result_t *out, char *errstr, size_t errstr_size)
{
	int prev[LVC_COV_MARGIN__COUNT][LVC_COV_SIDE__COUNT];
	int64_t h, a, last;
	size_t j = 0;
	lvc_err_t err;

	if (opts == NULL || out == NULL) {
		snprintf(errstr, errstr_size, "coverage: no options or no result given");
		return LVC_ERR_INVALID;
	}
	err = check_series(obs, n, opts->horizon_us, errstr, errstr_size);
	if (err != LVC_OK) {
		return err;
	}
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		double p = opts->expected[m];

		if (!isnan(p) && !(p > 0.0 && p <= 0.5)) {
			snprintf(
			    errstr, errstr_size,
			    "coverage: expected %s exceedance rate %g: allowed (0, 0.5] or NaN",
			    m == LVC_COV_IM ? "initial margin" : "maintenance margin", p);
			return LVC_ERR_INVALID;
		}
	}
	memset(out, 0, sizeof(*out));
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			test_reset(&out->block[m][s], side_expected(opts->expected[m], s));
			out->overlap[m][s].rate = NAN;
			prev[m][s] = -1;
		}
	}
	if (n == 0) {
		goto finish;
	}
	h = opts->horizon_us;
	last = obs[n - 1].ts_us;

	/* Every observation: the last at its timestamp, with t + h covered. */
	for (size_t i = 0; i < n; i++) {
		int64_t target;
		double ret;

		if (i + 1 < n && obs[i + 1].ts_us == obs[i].ts_us) {
			continue;
		}
		if (!span_covers(obs[i].ts_us, last, h)) {
			break;
		}
		target = obs[i].ts_us + h;
		if (j < i) {
			j = i;
		}
		while (j + 1 < n && obs[j + 1].ts_us <= target) {
			j++;
		}
		ret = obs[j].price / obs[i].price - 1.0;
		for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
			double mr = margin_of(&obs[i], m);

			if (isnan(mr)) {
				continue;
			}
			for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
				out->overlap[m][s].trials++;
				out->overlap[m][s].exceed += exceeds(ret, mr, s);
			}
		}
	}

	/* Non-overlapping blocks: anchors at multiples of h since the epoch. */
	if (!span_covers(obs[0].ts_us, last, h)) {
		goto finish;
	}
	a = first_anchor(obs[0].ts_us, h);
	if ((last - h - a) / h + 1 > MAX_BLOCKS) {
		snprintf(errstr, errstr_size,
		         "coverage: %" PRId64 " horizon blocks of %" PRId64 " us: at most %" PRId64
		         " per series (is the horizon in microseconds?)",
		         (last - h - a) / h + 1, h, MAX_BLOCKS);
		return LVC_ERR_RANGE;
	}
	{
		block_ctx_t bc = { obs, out, prev };

		lvc_coverage_blocks(obs, n, h, block_add, &bc);
	}
finish:
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			lvc_cov_count_t *c = &out->overlap[m][s];

			c->rate = c->trials > 0 ? (double)c->exceed / (double)c->trials : NAN;
			test_finish(&out->block[m][s]);
		}
	}
	return LVC_OK;
}

void lvc_coverage_pool(const lvc_cov_result_t *parts, size_t n_parts, const lvc_cov_opts_t *opts,
                       lvc_cov_result_t *out)
{
	memset(out, 0, sizeof(*out));
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			lvc_cov_test_t *t = &out->block[m][s];
			lvc_cov_count_t *c = &out->overlap[m][s];

			test_reset(t, opts != NULL ? side_expected(opts->expected[m], s) : NAN);
			for (size_t i = 0; i < n_parts && parts != NULL; i++) {
				const lvc_cov_test_t *pt = &parts[i].block[m][s];

				t->trials += pt->trials;
				t->exceed += pt->exceed;
				t->n00 += pt->n00;
				t->n01 += pt->n01;
				t->n10 += pt->n10;
				t->n11 += pt->n11;
				c->trials += parts[i].overlap[m][s].trials;
				c->exceed += parts[i].overlap[m][s].exceed;
			}
			test_finish(t);
			c->rate = c->trials > 0 ? (double)c->exceed / (double)c->trials : NAN;
		}
	}
	for (size_t i = 0; i < n_parts && parts != NULL; i++) {
		out->blocks_total += parts[i].blocks_total;
		out->blocks_no_limit += parts[i].blocks_no_limit;
	}
}

lvc_err_t lvc_coverage_mark(const lvc_cov_obs_t *obs, size_t n, int64_t horizon_us,
                            unsigned char *flags, char *errstr, size_t errstr_size)
{
	static const unsigned char bit[LVC_COV_MARGIN__COUNT][2] = {
		{ LVC_COV_F_IM_LONG, LVC_COV_F_IM_SHORT },
		{ LVC_COV_F_MM_LONG, LVC_COV_F_MM_SHORT },
	};
	lvc_err_t err = check_series(obs, n, horizon_us, errstr, errstr_size);
	size_t j = 0;

	if (err != LVC_OK) {
		return err;
	}
	if (flags == NULL && n > 0) {
		snprintf(errstr, errstr_size, "coverage: no flags array given");
		return LVC_ERR_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		double ret, mr_im = margin_of(&obs[i], LVC_COV_IM);

		flags[i] = 0;
		if ((i + 1 < n && obs[i + 1].ts_us == obs[i].ts_us) || isnan(mr_im) ||
		    !span_covers(obs[i].ts_us, obs[n - 1].ts_us, horizon_us)) {
			continue;
		}
		if (j < i) {
			j = i;
		}
		while (j + 1 < n && obs[j + 1].ts_us <= obs[i].ts_us + horizon_us) {
			j++;
		}
		ret = obs[j].price / obs[i].price - 1.0;
		flags[i] = LVC_COV_F_KNOWN;
		for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
			double mr = margin_of(&obs[i], m);

			if (isnan(mr)) {
				continue;
			}
			if (exceeds(ret, mr, LVC_COV_LONG)) {
				flags[i] |= bit[m][0];
			}
			if (exceeds(ret, mr, LVC_COV_SHORT)) {
				flags[i] |= bit[m][1];
			}
		}
	}
	return LVC_OK;
}
