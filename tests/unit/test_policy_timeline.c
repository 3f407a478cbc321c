/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guard rails of the leverage policy (src/core/policy.c) as timelines:
 * scripted needs per second of event time through lvc_policy_on_tick() and
 * lvc_policy_on_clock(), with the exact event sequence asserted (time,
 * reason, status, max_leverage, previous_max_leverage, every tier's step).
 * Every published event is also checked for seq without gaps and for a
 * self-consistent table.
 *
 * Inputs are written as the tier-0 margin need m (sigma_ann is m / (z *
 * sqrt(horizon / year))), so that the expected steps can be read off by
 * hand: with the default tiers x1 / x2 / x5 and steps 1 2 3 5 10 20 25 50 75
 * 100,
 *   CALM  1.24%: 80.6 -> 75x | 2.48%: 40.3 -> 25x | 6.2%: 16.1 -> 10x
 *   MID   4.5%:  22.2 -> 20x | 9%:    11.1 -> 10x | 22.5%: 4.4 -> 3x
 *   MID25 3.85%: 26   -> 25x | 7.7%:  13   -> 10x | 19.3%: 5.2 -> 5x
 *   SHOCK 7.5%:  13.3 -> 10x | 15%:   6.7  -> 5x  | 37.5%: 2.7 -> 2x
 *   CRASH 11.25%: 8.9 -> 5x  | 22.5%: 4.4  -> 3x  | 56%:   1.8 -> 1x
 * The last test compares the policy (fast path and all) with a naive
 * re-implementation of the rules over random walks near step boundaries.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/policy.h"

#define CALM  0.0124
#define MID   0.045
#define MID25 0.0385
#define SHOCK 0.075
#define CRASH 0.1125

#define S(x) ((int64_t)(x)*INT64_C(1000000))

#define MAX_EVENTS 64

typedef struct ev_s {
	int64_t ts_s;
	lvc_limit_reason_t reason;
	lvc_limit_status_t status;
	double lev[3]; /* tier steps */
	double prev;   /* previous_max_leverage; 0: null */
} ev_t;

typedef struct tl_s {
	lvc_params_t prm;
	lvc_policy_t pol;
	size_t n;
	ev_t got[MAX_EVENTS];
	lvc_limit_t last;
} tl_t;

static double sigma_for(const tl_t *t, double need)
{
	double h =
	    sqrt((double)t->prm.lev.horizon_us / 1e6 / (t->prm.vol.annualization_days * 86400.0));

	return need / (t->prm.lev.im_multiplier * lvc_margin_z(&t->prm.lev) * h);
}

static void tl_start(tl_t *t)
{
	memset(t, 0, sizeof(*t));
	lvc_params_defaults(&t->prm);
	/* relax_after 15m, stale_after 30s, horizon 1h, 0.99 normal. */
	lvc_policy_init(&t->pol);
	lvc_policy_configure(&t->pol, &t->prm);
}

/* Checks one published limit and records it. */
static void record(tl_t *t, const lvc_limit_t *lim)
{
	ev_t *e;

	cr_assert_lt(t->n, MAX_EVENTS);
	cr_assert_eq(lim->seq, (int64_t)t->n + 1, "seq %lld after %zu events", (long long)lim->seq,
	             t->n);
	if (t->n == 0) {
		cr_assert_eq(lim->has_previous_max_leverage, 0);
	} else {
		cr_assert_eq(lim->has_previous_max_leverage, 1);
		cr_assert_eq(lim->previous_max_leverage, t->last.max_leverage);
	}
	cr_assert_eq(lim->tiers_n, t->prm.lev.tiers_n);
	cr_assert_eq(lim->max_leverage, lim->tiers[0].max_leverage);
	cr_assert_eq(lim->imr, lim->tiers[0].imr);
	for (size_t i = 0; i < lim->tiers_n; i++) {
		cr_assert_float_eq(lim->tiers[i].imr, 1.0 / lim->tiers[i].max_leverage, 1e-15);
		cr_assert_float_eq(lim->tiers[i].mmr, t->prm.lev.mm_ratio * lim->tiers[i].imr,
		                   1e-15);
	}
	cr_assert_float_eq(lim->sigma_horizon,
	                   lim->sigma_ann * sqrt(3600.0 / (t->prm.vol.annualization_days * 86400)),
	                   1e-15);
	e = &t->got[t->n++];
	e->ts_s = lim->ts_us / S(1);
	e->reason = lim->reason;
	e->status = lim->status;
	for (size_t i = 0; i < 3; i++) {
		e->lev[i] = i < lim->tiers_n ? lim->tiers[i].max_leverage : 0;
	}
	e->prev = lim->has_previous_max_leverage ? lim->previous_max_leverage : 0;
	t->last = *lim;
}

static int tick(tl_t *t, int64_t ts_s, double need, int warming_up)
{
	lvc_limit_t lim = { 0 };

	if (lvc_policy_on_tick(&t->pol, &t->prm.lev, S(ts_s), sigma_for(t, need), warming_up,
	                       &lim)) {
		record(t, &lim);
		return 1;
	}
	return 0;
}

/* One tick per second in [from, to). */
static void ticks(tl_t *t, int64_t from_s, int64_t to_s, double need, int warming_up)
{
	for (int64_t s = from_s; s < to_s; s++) {
		tick(t, s, need, warming_up);
	}
}

static int clock_at(tl_t *t, int64_t now_s, double need)
{
	lvc_limit_t lim = { 0 };

	if (lvc_policy_on_clock(&t->pol, &t->prm.lev, S(now_s), sigma_for(t, need), &lim)) {
		record(t, &lim);
		return 1;
	}
	return 0;
}

static void expect(const tl_t *t, const ev_t *want, size_t n)
{
	for (size_t i = 0; i < t->n && i < n; i++) {
		const ev_t *g = &t->got[i], *w = &want[i];

		cr_expect(g->ts_s == w->ts_s && g->reason == w->reason && g->status == w->status &&
		              g->lev[0] == w->lev[0] && g->lev[1] == w->lev[1] &&
		              g->lev[2] == w->lev[2] && g->prev == w->prev,
		          "event %zu: got t=%lld %s %s %g/%g/%g prev %g, want t=%lld %s %s "
		          "%g/%g/%g prev %g",
		          i + 1, (long long)g->ts_s, lvc_limit_reason_names[g->reason],
		          lvc_limit_status_names[g->status], g->lev[0], g->lev[1], g->lev[2],
		          g->prev, (long long)w->ts_s, lvc_limit_reason_names[w->reason],
		          lvc_limit_status_names[w->status], w->lev[0], w->lev[1], w->lev[2],
		          w->prev);
	}
	cr_assert_eq(t->n, n, "%zu events, want %zu", t->n, n);
}

#define INITIAL   LVC_REASON_INITIAL
#define TIGHTEN   LVC_REASON_TIGHTEN
#define RELAX     LVC_REASON_RELAX
#define STALE     LVC_REASON_STALE
#define RECOVERED LVC_REASON_RECOVERED
#define ACTIVE    LVC_STATUS_ACTIVE
#define WARMING   LVC_STATUS_WARMING_UP
#define ST_STALE  LVC_STATUS_STALE

Test(policy_timeline, calm_market_publishes_initial_then_nothing)
{
	static const ev_t want[] = { { 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 } };
	tl_t t;

	tl_start(&t);
	/* An hour of ticks with +-1% noise on the need, inside the 75x band. */
	for (int64_t s = 0; s < 3600; s++) {
		tick(&t, s, CALM * (1 + 0.01 * sin((double)s)), 0);
	}
	expect(&t, want, 1);
	cr_assert_eq(t.last.sigma_ann, sigma_for(&t, CALM));
}

Test(policy_timeline, shock_tightens_once_on_the_shock_tick)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 600, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 600, CALM, 0);
	ticks(&t, 600, 900, SHOCK, 0);
	expect(&t, want, 2);
}

