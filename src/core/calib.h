/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calibration maths (SPEC §7, issue 7): fit the volatility models from an
 * instrument's history and backtest the margins it was given.
 *
 * - GARCH(1,1) by Gaussian maximum likelihood, with standard errors.
 * - EWMA half-life by maximum likelihood of the one-step variance forecast.
 * - Student-t degrees of freedom (the `tail_nu` of SPEC §4) from
 *   standardized returns.
 * - Coverage backtest of published margins: exceedance counts, Kupiec's
 *   proportion-of-failures test and Christoffersen's independence and
 *   conditional-coverage tests, per instrument and pooled.
 *
 * Inputs are plain arrays the caller owns and keeps; nothing is retained
 * after a call returns. Calibration is not on the hot path: the fits
 * allocate working arrays (O(n) doubles, freed before they return) and say
 * so below; nothing else allocates. No I/O, no clock, no global state: any
 * number of fits may run in parallel on different data.
 */
#ifndef LVC_CORE_CALIB_H
#define LVC_CORE_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- GARCH(1,1) ------------------------------------------------------ */

/*
 * Model, on returns r_1..r_n (any unit; omega is in that unit squared, e.g.
 * variance per bar for bar log returns, the unit of SPEC §3 `garch.omega`):
 *
 *   e_t = r_t - mu,   s2 = (1/n) sum_t e_t^2  (moves with mu)
 *   h_1 = omega + (alpha + beta) s2   (LVC_GARCH_INIT_PRESAMPLE, default)
 *       = s2                          (LVC_GARCH_INIT_H1)
 *   h_t = omega + alpha e_(t-1)^2 + beta h_(t-1),   t = 2..n
 *   L   = -1/2 sum_t (ln 2 pi + ln h_t + e_t^2 / h_t)
 *
 * with omega > 0, alpha >= 0, beta >= 0, alpha + beta < 1.
 *
 * The start: the Fiorentini-Calzolari-Panattoni benchmark sets the
 * presample values h_0 = e_0^2 = s2 and runs the recursion from t = 1
 * (Cummins' TSP benchmark scripts state it as "h(0) = e(0)**2 =
 * SSR/T"), which gives the PRESAMPLE h_1 above. Starting at h_1 = s2
 * instead is a different likelihood (on dem2gbp.csv its maximum is
 * -1106.5866, not the published -1106.6079, and alpha moves in the third
 * digit); it is kept as an option because it is the literal reading of
 * "the recursion starts at the sample mean of squared residuals".
 *
 * Estimation: returns are first divided by a power of two near their
 * standard deviation (exact in binary floating point; omega and mu are
 * scaled back, L shifts by n ln s), so that the optimiser sees parameters
 * of order one for any unit. Nelder-Mead runs from four starting points on
 * an unconstrained transform (mu, ln omega, and (alpha, beta) through a
 * softmax onto the open simplex alpha + beta < 1); the best is polished by
 * BFGS on the natural parameters with central-difference gradients, then by
 * a Newton step on the numerical Hessian when that improves L.
 *
 * Standard errors: `se` is the square root of the diagonal of the inverse
 * numerical Hessian of -L at the optimum; this is what the FCP benchmark
 * publishes (its "Hessian" column). `se_opg` uses the outer product of
 * the per-observation scores (BHHH) and `se_robust` the
 * Bollerslev-Wooldridge sandwich H^-1 G H^-1, the one to quote when the
 * innovations are not normal (quasi-maximum likelihood).
 */

typedef enum lvc_garch_par_e {
	LVC_GARCH_MU,
	LVC_GARCH_OMEGA,
	LVC_GARCH_ALPHA,
	LVC_GARCH_BETA,
	LVC_GARCH__NPAR
} lvc_garch_par_t;

/* "mu", "omega", "alpha", "beta"; "?" for an index out of range. */
const char *lvc_garch_par_name(int par);

typedef enum lvc_garch_init_e {
	LVC_GARCH_INIT_PRESAMPLE, /* h_0 = e_0^2 = mean e^2 (the FCP benchmark's) */
	LVC_GARCH_INIT_H1         /* h_1 = mean e^2 */
} lvc_garch_init_t;

