/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Margin maths of the leverage policy (src/core/policy.c) with
 * hand-checkable vectors: the maintenance deduction recursion (Binance's
 * BTCUSDT brackets), Hyperliquid's maintenance = half the initial margin at
 * max leverage, step rounding at and around every step, the clamps, the
 * horizon scaling and the fat-tail quantile.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "core/params.h"
#include "core/policy.h"

static lvc_lev_params_t lev_defaults(void)
{
	lvc_params_t p;

	lvc_params_defaults(&p);
	return p.lev;
}

static void set_steps(lvc_lev_params_t *l, const double *steps, size_t n)
{
	l->steps_n = n;
	for (size_t i = 0; i < n; i++) {
		l->steps[i] = steps[i];
	}
}

/* One tier of multiplier 1 and no clamp in the way. */
static lvc_lev_params_t lev_one_tier(void)
{
	lvc_lev_params_t l = lev_defaults();

	l.tiers_n = 1;
	l.tiers[0].notional_cap = 1e12;
	l.tiers[0].multiplier = 1.0;
	l.min_imr = 1e-4;
	l.max_imr = 1.0;
	return l;
}

static double rel(double a, double b)
{
	return fabs(a - b) / fmax(fabs(b), 1e-300);
}

Test(margin, deduction_recursion_gives_binance_cum)
{
	/* Binance BTCUSDT brackets: 125x / 100x / 50x up to 50,000 / 250,000 /
	 * 1,000,000 with mmr 0.4% / 0.5% / 1.0%: cum 0 / 50 / 1,300. */
	static const double steps[] = { 1, 2, 5, 10, 20, 50, 75, 100, 125 };
	lvc_lev_params_t l = lev_defaults();
	lvc_limit_t lim = { 0 };

	set_steps(&l, steps, sizeof(steps) / sizeof(steps[0]));
	l.max_leverage_cap = 125;
	l.min_imr = 0.001;
	l.mm_ratio = 0.5;
	l.tiers_n = 3;
	l.tiers[0] = (lvc_tier_param_t){ 50000, 1.0 };
	l.tiers[1] = (lvc_tier_param_t){ 250000, 1.25 };
	l.tiers[2] = (lvc_tier_param_t){ 1000000, 2.5 };
	/* Need 0.79%: 1/0.0079 = 126.6 -> 125x; x 0.9875% -> 101.3 -> 100x;
	 * x 1.975% -> 50.6 -> 50x. */
	lvc_margin_from_need(&l, 0.0079, &lim);

	cr_assert_eq(lim.tiers_n, 3);
	cr_assert_eq(lim.tiers[0].max_leverage, 125);
	cr_assert_eq(lim.tiers[1].max_leverage, 100);
	cr_assert_eq(lim.tiers[2].max_leverage, 50);
	cr_assert(rel(lim.tiers[0].mmr, 0.004) < 1e-12);
	cr_assert(rel(lim.tiers[1].mmr, 0.005) < 1e-12);
	cr_assert(rel(lim.tiers[2].mmr, 0.010) < 1e-12);
	cr_assert_eq(lim.tiers[0].maintenance_deduction, 0.0);
	cr_assert(rel(lim.tiers[1].maintenance_deduction, 50.0) < 1e-9);
	cr_assert(rel(lim.tiers[2].maintenance_deduction, 1300.0) < 1e-9);
	cr_assert_eq(lim.tiers[0].notional_cap, 50000);
	cr_assert_eq(lim.tiers[2].notional_cap, 1000000);
	/* Headline fields are tier 0's. */
	cr_assert_eq(lim.max_leverage, 125);
	cr_assert(rel(lim.imr, 0.008) < 1e-12);
	cr_assert(rel(lim.mmr, 0.004) < 1e-12);

	/* Maintenance: N * mmr_i - cum_i, tier by notional, caps inclusive. */
	cr_assert(rel(lvc_margin_maintenance(&lim, 10000), 40.0) < 1e-12);
	cr_assert(rel(lvc_margin_maintenance(&lim, 50000), 200.0) < 1e-12);
	cr_assert(rel(lvc_margin_maintenance(&lim, 100000), 500.0 - 50.0) < 1e-12);
	cr_assert(rel(lvc_margin_maintenance(&lim, 250000), 1250.0 - 50.0) < 1e-12);
	cr_assert(rel(lvc_margin_maintenance(&lim, 500000), 5000.0 - 1300.0) < 1e-12);
	/* Above the last cap the last tier applies. */
	cr_assert(rel(lvc_margin_maintenance(&lim, 2000000), 20000.0 - 1300.0) < 1e-12);
	cr_assert_eq(lvc_margin_maintenance(&lim, 0), 0.0);
}

