/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book (core/book.h) on hand-computed cases: liquidation price,
 * equity, maintenance and margin ratio for long and short, isolated and
 * cross, in one tier and across a tier boundary with its deduction; level
 * transitions with hysteresis on scripted mark paths; CLEAR on close and on
 * a tombstone; sigma and tier changes; positions that arrive before their
 * instrument is ready; balances; snapshots of the warning state; and the
 * claim that a tick touches only the positions whose level changes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/book.h"
#include "core/policy.h"

#define MAXW 256

typedef struct cap_s {
	size_t n;
	lvc_warning_t w[MAXW];
	char acc[MAXW][32];
	char ins[MAXW][32];
	int fail; /* return this from the callback when non-zero */
} cap_t;

static int on_warning(void *opaque, const lvc_warning_t *w)
{
	cap_t *c = opaque;

	cr_assert_lt(c->n, MAXW);
	c->w[c->n] = *w;
	snprintf(c->acc[c->n], sizeof(c->acc[0]), "%s", w->account);
	snprintf(c->ins[c->n], sizeof(c->ins[0]), "%s", w->instrument);
	c->w[c->n].account = c->acc[c->n];
	c->w[c->n].instrument = c->ins[c->n];
	c->n++;
	return c->fail;
}

static lvc_warn_params_t default_warn(void)
{
	lvc_warn_params_t w = { .watch = 3.0, .warning = 2.0, .critical = 1.0, .hysteresis = 0.25 };

	return w;
}

static lvc_book_t *new_book(cap_t *c)
{
	lvc_book_conf_t conf;
	char err[256] = "";
	lvc_book_t *book;

	memset(&conf, 0, sizeof(conf));
	memset(c, 0, sizeof(*c));
	conf.warn = default_warn();
	conf.emit = on_warning;
	conf.opaque = c;
	book = lvc_book_new(&conf, err, sizeof(err));
	cr_assert_not_null(book, "%s", err);
	return book;
}

/* A limit of one tier (cap unlimited) with maintenance rate mmr. */
static lvc_limit_t limit1(const char *ins, int64_t ts, double mmr, double sigma_h)
{
	lvc_limit_t lim;

	memset(&lim, 0, sizeof(lim));
	lim.instrument = ins;
	lim.ts_us = ts;
	lim.sigma_ann = sigma_h * 93.6; /* any value: reported, not used */
	lim.sigma_horizon = sigma_h;
	lim.mmr = mmr;
	lim.tiers_n = 1;
	lim.tiers[0].notional_cap = 1e12;
	lim.tiers[0].mmr = mmr;
	return lim;
}

/* Two tiers: mmr 0.01 up to notional 1000, then 0.05 with deduction
 * 1000 * (0.05 - 0.01) = 40 (SPEC §4). */
static lvc_limit_t limit2(const char *ins, int64_t ts, double sigma_h)
{
	lvc_limit_t lim = limit1(ins, ts, 0.01, sigma_h);

	lim.tiers_n = 2;
	lim.tiers[0].notional_cap = 1000;
	lim.tiers[1].notional_cap = 1e9;
	lim.tiers[1].mmr = 0.05;
	lim.tiers[1].maintenance_deduction = 40;
	return lim;
}

static void put_limit(lvc_book_t *book, const lvc_limit_t *lim)
{
	char err[256] = "";

	cr_assert_eq(lvc_book_on_limit(book, lim, err, sizeof(err)), LVC_OK, "%s", err);
}

static void put_mark(lvc_book_t *book, const char *ins, int64_t ts, double m)
{
	char err[256] = "";

	cr_assert_eq(lvc_book_on_mark(book, ins, ts, m, err, sizeof(err)), LVC_OK, "%s", err);
}

static void put_sigma(lvc_book_t *book, const char *ins, int64_t ts, double sig_h)
{
	char err[256] = "";

	cr_assert_eq(lvc_book_on_sigma(book, ins, ts, sig_h * 93.6, sig_h, err, sizeof(err)),
	             LVC_OK, "%s", err);
}

static void put_pos(lvc_book_t *book, const char *acc, const char *ins, int64_t ts, double size,
                    double entry, lvc_margin_mode_t mode, double collateral)
{
	lvc_position_t p = { acc, ins, ts, size, entry, mode, collateral };
	char err[256] = "";

	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_OK, "%s", err);
}

static void put_balance(lvc_book_t *book, const char *acc, int64_t ts, double c)
{
	lvc_balance_t b = { acc, ts, c };
	char err[256] = "";

	cr_assert_eq(lvc_book_on_balance(book, &b, err, sizeof(err)), LVC_OK, "%s", err);
}

#define ASSERT_REL(a, b, tol)                                                                      \
	cr_assert(fabs((a) - (b)) <= (tol)*fabs(b), "%s = %.17g, expected %.17g", #a, (double)(a), \
	          (double)(b))

/* Checks the level, seq and previous level of warning k. */
static void expect_level(const cap_t *c, size_t k, lvc_level_t prev, lvc_level_t lvl, int64_t seq)
{
	cr_assert_gt(c->n, k, "warning %zu missing (have %zu)", k, c->n);
	cr_assert_eq(c->w[k].previous_level, prev, "warning %zu previous %s", k,
	             lvc_level_names[c->w[k].previous_level]);
	cr_assert_eq(c->w[k].level, lvl, "warning %zu level %s, expected %s", k,
	             lvc_level_names[c->w[k].level], lvc_level_names[lvl]);
	cr_assert_eq(c->w[k].seq, seq);
}