Test(policy_timeline, calm_again_relaxes_stepwise_each_after_relax_after)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 600, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
		{ 1800, RELAX, ACTIVE, { 20, 10, 3 }, 10 },
		{ 2700, RELAX, ACTIVE, { 25, 20, 5 }, 20 },
		{ 3600, RELAX, ACTIVE, { 50, 25, 10 }, 25 },
		{ 4500, RELAX, ACTIVE, { 75, 25, 10 }, 50 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 600, CALM, 0);
	ticks(&t, 600, 900, SHOCK, 0);
	ticks(&t, 900, 7200, CALM, 0); /* the lower need holds from 900 on */
	expect(&t, want, 6);
}

Test(policy_timeline, relax_timer_restarts_when_the_need_dips_back)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 600, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
		{ 2410, RELAX, ACTIVE, { 20, 10, 3 }, 10 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 600, CALM, 0);
	ticks(&t, 600, 900, SHOCK, 0);
	ticks(&t, 900, 1500, CALM, 0);
	/* Ten seconds back at the published table's need: the wait starts over. */
	ticks(&t, 1500, 1510, SHOCK, 0);
	ticks(&t, 1510, 2500, CALM, 0);
	expect(&t, want, 3);
}

Test(policy_timeline, renewed_rise_above_the_table_tightens_and_restarts_the_wait)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 600, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
		{ 1500, TIGHTEN, ACTIVE, { 5, 3, 1 }, 10 },
		{ 2410, RELAX, ACTIVE, { 10, 5, 2 }, 5 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 600, CALM, 0);
	ticks(&t, 600, 900, SHOCK, 0);
	ticks(&t, 900, 1500, CALM, 0);
	ticks(&t, 1500, 1510, CRASH, 0);
	ticks(&t, 1510, 2500, CALM, 0);
	expect(&t, want, 4);
}

