/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of src/core/vol*.c: the grid and bar rules of SPEC §3 on
 * hand-made streams whose expected values are worked out here from the
 * definitions (tick on a grid point, first return, duplicates, late ticks,
 * rejected values, zero returns and long gaps in closed form), the prior
 * before data, components and max, and the snapshot contract (size, bytes
 * written only when they fit, refusals that leave the object unchanged).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/params.h"
#include "core/vol.h"
#include "test_vol_ref.h"

#define SEC INT64_C(1000000)
#define DAY (INT64_C(86400) * SEC)

static lvc_vol_params_t params(lvc_estimator_t est)
{
	lvc_params_t all;

	lvc_params_defaults(&all);
	all.vol.estimator = est;
	return all.vol;
}

static double ann_s(const lvc_vol_params_t *p)
{
	return p->annualization_days * 86400.0;
}

/* sigma_ann of a variance per unit of unit_us microseconds. */
static double sig(const lvc_vol_params_t *p, double var, int64_t unit_us)
{
	return sqrt(var / ((double)unit_us / 1e6) * ann_s(p));
}

static int rel_eq(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fmax(fabs(a), fabs(b));
}

Test(vol_grid, tick_exactly_on_a_grid_point_belongs_to_that_point)
{
	lvc_vol_params_t p = params(LVC_EST_REALIZED);
	lvc_vol_t *vol;
	double r1 = log(110.0 / 100.0);

	p.bar_interval_us = 2 * SEC;
	p.window_us = 4 * SEC;
	vol = lvc_vol_new(&p, 1.0);
	cr_assert_not_null(vol);
	lvc_vol_update(vol, 0, 100.0);       /* k0 = 0 */
	lvc_vol_update(vol, SEC, 110.0);     /* exactly t_1: P(t_1) = 110 */
	lvc_vol_update(vol, 2 * SEC, 110.0); /* exactly t_2 */
	cr_assert_eq(lvc_vol_samples(vol), 1, "r_1 is known once a tick after t_1 came");
	lvc_vol_update(vol, 2 * SEC + 1, 110.0); /* completes bucket (0, 2s] */
	cr_assert_eq(lvc_vol_samples(vol), 2);
	/* Bucket (0, 2s] holds r_1 = ln(110/100) and r_2 = 0 (the window's
	 * other bucket, the seed's (-2s, 0], holds no return). */
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol), sig(&p, r1 * r1 / 2, SEC), 1e-14));
	lvc_vol_destroy(vol);

	p = params(LVC_EST_EWMA);
	vol = lvc_vol_new(&p, 1.0);
	{
		double lam = exp2(-(double)p.sample_interval_us / (double)p.half_life_us);
		double v = 1.0 / ann_s(&p); /* prior per 1 s sample */

		lvc_vol_update(vol, 0, 100.0);
		lvc_vol_update(vol, SEC, 110.0);
		lvc_vol_update(vol, SEC + 1, 110.0);
		/* r_1 = ln(110/100) is the first return: the tick at exactly 1 s is
		 * P(t_1). Had it belonged to t_2, r_1 would be 0. */
		v = lam * v + (1 - lam) * r1 * r1;
		cr_assert_eq(lvc_vol_samples(vol), 1);
		cr_assert(rel_eq(lvc_vol_sigma_ann(vol), sig(&p, v, SEC), 1e-14), "%.17g vs %.17g",
		          lvc_vol_sigma_ann(vol), sig(&p, v, SEC));
	}
	lvc_vol_destroy(vol);
}

Test(vol_grid, first_return_uses_the_first_two_grid_points_after_the_first_tick)
{
	lvc_vol_params_t p = params(LVC_EST_EWMA);
	lvc_vol_t *vol = lvc_vol_new(&p, 0.5);
	double lam = exp2(-1.0 / 600.0);
	double v = 0.25 / ann_s(&p);

	lvc_vol_update(vol, 300000, 100.0); /* k0 = 1 */
	lvc_vol_update(vol, 900000, 50.0);  /* still t_1: P(t_1) = 50 */
	lvc_vol_update(vol, 1200000, 60.0); /* finalizes t_1, no return yet */
	cr_assert_eq(lvc_vol_samples(vol), 0);
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol), 0.5, 1e-14));
	lvc_vol_update(vol, 2500000, 70.0); /* finalizes t_2 = 60: r_2 = ln(60/50) */
	cr_assert_eq(lvc_vol_samples(vol), 1);
	v = lam * v + (1 - lam) * log(60.0 / 50.0) * log(60.0 / 50.0);
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol), sig(&p, v, SEC), 1e-14));
	lvc_vol_destroy(vol);
}

