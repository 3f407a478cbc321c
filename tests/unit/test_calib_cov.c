/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Coverage backtest (core/calib.h): Kupiec and Christoffersen statistics
 * against cases worked by hand and Kupiec's published non-rejection
 * regions; exceedance counting on a series small enough to check by hand;
 * and, on simulated prices, that the block tests keep their size for a
 * correct margin, reject a wrong one, and that overlapping horizons really
 * are dependent (the reason the tests use blocks).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calib.h"
#include "test_rng.h"

#define S_US      INT64_C(1000000)
#define BASE_S    INT64_C(1699999200) /* 2023-11-14, a multiple of every horizon used here */
#define CHI2_1_95 3.841458820694124   /* 1.959963984540054^2 */

static double close_to(double x, double ref, double tol)
{
	return fabs(x - ref) <= tol;
}

/* ---- Kupiec ------------------------------------------------------------------ */

Test(kupiec, matches_a_case_worked_by_hand)
{
	double lr, p;

	/* T = 10, N = 3, p = 0.1, so p_hat = 0.3:
	 *   ln L(p)     = 7 ln 0.9 + 3 ln 0.1 = -0.7375236 - 6.9077553 = -7.6452789
	 *   ln L(p_hat) = 7 ln 0.7 + 3 ln 0.3 = -2.4967246 - 3.6119184 = -6.1086430
	 *   LR = -2 (-7.6452789 + 6.1086430) = 3.0732717
	 * and P(chi2(1) > 3.0732717) = erfc(sqrt(3.0732717 / 2)) = 0.0795891. */
	cr_assert_eq(lvc_kupiec_pof(10, 3, 0.1, &lr, &p), LVC_OK);
	cr_assert(close_to(lr, 3.0732717, 1e-7), "LR %.10f", lr);
	cr_assert(close_to(p, 0.0795891, 1e-7), "p %.10f", p);
	/* N = 0: LR = -2 T ln(1 - p); N = T: LR = -2 T ln p. */
	cr_assert_eq(lvc_kupiec_pof(250, 0, 0.01, &lr, &p), LVC_OK);
	cr_assert(close_to(lr, -500.0 * log(0.99), 1e-12));
	cr_assert_eq(lvc_kupiec_pof(4, 4, 0.5, &lr, NULL), LVC_OK);
	cr_assert(close_to(lr, -8.0 * log(0.5), 1e-12));
	/* N = pT exactly: no evidence against the model. */
	cr_assert_eq(lvc_kupiec_pof(1000, 10, 0.01, &lr, &p), LVC_OK);
	cr_assert_lt(lr, 1e-12);
	cr_assert(close_to(p, 1.0, 1e-6));
	cr_assert_eq(lvc_kupiec_pof(0, 0, 0.01, &lr, &p), LVC_ERR_INVALID);
	cr_assert_eq(lvc_kupiec_pof(10, 11, 0.01, &lr, &p), LVC_ERR_INVALID);
	cr_assert_eq(lvc_kupiec_pof(10, 1, 0.0, &lr, &p), LVC_ERR_INVALID);
}

/* Kupiec (1995), "Techniques for verifying the accuracy of risk
 * measurement models", J. Derivatives 3(2), the table of 95% non-rejection
 * regions for the number of failures N, as reproduced in Jorion, "Value at
 * Risk" (the backtesting chapter). Regions are written lo < N < hi. The
 * p = 0.01 rows give T = 250 (the case quoted in our issue: 0 < N < 7, a
 * model with no exceedance in a year is rejected too) and T = 510, 1000;
 * the other rows use Kupiec's T = 255, 510, 1000. */
