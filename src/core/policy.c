/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leverage policy of one instrument (SPEC §4): the margin table a sigma
 * implies, and the guard rails that decide when a LeverageLimit is
 * published.
 *
 * Margin maths. sigma_h = sigma_ann * sqrt(horizon / year), the year being
 * volatility.annualization_days (the year sigma_ann was annualized with).
 * z = the quantile of `confidence`: normal, or Student t with tail_nu scaled
 * to unit variance. The model's need is m = im_multiplier * z * sigma_h;
 * imr = clamp(m, min_imr, max_imr) and, per tier i,
 * x_i = clamp(imr * multiplier_i, min_imr, max_imr). Tier i's max_leverage
 * is the largest step s of `leverage.steps` with s <= 1 / x_i (a relative
 * tolerance of 1e-12 lets 1 / x land exactly on a step despite rounding) and
 * s <= max_leverage_cap; the smallest step when none fits.
 *
 * Published margins. A published tier's imr is the margin its published
 * leverage implies, 1 / max_leverage_i, not the clamp x_i: Binance and
 * Hyperliquid publish imr = 1 / max leverage, and 1 / step >= x_i, so the
 * published margin is conservative and stays valid for every need that maps
 * to the same step, i.e. until the next publication. The one exception is
 * the smallest step, where the leverage cannot fall further: there the
 * published imr is max(1 / steps[0], max_imr), the most the model can ask,
 * which equals 1 / steps[0] for the usual steps starting at 1x. mmr_i =
 * mm_ratio * imr_i (Hyperliquid: mm_ratio 0.5, 40x -> 1.25%), and the
 * maintenance deduction runs on the published mmr_i: d_0 = 0, d_i = d_(i-1)
 * + cap_(i-1) * (mmr_i - mmr_(i-1)), so maintenance is continuous in the
 * notional. The headline imr, mmr and max_leverage are tier 0's.
 *
 * Events. A table is the vector of the tiers' steps. Against the table in
 * force P and the table T of the tick's need:
 * - nothing published yet: INITIAL with T;
 * - any tier with T_i < P_i: TIGHTEN on this tick, each tier at
 *   min(P_i, T_i) (a tier never rises in a TIGHTEN);
 * - else, any tier with T_i > P_i: the tick belongs to a relax run. The run
 *   starts at its first tick and holds while every tick keeps some tier
 *   above P and none below; a tick whose need maps back to P (the need dips
 *   back) ends it, and so does any publication. Once the run has lasted
 *   relax_after of event time, RELAX publishes each tier at
 *   min(T_i(highest need seen in the run), next step above P_i): one step
 *   at a time, and never above what the whole run justified. A further
 *   step needs relax_after again, the new run starting at the RELAX tick.
 * - else nothing.
 * After any publication the relax run restarts at that tick when the need
 * still maps above the new table in some tier, else it is cleared (a
 * tighten resets the timer).
 *
 * Warm-up. While the caller says warming_up, the need comes from
 * prior_sigma_ann (reported as the event's sigma_ann) and events carry
 * status WARMING_UP. The end of warm-up publishes nothing by itself: reasons
 * are limited to INITIAL/TIGHTEN/RELAX/STALE/RECOVERED and seq counts limit
 * changes, so the first ACTIVE limit is the first change the model makes
 * (a TIGHTEN at the first active tick, or a RELAX relax_after later). The
 * limit in force meanwhile is the prior's, which is what its status says.
 *
 * Staleness. lvc_policy_on_clock() publishes STALE once when the clock is
 * stale_after past the instrument's newest tick: every tier at the smallest
 * step with its margins (the most conservative table), the pre-stale table
 * kept aside. The next tick publishes RECOVERED with each tier at
 * min(pre-stale, T): the computed limit where it is lower, else the
 * pre-stale one, from which a relax run starts fresh at the RECOVERED tick.
 *
 * seq counts publications, 1, 2, 3, ... without gaps. A NaN sigma counts as
 * the largest need (max_imr).
 *
 * Load: lvc_policy_on_tick() runs on every source tick. It does not
 * allocate or evaluate a quantile (z and sqrt(horizon / year) are cached by
 * lvc_policy_configure()); a tick that changes nothing costs one multiply,
 * a clamp and two or three comparisons against bounds precomputed from the
 * table in force. The bounds are safe by 1e-9 relative; a need closer than
 * that to a step boundary, or a due relax, takes the exact per-tier path.
 * The tables themselves are filled only when publishing.
 */
#include <math.h>
#include <string.h>

#include "core/policy.h"

#define STEP_TOL     1e-12 /* relative tolerance of 1 / x reaching a step */
#define BOUND_SAFE   1e-9  /* relative margin of the fast-path bounds */
#define DEFAULT_DAYS 365.0
#define S_PER_DAY    86400.0

/* The largest clamped tier margin x for which step s is allowed. */
static double step_bound(double s)
{
	return (1.0 + STEP_TOL) / s;
}

static double clamp_imr(const lvc_lev_params_t *p, double m)
{
	if (isnan(m)) {
		return p->max_imr;
	}
	if (m < p->min_imr) {
		return p->min_imr;
	}
	if (m > p->max_imr) {
		return p->max_imr;
	}
	return m;
}

/* Largest step index allowed by max_leverage_cap (0 when none is). */
static size_t top_index(const lvc_lev_params_t *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->steps_n; i++) {
		if (p->steps[i] <= p->max_leverage_cap) {
			k = i;
		}
	}
	return k;
}