Test(vol_grid, last_tick_of_a_timestamp_sets_the_price_and_every_tick_counts_in_the_bar)
{
	lvc_vol_params_t p = params(LVC_EST_PARKINSON);
	lvc_vol_t *vol;

	p.bar_interval_us = 2 * SEC;
	p.window_us = 4 * SEC;
	vol = lvc_vol_new(&p, 1.0);
	cr_assert_eq(lvc_vol_update(vol, 0, 100.0), LVC_VOL_APPLIED); /* seed bar (-2s, 0] */
	cr_assert_eq(lvc_vol_update(vol, SEC, 50.0), LVC_VOL_APPLIED);
	cr_assert_eq(lvc_vol_update(vol, SEC, 200.0), LVC_VOL_APPLIED);
	cr_assert_eq(lvc_vol_update(vol, SEC, 120.0), LVC_VOL_APPLIED);
	cr_assert_eq(lvc_vol_late(vol), 0, "same timestamp is not late");
	cr_assert_eq(lvc_vol_update(vol, 2 * SEC + 5, 130.0), LVC_VOL_APPLIED);
	/* Bar (0, 2s]: O 50, H 200, L 50, C 120; one bar in the window. */
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol),
	                 sig(&p, log(4.0) * log(4.0) / (4 * log(2.0)), 2 * SEC), 1e-14));
	lvc_vol_destroy(vol);

	p = params(LVC_EST_REALIZED);
	p.bar_interval_us = 2 * SEC;
	p.window_us = 4 * SEC;
	vol = lvc_vol_new(&p, 1.0);
	lvc_vol_update(vol, 0, 100.0);
	lvc_vol_update(vol, SEC, 50.0);
	lvc_vol_update(vol, SEC, 200.0);
	lvc_vol_update(vol, SEC, 120.0);
	lvc_vol_update(vol, 2 * SEC + 5, 130.0);
	/* r_1 = ln(120/100) (the last tick at 1s), r_2 = 0. */
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol), sig(&p, log(1.2) * log(1.2) / 2, SEC), 1e-14));
	lvc_vol_destroy(vol);
}

Test(vol_grid, ignores_ticks_older_than_newest_and_counts_them)
{
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *vol = lvc_vol_new(&p, 1.0);
	unsigned char before[4096], after[4096];
	size_t nb, na;

	lvc_vol_update(vol, 10 * SEC, 100.0);
	lvc_vol_update(vol, 20 * SEC, 101.0);
	nb = lvc_vol_snapshot(vol, before, sizeof(before));
	cr_assert_eq(lvc_vol_update(vol, 20 * SEC - 1, 1.0), LVC_VOL_LATE);
	cr_assert_eq(lvc_vol_update(vol, 0, 1000.0), LVC_VOL_LATE);
	cr_assert_eq(lvc_vol_late(vol), 2);
	cr_assert_eq(lvc_vol_last_ts(vol), 20 * SEC);
	na = lvc_vol_snapshot(vol, after, sizeof(after));
	/* Only the late counter (bytes 40..47 of the format) moved. */
	cr_assert_eq(na, nb);
	cr_assert(memcmp(before, after, 40) == 0);
	cr_assert(memcmp(before + 48, after + 48, nb - 48) == 0);
	cr_assert_eq(after[40], 2);
	lvc_vol_destroy(vol);
}