Test(margin, maintenance_is_continuous_across_every_cap)
{
	lvc_lev_params_t l = lev_defaults(); /* 1e6 / 1e7 / 1e12, x1 / x2 / x5 */
	lvc_limit_t lim = { 0 };

	for (double need = 0.003; need < 0.4; need *= 1.37) {
		lvc_margin_from_need(&l, need, &lim);
		for (size_t i = 0; i + 1 < lim.tiers_n; i++) {
			double cap = lim.tiers[i].notional_cap;
			double below = cap * lim.tiers[i].mmr - lim.tiers[i].maintenance_deduction;
			double above =
			    cap * lim.tiers[i + 1].mmr - lim.tiers[i + 1].maintenance_deduction;

			cr_assert(rel(above, below) < 1e-12, "need %g cap %g: %g vs %g", need, cap,
			          below, above);
			cr_assert(rel(lvc_margin_maintenance(&lim, cap), below) < 1e-12);
			/* Higher tiers never allow more leverage or ask less margin. */
			cr_assert(lim.tiers[i + 1].max_leverage <= lim.tiers[i].max_leverage);
			cr_assert(lim.tiers[i + 1].mmr >= lim.tiers[i].mmr);
			cr_assert(lim.tiers[i + 1].maintenance_deduction >=
			          lim.tiers[i].maintenance_deduction);
		}
	}
}

Test(margin, hyperliquid_maintenance_is_half_the_initial_margin_at_max_leverage)
{
	/* Hyperliquid BTC: 40x up to 150M, 20x above; mmr 1.25% / 2.5%. */
	static const double steps[] = { 1, 2, 3, 5, 10, 20, 40 };
	lvc_lev_params_t l = lev_defaults();
	lvc_limit_t lim = { 0 };

	set_steps(&l, steps, sizeof(steps) / sizeof(steps[0]));
	l.max_leverage_cap = 40;
	l.mm_ratio = 0.5;
	l.tiers_n = 2;
	l.tiers[0] = (lvc_tier_param_t){ 150e6, 1.0 };
	l.tiers[1] = (lvc_tier_param_t){ 1e12, 2.0 };
	lvc_margin_from_need(&l, 0.024, &lim); /* 41.7 -> 40x; x 4.8% -> 20.8 -> 20x */

	cr_assert_eq(lim.tiers[0].max_leverage, 40);
	cr_assert(rel(lim.tiers[0].imr, 0.025) < 1e-12);
	cr_assert(rel(lim.tiers[0].mmr, 0.0125) < 1e-12);
	cr_assert_eq(lim.tiers[1].max_leverage, 20);
	cr_assert(rel(lim.tiers[1].imr, 0.05) < 1e-12);
	cr_assert(rel(lim.tiers[1].mmr, 0.025) < 1e-12);
	/* deduction_1 = 150M * (2.5% - 1.25%). */
	cr_assert(rel(lim.tiers[1].maintenance_deduction, 150e6 * 0.0125) < 1e-12);
}

Test(margin, published_imr_is_the_margin_of_the_published_leverage)
{
	lvc_lev_params_t l = lev_defaults();
	lvc_limit_t lim = { 0 };

	for (double need = 0.0001; need < 2.0; need *= 1.05) {
		lvc_margin_from_need(&l, need, &lim);
		for (size_t i = 0; i < lim.tiers_n; i++) {
			double x = fmin(
			    fmax(fmin(fmax(need, l.min_imr), l.max_imr) * l.tiers[i].multiplier,
			         l.min_imr),
			    l.max_imr);

			cr_assert(rel(lim.tiers[i].imr, 1.0 / lim.tiers[i].max_leverage) < 1e-15,
			          "need %g tier %zu", need, i);
			cr_assert(rel(lim.tiers[i].mmr, l.mm_ratio * lim.tiers[i].imr) < 1e-15);
			/* Conservative: never below the clamped need. */
			cr_assert(lim.tiers[i].imr >= x * (1 - 1e-12), "need %g tier %zu", need, i);
		}
	}
}