Test(kupiec, reproduces_the_published_nonrejection_regions)
{
	static const struct {
		double p;
		int64_t t;
		int lo, hi;
	} tab[] = {
		{ 0.01, 250, 0, 7 },    { 0.01, 510, 1, 11 },   { 0.01, 1000, 4, 17 },
		{ 0.025, 255, 2, 12 },  { 0.025, 510, 6, 21 },  { 0.025, 1000, 15, 36 },
		{ 0.05, 255, 6, 21 },   { 0.05, 510, 16, 36 },  { 0.05, 1000, 37, 65 },
		{ 0.075, 255, 11, 28 }, { 0.075, 510, 27, 51 }, { 0.075, 1000, 59, 92 },
		{ 0.10, 255, 16, 36 },  { 0.10, 510, 38, 65 },  { 0.10, 1000, 81, 120 },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		for (int n = 0; n <= tab[i].hi + 5; n++) {
			double lr, p;
			int accept;

			cr_assert_eq(lvc_kupiec_pof(tab[i].t, n, tab[i].p, &lr, &p), LVC_OK);
			accept = lr <= CHI2_1_95;
			cr_assert_eq(accept, n > tab[i].lo && n < tab[i].hi,
			             "p %.3f T %lld N %d: LR %.4f", tab[i].p, (long long)tab[i].t,
			             n, lr);
			cr_assert_eq(accept, p >= 0.05, "p-value %.6f at LR %.6f", p, lr);
		}
	}
}

/* ---- Christoffersen ------------------------------------------------------------ */

Test(christoffersen, an_evenly_spread_sequence_has_no_dependence)
{
	/* hits 0 0 1 1 0 0 0 1 0 0: transitions 00 01 11 10 00 00 01 10 00,
	 * so n00 = 4, n01 = 2, n10 = 2, n11 = 1: pi01 = 2/6 = pi11 = 1/3 = pi,
	 * the Markov and the independent likelihoods coincide: LR_ind = 0.
	 * LR_cc against p = 0.1 on the 9 transitions (3 hits):
	 *   ln L(p)   = 6 ln 0.9 + 3 ln 0.1 = -0.6321631 - 6.9077553 = -7.5399184
	 *   ln L(Pi1) = 6 ln(2/3) + 3 ln(1/3) = -2.4327906 - 3.2958369 = -5.7286275
	 *   LR_cc = 3.6225817, P(chi2(2) > LR) = exp(-LR/2) = 0.1634430.
	 * It equals Kupiec's LR on 9 trials with 3 hits, since LR_ind = 0. */
	static const unsigned char hits[10] = { 0, 0, 1, 1, 0, 0, 0, 1, 0, 0 };
	lvc_cov_test_t t;
	double lr9;

	lvc_cov_test_hits(hits, 10, 0.1, &t);
	cr_assert_eq(t.trials, 10);
	cr_assert_eq(t.exceed, 3);
	cr_assert_eq(t.n00, 4);
	cr_assert_eq(t.n01, 2);
	cr_assert_eq(t.n10, 2);
	cr_assert_eq(t.n11, 1);
	cr_assert_lt(t.lr_ind, 1e-12);
	cr_assert(close_to(t.p_ind, 1.0, 1e-6));
	cr_assert(close_to(t.lr_cc, 3.6225817, 1e-7), "LR_cc %.10f", t.lr_cc);
	cr_assert(close_to(t.p_cc, 0.1634430, 1e-7), "p_cc %.10f", t.p_cc);
	cr_assert(close_to(t.lr_pof, 3.0732717, 1e-7)); /* on all 10 trials */
	cr_assert_eq(lvc_kupiec_pof(9, 3, 0.1, &lr9, NULL), LVC_OK);
	cr_assert(close_to(t.lr_cc, lr9 + t.lr_ind, 1e-12));
}