typedef struct lvc_garch_opts_s {
	int estimate_mean;     /* 1: mu is estimated (default); 0: mu is held at mu_fixed */
	double mu_fixed;       /* default 0 (the SPEC §3 filter assumes a zero mean) */
	lvc_garch_init_t init; /* default LVC_GARCH_INIT_PRESAMPLE */
	double gtol;           /* BFGS scale-free gradient tolerance (see optim.h), default 1e-10 */
	int max_evals;         /* Nelder-Mead budget per starting point, default 5000 */
} lvc_garch_opts_t;

typedef struct lvc_garch_fit_s {
	/* Estimates and standard errors, indexed by lvc_garch_par_t. se: from
	 * the Hessian, NaN when unavailable (see se_err). se_opg: outer product
	 * of gradients, NaN at a bound. se_robust: Bollerslev-Wooldridge
	 * sandwich, NaN without Hessian errors. A fixed mu has NaN errors. */
	double par[LVC_GARCH__NPAR];
	double se[LVC_GARCH__NPAR];
	double se_opg[LVC_GARCH__NPAR];
	double se_robust[LVC_GARCH__NPAR];
	/* Inverse Hessian of -L in the caller's units; a fixed mu's row and
	 * column are 0; all NaN when unavailable. */
	double cov[LVC_GARCH__NPAR][LVC_GARCH__NPAR];
	double loglik;         /* L at the estimate */
	double persistence;    /* alpha + beta */
	double uncond_var;     /* omega / (1 - alpha - beta) */
	double h_last;         /* h_n, the conditional variance of the last return */
	double h_next;         /* omega + alpha e_n^2 + beta h_n: the forecast for the next one */
	size_t n;              /* returns used */
	int npar;              /* parameters estimated: 4, or 3 with a fixed mean */
	lvc_garch_init_t init; /* the start used */
	int converged;         /* 1: the gradient test (optim.h) met gtol */
	/* 1 when alpha or beta is within 1e-6 of 0, or alpha + beta within
	 * 1e-6 of 1: the Hessian standard errors do not apply. */
	int at_bound;
	/* LVC_OK, or why se and cov are NaN (LVC_ERR_RANGE: at a bound, or the
	 * Hessian is not positive definite). */
	lvc_err_t se_err;
	int evaluations; /* likelihood evaluations (about: derivatives counted by formula) */
} lvc_garch_fit_t;

/* Fills o with the defaults above. */
void lvc_garch_opts_defaults(lvc_garch_opts_t *o);

/* Log-likelihood L of par (indexed by lvc_garch_par_t) on r[0..n) with the
 * start init. Returns LVC_OK; LVC_ERR_INVALID when par violates the
 * constraints, n < 2, a return is not finite or every residual is zero.
 * Does not allocate. */
lvc_err_t lvc_garch_loglik(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                           double *loglik);

/* Conditional variances h_1..h_n of par on r[0..n) into h[0..n) (caller's
 * array of n doubles), and the next forecast into *h_next (may be NULL).
 * Same errors as lvc_garch_loglik(). Does not allocate. */
lvc_err_t lvc_garch_filter(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                           double *h, double *h_next);

/* Standardized residuals z_t = (r_t - mu) / sqrt(h_t) into z[0..n) (caller's
 * array; may be r itself). Same errors as lvc_garch_loglik(). Does not
 * allocate. */
lvc_err_t lvc_garch_standardize(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                                double *z);

/* Fits GARCH(1,1) to r[0..n), n >= 50, with opts (NULL: defaults). Fills
 * *fit. Allocates about 8 n doubles of working memory, freed before it
 * returns. Returns LVC_OK (check fit->converged and fit->at_bound),
 * LVC_ERR_INVALID (non-finite return, bad opts, all returns equal),
 * LVC_ERR_RANGE (too few returns), LVC_ERR_NOMEM; errstr says which. */
lvc_err_t lvc_garch_fit(const double *r, size_t n, const lvc_garch_opts_t *opts,
                        lvc_garch_fit_t *fit, char *errstr, size_t errstr_size);

/* ---- EWMA half-life ---------------------------------------------------- */