Test(vol_grid, rejects_non_finite_and_non_positive_prices_without_touching_state)
{
	static const double bad[] = { NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, -1.0, -DBL_MAX };
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *vol = lvc_vol_new(&p, 1.0);
	unsigned char before[4096], after[4096];
	size_t n;

	cr_assert_eq(lvc_vol_update(vol, SEC, NAN), LVC_VOL_REJECTED);
	cr_assert_eq(lvc_vol_last_ts(vol), INT64_MIN, "a rejected first tick is no first tick");
	lvc_vol_update(vol, SEC, 100.0);
	lvc_vol_update(vol, 3 * SEC, 100.5);
	n = lvc_vol_snapshot(vol, before, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(lvc_vol_update(vol, 4 * SEC, bad[i]), LVC_VOL_REJECTED);
	}
	cr_assert_eq(lvc_vol_update(vol, INT64_MAX, 100.0), LVC_VOL_REJECTED);
	cr_assert_eq(lvc_vol_update(vol, (INT64_C(1) << 62) + 1, 100.0), LVC_VOL_REJECTED);
	cr_assert_eq(lvc_vol_snapshot(vol, after, sizeof(after)), n);
	cr_assert(memcmp(before, after, n) == 0);
	cr_assert_eq(lvc_vol_late(vol), 0);
	lvc_vol_destroy(vol);
}

Test(vol_grid, empty_intervals_give_zero_returns_applied_in_closed_form)
{
	lvc_vol_params_t p = params(LVC_EST_EWMA);
	lvc_vol_t *vol = lvc_vol_new(&p, 1.0);
	double lam = exp2(-1.0 / 600.0);
	double v = 1.0 / ann_s(&p);
	double r1 = log(110.0 / 100.0);

	lvc_vol_update(vol, 0, 100.0);
	lvc_vol_update(vol, 500000, 110.0);
	lvc_vol_update(vol, 10500000, 110.0); /* r_1 = ln(1.1), then r_2 .. r_10 = 0 */
	cr_assert_eq(lvc_vol_samples(vol), 10);
	v = lam * v + (1 - lam) * r1 * r1;
	for (int i = 0; i < 9; i++) {
		v = lam * v;
	}
	cr_assert(rel_eq(lvc_vol_sigma_ann(vol), sig(&p, v, SEC), 1e-14));
	lvc_vol_destroy(vol);
}

/* One tick, then one a year later, then a few more: the year is applied in
 * closed form (31.5 million zero returns, 525,600 empty bars) and every
 * estimator equals its definition. */
Test(vol_gap, a_year_without_ticks_is_applied_in_closed_form_and_correctly)
{
	lvc_vol_params_t p = ref_params_all(SEC, 60 * SEC, 3600 * SEC, 30 * DAY);
	lvc_vol_t *vol = lvc_vol_new(&p, 0.9);
	const int64_t t0 = INT64_C(1700000000) * SEC + 123;
	const int64_t year = 365 * DAY;
	ref_t ref;
	clock_t c0;
	double secs;
	int64_t m;
	long double v;

	ref_init(&ref, &p, 0.9);
	lvc_vol_update(vol, t0, 100.0);
	ref_update(&ref, t0, 100.0);
	lvc_vol_update(vol, t0 + year, 150.0);
	ref_update(&ref, t0 + year, 150.0);
	/* k0 = ceil(t0 / 1s); returns r_(k0+1) .. r_(kc-1) all zero. */
	m = ref_kc(&ref) - 1 - ref_k0(&ref);
	cr_assert_eq(lvc_vol_samples(vol), m);
	cr_assert_eq(m, 365 * 86400 - 1);
	v = 0.81L / (365.0L * 86400.0L) * exp2l(-(long double)m / (30.0L * 86400.0L));
	cr_assert(
	    rel_eq(lvc_vol_sigma_ann_of(vol, LVC_EST_EWMA), sqrt((double)v * 365 * 86400), 1e-12),
	    "ewma %.17g", lvc_vol_sigma_ann_of(vol, LVC_EST_EWMA));
	for (int e = LVC_EST_REALIZED; e < LVC_EST_MAX; e++) {
		double s = lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e);

		if (e == LVC_EST_GARCH) {
			continue;
		}
		cr_assert_eq(s, 0.0, "%s: a window of empty buckets has zero variance",
		             lvc_estimator_names[e]);
	}
	/* Two more ticks bring the jump into the window; check everything,
	 * garch too (its reference loops over the 525,600 bars). */
	lvc_vol_update(vol, t0 + year + 61 * SEC, 151.0);
	ref_update(&ref, t0 + year + 61 * SEC, 151.0);
	lvc_vol_update(vol, t0 + year + 125 * SEC, 149.0);
	ref_update(&ref, t0 + year + 125 * SEC, 149.0);
	for (int e = 0; e < LVC_EST_MAX; e++) {
		if (e == LVC_EST_EWMA) {
			continue; /* its reference would loop 31.5 million times */
		}
		cr_assert(ref_close(lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e),
		                    ref_sigma(&ref, (lvc_estimator_t)e)),
		          "%s %.17g vs %.17g", lvc_estimator_names[e],
		          lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e),
		          ref_sigma(&ref, (lvc_estimator_t)e));
	}
	ref_free(&ref);
	lvc_vol_destroy(vol);

	/* Fast: 2,000 instruments each jumping a year, then a decade. A loop
	 * over empty intervals would need 10^11 iterations; the bound is loose
	 * enough for sanitizers and a loaded machine. */
	c0 = clock();
	for (int i = 0; i < 2000; i++) {
		lvc_vol_t *x = lvc_vol_new(&p, 0.9);

		lvc_vol_update(x, t0, 100.0);
		lvc_vol_update(x, t0 + year, 101.0);
		lvc_vol_update(x, t0 + 11 * year, 102.0);
		cr_assert(isfinite(lvc_vol_sigma_ann(x)));
		lvc_vol_destroy(x);
	}
	secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	cr_assert(secs < 5.0, "2,000 year-long gaps took %.2f s of CPU", secs);
}

