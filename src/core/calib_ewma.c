/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-parameter likelihood fits (calib.h): the EWMA half-life by the
 * Gaussian likelihood of its one-step variance forecast, and the Student-t
 * degrees of freedom of standardized returns. Both search a log-spaced grid
 * (which also gives the report its loss curve), refine with Brent between
 * the neighbours of the best grid point, and take a standard error from the
 * curvature of the log-likelihood in the transformed parameter.
 *
 * Invariants: the loss is the exact sum over the returns given (no
 * sub-sampling), compensated so that Brent sees a smooth function; nothing
 * allocates. Load: one EWMA fit is grid_n + about 40 passes over n returns;
 * one t fit about 70 passes over n residuals, each pass two lgamma calls
 * plus n log1p.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/calib.h"
#include "core/optim.h"
#include "core/stats.h"
#include "core/numeric.h"

#define LN_2PI     1.83787706640934548356 /* ln 2 pi */
#define LN2        0.69314718055994530942
#define VAR_FLOOR  1e-12 /* of init_var: v never falls below it */
#define CURV_STEP  1e-3  /* step in the log parameter for the curvature */
#define BRENT_TOL  1e-9
#define MIN_N_EWMA 10
#define MIN_N_T    50
#define T_GRID_N   48

/* ---- EWMA ------------------------------------------------------------------ */

static double mean_sq(const double *r, size_t n)
{
	lvc_ksum_t m = { 0.0, 0.0 };

	for (size_t t = 0; t < n; t++) {
		lvc_ksum_add(&m, r[t] * r[t]);
	}
	return (m.s + m.c) / (double)n;
}

void lvc_ewma_opts_defaults(lvc_ewma_opts_t *o)
{
	o->min_half_life_n = 1.0;
	o->max_half_life_n = 0.0;
	o->grid_n = 41;
	o->skip = 0;
	o->init_var = 0.0;
	o->init_n = 100;
}

/* The loss without argument checks (callers checked). */
static double ewma_ll(const double *r, size_t n, double lambda, double init_var, size_t skip)
{
	lvc_ksum_t ll = { 0.0, 0.0 };
	double v = init_var, floor_v = VAR_FLOOR * init_var;

	for (size_t t = 0; t < n; t++) {
		double r2 = r[t] * r[t];

		if (t >= skip) {
			lvc_ksum_add(&ll, -0.5 * (LN_2PI + log(v) + r2 / v));
		}
		v = lambda * v + (1.0 - lambda) * r2;
		if (v < floor_v) {
			v = floor_v;
		}
	}
	return ll.s + ll.c;
}

lvc_err_t lvc_ewma_loglik(const double *r, size_t n, double lambda, double init_var, size_t skip,
                          double *loglik)
{
	if (r == NULL || loglik == NULL || !(lambda > 0.0 && lambda <= 1.0) || !(init_var > 0.0) ||
	    !isfinite(init_var) || skip >= n) {
		return LVC_ERR_INVALID;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(r[t])) {
			return LVC_ERR_INVALID;
		}
	}
	*loglik = ewma_ll(r, n, lambda, init_var, skip);
	return LVC_OK;
}

typedef struct ewma_ctx_s {
	const double *r;
	size_t n;
	double init_var;
	size_t skip;
} ewma_ctx_t;

static double lambda_of(double half_life_n)
{
	return exp(-LN2 / half_life_n);
}

/* -L as a function of u = ln(half-life in intervals), for Brent. */
static double ewma_obj(double u, void *ctx)
{
	const ewma_ctx_t *e = ctx;

	return -ewma_ll(e->r, e->n, lambda_of(exp(u)), e->init_var, e->skip);
}

/* Standard error of the parameter u from the curvature of L(u) =
 * -obj(u) at its maximum u0 (value -f0); NaN when L is not concave there. */
static double curvature_se(lvc_optim_fn1 *obj, void *ctx, double u0, double f0)
{
	double fp = obj(u0 + CURV_STEP, ctx), fm = obj(u0 - CURV_STEP, ctx);
	double d2 = (fp - 2.0 * f0 + fm) / (CURV_STEP * CURV_STEP);

	return d2 > 0.0 && isfinite(d2) ? 1.0 / sqrt(d2) : NAN;
}