Test(policy_timeline, relax_never_exceeds_the_highest_need_of_its_run)
{
	/* In the second run the need rises to MID25 (25/10/5) for a while,
	 * still below the table in force (20/10/3) in tier 0: the run goes on,
	 * but tier 1 may not pass 10x at its end. */
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 600, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
		{ 1800, RELAX, ACTIVE, { 20, 10, 3 }, 10 },
		{ 2700, RELAX, ACTIVE, { 25, 10, 5 }, 20 },
		{ 3600, RELAX, ACTIVE, { 50, 20, 10 }, 25 },
		{ 4500, RELAX, ACTIVE, { 75, 25, 10 }, 50 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 600, CALM, 0);
	ticks(&t, 600, 900, SHOCK, 0);
	ticks(&t, 900, 2000, CALM, 0);
	ticks(&t, 2000, 2100, MID25, 0);
	ticks(&t, 2100, 6000, CALM, 0);
	expect(&t, want, 6);
}

Test(policy_timeline, zero_relax_after_relaxes_one_step_per_tick)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 10, TIGHTEN, ACTIVE, { 10, 5, 2 }, 75 },
		{ 20, RELAX, ACTIVE, { 20, 10, 3 }, 10 },
		{ 21, RELAX, ACTIVE, { 25, 20, 5 }, 20 },
		{ 22, RELAX, ACTIVE, { 50, 25, 10 }, 25 },
		{ 23, RELAX, ACTIVE, { 75, 25, 10 }, 50 },
	};
	tl_t t;

	tl_start(&t);
	t.prm.lev.relax_after_us = 0;
	ticks(&t, 0, 10, CALM, 0);
	ticks(&t, 10, 20, SHOCK, 0);
	ticks(&t, 20, 100, CALM, 0);
	expect(&t, want, 6);
}

Test(policy_timeline, any_tier_needing_less_leverage_is_a_tighten)
{
	/* Tiers x1 / x4: need 1.05% -> 95 -> 75x | 4.2% -> 23.8 -> 20x; need
	 * 1.3% -> 76.9 -> 75x | 5.2% -> 19.2 -> 10x: only tier 1 falls. */
	tl_t t;

	tl_start(&t);
	t.prm.lev.tiers_n = 2;
	t.prm.lev.tiers[0] = (lvc_tier_param_t){ 1e6, 1.0 };
	t.prm.lev.tiers[1] = (lvc_tier_param_t){ 1e12, 4.0 };
	lvc_policy_configure(&t.pol, &t.prm);
	ticks(&t, 0, 100, 0.0105, 0);
	ticks(&t, 100, 200, 0.013, 0);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.got[1].ts_s, 100);
	cr_assert_eq(t.got[1].reason, TIGHTEN);
	cr_assert_eq(t.got[1].lev[0], 75);
	cr_assert_eq(t.got[1].lev[1], 10);
	cr_assert_eq(t.got[1].prev, 75);
}