/*
 * Forecast of r_t from r_1..r_(t-1) at a fixed sampling interval (SPEC §3
 * `ewma`): v_1 = init_var, v_(t+1) = lambda v_t + (1 - lambda) r_t^2, with
 * lambda = 2^(-1 / half_life_n), half_life_n = half-life in sampling
 * intervals (so half-life = interval ln 2 / -ln lambda). Loss: the Gaussian
 * log-likelihood sum_(t > skip) -1/2 (ln 2 pi + ln v_t + r_t^2 / v_t)
 * (equivalently QLIKE). v is floored at 1e-12 init_var so that a run of
 * zero returns (no trade in an interval) cannot drive it to zero.
 *
 * The half-life is chosen on a log-spaced grid of grid_n points over
 * [min_half_life_n, max_half_life_n], then refined by Brent's method in ln
 * half-life between the grid neighbours of the best point. The grid values
 * are returned for the report's loss curve.
 */

#define LVC_EWMA_GRID_MAX 128

typedef struct lvc_ewma_opts_s {
	double min_half_life_n; /* default 1 interval */
	double max_half_life_n; /* default 0: the sample length n */
	size_t grid_n;          /* 3..LVC_EWMA_GRID_MAX, default 41 */
	size_t skip;            /* first returns excluded from the loss (burn-in), default 0 */
	double init_var;        /* v_1; default 0: the mean of r^2 over the first init_n */
	/* Returns that set v_1 when init_var is 0: default 100; 0 means all.
	 * When the first init_n are all zero, all n are used. */
	size_t init_n;
} lvc_ewma_opts_t;

typedef struct lvc_ewma_fit_s {
	double half_life_n;      /* estimate, in sampling intervals */
	int64_t half_life_us;    /* the same in microseconds (rounded) */
	double lambda;           /* 2^(-1 / half_life_n) */
	double loglik;           /* loss at the estimate */
	double se_log_half_life; /* from the curvature of L in ln half-life; NaN when flat */
	double init_var;         /* v_1 used */
	size_t n_used;           /* returns in the loss: n - skip */
	int at_bound;            /* the best half-life is an end of the grid range */
	size_t grid_n;           /* entries in the two arrays below */
	double grid_half_life_n[LVC_EWMA_GRID_MAX];
	double grid_loglik[LVC_EWMA_GRID_MAX];
} lvc_ewma_fit_t;

/* Fills o with the defaults above. */
void lvc_ewma_opts_defaults(lvc_ewma_opts_t *o);

/* The loss above for lambda in (0, 1] on r[0..n). Returns LVC_OK, or
 * LVC_ERR_INVALID (lambda or init_var out of range, skip >= n, a return not
 * finite). Does not allocate. */
lvc_err_t lvc_ewma_loglik(const double *r, size_t n, double lambda, double init_var, size_t skip,
                          double *loglik);

/* Chooses the half-life for returns r[0..n) sampled every interval_us > 0
 * (n >= 10), opts NULL for defaults. Does not allocate. Returns LVC_OK,
 * LVC_ERR_INVALID or LVC_ERR_RANGE with errstr. */
lvc_err_t lvc_ewma_fit(const double *r, size_t n, int64_t interval_us, const lvc_ewma_opts_t *opts,
                       lvc_ewma_fit_t *fit, char *errstr, size_t errstr_size);

/* ---- Student-t degrees of freedom --------------------------------------- */

/*
 * From standardized returns z_t (e.g. lvc_garch_standardize()), the nu that
 * maximizes sum_t ln f_nu(z_t), f_nu the Student-t density scaled to unit
 * variance (stats.h), over nu in [2.01, 200]: a grid in ln(nu - 2), then
 * Brent. The z are used as given (not rescaled): the GARCH filter already
 * makes them unit-variance in expectation, and the unit-variance density is
 * the one SPEC §4's quantile uses. nu at the upper bound means the tails
 * are not detectably heavier than normal.
 */

#define LVC_T_NU_MIN 2.01
#define LVC_T_NU_MAX 200.0