Test(book, computes_an_isolated_long_in_one_tier_by_hand)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	const lvc_warning_t *w;

	/* Long 2 @ 100 with 20 collateral, mmr 1 %: K = 100 - 20 / 2 = 90,
	 * L = 90 / (1 - 0.01) = 1000 / 11 = 90.90909...
	 * At mark 92: equity = 20 + 2 * (92 - 100) = 4, MM = 2 * 92 * 0.01 =
	 * 1.84, margin ratio 1.84 / 4 = 0.46, distance ln(92 / 90.909) / 0.01
	 * = ln(1.012) / 0.01 = 1.19286 -> WARNING (1 <= d < 2). */
	put_limit(book, &lim);
	put_pos(book, "alice", "BTC", 2, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 0, "no mark yet: nothing evaluated");
	put_mark(book, "BTC", 3, 92.0);
	cr_assert_eq(c.n, 1);
	w = &c.w[0];
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 1);
	cr_assert_str_eq(w->account, "alice");
	cr_assert_str_eq(w->instrument, "BTC");
	cr_assert_eq(w->ts_us, 3);
	cr_assert_eq(w->mark_price, 92.0);
	cr_assert_eq(w->has_liquidation_price, 1);
	ASSERT_REL(w->liquidation_price, 1000.0 / 11.0, 1e-14);
	ASSERT_REL(w->equity, 4.0, 1e-14);
	ASSERT_REL(w->maintenance_margin, 1.84, 1e-14);
	ASSERT_REL(w->margin_ratio, 0.46, 1e-14);
	ASSERT_REL(w->distance_sigma, log(1.012) / 0.01, 1e-12);
	ASSERT_REL(w->hit_probability, erfc(log(1.012) / 0.01 / sqrt(2.0)), 1e-12);
	cr_assert_eq(w->size, 2.0);
	cr_assert_eq(w->sigma_ann, 0.01 * 93.6);
	lvc_book_destroy(book);
}

Test(book, computes_an_isolated_short_in_one_tier_by_hand)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	const lvc_warning_t *w = &c.w[0];

	/* Short 2 @ 100 with 20 collateral: K = 100 + 20 / 2 = 110, L = 110 /
	 * (1 + 0.01) = 11000 / 101 = 108.910891...
	 * At mark 107: equity = 20 - 2 * (107 - 100) = 6, MM = 214 * 0.01 =
	 * 2.14, ratio 2.14 / 6, distance ln(108.9109 / 107) / 0.01 = 1.7701
	 * -> WARNING. */
	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 107.0);
	put_pos(book, "bob", "BTC", 3, -2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 1);
	cr_assert_eq(w->ts_us, 3, "a position update carries its own ts");
	ASSERT_REL(w->liquidation_price, 11000.0 / 101.0, 1e-14);
	ASSERT_REL(w->equity, 6.0, 1e-14);
	ASSERT_REL(w->maintenance_margin, 2.14, 1e-14);
	ASSERT_REL(w->margin_ratio, 2.14 / 6.0, 1e-14);
	ASSERT_REL(w->distance_sigma, log((11000.0 / 101.0) / 107.0) / 0.01, 1e-12);
	cr_assert_eq(w->size, -2.0);
	lvc_book_destroy(book);
}

Test(book, computes_a_long_liquidating_in_the_second_tier_with_its_deduction)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit2("ETH", 1, 0.1);
	lvc_book_stats_t st;
	const lvc_warning_t *w = &c.w[0];

	/* Long 10 @ 200 with 500 collateral, tiers (1000, 1 %), (1e9, 5 %,
	 * deduction 40). Q = 10 * 200 - 500 = 1500 > 1000 * (1 - 0.01) = 990,
	 * so the root is in tier 1: L = (200 - 500 / 10 - 40 / 10) / (1 -
	 * 0.05) = 146 / 0.95 = 2920 / 19 = 153.684...; check: equity at L =
	 * 500 + 10 * (153.684 - 200) = 36.842 = 1536.842 * 0.05 - 40.
	 * At mark 180: notional 1800 (tier 1), MM = 1800 * 0.05 - 40 = 50,
	 * equity = 500 + 10 * (180 - 200) = 300, ratio 1 / 6, distance
	 * ln(180 / 153.684) / 0.1 = 1.5806 -> WARNING. */
	put_limit(book, &lim);
	put_mark(book, "ETH", 2, 180.0);
	put_pos(book, "carol", "ETH", 3, 10.0, 200.0, LVC_MARGIN_ISOLATED, 500.0);
	/* Long 10 @ 200 with 1500: Q = 500, root in tier 0: L = (200 - 150) /
	 * 0.99 = 50.505, distance ln(180 / 50.505) / 0.1 = 12.7: CLEAR, no
	 * warning although its notional at the mark is in tier 1. */
	put_pos(book, "dave", "ETH", 4, 10.0, 200.0, LVC_MARGIN_ISOLATED, 1500.0);
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 1);
	cr_assert_str_eq(w->account, "carol");
	ASSERT_REL(w->liquidation_price, 2920.0 / 19.0, 1e-14);
	ASSERT_REL(w->maintenance_margin, 50.0, 1e-14);
	cr_assert_eq(w->maintenance_margin, lvc_margin_maintenance(&lim, 1800.0),
	             "the exchange's rule, bit for bit");
	ASSERT_REL(w->equity, 300.0, 1e-14);
	ASSERT_REL(w->margin_ratio, 1.0 / 6.0, 1e-14);
	ASSERT_REL(w->distance_sigma, log(180.0 / (2920.0 / 19.0)) / 0.1, 1e-12);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions, 2);
	cr_assert_eq(st.positions_tiered, 1, "carol is keyed by price, dave by K");
	lvc_book_destroy(book);
}