lvc_err_t lvc_ewma_fit(const double *r, size_t n, int64_t interval_us, const lvc_ewma_opts_t *opts,
                       lvc_ewma_fit_t *fit, char *errstr, size_t errstr_size)
{
	lvc_ewma_opts_t o;
	ewma_ctx_t ctx;
	double lo, hi, du, best = -INFINITY, u_lo, u_hi, u, f, hl_us;
	size_t kbest = 0;

	if (r == NULL || fit == NULL) {
		snprintf(errstr, errstr_size, "ewma: no returns or no result given");
		return LVC_ERR_INVALID;
	}
	memset(fit, 0, sizeof(*fit));
	if (opts == NULL) {
		lvc_ewma_opts_defaults(&o);
	} else {
		o = *opts;
	}
	if (n < MIN_N_EWMA || o.skip + MIN_N_EWMA > n) {
		snprintf(errstr, errstr_size,
		         "ewma: %zu returns with skip %zu: at least %d must enter the loss", n,
		         o.skip, MIN_N_EWMA);
		return LVC_ERR_RANGE;
	}
	if (interval_us <= 0) {
		snprintf(errstr, errstr_size, "ewma: interval %lld us: allowed > 0",
		         (long long)interval_us);
		return LVC_ERR_INVALID;
	}
	lo = o.min_half_life_n;
	hi = o.max_half_life_n > 0.0 ? o.max_half_life_n : (double)n;
	if (!(lo > 0.0) || !(hi > lo) || !isfinite(hi) || o.grid_n < 3 ||
	    o.grid_n > LVC_EWMA_GRID_MAX || !(o.init_var >= 0.0) || !isfinite(o.init_var)) {
		snprintf(errstr, errstr_size,
		         "ewma: half-life range [%g, %g] intervals, grid %zu, init_var %g: allowed "
		         "0 < min < max, grid 3..%d, init_var >= 0 (0: sample mean of r^2)",
		         lo, hi, o.grid_n, o.init_var, LVC_EWMA_GRID_MAX);
		return LVC_ERR_INVALID;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(r[t])) {
			snprintf(errstr, errstr_size, "ewma: return %zu is %g: allowed finite", t,
			         r[t]);
			return LVC_ERR_INVALID;
		}
	}
	if (o.init_var == 0.0) {
		/* The mean of the first init_n squared returns: local to the start,
		 * so a series whose level drifts (the case EWMA is for) does not
		 * begin at a level it only reaches later. All returns when those
		 * are all zero. */
		size_t m = o.init_n > 0 && o.init_n < n ? o.init_n : n;

		o.init_var = mean_sq(r, m);
		if (!(o.init_var > 0.0)) {
			o.init_var = mean_sq(r, n);
		}
	}
	if (!(o.init_var > 0.0) || !isfinite(o.init_var)) {
		snprintf(errstr, errstr_size,
		         "ewma: initial variance %g (all returns zero?): allowed > 0 and finite",
		         o.init_var);
		return LVC_ERR_INVALID;
	}
	ctx.r = r;
	ctx.n = n;
	ctx.init_var = o.init_var;
	ctx.skip = o.skip;

	/* Grid in u = ln(half-life): equal steps of du. */
	du = (log(hi) - log(lo)) / (double)(o.grid_n - 1);
	for (size_t k = 0; k < o.grid_n; k++) {
		double uk = (k == o.grid_n - 1) ? log(hi) : log(lo) + du * (double)k;
		double hk = exp(uk), lk = -ewma_obj(uk, &ctx);

		fit->grid_half_life_n[k] = hk;
		fit->grid_loglik[k] = lk;
		if (lk > best) {
			best = lk;
			kbest = k;
		}
	}
	fit->grid_n = o.grid_n;
	if (!isfinite(best)) {
		snprintf(errstr, errstr_size, "ewma: the loss is not finite on any grid point");
		return LVC_ERR_RANGE;
	}
	/* Refine between the neighbours of the best grid point: on a smooth
	 * unimodal stretch the maximum lies there. */
	u_lo = log(fit->grid_half_life_n[kbest > 0 ? kbest - 1 : 0]);
	u_hi = log(fit->grid_half_life_n[kbest + 1 < o.grid_n ? kbest + 1 : o.grid_n - 1]);
	if (lvc_optim_brent(ewma_obj, &ctx, u_lo, u_hi, BRENT_TOL, 200, &u, &f, NULL) != LVC_OK) {
		snprintf(errstr, errstr_size, "ewma: refinement failed on [%g, %g]", exp(u_lo),
		         exp(u_hi));
		return LVC_ERR_RANGE;
	}
	if (-f < best) {
		/* Brent never returns worse than a point it was given, but the
		 * grid point itself may be the best at an end of the range. */
		u = log(fit->grid_half_life_n[kbest]);
		f = -best;
	}
	fit->half_life_n = exp(u);
	fit->lambda = lambda_of(fit->half_life_n);
	fit->loglik = -f;
	fit->init_var = o.init_var;
	fit->n_used = n - o.skip;
	fit->at_bound = (kbest == 0 || kbest == o.grid_n - 1) &&
	                (fabs(u - log(lo)) < 1e-6 || fabs(u - log(hi)) < 1e-6);
	fit->se_log_half_life = curvature_se(ewma_obj, &ctx, u, f);
	hl_us = fit->half_life_n * (double)interval_us;
	fit->half_life_us = hl_us < 9.2e18 ? (int64_t)llround(hl_us) : INT64_MAX;
	return LVC_OK;
}