Test(vol_prior, every_estimator_reports_the_prior_until_it_has_data)
{
	lvc_vol_params_t p = ref_params_all(SEC, 60 * SEC, 3600 * SEC, 600 * SEC);
	lvc_vol_t *vol = lvc_vol_new(&p, 0.7);
	const int64_t t0 = 1000 * 60 * SEC;

	for (int e = 0; e < LVC_EST_MAX; e++) {
		cr_assert(rel_eq(lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e), 0.7, 1e-15));
	}
	/* Ticks inside the seed bar, then one that completes it: the windowed
	 * estimators with bars still have none (the seed bar does not count). */
	lvc_vol_update(vol, t0 + 1, 100.0);
	lvc_vol_update(vol, t0 + 30 * SEC, 101.0);
	lvc_vol_update(vol, t0 + 61 * SEC, 102.0);
	cr_assert(lvc_vol_sigma_ann_of(vol, LVC_EST_REALIZED) != 0.7, "returns exist");
	for (int e = LVC_EST_CLOSE; e <= LVC_EST_YANG_ZHANG; e++) {
		cr_assert_eq(lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e), 0.7, "%s",
		             lvc_estimator_names[e]);
	}
	/* One bar: the means have data, close and yang_zhang need two. */
	lvc_vol_update(vol, t0 + 121 * SEC, 103.0);
	cr_assert_neq(lvc_vol_sigma_ann_of(vol, LVC_EST_PARKINSON), 0.7);
	cr_assert_eq(lvc_vol_sigma_ann_of(vol, LVC_EST_CLOSE), 0.7);
	cr_assert_eq(lvc_vol_sigma_ann_of(vol, LVC_EST_YANG_ZHANG), 0.7);
	lvc_vol_update(vol, t0 + 181 * SEC, 102.5);
	cr_assert_neq(lvc_vol_sigma_ann_of(vol, LVC_EST_CLOSE), 0.7);
	cr_assert_neq(lvc_vol_sigma_ann_of(vol, LVC_EST_YANG_ZHANG), 0.7);
	lvc_vol_destroy(vol);
}