Test(book, computes_a_short_liquidating_in_the_second_tier_with_its_deduction)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit2("ETH", 1, 0.1);
	const lvc_warning_t *w = &c.w[0];

	/* Short 10 @ 200 with 500: Q = 2000 + 500 = 2500 > 1000 * 1.01 = 1010,
	 * tier 1: L = (200 + 50 + 4) / 1.05 = 5080 / 21 = 241.905; check:
	 * equity at L = 500 - 10 * 41.905 = 80.952 = 2419.05 * 0.05 - 40.
	 * At mark 220: MM = 2200 * 0.05 - 40 = 70, equity = 500 - 200 = 300,
	 * distance ln(241.905 / 220) / 0.1 = 0.9492 -> CRITICAL. */
	put_limit(book, &lim);
	put_mark(book, "ETH", 2, 220.0);
	put_pos(book, "erin", "ETH", 3, -10.0, 200.0, LVC_MARGIN_ISOLATED, 500.0);
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_CRITICAL, 1);
	ASSERT_REL(w->liquidation_price, 5080.0 / 21.0, 1e-14);
	ASSERT_REL(w->maintenance_margin, 70.0, 1e-14);
	ASSERT_REL(w->equity, 300.0, 1e-14);
	ASSERT_REL(w->margin_ratio, 70.0 / 300.0, 1e-14);
	ASSERT_REL(w->distance_sigma, log((5080.0 / 21.0) / 220.0) / 0.1, 1e-12);
	lvc_book_destroy(book);
}

Test(book, computes_a_cross_account_by_hand_and_follows_its_balance)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t btc = limit1("BTC", 1, 0.1, 0.05);
	lvc_limit_t eth = limit1("ETH", 1, 0.1, 0.05);

	/* Account A: balance 30, long 1 BTC @ 100, short 10 ETH @ 10, both
	 * marked at entry, mmr 10 %, sigma_h 5 %. Equity 30 + 0 + 0 = 30, MM =
	 * 100 * 0.1 + 100 * 0.1 = 20, ratio 2 / 3.
	 * BTC's L (ETH fixed): others give 30 - (20 - 10) = 20 of collateral,
	 * K = 100 - 20 = 80, L = 80 / 0.9 = 88.889, distance ln(100 / 88.889)
	 * / 0.05 = 2.3557 -> WATCH.
	 * ETH's L: collateral 20, K = 10 + 20 / 10 = 12, L = 12 / 1.1 =
	 * 10.909; check at 10.909: equity 30 - 9.091 = 20.909, MM 10 + 10.909
	 * = 20.909. Distance ln(1.0909) / 0.05 = 1.7402 -> WARNING. */
	put_limit(book, &btc);
	put_limit(book, &eth);
	put_mark(book, "BTC", 2, 100.0);
	put_mark(book, "ETH", 2, 10.0);
	put_pos(book, "A", "BTC", 3, 1.0, 100.0, LVC_MARGIN_CROSS, 0.0);
	put_pos(book, "A", "ETH", 4, -10.0, 10.0, LVC_MARGIN_CROSS, 0.0);
	cr_assert_eq(c.n, 0, "no AccountBalance yet: the account is not evaluated");
	put_balance(book, "A", 5, 30.0);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WATCH, 1);
	expect_level(&c, 1, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 1);
	cr_assert_str_eq(c.w[0].instrument, "BTC");
	cr_assert_str_eq(c.w[1].instrument, "ETH");
	for (int k = 0; k < 2; k++) {
		ASSERT_REL(c.w[k].equity, 30.0, 1e-14);
		ASSERT_REL(c.w[k].maintenance_margin, 20.0, 1e-14);
		ASSERT_REL(c.w[k].margin_ratio, 2.0 / 3.0, 1e-14);
		cr_assert_eq(c.w[k].ts_us, 5);
	}
	ASSERT_REL(c.w[0].liquidation_price, 800.0 / 9.0, 1e-14);
	ASSERT_REL(c.w[0].distance_sigma, log(100.0 / (800.0 / 9.0)) / 0.05, 1e-12);
	ASSERT_REL(c.w[1].liquidation_price, 120.0 / 11.0, 1e-14);
	ASSERT_REL(c.w[1].distance_sigma, log((120.0 / 11.0) / 10.0) / 0.05, 1e-12);

	/* A BTC tick moves ETH's liquidation price too: BTC at 95 gives
	 * equity 25, MM 9.5 + 10 = 19.5; ETH's collateral 25 - 9.5 = 15.5,
	 * K = 11.55, L = 10.5, distance ln(1.05) / 0.05 = 0.9758 -> CRITICAL;
	 * BTC: collateral 25 + 5 - 10 = 20 as before (own PnL excluded), L
	 * 88.889, distance ln(95 / 88.889) / 0.05 = 1.3297 -> WARNING. */
	put_mark(book, "BTC", 6, 95.0);
	cr_assert_eq(c.n, 4);
	expect_level(&c, 2, LVC_LEVEL_WATCH, LVC_LEVEL_WARNING, 2);
	expect_level(&c, 3, LVC_LEVEL_WARNING, LVC_LEVEL_CRITICAL, 2);
	ASSERT_REL(c.w[3].liquidation_price, 10.5, 1e-13);
	ASSERT_REL(c.w[3].equity, 25.0, 1e-14);
	ASSERT_REL(c.w[3].maintenance_margin, 19.5, 1e-14);
	cr_assert_eq(c.w[3].mark_price, 10.0, "ETH's warning carries ETH's mark");

	/* A bigger wallet clears both: BTC's collateral from the rest is 1000
	 * + 0 - 10 > 95, so no liquidation price exists for it. */
	put_balance(book, "A", 7, 1000.0);
	cr_assert_eq(c.n, 6);
	expect_level(&c, 4, LVC_LEVEL_WARNING, LVC_LEVEL_CLEAR, 3);
	expect_level(&c, 5, LVC_LEVEL_CRITICAL, LVC_LEVEL_CLEAR, 3);
	cr_assert_eq(c.w[4].has_liquidation_price, 0);
	cr_assert(isinf(c.w[4].distance_sigma));
	cr_assert_eq(c.w[4].hit_probability, 0.0);
	cr_assert_eq(c.w[5].has_liquidation_price, 1);
	lvc_book_destroy(book);
}