Test(christoffersen, a_clustered_sequence_shows_dependence)
{
	/* hits 0 0 0 1 1 1 0 0 0 0 0 0: n00 = 7, n01 = 1, n10 = 1, n11 = 2,
	 * pi01 = 1/8, pi11 = 2/3, pi = 3/11:
	 *   ln L(Pi1) = 7 ln(7/8) + ln(1/8) + ln(1/3) + 2 ln(2/3) = -4.9237038
	 *   ln L(pi)  = 8 ln(8/11) + 3 ln(3/11)                  = -6.4454786
	 *   LR_ind = 3.0435500, P(chi2(1) > LR) = 0.0810585
	 *   ln L(0.1) = 8 ln 0.9 + 3 ln 0.1 = -7.7506394
	 *   LR_cc = 5.6538712, P(chi2(2) > LR) = 0.0591940. */
	static const unsigned char hits[12] = { 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
	lvc_cov_test_t t;
	double li, pi, lc, pc;

	lvc_cov_test_hits(hits, 12, 0.1, &t);
	cr_assert_eq(t.n00, 7);
	cr_assert_eq(t.n01, 1);
	cr_assert_eq(t.n10, 1);
	cr_assert_eq(t.n11, 2);
	cr_assert(close_to(t.lr_ind, 3.0435500, 1e-6), "LR_ind %.10f", t.lr_ind);
	cr_assert(close_to(t.p_ind, 0.0810585, 1e-7), "p_ind %.10f", t.p_ind);
	cr_assert(close_to(t.lr_cc, 5.6538712, 1e-7), "LR_cc %.10f", t.lr_cc);
	cr_assert(close_to(t.p_cc, 0.0591940, 1e-7), "p_cc %.10f", t.p_cc);
	cr_assert_eq(lvc_christoffersen(7, 1, 1, 2, 0.1, &li, &pi, &lc, &pc), LVC_OK);
	cr_assert_eq(li, t.lr_ind);
	cr_assert_eq(lc, t.lr_cc);
	cr_assert_eq(lvc_christoffersen(0, 0, 0, 0, 0.1, &li, &pi, &lc, &pc), LVC_ERR_INVALID);
	cr_assert_eq(lvc_christoffersen(1, -1, 0, 0, 0.1, &li, &pi, &lc, &pc), LVC_ERR_INVALID);
}

Test(cov_test_hits, missing_trials_break_the_chain)
{
	/* 0 1 | 1 1 0: transitions 01, then 11 and 10; none across the gap. */
	static const unsigned char hits[6] = { 0, 1, 2, 1, 1, 0 };
	lvc_cov_test_t t;

	lvc_cov_test_hits(hits, 6, NAN, &t);
	cr_assert_eq(t.trials, 5);
	cr_assert_eq(t.exceed, 3);
	cr_assert_eq(t.n00, 0);
	cr_assert_eq(t.n01, 1);
	cr_assert_eq(t.n10, 1);
	cr_assert_eq(t.n11, 1);
	/* Without an expected rate: counts and independence, no POF or CC. */
	cr_assert(isnan(t.lr_pof));
	cr_assert(isnan(t.lr_cc));
	cr_assert(isfinite(t.lr_ind));
}

/* ---- the backtest of a series ------------------------------------------------------- */

static lvc_cov_obs_t ob(int64_t s, double price, double imr, double mmr)
{
	lvc_cov_obs_t o = { (BASE_S + s) * S_US, price, imr, mmr };

	return o;
}

/* Prices at seconds 0..40, horizon 10 s, imr 5%, mmr 2.5%.
 *
 * Blocks (anchors 0, 10, 20, 30; state and price at a, price at a + 10):
 *   a=0:  100 -> 104  R = +0.0400  MM short
 *   a=10: 104 ->  98  R = -0.0577  IM long, MM long
 *   a=20:  98 ->  98  R =  0
 *   a=30:  98 -> 112  R = +0.1429  IM short, MM short
 * Every observation with t + 10 <= 40 (0, 5, 10, 15, 20, 30):
 *   5:  101 -> P(15) = 99   R = -0.0198  none
 *   15:  99 -> P(25) = 98   R = -0.0101  none (98 is the price at 20)
 *   the others as in the blocks; 35 is excluded (45 > 40). */
static const int hand_n = 8;
static void hand_series(lvc_cov_obs_t *o)
{
	o[0] = ob(0, 100, 0.05, 0.025);
	o[1] = ob(5, 101, 0.05, 0.025);
	o[2] = ob(10, 104, 0.05, 0.025);
	o[3] = ob(15, 99, 0.05, 0.025);
	o[4] = ob(20, 98, 0.05, 0.025);
	o[5] = ob(30, 98, 0.05, 0.025);
	o[6] = ob(35, 105, 0.05, 0.025);
	o[7] = ob(40, 112, 0.05, 0.025);
}

static lvc_cov_opts_t opts_of(int64_t horizon_s, double p_im)
{
	lvc_cov_opts_t o;

	o.horizon_us = horizon_s * S_US;
	o.expected[LVC_COV_IM] = p_im;
	o.expected[LVC_COV_MM] = NAN;
	return o;
}

Test(coverage, counts_exceedances_on_blocks_and_on_every_observation)
{
	lvc_cov_obs_t o[8];
	lvc_cov_opts_t opts = opts_of(10, 0.01);
	lvc_cov_result_t res;
	char errstr[256] = "";
	double lr;

	hand_series(o);
	cr_assert_eq(lvc_coverage_series(o, hand_n, &opts, &res, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_assert_eq(res.blocks_total, 4);
	cr_assert_eq(res.blocks_no_limit, 0);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].trials, 4);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].exceed, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_SHORT].exceed, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].exceed, 2);
	cr_assert_eq(res.block[LVC_COV_MM][LVC_COV_LONG].exceed, 1);
	cr_assert_eq(res.block[LVC_COV_MM][LVC_COV_SHORT].exceed, 2);
	cr_assert_eq(res.block[LVC_COV_MM][LVC_COV_EITHER].exceed, 3);
	/* IM either: hits 0 1 0 1, transitions 01 10 01. */
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n01, 2);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n10, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n00, 0);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n11, 0);
	/* Expected rates: p per side, 2p for either; MM has none: no tests. */
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].expected, 0.01);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].expected, 0.02);
	cr_assert_eq(lvc_kupiec_pof(4, 1, 0.01, &lr, NULL), LVC_OK);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].lr_pof, lr);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].rate, 0.25);
	cr_assert(isnan(res.block[LVC_COV_MM][LVC_COV_LONG].lr_pof));
	/* Every observation: 6 outcomes. */
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_LONG].trials, 6);
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_LONG].exceed, 1);
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_SHORT].exceed, 1);
	cr_assert_eq(res.overlap[LVC_COV_MM][LVC_COV_SHORT].exceed, 2);
	cr_assert_eq(res.overlap[LVC_COV_MM][LVC_COV_EITHER].exceed, 3);
	cr_assert_eq(res.overlap[LVC_COV_MM][LVC_COV_EITHER].rate, 0.5);
}

