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

/* The margin table implied by sigma_ann under params p: fills the
 * sigma_horizon, imr, mmr, max_leverage and tiers fields of *out (nothing
 * else). */
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
} lvc_policy_t;

/* Starts a policy with nothing published. */
void lvc_policy_init(lvc_policy_t *pol);

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