typedef struct lvc_t_fit_s {
	double nu;            /* estimate */
	double se_log_nu_m2;  /* standard error of ln(nu - 2), from the curvature */
	double se_nu;         /* (nu - 2) se_log_nu_m2 (delta method) */
	double loglik;        /* sum of t log-densities at nu */
	double loglik_normal; /* sum of standard normal log-densities, for comparison */
	double z_var;         /* sample mean of z^2: near 1 when the z are standardized */
	size_t n;
	int at_bound; /* nu is at LVC_T_NU_MIN or LVC_T_NU_MAX */
} lvc_t_fit_t;

/* Log-likelihood of nu on z[0..n); LVC_ERR_INVALID for nu <= 2 or a
 * non-finite z. Does not allocate. */
lvc_err_t lvc_t_loglik(const double *z, size_t n, double nu, double *loglik);

/* Fits nu to z[0..n), n >= 50. Does not allocate. Returns LVC_OK,
 * LVC_ERR_INVALID or LVC_ERR_RANGE with errstr. */
lvc_err_t lvc_t_fit(const double *z, size_t n, lvc_t_fit_t *fit, char *errstr, size_t errstr_size);

/* ---- One instrument, all models ---------------------------------------- */

typedef struct lvc_calib_opts_s {
	lvc_garch_opts_t garch;
	lvc_ewma_opts_t ewma;
} lvc_calib_opts_t;

typedef struct lvc_calib_result_s {
	lvc_err_t garch_err; /* LVC_OK when `garch` is filled */
	lvc_garch_fit_t garch;
	lvc_err_t ewma_err; /* LVC_OK when `ewma` is filled */
	lvc_ewma_fit_t ewma;
	lvc_err_t tail_err; /* LVC_OK when `tail` is filled (needs the GARCH fit) */
	lvc_t_fit_t tail;   /* nu from the GARCH-standardized returns */
} lvc_calib_result_t;

/* Fills o with each model's defaults. */
void lvc_calib_opts_defaults(lvc_calib_opts_t *o);

/* Fits every model to one instrument's bar returns r[0..n) sampled every
 * interval_us: GARCH(1,1), the EWMA half-life, and nu from the
 * GARCH-standardized returns. Each model's outcome is in its *_err field;
 * errstr gets the first failure. Allocates as lvc_garch_fit() does, plus n
 * doubles for the standardized returns, all freed before it returns.
 * Returns LVC_OK when every model fitted, else the first model error (the
 * other results are still filled), LVC_ERR_NOMEM. */
lvc_err_t lvc_calib_returns(const double *r, size_t n, int64_t interval_us,
                            const lvc_calib_opts_t *opts, lvc_calib_result_t *out, char *errstr,
                            size_t errstr_size);

/* ---- Coverage backtest -------------------------------------------------- */