typedef struct blocks_seen_s {
	lvc_cov_block_t b[8];
	int n, stop_at;
} blocks_seen_t;

static int see_block(void *opaque, const lvc_cov_block_t *b)
{
	blocks_seen_t *s = opaque;

	s->b[s->n++] = *b;
	return s->n == s->stop_at ? 7 : 0;
}

/* The walk that lvc_coverage_series and the report's chart share: the
 * hand series' four blocks, each with its state and end observation. */
Test(coverage, walks_the_blocks_of_the_hand_series)
{
	static const struct {
		int64_t a_s;
		size_t i, j;
	} want[] = { { 0, 0, 2 }, { 10, 2, 4 }, { 20, 4, 5 }, { 30, 5, 7 } };
	lvc_cov_obs_t o[8];
	blocks_seen_t seen = { .n = 0, .stop_at = -1 };

	hand_series(o);
	cr_assert_eq(lvc_coverage_blocks(o, hand_n, 10 * S_US, see_block, &seen), 0);
	cr_assert_eq(seen.n, 4);
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(seen.b[k].anchor_us, (BASE_S + want[k].a_s) * S_US, "block %d", k);
		cr_assert_eq(seen.b[k].i, want[k].i, "block %d", k);
		cr_assert_eq(seen.b[k].j, want[k].j, "block %d", k);
		cr_assert_eq(seen.b[k].ret, o[want[k].j].price / o[want[k].i].price - 1.0);
	}
	/* The callback's non-zero return stops the walk and is returned. */
	seen.n = 0;
	seen.stop_at = 2;
	cr_assert_eq(lvc_coverage_blocks(o, hand_n, 10 * S_US, see_block, &seen), 7);
	cr_assert_eq(seen.n, 2);
	/* A span shorter than the horizon has no block. */
	seen.n = 0;
	seen.stop_at = -1;
	cr_assert_eq(lvc_coverage_blocks(o, hand_n, 41 * S_US, see_block, &seen), 0);
	cr_assert_eq(seen.n, 0);
}