Test(vol_max, components_follow_config_order_and_max_is_their_largest)
{
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *vol;
	lvc_component_t c[LVC_MAX_COMPONENTS];
	uint64_t seed = 5;
	double px = 100, best = 0;
	size_t n;

	p.max_of_n = 3;
	p.max_of[0] = LVC_EST_BIPOWER;
	p.max_of[1] = LVC_EST_GARCH;
	p.max_of[2] = LVC_EST_EWMA;
	vol = lvc_vol_new(&p, 0.2);
	for (int i = 0; i < 20000; i++) {
		px *= exp(0.001 * rng_normal(&seed));
		lvc_vol_update(vol, (int64_t)i * 700000, px);
	}
	n = lvc_vol_components(vol, c, LVC_MAX_COMPONENTS);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(c[0].estimator, "bipower");
	cr_assert_str_eq(c[1].estimator, "garch");
	cr_assert_str_eq(c[2].estimator, "ewma");
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(c[i].sigma_ann, lvc_vol_sigma_ann_of(vol, p.max_of[i]));
		best = fmax(best, c[i].sigma_ann);
	}
	cr_assert_eq(lvc_vol_sigma_ann(vol), best);
	cr_assert(c[0].sigma_ann != c[2].sigma_ann, "the components are computed separately");
	cr_assert_eq(lvc_vol_components(vol, c, 2), 2, "cap is respected");
	cr_assert_eq(lvc_vol_sigma_ann_of(vol, LVC_EST_PARKINSON), -1.0, "not computed");
	lvc_vol_destroy(vol);

	p = params(LVC_EST_GARMAN_KLASS);
	vol = lvc_vol_new(&p, 0.2);
	cr_assert_eq(lvc_vol_components(vol, c, LVC_MAX_COMPONENTS), 1);
	cr_assert_str_eq(c[0].estimator, "garman_klass");
	cr_assert_eq(c[0].sigma_ann, lvc_vol_sigma_ann(vol));
	cr_assert_eq(lvc_vol_sigma_ann_of(vol, LVC_EST_EWMA), -1.0);
	lvc_vol_destroy(vol);
}

Test(vol_new, refuses_params_it_cannot_run)
{
	lvc_vol_params_t p = params(LVC_EST_EWMA), q;

	cr_assert_null(lvc_vol_new(NULL, 1.0));
	cr_assert_null(lvc_vol_new(&p, 0.0));
	cr_assert_null(lvc_vol_new(&p, NAN));
	q = p;
	q.bar_interval_us = 1500000; /* not a whole number of 1 s samples */
	cr_assert_null(lvc_vol_new(&q, 1.0));
	q = p;
	q.window_us = 90 * SEC; /* not a whole number of 1 m bars */
	cr_assert_null(lvc_vol_new(&q, 1.0));
	q = p;
	q.window_us = q.bar_interval_us * (LVC_MAX_WINDOW_BUCKETS + 1);
	cr_assert_null(lvc_vol_new(&q, 1.0));
	q = p;
	q.half_life_us = 0;
	cr_assert_null(lvc_vol_new(&q, 1.0));
	q = p;
	q.estimator = LVC_EST_MAX;
	q.max_of_n = 1;
	q.max_of[0] = LVC_EST_MAX;
	cr_assert_null(lvc_vol_new(&q, 1.0));
	q = p;
	q.garch_alpha = 0.5;
	q.garch_beta = 0.5;
	cr_assert_null(lvc_vol_new(&q, 1.0));
}

static lvc_vol_t *warm(const lvc_vol_params_t *p, int ticks)
{
	lvc_vol_t *vol = lvc_vol_new(p, 1.0);
	uint64_t seed = 77;
	double px = 30000;
	int64_t ts = INT64_C(1700000000) * SEC;

	for (int i = 0; i < ticks; i++) {
		px *= exp(0.0005 * rng_normal(&seed));
		ts += 1 + (int64_t)(rng_unif(&seed) * 900000);
		lvc_vol_update(vol, ts, px);
	}
	return vol;
}

Test(vol_snapshot, default_and_max_states_fit_in_4_kib)
{
	lvc_vol_params_t p = params(LVC_EST_EWMA);
	lvc_vol_t *vol = warm(&p, 20000);
	size_t ewma = lvc_vol_snapshot(vol, NULL, 0);

	lvc_vol_destroy(vol);
	p = params(LVC_EST_MAX); /* max_of [ewma, yang_zhang, bipower], 1 h of 1 m */
	vol = warm(&p, 20000);
	{
		size_t max = lvc_vol_snapshot(vol, NULL, 0);

		cr_log_info("snapshot bytes: ewma %zu, max %zu", ewma, max);
		fprintf(stderr, "snapshot bytes: ewma %zu, max [ewma, yang_zhang, bipower] %zu\n",
		        ewma, max);
		cr_assert(ewma <= 4096);
		cr_assert(max <= 4096);
		cr_assert(max > ewma);
	}
	lvc_vol_destroy(vol);
}