/* Step index for a clamped tier margin x: the largest allowed step that x
 * fits, else the smallest step. */
static uint8_t step_index(const lvc_lev_params_t *p, size_t top, double x)
{
	for (size_t k = top + 1; k-- > 0;) {
		if (x <= step_bound(p->steps[k])) {
			return (uint8_t)k;
		}
	}
	return 0;
}

/* Published imr of a tier at step index k. */
static double step_imr(const lvc_lev_params_t *p, uint8_t k)
{
	if (k > 0) {
		return 1.0 / p->steps[k];
	}
	return p->max_imr <= step_bound(p->steps[0]) ? 1.0 / p->steps[0] : p->max_imr;
}

/* The table T for a clamped imr. */
static void table_for(const lvc_lev_params_t *p, size_t top, double imr, uint8_t *idx)
{
	for (size_t i = 0; i < p->tiers_n; i++) {
		idx[i] = step_index(p, top, clamp_imr(p, imr * p->tiers[i].multiplier));
	}
}

/* Fills the tiers and the headline fields of out from step indexes. */
static void fill_tiers(const lvc_lev_params_t *p, const uint8_t *idx, lvc_limit_t *out)
{
	out->tiers_n = p->tiers_n;
	for (size_t i = 0; i < p->tiers_n; i++) {
		lvc_tier_t *t = &out->tiers[i];

		t->notional_cap = p->tiers[i].notional_cap;
		t->max_leverage = p->steps[idx[i]];
		t->imr = step_imr(p, idx[i]);
		t->mmr = p->mm_ratio * t->imr;
		t->maintenance_deduction =
		    i == 0 ? 0.0
		           : out->tiers[i - 1].maintenance_deduction +
		                 out->tiers[i - 1].notional_cap * (t->mmr - out->tiers[i - 1].mmr);
	}
	out->max_leverage = out->tiers[0].max_leverage;
	out->imr = out->tiers[0].imr;
	out->mmr = out->tiers[0].mmr;
}

double lvc_margin_z(const lvc_lev_params_t *p)
{
	if (p->tail == LVC_TAIL_STUDENT_T) {
		return lvc_quantile_student_t_unit(p->confidence, p->tail_nu);
	}
	return lvc_quantile_normal(p->confidence);
}

static double horizon_scale(const lvc_lev_params_t *p, double days)
{
	return sqrt(((double)p->horizon_us / 1e6) / (days * S_PER_DAY));
}

void lvc_margin_from_need(const lvc_lev_params_t *p, double need, lvc_limit_t *out)
{
	uint8_t idx[LVC_MAX_TIERS];

	table_for(p, top_index(p), clamp_imr(p, need), idx);
	fill_tiers(p, idx, out);
}

void lvc_margin_compute_days(const lvc_lev_params_t *p, double annualization_days, double sigma_ann,
                             lvc_limit_t *out)
{
	double h = horizon_scale(p, annualization_days);

	out->sigma_horizon = sigma_ann * h;
	lvc_margin_from_need(p, p->im_multiplier * lvc_margin_z(p) * out->sigma_horizon, out);
}

void lvc_margin_compute(const lvc_lev_params_t *p, double sigma_ann, lvc_limit_t *out)
{
	lvc_margin_compute_days(p, DEFAULT_DAYS, sigma_ann, out);
}

double lvc_margin_maintenance(const lvc_limit_t *lim, double notional)
{
	size_t i = 0;

	if (lim->tiers_n == 0) {
		return notional * lim->mmr;
	}
	while (i + 1 < lim->tiers_n && notional > lim->tiers[i].notional_cap) {
		i++;
	}
	return notional * lim->tiers[i].mmr - lim->tiers[i].maintenance_deduction;
}