Test(policy_timeline, feed_gap_publishes_stale_once_then_recovered_on_the_next_tick)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 129, STALE, ST_STALE, { 1, 1, 1 }, 75 },
		{ 200, RECOVERED, ACTIVE, { 75, 25, 10 }, 1 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 100, CALM, 0);               /* last tick at 99 */
	cr_assert_eq(clock_at(&t, 128, CALM), 0); /* 29 s: not yet */
	cr_assert_eq(clock_at(&t, 129, CALM), 1); /* 30 s */
	cr_assert_eq(t.last.imr, 1.0);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(t.last.tiers[i].imr, 1.0);
		cr_assert_eq(t.last.tiers[i].mmr, 0.5);
		cr_assert_eq(t.last.tiers[i].maintenance_deduction, 0.0);
	}
	cr_assert_eq(clock_at(&t, 140, CALM), 0); /* once */
	cr_assert_eq(clock_at(&t, 190, CALM), 0);
	ticks(&t, 200, 400, CALM, 0);
	expect(&t, want, 3);
}

Test(policy_timeline, clock_before_any_tick_or_behind_the_last_tick_publishes_nothing)
{
	tl_t t;

	tl_start(&t);
	cr_assert_eq(clock_at(&t, 1000, CALM), 0); /* nothing published yet */
	ticks(&t, 1000, 1100, CALM, 0);
	cr_assert_eq(clock_at(&t, 500, CALM), 0); /* another instrument is behind */
	cr_assert_eq(clock_at(&t, 1128, CALM), 0);
	cr_assert_eq(t.n, 1);
}

Test(policy_timeline, recovery_to_a_lower_need_keeps_the_pre_stale_limit_and_waits)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 20, 10, 3 }, 0 },
		{ 130, STALE, ST_STALE, { 1, 1, 1 }, 20 },
		{ 300, RECOVERED, ACTIVE, { 20, 10, 3 }, 1 },
		{ 1200, RELAX, ACTIVE, { 25, 20, 5 }, 20 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 100, MID, 0);
	clock_at(&t, 130, MID);
	ticks(&t, 300, 1500, CALM, 0);
	expect(&t, want, 4);
}

Test(policy_timeline, recovery_to_a_higher_need_publishes_the_computed_limit)
{
	static const ev_t want[] = {
		{ 0, INITIAL, ACTIVE, { 75, 25, 10 }, 0 },
		{ 130, STALE, ST_STALE, { 1, 1, 1 }, 75 },
		{ 300, RECOVERED, ACTIVE, { 10, 5, 2 }, 1 },
	};
	tl_t t;

	tl_start(&t);
	ticks(&t, 0, 100, CALM, 0);
	clock_at(&t, 130, CALM);
	ticks(&t, 300, 1000, SHOCK, 0);
	expect(&t, want, 3);
}

Test(policy_timeline, warm_up_uses_the_prior_then_relaxes_after_relax_after)
{
	static const ev_t want[] = {
		{ 0, INITIAL, WARMING, { 20, 10, 3 }, 0 },
		{ 1200, RELAX, ACTIVE, { 25, 20, 5 }, 20 },
		{ 2100, RELAX, ACTIVE, { 50, 25, 10 }, 25 },
		{ 3000, RELAX, ACTIVE, { 75, 25, 10 }, 50 },
	};
	tl_t t;

	tl_start(&t);
	t.prm.lev.prior_sigma_ann = sigma_for(&t, MID);
	/* While warming up the estimator's sigma does not matter. */
	for (int64_t s = 0; s < 300; s++) {
		tick(&t, s, s % 2 ? SHOCK : CALM, 1);
	}
	cr_assert_eq(t.n, 1);
	cr_assert_eq(t.got[0].status, WARMING);
	cr_assert_float_eq(t.last.sigma_ann, t.prm.lev.prior_sigma_ann, 1e-15);
	/* The end of warm-up changes no step: nothing is published then. */
	ticks(&t, 300, 4000, CALM, 0);
	expect(&t, want, 4);
}