/* The mark at signed distance d (in sigma_h) above L. */
static double mark_at(double L, double sig, double d)
{
	return L * exp(d * sig);
}

Test(book, follows_a_scripted_mark_path_with_hysteresis)
{
	/* L = 1000 / 11 (long 2 @ 100, 20 collateral, mmr 1 %), sigma_h 1 %;
	 * thresholds 3 / 2 / 1, hysteresis 0.25. Each step: the distance of
	 * the mark and the level expected after it. */
	static const struct {
		double d;
		lvc_level_t lvl;
	} path[] = {
		{ 5.0, LVC_LEVEL_CLEAR },     { 2.9, LVC_LEVEL_WATCH },
		{ 3.1, LVC_LEVEL_WATCH },     { 2.95, LVC_LEVEL_WATCH },
		{ 3.2, LVC_LEVEL_WATCH },     { 2.99, LVC_LEVEL_WATCH },
		{ 3.24, LVC_LEVEL_WATCH },    { 3.3, LVC_LEVEL_CLEAR },
		{ 2.99, LVC_LEVEL_WATCH },    { 1.5, LVC_LEVEL_WARNING },
		{ 2.1, LVC_LEVEL_WARNING },   { 1.9, LVC_LEVEL_WARNING },
		{ 2.2, LVC_LEVEL_WARNING },   { 2.3, LVC_LEVEL_WATCH },
		{ 0.5, LVC_LEVEL_CRITICAL },  { -0.1, LVC_LEVEL_LIQUIDATE },
		{ 0.1, LVC_LEVEL_LIQUIDATE }, { 0.2, LVC_LEVEL_LIQUIDATE },
		{ 0.3, LVC_LEVEL_CRITICAL },  { 1.2, LVC_LEVEL_CRITICAL },
		{ 4.0, LVC_LEVEL_CLEAR },     { -3.0, LVC_LEVEL_LIQUIDATE },
		{ 3.26, LVC_LEVEL_CLEAR },
	};
	const double L = 1000.0 / 11.0;
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_level_t cur = LVC_LEVEL_CLEAR;
	size_t expected = 0;

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 120.0);
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 0);
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		put_mark(book, "BTC", 10 + (int64_t)i, mark_at(L, 0.01, path[i].d));
		if (path[i].lvl != cur) {
			expected++;
			cr_assert_eq(c.n, expected, "step %zu (d = %g): %zu warnings", i, path[i].d,
			             c.n);
			expect_level(&c, expected - 1, cur, path[i].lvl, (int64_t)expected);
			cr_assert_eq(c.w[expected - 1].ts_us, 10 + (int64_t)i);
			cur = path[i].lvl;
		} else {
			cr_assert_eq(c.n, expected, "step %zu (d = %g): unexpected warning", i,
			             path[i].d);
		}
	}
	cr_assert_eq(expected, 11);
	cr_assert_eq(c.w[6].level, LVC_LEVEL_LIQUIDATE);
	cr_assert_eq(c.w[6].hit_probability, 1.0, "the price is already touched");
	cr_assert_leq(c.w[6].equity, c.w[6].maintenance_margin);
	ASSERT_REL(c.w[6].distance_sigma, 0.1, 1e-9);
	lvc_book_destroy(book);
}

Test(book, does_not_flap_when_the_mark_oscillates_around_a_threshold)
{
	const double L = 1000.0 / 11.0;
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 120.0);
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_pos(book, "bob", "BTC", 3, -2.0, 120.0, LVC_MARGIN_ISOLATED, 20.0);
	for (int i = 0; i < 1000; i++) {
		/* Around WARNING's threshold (2) within the hysteresis. */
		put_mark(book, "BTC", 10 + i, mark_at(L, 0.01, i % 2 ? 1.9 : 2.2));
	}
	/* bob (short, L = 130 / 1.01 = 128.7) is CLEAR the whole time. */
	cr_assert_eq(c.n, 2, "CLEAR -> WATCH on the first tick, WARNING on the second");
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WATCH, 1);
	expect_level(&c, 1, LVC_LEVEL_WATCH, LVC_LEVEL_WARNING, 2);
	cr_assert_str_eq(c.w[1].account, "alice");
	lvc_book_destroy(book);
}