Test(margin, rounds_down_to_the_step_at_and_around_each_step)
{
	lvc_lev_params_t l = lev_one_tier(); /* steps 1 2 3 5 10 20 25 50 75 100 */
	lvc_limit_t lim = { 0 };

	for (size_t k = 0; k < l.steps_n; k++) {
		double s = l.steps[k];
		double below = k > 0 ? l.steps[k - 1] : l.steps[0];

		/* 1/imr exactly at the step. */
		lvc_margin_from_need(&l, 1.0 / s, &lim);
		cr_assert_eq(lim.max_leverage, s, "at %g: %g", s, lim.max_leverage);
		/* 1/imr an epsilon above the step: still the step. */
		lvc_margin_from_need(&l, (1.0 / s) * (1 - 1e-9), &lim);
		cr_assert_eq(lim.max_leverage, s, "above %g: %g", s, lim.max_leverage);
		/* 1/imr an epsilon below the step: the step below. */
		lvc_margin_from_need(&l, (1.0 / s) * (1 + 1e-9), &lim);
		cr_assert_eq(lim.max_leverage, below, "below %g: %g", s, lim.max_leverage);
		/* Half-way to the next step: still this one. */
		if (k + 1 < l.steps_n) {
			lvc_margin_from_need(&l, 2.0 / (s + l.steps[k + 1]), &lim);
			cr_assert_eq(lim.max_leverage, s, "between %g and next", s);
		}
	}
	/* A computed 1/0.05 lands exactly on 20x despite rounding. */
	lvc_margin_from_need(&l, 0.05, &lim);
	cr_assert_eq(lim.max_leverage, 20);
	/* 0.1 * 0.4 rounds to 0.04000000000000001, a hair above 1/25: the
	 * tolerance keeps it at 25x rather than 20x. */
	lvc_margin_from_need(&l, 0.1 * 0.4, &lim);
	cr_assert_eq(lim.max_leverage, 25);
	lvc_margin_from_need(&l, 0.1 * 0.1 * 3, &lim); /* 33.33 */
	cr_assert_eq(lim.max_leverage, 25);
}

Test(margin, never_exceeds_the_cap_and_uses_the_largest_step_under_it)
{
	lvc_lev_params_t l = lev_one_tier();
	lvc_limit_t lim = { 0 };

	lvc_margin_from_need(&l, 1.0 / 1000, &lim); /* 1000x wanted, 100 is the top step */
	cr_assert_eq(lim.max_leverage, 100);
	l.max_leverage_cap = 60; /* not a step: 50x is the largest under it */
	lvc_margin_from_need(&l, 1.0 / 80, &lim);
	cr_assert_eq(lim.max_leverage, 50);
	cr_assert(rel(lim.imr, 0.02) < 1e-15);
	l.max_leverage_cap = 125; /* above every step: the top step */
	lvc_margin_from_need(&l, 1.0 / 1000, &lim);
	cr_assert_eq(lim.max_leverage, 100);
	l.max_leverage_cap = 1; /* only the smallest step */
	lvc_margin_from_need(&l, 1.0 / 1000, &lim);
	cr_assert_eq(lim.max_leverage, 1);
}

Test(margin, below_the_smallest_step_uses_the_smallest_step_with_the_largest_margin)
{
	static const double steps[] = { 2, 5, 10 };
	lvc_lev_params_t l = lev_one_tier();
	lvc_limit_t lim = { 0 };

	set_steps(&l, steps, 3);
	l.max_leverage_cap = 10;
	lvc_margin_from_need(&l, 0.8, &lim); /* 1/0.8 = 1.25 < 2 */
	cr_assert_eq(lim.max_leverage, 2);
	/* 1/2 would not cover the need: the floor publishes max_imr. */
	cr_assert_eq(lim.imr, 1.0);
	cr_assert_eq(lim.mmr, 0.5);
	/* A need the smallest step covers still gets that floor margin, since
	 * the leverage cannot fall when the need rises to max_imr. */
	lvc_margin_from_need(&l, 0.4, &lim);
	cr_assert_eq(lim.max_leverage, 2);
	cr_assert_eq(lim.imr, 1.0);
	/* With max_imr within the smallest step, the floor is 1/steps[0]. */
	l.max_imr = 0.5;
	lvc_margin_from_need(&l, 0.8, &lim);
	cr_assert_eq(lim.max_leverage, 2);
	cr_assert_eq(lim.imr, 0.5);
}

Test(margin, clamps_the_need_and_each_tier)
{
	lvc_lev_params_t l = lev_defaults(); /* min 1%, max 100%, x1 / x2 / x5 */
	lvc_limit_t lim = { 0 };

	/* A tiny need is raised to min_imr 1% -> 100x; tiers x2 -> 50x, x5 -> 20x. */
	lvc_margin_from_need(&l, 1e-6, &lim);
	cr_assert_eq(lim.tiers[0].max_leverage, 100);
	cr_assert_eq(lim.tiers[1].max_leverage, 50);
	cr_assert_eq(lim.tiers[2].max_leverage, 20);
	/* A huge need is cut to max_imr 100% -> 1x in every tier. */
	lvc_margin_from_need(&l, 7.5, &lim);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(lim.tiers[i].max_leverage, 1);
		cr_assert_eq(lim.tiers[i].imr, 1.0);
		cr_assert_eq(lim.tiers[i].mmr, 0.5);
	}
	/* Tier clamp: 30% x5 = 150% is cut to 100% -> 1x; tier 0 3.33x -> 3x. */
	lvc_margin_from_need(&l, 0.3, &lim);
	cr_assert_eq(lim.tiers[0].max_leverage, 3);
	cr_assert_eq(lim.tiers[1].max_leverage, 1);
	cr_assert_eq(lim.tiers[2].max_leverage, 1);
	/* A lower max_imr cuts the need: 50% -> 2x. */
	l.max_imr = 0.5;
	lvc_margin_from_need(&l, 0.9, &lim);
	cr_assert_eq(lim.max_leverage, 2);
	cr_assert_eq(lim.imr, 0.5);
	/* min_imr above the steps' reach: 4% -> 25x at most. */
	l.min_imr = 0.04;
	lvc_margin_from_need(&l, 1e-6, &lim);
	cr_assert_eq(lim.max_leverage, 25);
}