Test(vol_snapshot, writes_nothing_unless_it_fits)
{
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *vol = warm(&p, 5000);
	size_t need = lvc_vol_snapshot(vol, NULL, 0);
	unsigned char *buf = malloc(need + 1);

	memset(buf, 0xA5, need + 1);
	cr_assert_eq(lvc_vol_snapshot(vol, buf, need - 1), need);
	for (size_t i = 0; i <= need; i++) {
		cr_assert_eq(buf[i], 0xA5, "byte %zu written", i);
	}
	cr_assert_eq(lvc_vol_snapshot(vol, buf, need), need);
	cr_assert_eq(memcmp(buf, "LVCV", 4), 0);
	cr_assert_eq(buf[need], 0xA5);
	free(buf);
	lvc_vol_destroy(vol);
}

Test(vol_snapshot, restore_refuses_bad_bytes_and_other_params_and_leaves_state_unchanged)
{
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *src = warm(&p, 5000);
	lvc_vol_t *dst = warm(&p, 300);
	size_t n = lvc_vol_snapshot(src, NULL, 0), n0 = lvc_vol_snapshot(dst, NULL, 0);
	unsigned char *buf = malloc(n + 1), *before = malloc(n0), *after = malloc(n0);
	lvc_vol_params_t q = p;
	lvc_vol_t *other;
	double nan = NAN;

	lvc_vol_snapshot(src, buf, n);
	lvc_vol_snapshot(dst, before, n0);
	/* Every truncation. */
	for (size_t len = 0; len < n; len++) {
		cr_assert_eq(lvc_vol_restore(dst, buf, len), LVC_ERR_DECODE, "len %zu", len);
	}
	/* A trailing byte. */
	buf[n] = 0;
	cr_assert_eq(lvc_vol_restore(dst, buf, n + 1), LVC_ERR_DECODE);
	/* Another version. */
	buf[4] = 2;
	cr_assert_eq(lvc_vol_restore(dst, buf, n), LVC_ERR_DECODE);
	buf[4] = 1;
	/* A NaN where the price is (offset 48). */
	memcpy(buf + 48, &nan, sizeof(nan));
	cr_assert_eq(lvc_vol_restore(dst, buf, n), LVC_ERR_DECODE);
	lvc_vol_snapshot(src, buf, n);
	/* A NaN in the last window leaf. */
	memcpy(buf + n - 8, &nan, sizeof(nan));
	cr_assert_eq(lvc_vol_restore(dst, buf, n), LVC_ERR_DECODE);
	lvc_vol_snapshot(src, buf, n);
	/* A pending grid point that does not match the last timestamp. */
	buf[32] ^= 1;
	cr_assert_eq(lvc_vol_restore(dst, buf, n), LVC_ERR_DECODE);
	lvc_vol_snapshot(src, buf, n);
	cr_assert_eq(lvc_vol_snapshot(dst, after, n0), n0);
	cr_assert(memcmp(before, after, n0) == 0, "a refused restore changed the state");

	/* Other params: refused as invalid. */
	q.half_life_us = 5 * 60 * SEC;
	other = lvc_vol_new(&q, 1.0);
	cr_assert_eq(lvc_vol_restore(other, buf, n), LVC_ERR_INVALID);
	lvc_vol_destroy(other);
	other = lvc_vol_new(&p, 2.0); /* another prior */
	cr_assert_eq(lvc_vol_restore(other, buf, n), LVC_ERR_INVALID);
	lvc_vol_destroy(other);

	/* And the good bytes restore. */
	cr_assert_eq(lvc_vol_restore(dst, buf, n), LVC_OK);
	cr_assert_eq(lvc_vol_sigma_ann(dst), lvc_vol_sigma_ann(src));
	cr_assert_eq(lvc_vol_samples(dst), lvc_vol_samples(src));
	free(buf);
	free(before);
	free(after);
	lvc_vol_destroy(src);
	lvc_vol_destroy(dst);
}

