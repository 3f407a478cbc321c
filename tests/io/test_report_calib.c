/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of what `levcal calibrate` fits on (src/app/calibrate.h): the grid
 * and bar returns of its sampler against the engine's own estimators
 * (core/vol.h) fed the same ticks (the EWMA and GARCH recursions run over
 * the sampler's returns must give the sigma the engine reports), the gap
 * rule, the end-of-input rule, and the helpers for the expected exceedance
 * rate and the half-life written to the config.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/calibrate.h"
#include "core/params.h"
#include "core/vol.h"
#include "../unit/test_rng.h"

#define S_US   INT64_C(1000000)
#define MIN_US (60 * S_US)
#define DAY_US (86400 * S_US)

/* A tick stream with pauses from a millisecond to `max_pause_us` (some of
 * them several bars long), a few ticks on one timestamp, and prices on a
 * random walk. */
static size_t make_ticks(rng_t *g, int64_t t0, size_t n, int64_t max_pause_us, int64_t *ts,
                         double *px)
{
	double p = 100.0;
	int64_t t = t0;

	for (size_t i = 0; i < n; i++) {
		double u = rng_unit(g);

		if (u < 0.05) {
			/* same timestamp */
		} else if (u < 0.07) {
			t += (int64_t)(rng_unit(g) * (double)max_pause_us);
		} else {
			t += 1000 + (int64_t)(rng_unit(g) * 3.0 * S_US);
		}
		p *= exp((rng_unit(g) - 0.5) * 0.004);
		ts[i] = t;
		px[i] = p;
	}
	return n;
}

static double sigma_ann(double var, double interval_s, double days)
{
	return sqrt(var / interval_s * days * 86400.0);
}

Test(calib_sampler, grid_returns_are_the_ones_the_engines_ewma_sees)
{
	const size_t n = 60000;
	int64_t *ts = malloc(n * sizeof(int64_t));
	double *px = malloc(n * sizeof(double));
	lvc_params_t p;
	lvc_vol_t *vol;
	lvc_calib_sampler_t s;
	rng_t g = { 7 };

	cr_assert(ts != NULL && px != NULL);
	lvc_params_defaults(&p);
	p.vol.estimator = LVC_EST_EWMA;
	make_ticks(&g, INT64_C(1700000000123456), n, 10 * MIN_US, ts, px);
	vol = lvc_vol_new(&p.vol, p.lev.prior_sigma_ann);
	cr_assert_not_null(vol);
	cr_assert_eq(
	    lvc_calib_sampler_init(&s, p.vol.sample_interval_us, p.vol.bar_interval_us, DAY_US),
	    LVC_OK);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(lvc_vol_update(vol, ts[i], px[i]), LVC_VOL_APPLIED);
		cr_assert_geq(lvc_calib_sampler_tick(&s, ts[i], px[i]), 0);
		if (i % 997 == 0 || i == n - 1) {
			const double sS = (double)p.vol.sample_interval_us / 1e6;
			const double lam =
			    exp2(-(double)p.vol.sample_interval_us / (double)p.vol.half_life_us);
			double v = p.lev.prior_sigma_ann * p.lev.prior_sigma_ann /
			           (p.vol.annualization_days * 86400.0) * sS;
			double want = lvc_vol_sigma_ann_of(vol, LVC_EST_EWMA), got;

			cr_assert_eq((int64_t)s.grid_n, lvc_vol_samples(vol), "tick %zu", i);
			for (size_t k = 0; k < s.grid_n; k++) {
				v = lam * v + (1.0 - lam) * s.grid_r[k] * s.grid_r[k];
			}
			got = sigma_ann(v, sS, p.vol.annualization_days);
			cr_assert(fabs(got - want) <= 1e-9 * want, "tick %zu: %.17g vs %.17g", i,
			          got, want);
		}
	}
	cr_assert_eq(s.grid_dropped, 0);
	cr_assert_gt(s.grid_n, n / 2);
	lvc_calib_sampler_free(&s);
	lvc_vol_destroy(vol);
	free(ts);
	free(px);
}

