/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model parameters of SPEC §3-5 (the `volatility`, `leverage` and
 * `warnings` config sections) as plain values. The config loader (src/io)
 * fills them; the core only reads them. Durations are integer microseconds
 * so that event-time arithmetic is exact.
 */
#ifndef LVC_CORE_PARAMS_H
#define LVC_CORE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

#define LVC_MAX_STEPS          32
#define LVC_MAX_WINDOW_BUCKETS 1440 /* bars (sub-buckets) per rolling window */

typedef enum lvc_vol_source_e { LVC_SOURCE_TRADES, LVC_SOURCE_MARK } lvc_vol_source_t;

typedef enum lvc_estimator_e {
	LVC_EST_EWMA,
	LVC_EST_REALIZED,
	LVC_EST_BIPOWER,
	LVC_EST_CLOSE,
	LVC_EST_PARKINSON,
	LVC_EST_GARMAN_KLASS,
	LVC_EST_ROGERS_SATCHELL,
	LVC_EST_YANG_ZHANG,
	LVC_EST_GARCH,
	LVC_EST_MAX,
	LVC_EST__COUNT
} lvc_estimator_t;

/* Config spelling of each estimator ("ewma", "garman_klass", ...). */
extern const char *const lvc_estimator_names[LVC_EST__COUNT];

/* Looks up an estimator by its config name; returns 0 and sets *out, or -1. */
int lvc_estimator_from_name(const char *name, lvc_estimator_t *out);

typedef struct lvc_vol_params_s {
	lvc_vol_source_t source;
	lvc_estimator_t estimator;
	size_t max_of_n; /* components of `max`, in config order, no LVC_EST_MAX */
	lvc_estimator_t max_of[LVC_EST__COUNT];
	int64_t sample_interval_us;
	int64_t bar_interval_us;
	int64_t window_us;
	int64_t half_life_us;
	double garch_omega; /* variance per bar */
	double garch_alpha;
	double garch_beta;
	double annualization_days;
} lvc_vol_params_t;

typedef enum lvc_tail_e { LVC_TAIL_NORMAL, LVC_TAIL_STUDENT_T } lvc_tail_t;

typedef struct lvc_tier_param_s {
	double notional_cap;
	double multiplier;
} lvc_tier_param_t;

typedef struct lvc_lev_params_s {
	double confidence;
	lvc_tail_t tail;
	double tail_nu;
	int64_t horizon_us;
	double im_multiplier;
	double mm_ratio;
	double min_imr;
	double max_imr;
	size_t steps_n; /* ascending */
	double steps[LVC_MAX_STEPS];
	double max_leverage_cap;
	size_t tiers_n; /* ascending notional_cap */
	lvc_tier_param_t tiers[LVC_MAX_TIERS];
	int64_t relax_after_us;
	int64_t warmup_samples;
	double prior_sigma_ann;
	int64_t stale_after_us;
} lvc_lev_params_t;

typedef struct lvc_warn_params_s {
	double watch; /* distance_sigma thresholds, watch > warning > critical */
	double warning;
	double critical;
	double hysteresis;
} lvc_warn_params_t;

/* Everything that may differ per instrument. */
typedef struct lvc_params_s {
	lvc_vol_params_t vol;
	lvc_lev_params_t lev;
	lvc_warn_params_t warn;
} lvc_params_t;

/* Per-instrument overrides, already merged onto the global defaults. */
typedef struct lvc_inst_params_s {
	const char *name;
	lvc_params_t params;
} lvc_inst_params_t;

/* Fills p with the defaults of SPEC §8. */
void lvc_params_defaults(lvc_params_t *p);

/* Writes a duration in the config's units ("500ms", "1s", "15m", "1h30m",
 * "7d", "250us") into buf; returns buf. */
char *lvc_duration_format(int64_t us, char *buf, size_t size);

/* Checks the rules that tie keys together or bound them (window a whole
 * number of bars and sample intervals, half_life > 0, steps and tiers
 * ascending, 0 < confidence < 1, watch > warning > critical, ...). The one
 * place these rules live: the config loader calls it for the global block
 * and for each instrument. Returns LVC_OK, or LVC_ERR_INVALID with
 * "section.key: value ...: allowed ..." in errstr. */
lvc_err_t lvc_params_check(const lvc_params_t *p, char *errstr, size_t errstr_size);

#endif