/*
 * Did the margins hold? Input per instrument: observations (ts_us, price,
 * imr, mmr) in ascending ts_us, where imr and mmr are the margin rates of
 * the limit in force at ts_us (the tier-0 rates of the last published
 * LeverageLimit; NaN or <= 0 when none was in force yet). The last
 * observation at a timestamp is the state at that time; between
 * observations the previous one holds (previous-tick, as in SPEC §3).
 *
 * Exceedance. A margin m on notional N = |q| P(t) covers a loss up to m N.
 * Over the horizon h the loss of a long is N (1 - P(t+h)/P(t)) and of a
 * short N (P(t+h)/P(t) - 1), so with R = P(t+h)/P(t) - 1:
 *   LONG   exceedance: -R > m   (price fell by more than the margin)
 *   SHORT  exceedance:  R > m   (price rose by more than the margin)
 *   EITHER exceedance: |R| > m  (some open position lost its margin).
 * This is the fraction of notional, not the log move |ln(P(t+h)/P(t))|: it
 * is the loss the margin must cover, and the log move over- (long) or
 * under-states (short) it at second order. The move is point to point, t
 * to t + h; a path that crosses the margin and returns is not counted (the
 * liquidation engine, not the margin level, handles intra-horizon paths).
 * The expected rate under the model is p = 1 - confidence per side (SPEC
 * §4: imr = z_confidence sigma_h, one-sided) and 2p for EITHER (the two
 * events are disjoint). The maintenance margin has no confidence of its
 * own; its tests run only when the caller supplies an expected rate.
 *
 * Overlapping horizons. A limit is in force at every observation, but
 * outcomes of observations closer than h share price moves, so their
 * exceedances are dependent and the chi-square laws of the tests below do
 * not hold (they over-reject). The tests therefore use non-overlapping
 * blocks: anchors at the multiples of h since the Unix epoch (the same
 * instants for every instrument), one trial per anchor a with the state at
 * a (limit in force and price) and the price at a + h, for every anchor
 * with a >= the first observation and a + h <= the last. Consecutive
 * trials are then a horizon apart and share no price move; an anchor with
 * no limit in force is skipped and breaks the Markov chain of the
 * Christoffersen test (no transition is counted across it). The rate over
 * every observation (overlapping outcomes, one per distinct timestamp whose
 * t + h is covered) is reported as descriptive only, without tests.
 *
 * Tests (Kupiec 1995; Christoffersen 1998), for T trials, N exceedances,
 * expected probability p and transition counts n_ij (state i, then j):
 *   LR_pof = -2 ln[(1-p)^(T-N) p^N] + 2 ln[(1-N/T)^(T-N) (N/T)^N]   ~ chi2(1)
 *   LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)]
 *            + 2 ln[(1-pi01)^n00 pi01^n01 (1-pi11)^n10 pi11^n11]     ~ chi2(1)
 *   LR_cc  = -2 ln[(1-p)^(n00+n10) p^(n01+n11)]
 *            + 2 ln[(1-pi01)^n00 pi01^n01 (1-pi11)^n10 pi11^n11]     ~ chi2(2)
 * with pi01 = n01/(n00+n01), pi11 = n11/(n10+n11), pi = (n01+n11)/sum n_ij
 * and 0 ln 0 = 0. LR_cc is computed on the transition sample, so it equals
 * LR_pof on that sample (the first trial of each chain dropped) plus LR_ind.
 * Pooling across instruments adds the counts; the pooled tests assume the
 * instruments' exceedances independent of each other, which correlated
 * markets violate (a market-wide move hits every instrument at once):
 * read the pooled p-values as optimistic.
 */

typedef enum lvc_cov_margin_e { LVC_COV_IM, LVC_COV_MM, LVC_COV_MARGIN__COUNT } lvc_cov_margin_t;

typedef enum lvc_cov_side_e {
	LVC_COV_LONG,
	LVC_COV_SHORT,
	LVC_COV_EITHER,
	LVC_COV_SIDE__COUNT
} lvc_cov_side_t;

typedef struct lvc_cov_obs_s {
	int64_t ts_us; /* ascending; equal values allowed (the last one wins) */
	double price;  /* finite, > 0 */
	double imr;    /* initial margin rate in force (fraction); NaN or <= 0: none */
	double mmr;    /* maintenance margin rate in force (fraction) */
} lvc_cov_obs_t;

typedef struct lvc_cov_opts_s {
	int64_t horizon_us; /* > 0: SPEC §4 leverage.horizon */
	/* One-side exceedance probability of each margin under the model, in
	 * (0, 0.5]: for IM, 1 - confidence; NaN: counts only, no tests. */
	double expected[LVC_COV_MARGIN__COUNT];
} lvc_cov_opts_t;

/* One test sample: counts, rate and the three likelihood-ratio tests. The
 * LR and p-value fields are NaN when undefined (no trials, no transitions,
 * no expected rate). */
typedef struct lvc_cov_test_s {
	int64_t trials;  /* T */
	int64_t exceed;  /* N */
	double rate;     /* N / T */
	double expected; /* p */
	int64_t n00, n01, n10, n11;
	double lr_pof, p_pof; /* Kupiec proportion of failures, chi2(1) */
	double lr_ind, p_ind; /* Christoffersen independence, chi2(1) */
	double lr_cc, p_cc;   /* Christoffersen conditional coverage, chi2(2) */
} lvc_cov_test_t;

typedef struct lvc_cov_count_s {
	int64_t trials;
	int64_t exceed;
	double rate; /* NaN without trials */
} lvc_cov_count_t;