Test(calib_sampler, bar_returns_are_the_ones_the_engines_garch_filter_sees)
{
	const size_t n = 60000;
	int64_t *ts = malloc(n * sizeof(int64_t));
	double *px = malloc(n * sizeof(double));
	lvc_params_t p;
	lvc_vol_t *vol;
	lvc_calib_sampler_t s;
	rng_t g = { 8 };
	size_t empty = 0;

	cr_assert(ts != NULL && px != NULL);
	lvc_params_defaults(&p);
	p.vol.estimator = LVC_EST_GARCH;
	p.vol.garch_omega = 2e-8;
	p.vol.garch_alpha = 0.1;
	p.vol.garch_beta = 0.85;
	make_ticks(&g, INT64_C(1700000000000000), n, 5 * MIN_US, ts, px);
	vol = lvc_vol_new(&p.vol, p.lev.prior_sigma_ann);
	cr_assert_not_null(vol);
	cr_assert_eq(
	    lvc_calib_sampler_init(&s, p.vol.sample_interval_us, p.vol.bar_interval_us, DAY_US),
	    LVC_OK);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(lvc_vol_update(vol, ts[i], px[i]), LVC_VOL_APPLIED);
		cr_assert_geq(lvc_calib_sampler_tick(&s, ts[i], px[i]), 0);
		if (i % 1009 == 0 || i == n - 1) {
			const double bS = (double)p.vol.bar_interval_us / 1e6;
			double h = p.lev.prior_sigma_ann * p.lev.prior_sigma_ann /
			           (p.vol.annualization_days * 86400.0) * bS;
			double want = lvc_vol_sigma_ann_of(vol, LVC_EST_GARCH), got;

			for (size_t k = 0; k < s.bar_n; k++) {
				h = p.vol.garch_omega +
				    p.vol.garch_alpha * s.bar_r[k] * s.bar_r[k] +
				    p.vol.garch_beta * h;
			}
			got = sigma_ann(h, bS, p.vol.annualization_days);
			cr_assert(fabs(got - want) <= 1e-9 * want, "tick %zu: %.17g vs %.17g", i,
			          got, want);
		}
	}
	/* Bars are consecutive, each ends at a multiple of the interval, and
	 * the stream had empty ones. */
	for (size_t k = 0; k < s.bar_n; k++) {
		cr_assert_eq(s.bar_t[k] % p.vol.bar_interval_us, 0);
		if (k > 0) {
			cr_assert_eq(s.bar_t[k] - s.bar_t[k - 1], p.vol.bar_interval_us);
		}
		empty += s.bar_r[k] == 0.0;
	}
	cr_assert_gt(empty, 10);
	lvc_calib_sampler_free(&s);
	lvc_vol_destroy(vol);
	free(ts);
	free(px);
}

Test(calib_sampler, a_gap_longer_than_stale_after_keeps_only_its_first_zero_returns)
{
	lvc_calib_sampler_t s;

	/* 1 s grid, 1 min bars, gaps beyond 30 s are feed gaps. */
	cr_assert_eq(lvc_calib_sampler_init(&s, S_US, MIN_US, 30 * S_US), LVC_OK);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 500000, 100.0), 0);  /* pending point 1 s */
	cr_assert_eq(lvc_calib_sampler_tick(&s, 1500000, 101.0), 0); /* point 2 s */
	/* 998 empty intervals (points 3 .. 1000), then the tick in (1000, 1001]:
	 * it closes bar 0 (the seed) and 15 empty bars. */
	cr_assert_eq(lvc_calib_sampler_tick(&s, 1000500000, 102.0), 16);
	cr_assert_eq(s.grid_n, 1 + 30);
	cr_assert_float_eq(s.grid_r[0], log(101.0 / 100.0), 1e-15);
	for (size_t k = 1; k < s.grid_n; k++) {
		cr_assert_eq(s.grid_r[k], 0.0);
	}
	cr_assert_eq(s.grid_dropped, 998 - 30);
	cr_assert_eq(s.grid_gaps, 1);
	/* A bar is longer than stale_after: no empty bar is kept. */
	cr_assert_eq(s.bar_n, 0);
	cr_assert_eq(s.bar_dropped, 15);
	cr_assert_eq(s.bar_gaps, 1);
	lvc_calib_sampler_free(&s);
}

Test(calib_sampler, a_quiet_spell_within_stale_after_keeps_every_zero_return)
{
	lvc_calib_sampler_t s;

	cr_assert_eq(lvc_calib_sampler_init(&s, S_US, MIN_US, 10 * MIN_US), LVC_OK);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 60 * S_US, 100.0), 0);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 61 * S_US, 100.5), 1); /* closes the seed bar */
	cr_assert_eq(lvc_calib_sampler_tick(&s, 300 * S_US + 1, 99.0), 4);
	/* Points 62 .. 300: r_61 and 239 zeros. Bars: (0, 60] seed; (60, 120]
	 * closes at 100.5; 120-180, 180-240, 240-300 empty. */
	cr_assert_eq(s.grid_n, 1 + 239);
	cr_assert_eq(s.grid_dropped, 0);
	cr_assert_eq(s.bar_n, 4);
	cr_assert_float_eq(s.bar_r[0], log(100.5 / 100.0), 1e-15);
	cr_assert_eq(s.bar_t[0], 120 * S_US);
	cr_assert(s.bar_r[1] == 0 && s.bar_r[2] == 0 && s.bar_r[3] == 0);
	cr_assert_eq(s.bar_t[3], 300 * S_US);
	cr_assert_eq(s.bar_c[3], 100.5);
	lvc_calib_sampler_free(&s);
}