Test(vol_snapshot, an_empty_state_round_trips)
{
	lvc_vol_params_t p = params(LVC_EST_MAX);
	lvc_vol_t *a = lvc_vol_new(&p, 1.0);
	lvc_vol_t *b = warm(&p, 1000);
	unsigned char buf[64];
	size_t n = lvc_vol_snapshot(a, buf, sizeof(buf));

	cr_assert_eq(n, 16);
	cr_assert_eq(lvc_vol_restore(b, buf, n), LVC_OK);
	cr_assert_eq(lvc_vol_last_ts(b), INT64_MIN);
	cr_assert_eq(lvc_vol_samples(b), 0);
	cr_assert_eq(lvc_vol_update(b, 5, 10.0), LVC_VOL_APPLIED);
	cr_assert_eq(lvc_vol_update(a, 5, 10.0), LVC_VOL_APPLIED);
	cr_assert_eq(lvc_vol_snapshot(a, NULL, 0), lvc_vol_snapshot(b, NULL, 0));
	lvc_vol_destroy(a);
	lvc_vol_destroy(b);
}

/* The rules lvc_params_check() holds for the estimators (check_vol). */
Test(vol_params, check_refuses_windows_and_lists_the_estimators_cannot_run)
{
	lvc_params_t all;
	char err[256];

	lvc_params_defaults(&all);
	cr_assert_eq(lvc_params_check(&all, err, sizeof(err)), LVC_OK, "%s", err);
	all.vol.bar_interval_us = DAY;
	all.vol.window_us = 1440 * DAY; /* 1440 bars, but 1440 days */
	cr_assert_eq(lvc_params_check(&all, err, sizeof(err)), LVC_OK, "%s", err);
	{
		lvc_vol_t *vol = lvc_vol_new(&all.vol, 1.0);

		cr_assert_not_null(vol);
		lvc_vol_destroy(vol);
	}
	all.vol.bar_interval_us = 10 * DAY;
	all.vol.window_us = 1440 * 10 * DAY;
	cr_assert_eq(lvc_params_check(&all, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_str_eq(err, "volatility.window: 14400d is not allowed: at most 10000d");
	cr_assert_null(lvc_vol_new(&all.vol, 1.0));

	lvc_params_defaults(&all);
	all.vol.estimator = LVC_EST_MAX;
	all.vol.max_of_n = LVC_EST__COUNT;
	cr_assert_eq(lvc_params_check(&all, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_str_eq(err, "volatility.max_of: 10 entries are not allowed: at most 9 (each "
	                      "estimator once)");
}

/* Random corruptions of a valid snapshot: each restore either succeeds or
 * is refused, never crashes (ASan/UBSan watch), and a restored state keeps
 * every sigma finite while it is fed more ticks. */
Test(vol_snapshot, restore_survives_random_corruption)
{
	lvc_vol_params_t p = ref_params_all(SEC, 10 * SEC, 100 * SEC, 30 * SEC);
	lvc_vol_t *src = warm(&p, 3000);
	lvc_vol_t *dst = lvc_vol_new(&p, 1.0);
	size_t n = lvc_vol_snapshot(src, NULL, 0);
	unsigned char *good = malloc(n), *buf = malloc(n);
	uint64_t seed = 31337;
	int ok = 0;

	lvc_vol_snapshot(src, good, n);
	for (int round = 0; round < 3000; round++) {
		int flips = 1 + (int)(rng_next(&seed) % 4);

		memcpy(buf, good, n);
		for (int f = 0; f < flips; f++) {
			size_t at = 16 + (size_t)(rng_next(&seed) % (n - 16)); /* past the header */

			buf[at] ^= (unsigned char)(1u << (rng_next(&seed) % 8));
		}
		if (lvc_vol_restore(dst, buf, n) == LVC_OK) {
			int64_t ts = lvc_vol_last_ts(dst);

			ok++;
			for (int i = 1; i <= 50; i++) {
				lvc_vol_update(dst, ts + (int64_t)i * 700000, 100.0 + i);
			}
			for (int e = 0; e < LVC_EST_MAX; e++) {
				double s = lvc_vol_sigma_ann_of(dst, (lvc_estimator_t)e);

				cr_assert(isfinite(s) && s >= 0, "round %d: %s %g", round,
				          lvc_estimator_names[e], s);
			}
		}
	}
	cr_log_info("%d of 3000 corrupted snapshots were still valid states", ok);
	free(good);
	free(buf);
	lvc_vol_destroy(src);
	lvc_vol_destroy(dst);
}