Test(policy_timeline, warm_up_ending_on_a_higher_need_tightens_at_once)
{
	static const ev_t want[] = {
		{ 0, INITIAL, WARMING, { 20, 10, 3 }, 0 },
		{ 300, TIGHTEN, ACTIVE, { 10, 5, 2 }, 20 },
	};
	tl_t t;

	tl_start(&t);
	t.prm.lev.prior_sigma_ann = sigma_for(&t, MID);
	ticks(&t, 0, 300, CALM, 1);
	ticks(&t, 300, 1000, SHOCK, 0);
	expect(&t, want, 2);
}

Test(policy_timeline, stale_during_warm_up_recovers_to_the_prior_limit)
{
	static const ev_t want[] = {
		{ 0, INITIAL, WARMING, { 20, 10, 3 }, 0 },
		{ 40, STALE, ST_STALE, { 1, 1, 1 }, 20 },
		{ 50, RECOVERED, WARMING, { 20, 10, 3 }, 1 },
	};
	tl_t t;

	tl_start(&t);
	t.prm.lev.prior_sigma_ann = sigma_for(&t, MID);
	ticks(&t, 0, 10, CALM, 1);
	clock_at(&t, 40, CALM);
	ticks(&t, 50, 100, CALM, 1);
	expect(&t, want, 3);
}

Test(policy_timeline, uses_the_configured_year)
{
	/* sigma_ann that gives CALM over a 365-day year gives CALM * sqrt(365 /
	 * 252) = 1.49% -> 67 -> 50x over a 252-day year. */
	tl_t t;
	double sigma;

	tl_start(&t);
	sigma = sigma_for(&t, CALM);
	t.prm.vol.annualization_days = 252;
	lvc_policy_configure(&t.pol, &t.prm);
	{
		lvc_limit_t lim = { 0 };

		cr_assert_eq(lvc_policy_on_tick(&t.pol, &t.prm.lev, 0, sigma, 0, &lim), 1);
		cr_assert_eq(lim.max_leverage, 50);
		cr_assert_float_eq(lim.sigma_horizon, sigma * sqrt(3600.0 / (252 * 86400.0)),
		                   1e-15);
	}
}

Test(policy_timeline, works_unconfigured_with_the_default_year)
{
	tl_t t;
	lvc_limit_t lim = { 0 };

	tl_start(&t);
	lvc_policy_init(&t.pol); /* no lvc_policy_configure() */
	cr_assert_eq(lvc_policy_on_tick(&t.pol, &t.prm.lev, 0, sigma_for(&t, CALM), 0, &lim), 1);
	cr_assert_eq(lim.max_leverage, 75);
	cr_assert_eq(lim.seq, 1);
}

/* ---- Naive reference: the rules of policy.c written out plainly. ---- */

typedef struct ref_s {
	int64_t seq;
	int stale;
	double p[LVC_MAX_TIERS]; /* tier steps in force */
	double published0;
	int64_t since; /* INT64_MIN: no run */
	double run_need;
	int64_t last_ts;
} ref_t;

static double next_step(const lvc_lev_params_t *l, double s)
{
	for (size_t k = 0; k < l->steps_n; k++) {
		if (l->steps[k] > s && l->steps[k] <= l->max_leverage_cap) {
			return l->steps[k];
		}
	}
	return s;
}

static void ref_table(const lvc_lev_params_t *l, double need, double *out)
{
	lvc_limit_t lim = { 0 };

	lvc_margin_from_need(l, need, &lim);
	for (size_t i = 0; i < l->tiers_n; i++) {
		out[i] = lim.tiers[i].max_leverage;
	}
}