Test(book, publishes_clear_on_close_and_on_a_tombstone_and_continues_seq)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_book_stats_t st;
	char err[256] = "";

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 92.0);
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0); /* WARNING */
	put_pos(book, "zed", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 150.0);  /* CLEAR */
	cr_assert_eq(c.n, 1);
	put_pos(book, "alice", "BTC", 4, 0.0, 100.0, LVC_MARGIN_ISOLATED, 0.0);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_WARNING, LVC_LEVEL_CLEAR, 2);
	cr_assert_eq(c.w[1].ts_us, 4);
	cr_assert_eq(c.w[1].size, 0.0);
	cr_assert_eq(c.w[1].has_liquidation_price, 0);
	cr_assert_eq(c.w[1].hit_probability, 0.0);
	/* A close of a CLEAR position publishes nothing. */
	cr_assert_eq(lvc_book_on_close(book, "zed", "BTC", 5, err, sizeof(err)), LVC_OK);
	cr_assert_eq(c.n, 2);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions, 0);
	cr_assert_eq(st.positions_dormant, 1, "alice keeps her seq, zed is forgotten");

	/* Reopened, the key continues its sequence; then a tombstone. */
	put_pos(book, "alice", "BTC", 6, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 3);
	expect_level(&c, 2, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 3);
	cr_assert_eq(lvc_book_on_close(book, "alice", "BTC", 7, err, sizeof(err)), LVC_OK);
	cr_assert_eq(c.n, 4);
	expect_level(&c, 3, LVC_LEVEL_WARNING, LVC_LEVEL_CLEAR, 4);
	/* Closing again, or an unknown key, is a no-op. */
	cr_assert_eq(lvc_book_on_close(book, "alice", "BTC", 8, err, sizeof(err)), LVC_OK);
	cr_assert_eq(lvc_book_on_close(book, "nobody", "BTC", 8, err, sizeof(err)), LVC_OK);
	cr_assert_eq(lvc_book_on_close(book, "alice", "XRP", 8, err, sizeof(err)), LVC_OK);
	cr_assert_eq(c.n, 4);
	lvc_book_destroy(book);
}

Test(book, moves_levels_when_sigma_changes)
{
	const double L = 1000.0 / 11.0;
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, mark_at(L, 0.01, 4.0)); /* d = 4: CLEAR */
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 0);
	put_sigma(book, "BTC", 4, 0.016); /* d = 0.04 / 0.016 = 2.5: WATCH */
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WATCH, 1);
	cr_assert_eq(c.w[0].ts_us, 4);
	ASSERT_REL(c.w[0].distance_sigma, 2.5, 1e-12);
	cr_assert_eq(c.w[0].sigma_ann, 0.016 * 93.6);
	put_sigma(book, "BTC", 5, 0.0125); /* d = 3.2: inside the hysteresis */
	cr_assert_eq(c.n, 1);
	put_sigma(book, "BTC", 6, 0.032); /* d = 1.25: WARNING */
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_WATCH, LVC_LEVEL_WARNING, 2);
	put_sigma(book, "BTC", 7, 0.005); /* d = 8: CLEAR */
	cr_assert_eq(c.n, 3);
	expect_level(&c, 2, LVC_LEVEL_WARNING, LVC_LEVEL_CLEAR, 3);
	lvc_book_destroy(book);
}

Test(book, moves_levels_when_a_new_limit_changes_the_tiers)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);

	/* L = 90 / 0.99 = 90.909 at mmr 1 %: mark 95 is ln(95 / 90.909) /
	 * 0.01 = 4.40 away, CLEAR. At mmr 5 %: L = 90 / 0.95 = 94.737,
	 * distance 0.277 -> CRITICAL. At mmr 6 %: L = 95.745 > 95: equity 20 -
	 * 10 = 10 <= MM 190 * 0.06 = 11.4 -> LIQUIDATE. */
	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 95.0);
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_pos(book, "bob", "BTC", 3, -2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 0);
	lim = limit1("BTC", 4, 0.05, 0.01);
	put_limit(book, &lim);
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_CRITICAL, 1);
	cr_assert_str_eq(c.w[0].account, "alice");
	cr_assert_eq(c.w[0].ts_us, 4);
	ASSERT_REL(c.w[0].liquidation_price, 90.0 / 0.95, 1e-14);
	ASSERT_REL(c.w[0].maintenance_margin, 190.0 * 0.05, 1e-14);
	lim = limit1("BTC", 5, 0.06, 0.01);
	put_limit(book, &lim);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_CRITICAL, LVC_LEVEL_LIQUIDATE, 2);
	ASSERT_REL(c.w[1].equity, 10.0, 1e-14);
	ASSERT_REL(c.w[1].maintenance_margin, 11.4, 1e-14);
	/* Back to 1 %: the first tier's change alone moves it to CLEAR. */
	lim = limit1("BTC", 6, 0.01, 0.01);
	put_limit(book, &lim);
	cr_assert_eq(c.n, 3);
	expect_level(&c, 2, LVC_LEVEL_LIQUIDATE, LVC_LEVEL_CLEAR, 3);
	lvc_book_destroy(book);
}