/* Bound in clamped-imr space of the condition x_i(imr) > b (tighten) or
 * x_i(imr) <= b (relax) for tier multiplier m: +inf when x_i can never
 * exceed b, -inf when it always does. */
static double imr_bound(const lvc_lev_params_t *p, double b, double m)
{
	if (b >= p->max_imr) {
		return INFINITY;
	}
	if (b < p->min_imr) {
		return -INFINITY;
	}
	return b / m;
}

/* Recomputes the fast-path bounds for the table in force. */
static void set_bounds(lvc_policy_t *pol, const lvc_lev_params_t *p)
{
	double hi = INFINITY, lo = -INFINITY;

	for (size_t i = 0; i < p->tiers_n; i++) {
		uint8_t k = pol->step_idx[i];
		double m = p->tiers[i].multiplier;

		if (k > 0) {
			hi = fmin(hi, imr_bound(p, step_bound(p->steps[k]), m));
		}
		if (k < pol->top_idx) {
			lo = fmax(lo, imr_bound(p, step_bound(p->steps[k + 1]), m));
		}
	}
	pol->hi_safe = hi * (1.0 - BOUND_SAFE);
	pol->lo_above = lo * (1.0 + BOUND_SAFE);
	pol->lo_below = lo * (1.0 - BOUND_SAFE);
}

static void configure(lvc_policy_t *pol, const lvc_lev_params_t *p, double days)
{
	pol->year_days = days;
	pol->z = lvc_margin_z(p);
	pol->horizon_scale = horizon_scale(p, days);
	pol->imr_per_sigma = p->im_multiplier * pol->z * pol->horizon_scale;
	pol->top_idx = (uint8_t)top_index(p);
	/* A snapshot made under other params may name steps that no longer
	 * exist; keep the indexes inside the table. */
	for (size_t i = 0; i < LVC_MAX_TIERS; i++) {
		if (pol->step_idx[i] > pol->top_idx) {
			pol->step_idx[i] = pol->top_idx;
		}
	}
	set_bounds(pol, p);
	pol->configured = 1;
}

void lvc_policy_init(lvc_policy_t *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->seq = 0;
	pol->last_tick_ts_us = INT64_MIN;
	pol->relax_since_ts_us = INT64_MIN;
	pol->status = LVC_STATUS_WARMING_UP;
	pol->year_days = DEFAULT_DAYS;
}

void lvc_policy_configure(lvc_policy_t *pol, const lvc_params_t *p)
{
	configure(pol, &p->lev, p->vol.annualization_days);
}

/* b - a >= d without overflow, for a <= b. */
static int elapsed_at_least(int64_t a, int64_t b, int64_t d)
{
	return b >= a && (uint64_t)b - (uint64_t)a >= (uint64_t)d;
}

static int publish(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us,
                   lvc_limit_status_t status, lvc_limit_reason_t reason, double sigma,
                   const uint8_t *idx, lvc_limit_t *out)
{
	out->ts_us = ts_us;
	out->seq = ++pol->seq;
	out->status = status;
	out->reason = reason;
	out->sigma_ann = sigma;
	out->sigma_horizon = sigma * pol->horizon_scale;
	out->has_previous_max_leverage = pol->seq > 1;
	out->previous_max_leverage = pol->seq > 1 ? pol->published_max_leverage : 0.0;
	fill_tiers(p, idx, out);
	pol->published_max_leverage = out->max_leverage;
	pol->published_imr = out->imr;
	pol->status = status;
	return 1;
}

/* Publishes a new table in force and restarts or clears the relax run. */
static int publish_table(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us,
                         lvc_limit_status_t status, lvc_limit_reason_t reason, double sigma,
                         double imr, const uint8_t *now_idx, const uint8_t *idx, lvc_limit_t *out)
{
	int below = 0;

	memcpy(pol->step_idx, idx, p->tiers_n);
	pol->stale = 0;
	set_bounds(pol, p);
	for (size_t i = 0; i < p->tiers_n; i++) {
		below |= now_idx[i] > idx[i];
	}
	pol->relax_since_ts_us = below ? ts_us : INT64_MIN;
	pol->relax_imr = imr;
	return publish(pol, p, ts_us, status, reason, sigma, idx, out);
}

/* Extends the relax run by a tick; returns 1 when it has lasted relax_after. */
static int relax_extend(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us, double imr)
{
	if (pol->relax_since_ts_us == INT64_MIN) {
		pol->relax_since_ts_us = ts_us;
		pol->relax_imr = imr;
	} else if (imr > pol->relax_imr) {
		pol->relax_imr = imr;
	}
	return elapsed_at_least(pol->relax_since_ts_us, ts_us, p->relax_after_us);
}