Test(coverage, measures_the_loss_as_a_fraction_of_notional)
{
	/* imr 10%. Up 10.3%: a short loses 10.3% of notional, more than its
	 * margin, though the log move is only ln 1.103 = 9.80%. Down 9.8%: a
	 * long loses 9.8%, within its margin, though the log move is 10.3%. */
	lvc_cov_obs_t up[2] = { ob(0, 100.0, 0.10, 0.05), ob(10, 110.3, 0.10, 0.05) };
	lvc_cov_obs_t down[2] = { ob(0, 100.0, 0.10, 0.05), ob(10, 90.2, 0.10, 0.05) };
	lvc_cov_opts_t opts = opts_of(10, 0.01);
	lvc_cov_result_t res;
	char errstr[256] = "";

	cr_assert_eq(lvc_coverage_series(up, 2, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_SHORT].exceed, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].exceed, 0);
	cr_assert_eq(lvc_coverage_series(down, 2, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].trials, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_LONG].exceed, 0);
	cr_assert_eq(res.block[LVC_COV_MM][LVC_COV_LONG].exceed, 1);
}

Test(coverage, uses_the_last_observation_at_a_timestamp)
{
	/* Two prices at t = 0: the state is the second (95), so the move to
	 * 100 is +5.26% and exceeds 5%; from the first it would be 0. */
	lvc_cov_obs_t o[3] = { ob(0, 100.0, 0.05, 0.025), ob(0, 95.0, 0.05, 0.025),
		               ob(10, 100.0, 0.05, 0.025) };
	lvc_cov_opts_t opts = opts_of(10, 0.01);
	lvc_cov_result_t res;
	char errstr[256] = "";

	cr_assert_eq(lvc_coverage_series(o, 3, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_SHORT].trials, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_SHORT].exceed, 1);
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_SHORT].trials, 1);
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_SHORT].exceed, 1);
}

Test(coverage, skips_anchors_without_a_limit_and_breaks_the_chain)
{
	lvc_cov_obs_t o[8];
	lvc_cov_opts_t opts = opts_of(10, 0.01);
	lvc_cov_result_t res;
	char errstr[256] = "";

	hand_series(o);
	o[2].imr = NAN; /* no limit in force at 10 s */
	o[2].mmr = 0.0;
	cr_assert_eq(lvc_coverage_series(o, hand_n, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(res.blocks_total, 4);
	cr_assert_eq(res.blocks_no_limit, 1);
	/* IM either: 0 | 0 1 -> trials 3, one transition 01 (none into or out
	 * of the gap). */
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].trials, 3);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].exceed, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n00, 0);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n01, 1);
	cr_assert_eq(res.block[LVC_COV_IM][LVC_COV_EITHER].n10 +
	                 res.block[LVC_COV_IM][LVC_COV_EITHER].n11,
	             0);
	cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_EITHER].trials, 5);
}