Test(book, moves_a_tiered_position_when_the_upper_tier_changes)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit2("ETH", 1, 0.1);
	lvc_book_stats_t st;

	/* carol as above: L = 153.684 in tier 1, distance 1.58 at 180. With
	 * tier 1 at 8 % (deduction 1000 * 0.07 = 70): L = (200 - 50 - 7) /
	 * 0.92 = 155.435, distance ln(180 / 155.435) / 0.1 = 1.467: still
	 * WARNING. At 15 % (deduction 140): L = (150 - 14) / 0.85 = 160,
	 * distance ln(1.125) / 0.1 = 1.178: WARNING. At 20 % (deduction 190):
	 * L = 131 / 0.8 = 163.75, distance 0.9462: CRITICAL. */
	put_limit(book, &lim);
	put_mark(book, "ETH", 2, 180.0);
	put_pos(book, "carol", "ETH", 3, 10.0, 200.0, LVC_MARGIN_ISOLATED, 500.0);
	cr_assert_eq(c.n, 1);
	lim.tiers[1].mmr = 0.08;
	lim.tiers[1].maintenance_deduction = 70;
	put_limit(book, &lim);
	lim.tiers[1].mmr = 0.15;
	lim.tiers[1].maintenance_deduction = 140;
	put_limit(book, &lim);
	cr_assert_eq(c.n, 1);
	lim.tiers[1].mmr = 0.20;
	lim.tiers[1].maintenance_deduction = 190;
	lim.ts_us = 9;
	put_limit(book, &lim);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_WARNING, LVC_LEVEL_CRITICAL, 2);
	ASSERT_REL(c.w[1].liquidation_price, 163.75, 1e-14);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.rebuilds, 0, "same first tier: no reorder");
	/* A new first-tier cap reorders the instrument, with the same result. */
	lim.tiers[0].notional_cap = 1100;
	lim.tiers[1].maintenance_deduction = 1100 * 0.19;
	put_limit(book, &lim);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.rebuilds, 1);
	cr_assert_eq(c.n, 2, "L = (150 - 20.9) / 0.8 = 161.4, d = 1.09 < 1 + 0.25: stays CRITICAL");
	lvc_book_destroy(book);
}

Test(book, evaluates_positions_of_an_unknown_instrument_once_it_has_a_limit_and_a_mark)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("NEW", 9, 0.01, 0.01);
	lvc_book_stats_t st;

	put_pos(book, "alice", "NEW", 1, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_pos(book, "bob", "NEW", 2, -2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_mark(book, "NEW", 3, 92.0);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions_pending, 2);
	cr_assert_eq(c.n, 0, "a mark without a limit evaluates nothing");
	put_limit(book, &lim); /* seeds sigma_h 1 % too */
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WARNING, 1);
	cr_assert_str_eq(c.w[0].account, "alice");
	cr_assert_eq(c.w[0].ts_us, 9);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions_pending, 0);
	cr_assert_eq(st.positions, 2);
	/* From then on ticks move it as usual. */
	put_mark(book, "NEW", 10, 100.0);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_WARNING, LVC_LEVEL_CLEAR, 2);
	lvc_book_destroy(book);
}

Test(book, touches_only_the_positions_whose_level_changes)
{
	enum { N = 20000 };
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_book_stats_t st0;
	lvc_book_stats_t st1;
	char acc[32];

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 100.0);
	/* Longs with liquidation prices spread over 40 .. 80 (K = L * 0.99,
	 * collateral 100 - K) and shorts over 125 .. 165 (K = L * 1.01,
	 * collateral K - 100): all CLEAR at 100 (ln(100 / 80) / 0.01 = 22). */
	for (int i = 0; i < N; i++) {
		snprintf(acc, sizeof(acc), "a%d", i);
		if (i % 2 == 0) {
			double k = 0.99 * (40.0 + 40.0 * i / N);

			put_pos(book, acc, "BTC", 3, 1.0, 100.0, LVC_MARGIN_ISOLATED, 100.0 - k);
		} else {
			double k = 1.01 * (125.0 + 40.0 * i / N);

			put_pos(book, acc, "BTC", 3, -1.0, 100.0, LVC_MARGIN_ISOLATED, k - 100.0);
		}
	}
	cr_assert_eq(c.n, 0);
	lvc_book_stats(book, &st0);
	for (int i = 0; i < 1000; i++) {
		put_mark(book, "BTC", 10 + i, 100.0 + (i % 7) - 3);
	}
	lvc_book_stats(book, &st1);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(st1.evaluations, st0.evaluations, "1000 quiet ticks evaluated nothing");
	/* A drop to 82: longs with L > 82 e^-0.03 = 79.58 go to WATCH; L
	 * runs from 40 to 80 in steps of 40 / 20000 * 2, so about 105 do. */
	put_mark(book, "BTC", 2000, 82.0);
	lvc_book_stats(book, &st0);
	cr_assert_gt(c.n, 50);
	cr_assert_lt(c.n, 200);
	cr_assert_eq(st0.evaluations - st1.evaluations, c.n,
	             "exactly the changed positions were evaluated");
	for (size_t k = 0; k < c.n; k++) {
		cr_assert_eq(c.w[k].level, LVC_LEVEL_WATCH);
		cr_assert_gt(c.w[k].liquidation_price, 82.0 * exp(-0.03));
		if (k > 0) {
			cr_assert_lt(strcmp(c.w[k - 1].account, c.w[k].account), 0,
			             "sorted by account");
		}
	}
	lvc_book_destroy(book);
}