/* ---- Student-t nu ---------------------------------------------------------- */

typedef struct t_ctx_s {
	const double *z;
	size_t n;
} t_ctx_t;

/* The t log-likelihood without checks: the constant part once, then the
 * kernel per observation. */
static double t_ll(const double *z, size_t n, double nu)
{
	lvc_ksum_t ll = { 0.0, 0.0 };
	double s2 = nu - 2.0;
	double c = lvc_stats_t_unit_logpdf(0.0, nu), k = 0.5 * (nu + 1.0);

	for (size_t t = 0; t < n; t++) {
		lvc_ksum_add(&ll, -k * log1p(z[t] * z[t] / s2));
	}
	return (double)n * c + ll.s + ll.c;
}

lvc_err_t lvc_t_loglik(const double *z, size_t n, double nu, double *loglik)
{
	if (z == NULL || loglik == NULL || n == 0 || !(nu > 2.0) || !isfinite(nu)) {
		return LVC_ERR_INVALID;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(z[t])) {
			return LVC_ERR_INVALID;
		}
	}
	*loglik = t_ll(z, n, nu);
	return LVC_OK;
}

/* -L as a function of u = ln(nu - 2). */
static double t_obj(double u, void *ctx)
{
	const t_ctx_t *c = ctx;

	return -t_ll(c->z, c->n, 2.0 + exp(u));
}

lvc_err_t lvc_t_fit(const double *z, size_t n, lvc_t_fit_t *fit, char *errstr, size_t errstr_size)
{
	const double u_min = log(LVC_T_NU_MIN - 2.0), u_max = log(LVC_T_NU_MAX - 2.0);
	double du = (u_max - u_min) / (double)(T_GRID_N - 1), best = INFINITY, u, f;
	double grid_u[T_GRID_N];
	lvc_ksum_t zz = { 0.0, 0.0 }, ln = { 0.0, 0.0 };
	size_t kbest = 0;
	t_ctx_t ctx = { z, n };

	if (z == NULL || fit == NULL) {
		snprintf(errstr, errstr_size, "student_t: no residuals or no result given");
		return LVC_ERR_INVALID;
	}
	memset(fit, 0, sizeof(*fit));
	if (n < MIN_N_T) {
		snprintf(errstr, errstr_size, "student_t: %zu residuals: at least %d are needed", n,
		         MIN_N_T);
		return LVC_ERR_RANGE;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(z[t])) {
			snprintf(errstr, errstr_size,
			         "student_t: residual %zu is %g: allowed finite", t, z[t]);
			return LVC_ERR_INVALID;
		}
		lvc_ksum_add(&zz, z[t] * z[t]);
		lvc_ksum_add(&ln, lvc_stats_normal_logpdf(z[t]));
	}
	for (size_t k = 0; k < T_GRID_N; k++) {
		double fk;

		grid_u[k] = (k == T_GRID_N - 1) ? u_max : u_min + du * (double)k;
		fk = t_obj(grid_u[k], &ctx);
		if (fk < best) {
			best = fk;
			kbest = k;
		}
	}
	if (lvc_optim_brent(t_obj, &ctx, grid_u[kbest > 0 ? kbest - 1 : 0],
	                    grid_u[kbest + 1 < T_GRID_N ? kbest + 1 : T_GRID_N - 1], BRENT_TOL, 200,
	                    &u, &f, NULL) != LVC_OK) {
		snprintf(errstr, errstr_size, "student_t: refinement failed");
		return LVC_ERR_RANGE;
	}
	if (f > best) {
		u = grid_u[kbest];
		f = best;
	}
	fit->nu = 2.0 + exp(u);
	fit->loglik = -f;
	fit->loglik_normal = ln.s + ln.c;
	fit->z_var = (zz.s + zz.c) / (double)n;
	fit->n = n;
	fit->at_bound = fabs(u - u_min) < 1e-6 || fabs(u - u_max) < 1e-6;
	/* The curvature step must stay inside (2, inf): u is unbounded, so any
	 * step is valid. */
	fit->se_log_nu_m2 = curvature_se(t_obj, &ctx, u, f);
	fit->se_nu = (fit->nu - 2.0) * fit->se_log_nu_m2;
	return LVC_OK;
}