Test(coverage, marks_each_observation_for_the_chart)
{
	lvc_cov_obs_t o[8];
	unsigned char flags[8];
	const unsigned char want[8] = {
		LVC_COV_F_KNOWN | LVC_COV_F_MM_SHORT,
		LVC_COV_F_KNOWN,
		LVC_COV_F_KNOWN | LVC_COV_F_IM_LONG | LVC_COV_F_MM_LONG,
		LVC_COV_F_KNOWN,
		LVC_COV_F_KNOWN,
		LVC_COV_F_KNOWN | LVC_COV_F_IM_SHORT | LVC_COV_F_MM_SHORT,
		0,
		0,
	};
	char errstr[256] = "";

	hand_series(o);
	cr_assert_eq(lvc_coverage_mark(o, hand_n, 10 * S_US, flags, errstr, sizeof(errstr)),
	             LVC_OK);
	for (int i = 0; i < hand_n; i++) {
		cr_assert_eq(flags[i], want[i], "obs %d: 0x%02x, want 0x%02x", i, flags[i],
		             want[i]);
	}
}

Test(coverage, pools_instruments_by_adding_counts)
{
	lvc_cov_obs_t a[8], b[8];
	lvc_cov_opts_t opts = opts_of(10, 0.05);
	lvc_cov_result_t parts[2], pool;
	char errstr[256] = "";
	double lr, pv;

	hand_series(a);
	hand_series(b);
	for (int i = 0; i < hand_n; i++) {
		b[i].price = 200.0 - a[i].price; /* mirror: longs and shorts swap */
	}
	cr_assert_eq(lvc_coverage_series(a, hand_n, &opts, &parts[0], errstr, sizeof(errstr)),
	             LVC_OK);
	cr_assert_eq(lvc_coverage_series(b, hand_n, &opts, &parts[1], errstr, sizeof(errstr)),
	             LVC_OK);
	lvc_coverage_pool(parts, 2, &opts, &pool);
	cr_assert_eq(pool.blocks_total, 8);
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			const lvc_cov_test_t *t = &pool.block[m][s];

			cr_assert_eq(t->trials,
			             parts[0].block[m][s].trials + parts[1].block[m][s].trials);
			cr_assert_eq(t->exceed,
			             parts[0].block[m][s].exceed + parts[1].block[m][s].exceed);
			cr_assert_eq(t->n01, parts[0].block[m][s].n01 + parts[1].block[m][s].n01);
			cr_assert_eq(pool.overlap[m][s].exceed,
			             parts[0].overlap[m][s].exceed + parts[1].overlap[m][s].exceed);
		}
	}
	cr_assert_eq(lvc_kupiec_pof(pool.block[LVC_COV_IM][LVC_COV_LONG].trials,
	                            pool.block[LVC_COV_IM][LVC_COV_LONG].exceed, 0.05, &lr, &pv),
	             LVC_OK);
	cr_assert_eq(pool.block[LVC_COV_IM][LVC_COV_LONG].lr_pof, lr);
	cr_assert_eq(pool.block[LVC_COV_IM][LVC_COV_LONG].p_pof, pv);
}