Test(book, rejects_invalid_records_without_changing_state)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_position_t p = { "alice", "BTC", 1, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0 };
	lvc_balance_t b = { "alice", 1, NAN };
	lvc_book_stats_t st;
	char err[256];

	p.size = NAN;
	err[0] = '\0';
	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert(strstr(err, "alice|BTC") != NULL, "%s", err);
	p.size = 2.0;
	p.entry_price = 0.0;
	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_ERR_INVALID);
	p.entry_price = 100.0;
	p.collateral = -1.0;
	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_ERR_INVALID);
	p.collateral = 20.0;
	p.account = "";
	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_ERR_INVALID);
	p.account = "alice";
	p.margin_mode = (lvc_margin_mode_t)7;
	cr_assert_eq(lvc_book_on_position(book, &p, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_on_balance(book, &b, err, sizeof(err)), LVC_ERR_INVALID);
	lim.tiers[0].mmr = 1.0;
	cr_assert_eq(lvc_book_on_limit(book, &lim, err, sizeof(err)), LVC_ERR_INVALID);
	lim = limit2("BTC", 1, 0.01);
	lim.tiers[1].notional_cap = 10; /* not ascending */
	cr_assert_eq(lvc_book_on_limit(book, &lim, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert(strstr(err, "limit BTC") != NULL, "%s", err);
	lim = limit2("BTC", 1, 0.01);
	lim.tiers[1].maintenance_deduction = 30; /* 40 keeps 1000 * 1 % = 1000 * 5 % - 40 */
	cr_assert_eq(lvc_book_on_limit(book, &lim, err, sizeof(err)), LVC_ERR_INVALID);
	lim.tiers[1].maintenance_deduction = 40;
	lim.tiers[0].maintenance_deduction = 1;
	cr_assert_eq(lvc_book_on_limit(book, &lim, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_on_mark(book, "BTC", 1, -5.0, err, sizeof(err)), LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_on_sigma(book, "BTC", 1, 0.5, 0.0, err, sizeof(err)),
	             LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_on_mark_id(book, 999, 1, 5.0, err, sizeof(err)), LVC_ERR_NOT_FOUND);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions, 0);
	cr_assert_eq(st.accounts, 0);
	cr_assert_eq(c.n, 0);
	lvc_book_destroy(book);
}

Test(book, ignores_a_mark_older_than_the_last)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_book_stats_t st;

	put_limit(book, &lim);
	put_mark(book, "BTC", 100, 120.0);
	put_pos(book, "alice", "BTC", 101, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_mark(book, "BTC", 50, 92.0);
	cr_assert_eq(c.n, 0);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.marks_late, 1);
	cr_assert_eq(st.marks, 1);
	lvc_book_destroy(book);
}

Test(book, passes_the_emit_callbacks_failure_back)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	char err[256] = "";

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 120.0);
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	c.fail = -42;
	cr_assert_eq(lvc_book_on_mark(book, "BTC", 4, 92.0, err, sizeof(err)), -42);
	cr_assert_eq(c.n, 1);
	lvc_book_destroy(book);
}

Test(book, applies_per_instrument_warning_thresholds)
{
	cap_t c;
	lvc_inst_params_t ov;
	lvc_book_conf_t conf;
	lvc_book_t *book;
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	lvc_limit_t eth = limit1("ETH", 1, 0.01, 0.01);

	memset(&c, 0, sizeof(c));
	memset(&conf, 0, sizeof(conf));
	memset(&ov, 0, sizeof(ov));
	ov.name = "ETH";
	ov.params.warn = default_warn();
	ov.params.warn.watch = 6.0;
	conf.warn = default_warn();
	conf.overrides = &ov;
	conf.overrides_n = 1;
	conf.emit = on_warning;
	conf.opaque = &c;
	book = lvc_book_new(&conf, NULL, 0);
	cr_assert_not_null(book);
	put_limit(book, &lim);
	put_limit(book, &eth);
	put_mark(book, "BTC", 2, mark_at(1000.0 / 11.0, 0.01, 5.0));
	put_mark(book, "ETH", 2, mark_at(1000.0 / 11.0, 0.01, 5.0));
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	put_pos(book, "alice", "ETH", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 1, "distance 5 is WATCH only where watch = 6");
	cr_assert_str_eq(c.w[0].instrument, "ETH");
	lvc_book_destroy(book);
	ov.params.warn.watch = 1.5; /* below warning */
	cr_assert_null(lvc_book_new(&conf, NULL, 0));
}

typedef struct seen_s {
	int n;
	char key[8][64];
	uint8_t st[8][LVC_BOOK_STATE_SIZE];
} seen_t;

static int on_state(void *opaque, const char *acc, const char *ins,
                    const uint8_t st[LVC_BOOK_STATE_SIZE])
{
	seen_t *s = opaque;

	cr_assert_lt(s->n, 8);
	snprintf(s->key[s->n], sizeof(s->key[0]), "%s|%s", acc, ins);
	memcpy(s->st[s->n], st, LVC_BOOK_STATE_SIZE);
	s->n++;
	return 0;
}