Test(margin, treats_a_nan_need_as_the_largest)
{
	lvc_lev_params_t l = lev_defaults();
	lvc_limit_t lim = { 0 };

	lvc_margin_from_need(&l, NAN, &lim);
	cr_assert_eq(lim.max_leverage, 1);
	cr_assert_eq(lim.imr, 1.0);
}

Test(margin, scales_sigma_to_the_horizon_with_the_configured_year)
{
	lvc_lev_params_t l = lev_defaults(); /* 1 h, 0.99 normal, x1 */
	lvc_limit_t lim = { 0 };
	double h365 = sqrt(3600.0 / (365 * 86400.0)); /* 0.0106843 */
	double h252 = sqrt(3600.0 / (252 * 86400.0));

	/* sigma 50%: sigma_h 0.534%, need 2.326348 * 0.534% = 1.243% -> 80.5 ->
	 * 75x; x2 2.486% -> 40.2 -> 25x; x5 6.21% -> 16.1 -> 10x. */
	lvc_margin_compute(&l, 0.5, &lim);
	cr_assert(rel(lim.sigma_horizon, 0.5 * h365) < 1e-15);
	cr_assert_eq(lim.tiers[0].max_leverage, 75);
	cr_assert_eq(lim.tiers[1].max_leverage, 25);
	cr_assert_eq(lim.tiers[2].max_leverage, 10);
	cr_assert(rel(lim.imr, 1.0 / 75) < 1e-15);

	/* A 252-day year makes the same sigma_ann a wider hourly move:
	 * need 1.492% -> 67 -> 50x. */
	lvc_margin_compute_days(&l, 252, 0.5, &lim);
	cr_assert(rel(lim.sigma_horizon, 0.5 * h252) < 1e-15);
	cr_assert_eq(lim.tiers[0].max_leverage, 50);

	/* im_multiplier scales the need: x2 -> 2.486% -> 25x. */
	l.im_multiplier = 2.0;
	lvc_margin_compute(&l, 0.5, &lim);
	cr_assert_eq(lim.max_leverage, 25);
}

Test(margin, uses_the_unit_variance_student_t_quantile_for_fat_tails)
{
	lvc_lev_params_t l = lev_defaults();
	lvc_limit_t lim = { 0 };

	cr_assert_float_eq(lvc_margin_z(&l), 2.326348, 5e-7);
	l.tail = LVC_TAIL_STUDENT_T;
	l.tail_nu = 4;
	cr_assert_float_eq(lvc_margin_z(&l), 2.649492, 5e-7);
	/* sigma 71%, sigma_h 0.7586%: t(4) need 2.010% -> 49.8 -> 25x, where the
	 * normal need 1.765% -> 56.7 -> 50x. */
	lvc_margin_compute(&l, 0.71, &lim);
	cr_assert_eq(lim.max_leverage, 25);
	l.tail = LVC_TAIL_NORMAL;
	lvc_margin_compute(&l, 0.71, &lim);
	cr_assert_eq(lim.max_leverage, 50);
}

Test(policy_params, refuses_more_steps_or_tiers_than_the_arrays_hold)
{
	lvc_params_t p;
	char err[256];

	lvc_params_defaults(&p);
	cr_assert_eq(lvc_params_check(&p, err, sizeof(err)), LVC_OK);
	p.lev.steps_n = LVC_MAX_STEPS + 1;
	cr_assert_eq(lvc_params_check(&p, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_str_eq(err, "leverage.steps: 33 steps are not allowed: at most 32");
	lvc_params_defaults(&p);
	p.lev.tiers_n = LVC_MAX_TIERS + 1;
	cr_assert_eq(lvc_params_check(&p, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_str_eq(err, "leverage.tiers: 17 tiers are not allowed: at most 16");
}