typedef struct lvc_cov_result_s {
	/* Non-overlapping horizon blocks: the tested sample. */
	lvc_cov_test_t block[LVC_COV_MARGIN__COUNT][LVC_COV_SIDE__COUNT];
	int64_t blocks_total;    /* anchors in [first, last - h] */
	int64_t blocks_no_limit; /* of those, skipped: no limit in force */
	/* Every observation (overlapping horizons): descriptive only. */
	lvc_cov_count_t overlap[LVC_COV_MARGIN__COUNT][LVC_COV_SIDE__COUNT];
} lvc_cov_result_t;

/* Kupiec's LR_pof for `exceed` of `trials`, expected probability p in
 * (0, 1), and its chi2(1) p-value (either out pointer may be NULL).
 * LVC_ERR_INVALID for trials <= 0, exceed outside [0, trials] or p out of
 * range. */
lvc_err_t lvc_kupiec_pof(int64_t trials, int64_t exceed, double p, double *lr, double *p_value);

/* Christoffersen's LR_ind (chi2(1)) and LR_cc (chi2(2), against p in (0, 1))
 * from the transition counts; any out pointer may be NULL.
 * LVC_ERR_INVALID for negative counts, no transitions, or p out of range. */
lvc_err_t lvc_christoffersen(int64_t n00, int64_t n01, int64_t n10, int64_t n11, double p,
                             double *lr_ind, double *p_ind, double *lr_cc, double *p_cc);

/* Every field of *out from a hit sequence hits[0..n): 0 no exceedance,
 * 1 exceedance, any other value a missing trial that breaks the chain.
 * p: expected probability, or NaN for counts only. Does not allocate. */
void lvc_cov_test_hits(const unsigned char *hits, size_t n, double p, lvc_cov_test_t *out);

/* Backtests one instrument's observations obs[0..n) (see above) into *out.
 * Does not allocate. Returns LVC_OK, or LVC_ERR_INVALID (unsorted ts_us,
 * price not finite and > 0, bad opts) with errstr naming the index. */
lvc_err_t lvc_coverage_series(const lvc_cov_obs_t *obs, size_t n, const lvc_cov_opts_t *opts,
                              lvc_cov_result_t *out, char *errstr, size_t errstr_size);

/* Pools per-instrument results parts[0..n_parts) into *out: counts and
 * transitions add up, tests are recomputed against opts->expected. */
void lvc_coverage_pool(const lvc_cov_result_t *parts, size_t n_parts, const lvc_cov_opts_t *opts,
                       lvc_cov_result_t *out);

/* One non-overlapping horizon block, the tested sample of
 * lvc_coverage_series(): anchor_us a multiple of the horizon h, obs[i] the
 * last observation at or before it (the state in force), obs[j] the last
 * at or before anchor_us + h, ret = obs[j].price / obs[i].price - 1. */
typedef struct lvc_cov_block_s {
	int64_t anchor_us;
	size_t i, j;
	double ret;
} lvc_cov_block_t;

typedef int(lvc_cov_block_fn)(void *opaque, const lvc_cov_block_t *block);

/* Calls fn for every block of obs[0..n) in time order: anchors in
 * [obs[0].ts_us, obs[n-1].ts_us - h]. Stops at fn's first non-zero return
 * and returns it; 0 after the last block. obs is not validated here (see
 * lvc_coverage_series). */
int lvc_coverage_blocks(const lvc_cov_obs_t *obs, size_t n, int64_t horizon_us,
                        lvc_cov_block_fn *fn, void *opaque);

/* Per-observation outcome flags for a chart, in flags[0..n) (caller's):
 * LVC_COV_F_KNOWN when obs i has a limit in force, is the last at its
 * timestamp and t + h is covered by the data; the other bits mark its
 * exceedances. Same validation as lvc_coverage_series(). */
#define LVC_COV_F_KNOWN    0x01u
#define LVC_COV_F_IM_LONG  0x02u
#define LVC_COV_F_IM_SHORT 0x04u
#define LVC_COV_F_MM_LONG  0x08u
#define LVC_COV_F_MM_SHORT 0x10u
lvc_err_t lvc_coverage_mark(const lvc_cov_obs_t *obs, size_t n, int64_t horizon_us,
                            unsigned char *flags, char *errstr, size_t errstr_size);

#endif