Test(coverage, rejects_bad_series_with_the_index)
{
	lvc_cov_obs_t o[3] = { ob(0, 100, 0.05, 0.025), ob(10, 100, 0.05, 0.025),
		               ob(5, 100, 0.05, 0.025) };
	lvc_cov_opts_t opts = opts_of(10, 0.01);
	lvc_cov_result_t res;
	char errstr[256] = "";

	cr_assert_eq(lvc_coverage_series(o, 3, &opts, &res, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "coverage: observation 2 has ts_us 1699999205000000 before "
	                         "1699999210000000: allowed ascending");
	o[2] = ob(20, 0.0, 0.05, 0.025);
	cr_assert_eq(lvc_coverage_series(o, 3, &opts, &res, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "coverage: observation 2 has price 0: allowed finite and > 0");
	o[2].price = 100.0;
	opts.expected[LVC_COV_IM] = 0.7;
	cr_assert_eq(lvc_coverage_series(o, 3, &opts, &res, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	opts = opts_of(0, 0.01);
	cr_assert_eq(lvc_coverage_series(o, 3, &opts, &res, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "coverage: horizon 0 us: allowed > 0");
}

/* ---- simulated prices ------------------------------------------------------------------ */

#define SIM_H      60   /* horizon: 60 one-second steps */
#define SIM_BLOCKS 3000 /* blocks per path */
#define SIM_N      (SIM_H * SIM_BLOCKS + 1)
#define SIM_SIGMA  0.002              /* per-step log volatility */
#define Z99        2.3263478740408408 /* normal quantile of 0.99 */

/* A driftless log random walk observed every second, with one margin rate
 * for the whole path; vol_mult scales the volatility of the second half. */
static void simulate_path(rng_t *g, double imr, double vol_mult, lvc_cov_obs_t *o)
{
	double lp = log(100.0);

	for (int i = 0; i < SIM_N; i++) {
		double s = i >= SIM_N / 2 ? SIM_SIGMA * vol_mult : SIM_SIGMA;

		o[i] = ob(i, exp(lp), imr, 0.5 * imr);
		lp += s * rng_normal(g);
	}
}

/* For a long, R < -m exactly when the log move is below ln(1 - m), whose
 * probability is 1% when ln(1 - m) = -z sigma_h: m = 1 - exp(-z sigma_h).
 * With that margin the LONG side of the test is exact at p = 0.01. */
static double exact_long_margin(void)
{
	return -expm1(-Z99 * SIM_SIGMA * sqrt((double)SIM_H));
}

Test(coverage_sim, keeps_its_size_for_a_correct_margin_and_rejects_a_thin_one)
{
	lvc_cov_obs_t *o = malloc(SIM_N * sizeof(lvc_cov_obs_t));
	lvc_cov_opts_t opts = opts_of(SIM_H, 0.01);
	int pof_ok = 0, ind_ok = 0, thin_rejected = 0;
	int64_t exceed = 0, trials = 0;

	cr_assert_not_null(o);
	for (int seed = 1; seed <= 10; seed++) {
		rng_t g = { UINT64_C(31337) * (uint64_t)seed };
		rng_t g2 = g;
		lvc_cov_result_t res;
		char errstr[256] = "";
		const lvc_cov_test_t *t = &res.block[LVC_COV_IM][LVC_COV_LONG];

		simulate_path(&g, exact_long_margin(), 1.0, o);
		cr_assert_eq(lvc_coverage_series(o, SIM_N, &opts, &res, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_eq(t->trials, SIM_BLOCKS);
		cr_assert_eq(res.overlap[LVC_COV_IM][LVC_COV_LONG].trials, SIM_N - SIM_H);
		exceed += t->exceed;
		trials += t->trials;
		pof_ok += t->p_pof >= 0.05;
		ind_ok += t->p_ind >= 0.05;
		/* The same path with half the margin. */
		simulate_path(&g2, 0.5 * exact_long_margin(), 1.0, o);
		cr_assert_eq(lvc_coverage_series(o, SIM_N, &opts, &res, errstr, sizeof(errstr)),
		             LVC_OK);
		thin_rejected += t->p_pof < 0.01;
	}
	fprintf(stderr,
	        "coverage, 10 paths of %d blocks: exact margin rate %.4f (expected 0.01), Kupiec "
	        "accepts %d/10, independence accepts %d/10; half margin rejected %d/10\n",
	        SIM_BLOCKS, (double)exceed / (double)trials, pof_ok, ind_ok, thin_rejected);
	/* At 5% size, 3 or more rejections of 10 have probability 1.2%. */
	cr_assert_geq(pof_ok, 8);
	cr_assert_geq(ind_ok, 8);
	cr_assert_eq(thin_rejected, 10);
	free(o);
}

Test(coverage_sim, overlapping_horizons_are_dependent_but_blocks_are_not)
{
	lvc_cov_obs_t *o = malloc(SIM_N * sizeof(lvc_cov_obs_t));
	unsigned char *flags = malloc(SIM_N);
	lvc_cov_opts_t opts = opts_of(SIM_H, 0.01);
	rng_t g = { 2024 };
	lvc_cov_result_t res;
	lvc_cov_test_t ov;
	char errstr[256] = "";

	cr_assert_not_null(o);
	cr_assert_not_null(flags);
	simulate_path(&g, exact_long_margin(), 1.0, o);
	cr_assert_eq(lvc_coverage_series(o, SIM_N, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(lvc_coverage_mark(o, SIM_N, SIM_H * S_US, flags, errstr, sizeof(errstr)),
	             LVC_OK);
	/* The hit sequence of every observation: consecutive outcomes share
	 * 59 of their 60 steps, so an exceedance is followed by another most
	 * of the time. */
	for (int i = 0; i < SIM_N; i++) {
		flags[i] =
		    (flags[i] & LVC_COV_F_KNOWN) ? (flags[i] & LVC_COV_F_IM_LONG ? 1 : 0) : 2;
	}
	lvc_cov_test_hits(flags, SIM_N, 0.01, &ov);
	fprintf(stderr,
	        "overlapping outcomes: rate %.4f, P(hit | hit) %.2f, LR_ind %.0f (p %.3g); blocks: "
	        "LR_ind %.2f (p %.3f)\n",
	        ov.rate, (double)ov.n11 / (double)(ov.n10 + ov.n11), ov.lr_ind, ov.p_ind,
	        res.block[LVC_COV_IM][LVC_COV_LONG].lr_ind,
	        res.block[LVC_COV_IM][LVC_COV_LONG].p_ind);
	cr_assert_eq(ov.trials, res.overlap[LVC_COV_IM][LVC_COV_LONG].trials);
	cr_assert_eq(ov.exceed, res.overlap[LVC_COV_IM][LVC_COV_LONG].exceed);
	cr_assert_lt(ov.p_ind, 1e-6);
	cr_assert_gt((double)ov.n11 / (double)(ov.n10 + ov.n11), 0.5);
	cr_assert_geq(res.block[LVC_COV_IM][LVC_COV_LONG].p_ind, 0.01);
	free(flags);
	free(o);
}

Test(coverage_sim, detects_clustered_exceedances_after_a_volatility_shock)
{
	lvc_cov_obs_t *o = malloc(SIM_N * sizeof(lvc_cov_obs_t));
	lvc_cov_opts_t opts = opts_of(SIM_H, 0.01);
	rng_t g = { 77 };
	lvc_cov_result_t res;
	char errstr[256] = "";
	const lvc_cov_test_t *t = &res.block[LVC_COV_IM][LVC_COV_EITHER];

	cr_assert_not_null(o);
	/* The margin stays at the calm level while volatility triples in the
	 * second half: exceedances pile up there. */
	simulate_path(&g, exact_long_margin(), 3.0, o);
	cr_assert_eq(lvc_coverage_series(o, SIM_N, &opts, &res, errstr, sizeof(errstr)), LVC_OK);
	fprintf(stderr,
	        "volatility shock: either-side rate %.3f (expected %.2f), pi01 %.3f pi11 %.3f, "
	        "LR_ind %.1f, LR_cc %.1f\n",
	        t->rate, t->expected, (double)t->n01 / (double)(t->n00 + t->n01),
	        (double)t->n11 / (double)(t->n10 + t->n11), t->lr_ind, t->lr_cc);
	cr_assert_lt(t->p_pof, 1e-6);
	cr_assert_lt(t->p_ind, 0.01);
	cr_assert_lt(t->p_cc, 1e-6);
	free(o);
}
