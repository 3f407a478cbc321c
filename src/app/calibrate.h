/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal calibrate` (SPEC §7, issue 7): fits an instrument's volatility
 * models from history and backtests the margins levcal would have
 * published, over the same merged input stream as `levcal replay`.
 *
 * Per instrument, from the ticks of its configured volatility source (the
 * ticks the engine applies):
 *
 * - grid returns at volatility.sample_interval (SPEC §3: previous-tick
 *   interpolation, a return known when the first later tick arrives) for
 *   the EWMA half-life fit;
 * - bar close-to-close log returns at volatility.bar_interval (the returns
 *   the engine's garch filter runs on; omega is variance per bar) for the
 *   GARCH(1,1) fit, and the Student-t nu of its standardized residuals;
 * - the pipeline (the engine) run over the same records, which gives every
 *   LeverageLimit levcal would have published, hence the limit in force at
 *   each tick, for the coverage backtest (core/calib.h: non-overlapping
 *   horizon blocks).
 *
 * Gaps. A period with no tick longer than leverage.stale_after is a feed
 * gap (the engine publishes STALE in it), not market data: of the empty
 * sample intervals (bars) in one run without a tick, at most
 * floor(stale_after / interval) zero returns are kept, the rest are left
 * out of the fits and counted. Empty intervals in shorter quiet spells are
 * kept: the engine's estimators see those zero returns too.
 *
 * The end of the input. The engine learns a return only when a later tick
 * arrives; calibrate has seen all the data at the end, so a last interval
 * (bar) whose end is exactly the last tick's time is complete and counts. A
 * partial last interval does not.
 */
#ifndef LVC_APP_CALIBRATE_H
#define LVC_APP_CALIBRATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/calib.h"
#include "core/err.h"
#include "core/params.h"
#include "core/vol.h"
#include "io/config.h"

/* ---- returns of one instrument ----------------------------------------------- */

/* The grid and bar returns of one instrument's source ticks, built as the
 * engine's estimators see them (core/vol.c), with the gap rule above. */
typedef struct lvc_calib_sampler_s {
	/* Settings. */
	int64_t s_us;      /* sample_interval */
	int64_t b_us;      /* bar_interval, a multiple of s_us */
	int64_t grid_keep; /* zero returns kept per gap on the grid */
	int64_t bar_keep;  /* zero returns kept per gap in bars */

	/* Results, owned by the sampler. */
	double *grid_r; /* grid returns in order */
	size_t grid_n;
	double *bar_r;  /* bar close-to-close log returns */
	int64_t *bar_t; /* end of each return's bar (us) */
	double *bar_c;  /* the bar's close */
	size_t bar_n;
	uint64_t grid_dropped; /* zero returns left out (gaps) */
	uint64_t grid_gaps;    /* runs that were cut */
	uint64_t bar_dropped;
	uint64_t bar_gaps;
	uint64_t ticks; /* ticks taken */

	/* State (SPEC §3 grid and bars, as in core/vol.c). */
	int has_tick;
	int64_t k0, kc;  /* first grid point, pending grid point */
	int64_t t_pend;  /* kc * s_us */
	int64_t r_per;   /* grid intervals per bar */
	int64_t cur_j;   /* bar of the pending grid point */
	int64_t j_seed;  /* the first tick's bar: no return */
	int64_t last_ts; /* newest tick */
	double cur;      /* price of the newest tick */
	double p_prev;   /* P(t_(kc-1)) */
	double c_prev;   /* close of bar cur_j - 1 */
	size_t grid_cap, bar_cap;
	int finished;
} lvc_calib_sampler_t;

/* Sets up s for sample_interval s_us, bar_interval b_us (a positive whole
 * multiple of s_us) and the gap limit gap_us (stale_after; <= 0 keeps every
 * zero return). Does not allocate. LVC_ERR_INVALID for bad intervals. */
lvc_err_t lvc_calib_sampler_init(lvc_calib_sampler_t *s, int64_t s_us, int64_t b_us,
                                 int64_t gap_us);

/* Takes one tick (ts_us not older than the newest: the caller applies the
 * engine's late rule first; price finite and > 0). Returns the number of
 * bars this tick completed (>= 0), or a negative lvc_err_t: LVC_ERR_NOMEM
 * (the result arrays grow geometrically), LVC_ERR_INVALID (a late tick or a
 * bad price), LVC_ERR_STATE after lvc_calib_sampler_finish(). */
int lvc_calib_sampler_tick(lvc_calib_sampler_t *s, int64_t ts_us, double price);

/* The end of the input: completes the last grid interval and bar when the
 * last tick is exactly at their end (see above). Returns the bars
 * completed (0 or 1) or LVC_ERR_NOMEM. Later ticks are refused. */
int lvc_calib_sampler_finish(lvc_calib_sampler_t *s);

/* Frees the result arrays; accepts a zeroed sampler. */
void lvc_calib_sampler_free(lvc_calib_sampler_t *s);

/* ---- one instrument's data and results ------------------------------------------ */

/* Estimators drawn in the report: every SPEC §3 estimator but `max`, in
 * lvc_estimator_t order (the max of the configured components is derived). */
#define LVC_CALIB_NEST (LVC_EST__COUNT - 1)

typedef struct lvc_calib_limit_s {
	int64_t ts_us;
	double max_leverage;
	double imr; /* tier 0 */
	double mmr;
	double sigma_ann;
	int status; /* lvc_limit_status_t */
} lvc_calib_limit_t;

/* Why a model has no fit, or LVC_OK. */
typedef struct lvc_calib_outcome_s {
	lvc_err_t err;
	char why[256];
} lvc_calib_outcome_t;

typedef struct lvc_calib_ins_s {
	char *name;                 /* owned */
	const lvc_params_t *params; /* lvc_config_params_for(); borrowed from the config */

	lvc_calib_sampler_t smp;

	/* Observations for the coverage backtest: every applied source tick,
	 * and every published limit, with the limit in force (tier-0 rates). */
	lvc_cov_obs_t *obs;
	size_t obs_n, obs_cap;
	double cur_imr, cur_mmr; /* of the last published limit; NAN before */

	lvc_calib_limit_t *lims; /* every published LeverageLimit, in order */
	size_t lims_n, lims_cap;

	/* Report only: each estimator's sigma_ann sampled when a bar
	 * completes (its own lvc_vol object, fed the same ticks). */
	lvc_vol_t *vols[LVC_CALIB_NEST];
	int64_t *sig_t;
	double *sig[LVC_CALIB_NEST];
	size_t sig_n, sig_cap;

	/* Results. */
	lvc_calib_outcome_t garch_out;
	lvc_garch_fit_t garch;
	double
	    *garch_sigma_ann; /* fitted conditional sigma_ann per bar return; NULL without a fit */
	lvc_calib_outcome_t ewma_out;
	lvc_ewma_fit_t ewma;
	int64_t half_life_us; /* the fitted half-life as written (rounded) */
	lvc_calib_outcome_t tail_out;
	lvc_t_fit_t tail;
	double tail_lr;   /* 2 (loglik - loglik_normal) */
	int tail_student; /* the rule chose student_t (written to the YAML) */
	double tail_nu;   /* as written */
	lvc_calib_outcome_t cov_out;
	lvc_cov_opts_t cov_opts;
	lvc_cov_result_t cov;
} lvc_calib_ins_t;

/* The rule for writing `tail: student_t`: the fit is inside (2.01, 200),
 * 2 (loglik_t - loglik_normal) exceeds the chi-square(1) 1% point and nu is
 * below LVC_CALIB_TAIL_NU_MAX, beyond which the t quantile at 0.99 is
 * within about 2% of the normal one. */
#define LVC_CALIB_TAIL_LR_MIN 6.634896601021214
#define LVC_CALIB_TAIL_NU_MAX 30.0

typedef struct lvc_calib_run_s {
	const lvc_config_t *cfg;
	const char *const *inputs;
	size_t inputs_n;

	uint64_t records;      /* input records read */
	uint64_t dead_letters; /* of them, refused (pipeline dead letters) */
	uint64_t ticks_late;   /* source ticks older than the instrument's newest */
	uint64_t limits;       /* LeverageLimit events */
	double read_s;         /* wall time of the read and replay pass */
	double fit_s;          /* wall time of the fits and backtests */

	lvc_calib_ins_t **ins; /* in order of first appearance */
	size_t ins_n, ins_cap;

	int pooled_ok; /* 0: instruments differ in expected rates (no pooled tests) */
	lvc_cov_opts_t pool_opts;
	lvc_cov_result_t pooled;
} lvc_calib_run_t;

/* Expected one-side exceedance rate of the initial (im 1) or maintenance
 * (im 0) margin under the configured model: the chance that the move over
 * the horizon exceeds im_multiplier * z (times mm_ratio for maintenance)
 * standard deviations, under the normal or unit-variance t tail. The
 * published margins round up to a leverage step and are clamped, so the
 * realized rate is at most this when the model holds. */
double lvc_calib_expected_rate(const lvc_lev_params_t *lev, int im);

/* The half-life rounded for the config: to the largest of 1 us, 1 ms, 1 s,
 * 1 min, 1 h, 1 d that is at most 1% of it (never below 1 us). */
int64_t lvc_calib_round_half_life(double half_life_us);

/* ---- the subcommand ------------------------------------------------------------ */

typedef struct lvc_calibrate_opts_s {
	const char *const *inputs; /* Avro container files, in tie order */
	size_t inputs_n;
	const char *write_path;  /* --write: the YAML snippet as a file; NULL: none */
	const char *report_path; /* --report: the HTML report; NULL: none */
	FILE *out;               /* the YAML snippet (stdout) */
	FILE *err;               /* the summary table and the progress (stderr) */
	int progress;     /* -1: when err is a terminal redraw, else a line every 5 s; 0: none */
	atomic_int *stop; /* SIGINT/SIGTERM: stop reading, exit 1 */
} lvc_calibrate_opts_t;

/* `levcal calibrate`: reads the inputs once, fits and backtests every
 * instrument, writes the YAML snippet to opts->out (and --write), the
 * summary table to opts->err and the report. Returns the exit code: 0, 1
 * (a runtime failure: an input read error, no source tick at all, a write
 * failure), 2 (usage: no inputs, an input file that cannot be opened). */
int lvc_calibrate(const lvc_config_t *cfg, const lvc_calibrate_opts_t *opts);

/* The same on a run the caller owns (tests): fills *run; free it with
 * lvc_calib_run_free(). Returns the exit code as above. */
int lvc_calibrate_run(const lvc_config_t *cfg, const lvc_calibrate_opts_t *opts,
                      lvc_calib_run_t *run);

/* Frees everything the run holds; accepts a zeroed run. */
void lvc_calib_run_free(lvc_calib_run_t *run);

/* Writes the YAML snippet of the run (instruments at two spaces of
 * indentation: it goes right after an `instruments:` line). */
lvc_err_t lvc_calibrate_yaml(const lvc_calib_run_t *run, FILE *out);

/* Writes the summary table of the run. */
void lvc_calibrate_summary(const lvc_calib_run_t *run, FILE *out);

#endif