Test(calib_sampler, the_last_bar_counts_only_when_the_last_tick_ends_it)
{
	lvc_calib_sampler_t s;
	double p = 100.0;

	/* Daily ticks at midnight on an hourly grid: every tick closes its
	 * day's bar; the last one does at the end of the input. */
	cr_assert_eq(lvc_calib_sampler_init(&s, 3600 * S_US, DAY_US, 2 * DAY_US), LVC_OK);
	for (int d = 0; d <= 10; d++) {
		cr_assert_geq(lvc_calib_sampler_tick(&s, (5114 + d) * DAY_US, p), 0);
		p *= d % 2 ? 1.01 : 0.995;
	}
	/* The first day's grid interval gives no return (its start is the
	 * first grid point), the last one is still open. */
	cr_assert_eq(s.bar_n, 9);
	cr_assert_eq(s.grid_n, 10 * 24 - 1);
	cr_assert_eq(lvc_calib_sampler_finish(&s), 1);
	cr_assert_eq(s.bar_n, 10);
	cr_assert_eq(s.grid_n, 10 * 24);
	cr_assert_eq(s.bar_t[9], (5114 + 10) * DAY_US);
	cr_assert_float_eq(s.bar_r[9], log(1.01), 1e-14); /* d = 9 -> 10 */
	cr_assert_eq(lvc_calib_sampler_tick(&s, (5114 + 11) * DAY_US, p), LVC_ERR_STATE);
	lvc_calib_sampler_free(&s);

	/* The same with the last tick an hour before midnight: its bar and
	 * grid interval are partial and do not count. */
	cr_assert_eq(lvc_calib_sampler_init(&s, 3600 * S_US, DAY_US, 2 * DAY_US), LVC_OK);
	for (int d = 0; d <= 10; d++) {
		int64_t t = (5114 + d) * DAY_US - (d == 10 ? 3600 * S_US + 1 : 0);

		cr_assert_geq(lvc_calib_sampler_tick(&s, t, 100.0 + d), 0);
	}
	cr_assert_eq(lvc_calib_sampler_finish(&s), 0);
	cr_assert_eq(s.bar_n, 9);
	lvc_calib_sampler_free(&s);
}

Test(calib_sampler, refuses_late_ticks_bad_prices_and_bad_intervals)
{
	lvc_calib_sampler_t s;

	cr_assert_eq(lvc_calib_sampler_init(&s, 0, MIN_US, 0), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_init(&s, 7 * S_US, MIN_US, 0), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_init(&s, S_US, MIN_US, 0), LVC_OK);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 10 * S_US, 100.0), 0);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 9 * S_US, 100.0), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 11 * S_US, NAN), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 11 * S_US, -1.0), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 11 * S_US, 0.0), LVC_ERR_INVALID);
	cr_assert_eq(lvc_calib_sampler_tick(&s, 10 * S_US, 101.0), 0); /* same time: applied */
	cr_assert_eq(s.ticks, 2);
	lvc_calib_sampler_free(&s);
}

/* ---- helpers ----------------------------------------------------------------------- */

Test(calib_helpers, expected_rates_follow_the_configured_tail)
{
	lvc_params_t p;
	double k;

	lvc_params_defaults(&p);
	/* Normal, 99%: 1% for the initial margin; the maintenance margin is
	 * half of it, so the rate is Phi(-z / 2). */
	cr_assert_float_eq(lvc_calib_expected_rate(&p.lev, 1), 0.01, 1e-12);
	k = 0.5 * 2.3263478740408408;
	cr_assert_float_eq(lvc_calib_expected_rate(&p.lev, 0), 0.5 * erfc(k / sqrt(2.0)), 1e-10);
	/* Student t: z is the unit-variance t quantile, so the initial margin's
	 * rate is still 1 - confidence. */
	p.lev.tail = LVC_TAIL_STUDENT_T;
	p.lev.tail_nu = 4.0;
	cr_assert_float_eq(lvc_calib_expected_rate(&p.lev, 1), 0.01, 1e-9);
	cr_assert_gt(lvc_calib_expected_rate(&p.lev, 0), 0.01);
	/* A multiplier of 2 on the normal: Phi(-2 z). */
	p.lev.tail = LVC_TAIL_NORMAL;
	p.lev.im_multiplier = 2.0;
	cr_assert_float_eq(lvc_calib_expected_rate(&p.lev, 1),
	                   0.5 * erfc(2.0 * 2.3263478740408408 / sqrt(2.0)), 1e-12);
}

Test(calib_helpers, half_life_is_rounded_to_one_percent_in_whole_units)
{
	cr_assert_eq(lvc_calib_round_half_life(754.3e6), INT64_C(754000000));
	cr_assert_eq(lvc_calib_round_half_life(277663.68e6), INT64_C(277680000000)); /* 4628 min */
	cr_assert_eq(lvc_calib_round_half_life(1.5e6), INT64_C(1500000));
	cr_assert_eq(lvc_calib_round_half_life(5.5e3), INT64_C(5500));
	cr_assert_eq(lvc_calib_round_half_life(40.0 * 86400e6), INT64_C(40) * DAY_US);
	cr_assert_eq(lvc_calib_round_half_life(0.4), 1);
	cr_assert_eq(lvc_calib_round_half_life(NAN), 1);
	{
		char d[64];

		cr_assert_str_eq(
		    lvc_duration_format(lvc_calib_round_half_life(754.3e6), d, sizeof(d)),
		    "12m34s");
	}
}
