/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leverage policy of one instrument (SPEC §4): margin maths from a sigma,
 * and the guard rails that decide when a new LeverageLimit is published
 * (INITIAL, TIGHTEN at once, RELAX after relax_after, STALE, RECOVERED).
 *
 * The policy state is a plain struct so that the engine embeds it per
 * instrument and snapshots it by value; it holds no pointers. Nothing here
 * allocates or reads a clock: every time is the caller's event time.
 */
#ifndef LVC_CORE_POLICY_H
#define LVC_CORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/params.h"
#include "core/records.h"

/* Quantile of the standard normal at p in (0, 1). */
double lvc_quantile_normal(double p);

/* Quantile at p of Student's t with nu > 2 degrees of freedom, scaled to unit
 * variance (multiplied by sqrt((nu - 2) / nu)). */
double lvc_quantile_student_t_unit(double p, double nu);

/* Standard normal CDF. */
double lvc_normal_cdf(double x);

/* Quantile at p in (0, 1) of Student's t with nu > 0 degrees of freedom (not
 * scaled); NaN outside the domain. */
double lvc_quantile_student_t(double p, double nu);

/* CDF at t of Student's t with nu > 0 degrees of freedom. */
double lvc_student_t_cdf(double t, double nu);

/* The quantile z of p->confidence under p->tail (normal, or Student t with
 * p->tail_nu scaled to unit variance). Not for the hot path: the policy
 * caches it (lvc_policy_configure()). */
double lvc_margin_z(const lvc_lev_params_t *p);

/* As lvc_margin_compute(), with sigma_ann annualized over annualization_days
 * (volatility.annualization_days) instead of the default 365. */
void lvc_margin_compute_days(const lvc_lev_params_t *p, double annualization_days, double sigma_ann,
                             lvc_limit_t *out);

/* The margin table for the model's initial margin need m = im_multiplier * z
 * * sigma_horizon before the clamps: fills imr, mmr, max_leverage and tiers of
 * *out (nothing else). NaN counts as the largest need (max_imr). */
void lvc_margin_from_need(const lvc_lev_params_t *p, double need, lvc_limit_t *out);

/* The margin table implied by sigma_ann under params p: fills the
 * sigma_horizon, imr, mmr, max_leverage and tiers fields of *out (nothing
 * else). The year is the default 365 days (see lvc_margin_compute_days());
 * z is evaluated on every call, so this is not for the hot path. */
void lvc_margin_compute(const lvc_lev_params_t *p, double sigma_ann, lvc_limit_t *out);

/* Maintenance margin of a position of notional n >= 0 under the tiers of a
 * published limit: n * mmr_i - deduction_i for the tier i holding n. */
double lvc_margin_maintenance(const lvc_limit_t *lim, double notional);

/* Per-instrument policy state (plain data, snapshotted by value). */
typedef struct lvc_policy_s {
	int64_t seq;               /* seq of the last published limit; 0: none yet */
	int64_t last_tick_ts_us;   /* newest tick applied */
	int64_t relax_since_ts_us; /* start of the current lower-need run; INT64_MIN: none */
	double published_max_leverage;
	double published_imr;
	lvc_limit_status_t status;
	int stale; /* 1 while STALE has been published and no tick came since */
	/* In force: each tier's step as an index into steps[] (while STALE, the
	 * table from before the gap, which RECOVERED starts from). */
	uint8_t step_idx[LVC_MAX_TIERS];
	double relax_imr; /* highest clamped imr seen in the current relax run */
	/* Derived from the params by lvc_policy_configure() (a cache). */
	int configured;
	uint8_t top_idx;      /* largest step index allowed by max_leverage_cap */
	double year_days;     /* annualization of sigma_ann (default 365) */
	double z;             /* quantile of confidence under the tail */
	double horizon_scale; /* sqrt(horizon / year) */
	double imr_per_sigma; /* im_multiplier * z * horizon_scale */
	double hi_safe;       /* clamped imr at or below: no tier tightens */
	double lo_above;      /* clamped imr above: no tier may relax */
	double lo_below;      /* clamped imr below: some tier may relax */
} lvc_policy_t;

/* Starts a policy with nothing published, for sigma_ann annualized over the
 * default 365 days; lvc_policy_configure() sets the real year. */
void lvc_policy_init(lvc_policy_t *pol);

/* Caches what the policy derives from the instrument's params (z, the
 * horizon scale with p->vol.annualization_days, the step bounds of the
 * table in force). Call it once after lvc_policy_init() and after restoring
 * a snapshot; the params passed to on_tick/on_clock afterwards must be
 * p->lev. Without it the first on_tick/on_clock derives the cache from its
 * params with the 365-day year. */
void lvc_policy_configure(lvc_policy_t *pol, const lvc_params_t *p);

/* Decides on a tick at ts_us with the instrument's current sigma_ann;
 * warming_up is 1 until warmup_samples returns were seen (the policy then
 * uses p->prior_sigma_ann). Returns 1 and fills every policy field of *out
 * (ts_us, seq, status, reason, sigma_ann, sigma_horizon, imr, mmr,
 * max_leverage, previous_max_leverage, tiers) when a limit is to be
 * published; 0 otherwise. The caller fills instrument, estimator, components
 * and config_id. */
int lvc_policy_on_tick(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t ts_us,
                       double sigma_ann, int warming_up, lvc_limit_t *out);

/* Decides on the partition's event-time clock reaching now_us without a tick
 * of this instrument: returns 1 and fills *out with a STALE limit when
 * stale_after has passed since its last tick and STALE was not yet
 * published; 0 otherwise. */
int lvc_policy_on_clock(lvc_policy_t *pol, const lvc_lev_params_t *p, int64_t now_us,
                        double sigma_ann, lvc_limit_t *out);

#endif