/* Returns the reason published, or -1. */
static int ref_tick(ref_t *r, const lvc_lev_params_t *l, int64_t ts, double need)
{
	double tt[LVC_MAX_TIERS] = { 0 }, n[LVC_MAX_TIERS] = { 0 };
	int lower = 0, higher = 0, reason = -1;

	r->last_ts = ts;
	ref_table(l, need, tt);
	for (size_t i = 0; i < l->tiers_n; i++) {
		lower |= tt[i] < r->p[i];
		higher |= tt[i] > r->p[i];
	}
	if (r->seq == 0) {
		memcpy(n, tt, sizeof(n));
		reason = LVC_REASON_INITIAL;
	} else if (r->stale) {
		for (size_t i = 0; i < l->tiers_n; i++) {
			n[i] = fmin(tt[i], r->p[i]);
		}
		reason = LVC_REASON_RECOVERED;
	} else if (lower) {
		for (size_t i = 0; i < l->tiers_n; i++) {
			n[i] = fmin(tt[i], r->p[i]);
		}
		reason = LVC_REASON_TIGHTEN;
	} else if (higher) {
		double rt[LVC_MAX_TIERS];

		if (r->since == INT64_MIN) {
			r->since = ts;
			r->run_need = need;
		}
		r->run_need = fmax(r->run_need, need);
		if (ts - r->since < l->relax_after_us) {
			return -1;
		}
		ref_table(l, r->run_need, rt);
		for (size_t i = 0; i < l->tiers_n; i++) {
			n[i] = fmin(rt[i], next_step(l, r->p[i]));
		}
		reason = LVC_REASON_RELAX;
	} else {
		r->since = INT64_MIN;
		return -1;
	}
	memcpy(r->p, n, sizeof(n));
	r->seq++;
	r->stale = 0;
	higher = 0;
	for (size_t i = 0; i < l->tiers_n; i++) {
		higher |= tt[i] > n[i];
	}
	r->since = higher ? ts : INT64_MIN;
	r->run_need = need;
	return reason;
}

Test(policy_timeline, matches_a_naive_model_on_random_walks_near_step_boundaries)
{
	tl_t t;
	ref_t r = { 0 };
	unsigned seed = 12345;
	double need = 0.02;
	size_t events = 0, tightens = 0, relaxes = 0;

	tl_start(&t);
	t.prm.lev.relax_after_us = S(20);
	r.since = INT64_MIN;
	for (int64_t s = 0; s < 200000; s++) {
		lvc_limit_t lim = { 0 };
		double u, sigma, exact;
		int got, want;

		u = (double)rand_r(&seed) / RAND_MAX;
		need *= exp(0.04 * (u - 0.5));
		need = fmin(fmax(need, 0.003), 0.8);
		/* Now and then sit within 1e-10 .. 1e-13 of a step boundary, where
		 * the fast path must hand over to the exact one. */
		if (rand_r(&seed) % 7 == 0) {
			double st = t.prm.lev.steps[rand_r(&seed) % t.prm.lev.steps_n];
			double eps =
			    (rand_r(&seed) % 2 ? 1 : -1) * pow(10, -10 - rand_r(&seed) % 4);

			need =
			    (1.0 / st) * (1 + eps) / t.prm.lev.tiers[rand_r(&seed) % 3].multiplier;
		}
		sigma = need / t.pol.imr_per_sigma;
		/* The need exactly as the policy forms it. */
		exact = t.pol.imr_per_sigma * sigma;
		if (s % 5000 == 4000) {
			/* A gap: the clock passes stale_after, then ticks resume. */
			int cg = lvc_policy_on_clock(&t.pol, &t.prm.lev, S(s + 40), sigma, &lim);

			cr_assert_eq(cg, 1);
			cr_assert_eq(lim.reason, LVC_REASON_STALE);
			r.stale = 1;
			r.seq++;
			r.since = INT64_MIN;
			cr_assert_eq(lim.seq, r.seq);
			s += 60;
		}
		got = lvc_policy_on_tick(&t.pol, &t.prm.lev, S(s), sigma, 0, &lim);
		want = ref_tick(&r, &t.prm.lev, S(s), exact);
		cr_assert_eq(got, want >= 0, "t %lld need %.17g: policy %d, model %d", (long long)s,
		             exact, got, want);
		if (got) {
			cr_assert_eq((int)lim.reason, want, "t %lld", (long long)s);
			cr_assert_eq(lim.seq, r.seq);
			for (size_t i = 0; i < t.prm.lev.tiers_n; i++) {
				cr_assert_eq(lim.tiers[i].max_leverage, r.p[i], "t %lld tier %zu",
				             (long long)s, i);
			}
			events++;
			tightens += lim.reason == LVC_REASON_TIGHTEN;
			relaxes += lim.reason == LVC_REASON_RELAX;
		}
	}
	/* The walk must have exercised the rules, not idled. */
	cr_assert_gt(tightens, 100);
	cr_assert_gt(relaxes, 100);
	cr_assert_gt(events, 300);
}