Test(book, snapshots_and_restores_the_warning_state_of_a_key)
{
	cap_t c;
	cap_t c2;
	lvc_book_t *book = new_book(&c);
	lvc_book_t *fresh;
	lvc_limit_t lim = limit1("BTC", 1, 0.01, 0.01);
	const double L = 1000.0 / 11.0;
	uint8_t st[LVC_BOOK_STATE_SIZE];
	uint8_t bad[LVC_BOOK_STATE_SIZE];
	seen_t seen;
	char err[256] = "";

	put_limit(book, &lim);
	put_mark(book, "BTC", 2, mark_at(L, 0.01, 2.5));
	put_pos(book, "alice", "BTC", 3, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0); /* WATCH, 1 */
	put_mark(book, "BTC", 4, mark_at(L, 0.01, 1.5));                         /* WARNING, 2 */
	cr_assert_eq(c.n, 2);
	cr_assert_eq(lvc_book_state_get(book, "alice", "BTC", st), LVC_OK);
	cr_assert_eq(st[0], 1);
	cr_assert_eq(st[1], LVC_LEVEL_WARNING);
	cr_assert_eq(st[9], 2);
	cr_assert_eq(lvc_book_state_get(book, "bob", "BTC", st + 0), LVC_ERR_NOT_FOUND);
	memset(&seen, 0, sizeof(seen));
	cr_assert_eq(lvc_book_state_foreach(book, on_state, &seen), 0);
	cr_assert_eq(seen.n, 1);
	cr_assert_str_eq(seen.key[0], "alice|BTC");
	cr_assert_eq(memcmp(seen.st[0], st, sizeof(st)), 0);

	/* A restarted book restores the state before reading the positions:
	 * at distance 2.4 a fresh key would publish WATCH with seq 1; the
	 * restored one improves from WARNING (2.4 >= 2.25) with seq 3. */
	fresh = new_book(&c2);
	memcpy(bad, st, sizeof(bad));
	bad[1] = 9;
	cr_assert_eq(
	    lvc_book_state_set(fresh, "alice", "BTC", 5, bad, sizeof(bad), err, sizeof(err)),
	    LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_state_set(fresh, "alice", "BTC", 5, st, 9, err, sizeof(err)),
	             LVC_ERR_INVALID);
	cr_assert_eq(lvc_book_state_set(fresh, "alice", "BTC", 5, st, sizeof(st), err, sizeof(err)),
	             LVC_OK, "%s", err);
	put_limit(fresh, &lim);
	put_mark(fresh, "BTC", 6, mark_at(L, 0.01, 2.4));
	put_pos(fresh, "alice", "BTC", 7, 2.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c2.n, 1);
	expect_level(&c2, 0, LVC_LEVEL_WARNING, LVC_LEVEL_WATCH, 3);
	/* Restoring onto a live position re-evaluates it from that level. */
	st[1] = LVC_LEVEL_CRITICAL;
	cr_assert_eq(lvc_book_state_set(fresh, "alice", "BTC", 8, st, sizeof(st), err, sizeof(err)),
	             LVC_OK);
	cr_assert_eq(c2.n, 2);
	expect_level(&c2, 1, LVC_LEVEL_CRITICAL, LVC_LEVEL_WATCH, 3);
	lvc_book_destroy(fresh);
	lvc_book_destroy(book);
}

Test(book, switches_a_position_between_isolated_and_cross)
{
	cap_t c;
	lvc_book_t *book = new_book(&c);
	lvc_limit_t lim = limit1("BTC", 1, 0.1, 0.05);
	lvc_book_stats_t st;

	/* Long 1 @ 100, mark 100, mmr 10 %. Isolated with 20: L = 80 / 0.9 =
	 * 88.889, d = 2.36 -> WATCH. As cross with a wallet of 1000: no
	 * liquidation price -> CLEAR. Back to isolated with 12: L = 88 / 0.9
	 * = 97.78, d = 0.449 -> CRITICAL. */
	put_limit(book, &lim);
	put_mark(book, "BTC", 2, 100.0);
	put_balance(book, "A", 2, 1000.0);
	put_pos(book, "A", "BTC", 3, 1.0, 100.0, LVC_MARGIN_ISOLATED, 20.0);
	cr_assert_eq(c.n, 1);
	expect_level(&c, 0, LVC_LEVEL_CLEAR, LVC_LEVEL_WATCH, 1);
	put_pos(book, "A", "BTC", 4, 1.0, 100.0, LVC_MARGIN_CROSS, 0.0);
	cr_assert_eq(c.n, 2);
	expect_level(&c, 1, LVC_LEVEL_WATCH, LVC_LEVEL_CLEAR, 2);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions_cross, 1);
	put_pos(book, "A", "BTC", 5, 1.0, 100.0, LVC_MARGIN_ISOLATED, 12.0);
	cr_assert_eq(c.n, 3);
	expect_level(&c, 2, LVC_LEVEL_CLEAR, LVC_LEVEL_CRITICAL, 3);
	ASSERT_REL(c.w[2].liquidation_price, 88.0 / 0.9, 1e-14);
	lvc_book_stats(book, &st);
	cr_assert_eq(st.positions_cross, 0);
	cr_assert_eq(st.positions, 1);
	lvc_book_destroy(book);
}