static int relax(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us,
                 lvc_limit_status_t status, double sigma, double imr, lvc_limit_t *out)
{
	uint8_t run_idx[LVC_MAX_TIERS], now_idx[LVC_MAX_TIERS], idx[LVC_MAX_TIERS];

	table_for(p, pol->top_idx, pol->relax_imr, run_idx);
	table_for(p, pol->top_idx, imr, now_idx);
	for (size_t i = 0; i < p->tiers_n; i++) {
		uint8_t up =
		    pol->step_idx[i] < pol->top_idx ? pol->step_idx[i] + 1 : pol->step_idx[i];

		idx[i] = run_idx[i] < up ? run_idx[i] : up;
		/* The run never held a need below the table in force. */
		if (idx[i] < pol->step_idx[i]) {
			idx[i] = pol->step_idx[i];
		}
	}
	return publish_table(pol, p, ts_us, status, LVC_REASON_RELAX, sigma, imr, now_idx, idx,
	                     out);
}

int lvc_policy_on_tick(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us,
                       double sigma_ann, int warming_up, lvc_limit_t *out)
{
	double sigma = warming_up ? p->prior_sigma_ann : sigma_ann;
	lvc_limit_status_t status = warming_up ? LVC_STATUS_WARMING_UP : LVC_STATUS_ACTIVE;
	uint8_t now_idx[LVC_MAX_TIERS], idx[LVC_MAX_TIERS];
	int tighten = 0, looser = 0;
	double imr;

	if (!pol->configured) {
		configure(pol, p, pol->year_days);
	}
	if (ts_us > pol->last_tick_ts_us) {
		pol->last_tick_ts_us = ts_us;
	}
	imr = clamp_imr(p, pol->imr_per_sigma * sigma);

	if (pol->seq == 0 || pol->stale) {
		table_for(p, pol->top_idx, imr, now_idx);
		if (pol->seq == 0) {
			return publish_table(pol, p, ts_us, status, LVC_REASON_INITIAL, sigma, imr,
			                     now_idx, now_idx, out);
		}
		for (size_t i = 0; i < p->tiers_n; i++) {
			idx[i] = now_idx[i] < pol->step_idx[i] ? now_idx[i] : pol->step_idx[i];
		}
		return publish_table(pol, p, ts_us, status, LVC_REASON_RECOVERED, sigma, imr,
		                     now_idx, idx, out);
	}

	/* Fast path: the bounds of the table in force decide most ticks. */
	if (imr <= pol->hi_safe) {
		if (imr > pol->lo_above) {
			pol->relax_since_ts_us = INT64_MIN;
			return 0;
		}
		if (imr < pol->lo_below) {
			if (!relax_extend(pol, p, ts_us, imr)) {
				return 0;
			}
			return relax(pol, p, ts_us, status, sigma, imr, out);
		}
	}

	/* Exact path: near a step boundary, or a change. */
	table_for(p, pol->top_idx, imr, now_idx);
	for (size_t i = 0; i < p->tiers_n; i++) {
		tighten |= now_idx[i] < pol->step_idx[i];
		looser |= now_idx[i] > pol->step_idx[i];
	}
	if (tighten) {
		for (size_t i = 0; i < p->tiers_n; i++) {
			idx[i] = now_idx[i] < pol->step_idx[i] ? now_idx[i] : pol->step_idx[i];
		}
		return publish_table(pol, p, ts_us, status, LVC_REASON_TIGHTEN, sigma, imr, now_idx,
		                     idx, out);
	}
	if (looser) {
		if (!relax_extend(pol, p, ts_us, imr)) {
			return 0;
		}
		return relax(pol, p, ts_us, status, sigma, imr, out);
	}
	pol->relax_since_ts_us = INT64_MIN;
	return 0;
}

int lvc_policy_on_clock(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t now_us,
                        double sigma_ann, lvc_limit_t *out)
{
	uint8_t floor_idx[LVC_MAX_TIERS] = { 0 };

	if (!pol->configured) {
		configure(pol, p, pol->year_days);
	}
	if (pol->seq == 0 || pol->stale ||
	    !elapsed_at_least(pol->last_tick_ts_us, now_us, p->stale_after_us)) {
		return 0;
	}
	pol->stale = 1;
	pol->relax_since_ts_us = INT64_MIN;
	return publish(pol, p, now_us, LVC_STATUS_STALE, LVC_REASON_STALE, sigma_ann, floor_idx,
	               out);
}
