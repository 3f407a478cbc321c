/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GARCH(1,1) maximum likelihood (calib.h): the likelihood with the
 * Fiorentini-Calzolari-Panattoni start h_1 = mean e^2, a multi-start
 * Nelder-Mead on an unconstrained transform, a BFGS and Newton polish on
 * the natural parameters, and Hessian, OPG and sandwich standard errors.
 *
 * Invariants: the optimiser only ever sees feasible parameters as finite
 * values (the objective is +inf outside omega > 0, alpha, beta >= 0,
 * alpha + beta < 1); returns are rescaled by a power of two so that every
 * parameter the optimiser moves is of order one whatever the unit; sums
 * over observations are compensated (Neumaier) so that the likelihood is
 * smooth to near machine precision, which the finite-difference derivatives
 * need. Load: one fit is a few thousand likelihood passes over n returns
 * (n of a few thousand bars: well under a second).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calib.h"
#include "core/optim.h"
#include "core/numeric.h"

#define NPAR      LVC_GARCH__NPAR
#define LN_2PI    1.83787706640934548356 /* ln 2 pi */
#define BOUND_EPS 1e-6
#define MIN_N     50

static int garch_feasible(double omega, double alpha, double beta)
{
	return omega > 0.0 && alpha >= 0.0 && beta >= 0.0 && alpha + beta < 1.0 && isfinite(omega);
}

/* Optional outputs of a filter pass; any pointer may be NULL. */
typedef struct pass_out_s {
	double *contrib; /* per-observation log-likelihood terms */
	double *h;       /* conditional variances */
	double *z;       /* standardized residuals (may alias r) */
	double h_last;
	double h_next;
} pass_out_t;

/* One filter pass of par (indexed by lvc_garch_par_t) over r[0..n): returns
 * the log-likelihood, or NaN when the parameters are infeasible or a
 * variance is not positive and finite. */
static double garch_pass(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                         pass_out_t *out)
{
	lvc_ksum_t se2 = { 0.0, 0.0 }, ll = { 0.0, 0.0 };
	double mu = par[LVC_GARCH_MU], omega = par[LVC_GARCH_OMEGA];
	double alpha = par[LVC_GARCH_ALPHA], beta = par[LVC_GARCH_BETA], ht, e_prev = 0.0;

	if (!garch_feasible(omega, alpha, beta) || !isfinite(mu)) {
		return NAN;
	}
	for (size_t t = 0; t < n; t++) {
		double e = r[t] - mu;

		lvc_ksum_add(&se2, e * e);
	}
	ht = lvc_ksum_get(&se2) / (double)n;
	if (init == LVC_GARCH_INIT_PRESAMPLE) {
		/* h_0 = e_0^2 = mean e^2, so h_1 = omega + (alpha + beta) mean e^2. */
		ht = omega + (alpha + beta) * ht;
	}
	/* r[t] is read before z[t] is written and never again, so z may
	 * alias r. */
	for (size_t t = 0; t < n; t++) {
		double e = r[t] - mu, l;

		if (t > 0) {
			ht = omega + alpha * e_prev * e_prev + beta * ht;
		}
		if (!(ht > 0.0) || !isfinite(ht)) {
			return NAN;
		}
		l = -0.5 * (LN_2PI + log(ht) + e * e / ht);
		if (out != NULL) {
			if (out->contrib != NULL) {
				out->contrib[t] = l;
			}
			if (out->h != NULL) {
				out->h[t] = ht;
			}
			if (out->z != NULL) {
				out->z[t] = e / sqrt(ht);
			}
		}
		lvc_ksum_add(&ll, l);
		e_prev = e;
	}
	if (out != NULL) {
		out->h_last = ht;
		out->h_next = omega + alpha * e_prev * e_prev + beta * ht;
	}
	return lvc_ksum_get(&ll);
}

/* The likelihood alone, with only the per-observation terms kept. */
static double garch_ll(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                       double *contrib)
{
	pass_out_t out = { contrib, NULL, NULL, 0.0, 0.0 };

	return garch_pass(r, n, par, init, &out);
}

static const char *const par_names[NPAR] = { "mu", "omega", "alpha", "beta" };

const char *lvc_garch_par_name(int par)
{
	return par >= 0 && par < NPAR ? par_names[par] : "?";
}

void lvc_garch_opts_defaults(lvc_garch_opts_t *o)
{
	o->estimate_mean = 1;
	o->mu_fixed = 0.0;
	o->init = LVC_GARCH_INIT_PRESAMPLE;
	o->gtol = 1e-10;
	o->max_evals = 5000;
}

static lvc_err_t check_input(const double *r, size_t n, const double *par, lvc_garch_init_t init)
{
	if (r == NULL || n < 2 || par == NULL ||
	    (init != LVC_GARCH_INIT_PRESAMPLE && init != LVC_GARCH_INIT_H1)) {
		return LVC_ERR_INVALID;
	}
	if (!garch_feasible(par[LVC_GARCH_OMEGA], par[LVC_GARCH_ALPHA], par[LVC_GARCH_BETA]) ||
	    !isfinite(par[LVC_GARCH_MU])) {
		return LVC_ERR_INVALID;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(r[t])) {
			return LVC_ERR_INVALID;
		}
	}
	return LVC_OK;
}

lvc_err_t lvc_garch_loglik(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                           double *loglik)
{
	lvc_err_t err = check_input(r, n, par, init);
	double ll;

	if (err != LVC_OK || loglik == NULL) {
		return err != LVC_OK ? err : LVC_ERR_INVALID;
	}
	ll = garch_pass(r, n, par, init, NULL);
	if (isnan(ll)) {
		return LVC_ERR_INVALID;
	}
	*loglik = ll;
	return LVC_OK;
}

lvc_err_t lvc_garch_filter(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                           double *h, double *h_next)
{
	lvc_err_t err = check_input(r, n, par, init);
	pass_out_t out = { NULL, h, NULL, 0.0, 0.0 };

	if (err != LVC_OK || h == NULL) {
		return err != LVC_OK ? err : LVC_ERR_INVALID;
	}
	if (isnan(garch_pass(r, n, par, init, &out))) {
		return LVC_ERR_INVALID;
	}
	if (h_next != NULL) {
		*h_next = out.h_next;
	}
	return LVC_OK;
}

lvc_err_t lvc_garch_standardize(const double *r, size_t n, const double *par, lvc_garch_init_t init,
                                double *z)
{
	lvc_err_t err = check_input(r, n, par, init);
	pass_out_t out = { NULL, NULL, z, 0.0, 0.0 };

	if (err != LVC_OK || z == NULL) {
		return err != LVC_OK ? err : LVC_ERR_INVALID;
	}
	if (isnan(garch_pass(r, n, par, init, &out))) {
		return LVC_ERR_INVALID;
	}
	return LVC_OK;
}

/* ---- the objective seen by the optimiser -------------------------------- */

typedef struct garch_ctx_s {
	const double *r; /* scaled returns */
	size_t n;
	int est_mean;
	double mu_fixed; /* scaled */
	lvc_garch_init_t init;
} garch_ctx_t;

/* Natural variables: (mu, omega, alpha, beta), or (omega, alpha, beta). */
static void natural_to_par(const garch_ctx_t *g, const double *x, double *par)
{
	size_t o = g->est_mean ? 1 : 0;

	par[LVC_GARCH_MU] = g->est_mean ? x[0] : g->mu_fixed;
	par[LVC_GARCH_OMEGA] = x[o];
	par[LVC_GARCH_ALPHA] = x[o + 1];
	par[LVC_GARCH_BETA] = x[o + 2];
}

static double obj_natural(const double *x, size_t n, void *ctx)
{
	const garch_ctx_t *g = ctx;
	double par[NPAR];

	(void)n;
	natural_to_par(g, x, par);
	return -garch_ll(g->r, g->n, par, g->init, NULL);
}

/* Transformed variables: (mu, ln omega, a, b) with (alpha, beta) =
 * (e^a, e^b) / (1 + e^a + e^b): every real vector is feasible. */
static void transformed_to_natural(const garch_ctx_t *g, const double *t, double *x)
{
	size_t o = g->est_mean ? 1 : 0;
	double a = t[o + 1], b = t[o + 2], m = fmax(0.0, fmax(a, b));
	double ea = exp(a - m), eb = exp(b - m), den = exp(-m) + ea + eb;

	if (g->est_mean) {
		x[0] = t[0];
	}
	x[o] = exp(t[o]);
	x[o + 1] = ea / den;
	x[o + 2] = eb / den;
}

static double obj_transformed(const double *t, size_t n, void *ctx)
{
	double x[NPAR];

	transformed_to_natural(ctx, t, x);
	return obj_natural(x, n, ctx);
}

/* ---- standard errors ------------------------------------------------------ */

/* Per-observation scores by central differences (one-sided next to a
 * bound) into scores[k * n], k = g->est_mean ? 4 : 3. c0, cp, cm: working
 * arrays of n doubles. */
static lvc_err_t scores_numeric(const garch_ctx_t *g, size_t k, const double *x, const double *typx,
                                double *scores, double *c0, double *cp, double *cm)
{
	const double rel = cbrt(DBL_EPSILON);
	double xp[NPAR], par[NPAR];

	natural_to_par(g, x, par);
	if (isnan(garch_ll(g->r, g->n, par, g->init, c0))) {
		return LVC_ERR_RANGE;
	}
	memcpy(xp, x, k * sizeof(double));
	for (size_t i = 0; i < k; i++) {
		double hstep = rel * fmax(fabs(x[i]), typx[i]), hp, hm;
		double *sc = scores + i * g->n;
		int okp, okm;

		xp[i] = x[i] + hstep;
		hp = xp[i] - x[i];
		natural_to_par(g, xp, par);
		okp = !isnan(garch_ll(g->r, g->n, par, g->init, cp));
		xp[i] = x[i] - hstep;
		hm = x[i] - xp[i];
		natural_to_par(g, xp, par);
		okm = !isnan(garch_ll(g->r, g->n, par, g->init, cm));
		xp[i] = x[i];
		for (size_t t = 0; t < g->n; t++) {
			if (okp && okm) {
				sc[t] = (cp[t] - cm[t]) / (hp + hm);
			} else if (okp) {
				sc[t] = (cp[t] - c0[t]) / hp;
			} else if (okm) {
				sc[t] = (c0[t] - cm[t]) / hm;
			} else {
				return LVC_ERR_RANGE;
			}
		}
	}
	return LVC_OK;
}

/* se_opg and se_robust from the scores and the inverse Hessian hinv (NULL
 * when unavailable: only se_opg). scale maps each variable to the caller's
 * units. */
static void opg_errors(const garch_ctx_t *g, size_t k, const double *scores, const double *hinv,
                       const size_t *idx, const double *scale, lvc_garch_fit_t *fit)
{
	double gm[NPAR * NPAR], ginv[NPAR * NPAR];

	for (size_t i = 0; i < k; i++) {
		for (size_t j = 0; j <= i; j++) {
			lvc_ksum_t acc = { 0.0, 0.0 };

			for (size_t t = 0; t < g->n; t++) {
				lvc_ksum_add(&acc, scores[i * g->n + t] * scores[j * g->n + t]);
			}
			gm[i * k + j] = lvc_ksum_get(&acc);
			gm[j * k + i] = gm[i * k + j];
		}
	}
	if (lvc_optim_spd_inverse(k, gm, ginv) == LVC_OK) {
		for (size_t i = 0; i < k; i++) {
			fit->se_opg[idx[i]] = scale[i] * sqrt(ginv[i * k + i]);
		}
	}
	if (hinv != NULL) {
		/* Sandwich: H^-1 G H^-1. */
		for (size_t i = 0; i < k; i++) {
			double v = 0.0;

			for (size_t a = 0; a < k; a++) {
				for (size_t b = 0; b < k; b++) {
					v += hinv[i * k + a] * gm[a * k + b] * hinv[b * k + i];
				}
			}
			fit->se_robust[idx[i]] = v > 0.0 ? scale[i] * sqrt(v) : NAN;
		}
	}
}

/* ---- the fit ----------------------------------------------------------------- */

static void fit_reset(lvc_garch_fit_t *fit)
{
	memset(fit, 0, sizeof(*fit));
	for (int i = 0; i < NPAR; i++) {
		fit->par[i] = NAN;
		fit->se[i] = NAN;
		fit->se_opg[i] = NAN;
		fit->se_robust[i] = NAN;
		for (int j = 0; j < NPAR; j++) {
			fit->cov[i][j] = NAN;
		}
	}
	fit->loglik = NAN;
	fit->se_err = LVC_ERR_RANGE;
}

lvc_err_t lvc_garch_fit(const double *r, size_t n, const lvc_garch_opts_t *opts,
                        lvc_garch_fit_t *fit, char *errstr, size_t errstr_size)
{
	/* Starting (alpha, beta): moderate, typical daily, weak and
	 * near-integrated dynamics, so that one of them lies in the basin of
	 * the global maximum. */
	static const double starts[][2] = {
		{ 0.05, 0.90 }, { 0.10, 0.80 }, { 0.20, 0.50 }, { 0.03, 0.96 }
	};
	lvc_garch_opts_t o;
	garch_ctx_t g;
	double *rs = NULL, *scores = NULL, *work = NULL;
	double mean = 0.0, var = 0.0, s, mu0, var0 = 0.0, best_f = INFINITY;
	double x[NPAR], best_t[NPAR], best_step[NPAR], typx[NPAR], hess[NPAR * NPAR],
	    hinv[NPAR * NPAR];
	double scale[NPAR], par_s[NPAR], fx, ll_s, h_next_s, h_last_s;
	size_t k, idx[NPAR];
	int se_ok = 0, expo;
	lvc_optim_result_t res;
	lvc_err_t err = LVC_OK;

	if (fit == NULL || r == NULL) {
		snprintf(errstr, errstr_size, "garch: no returns or no result given");
		return LVC_ERR_INVALID;
	}
	fit_reset(fit);
	if (opts == NULL) {
		lvc_garch_opts_defaults(&o);
	} else {
		o = *opts;
	}
	if (!(o.gtol > 0.0) || o.max_evals <= 0 || !isfinite(o.mu_fixed) ||
	    (o.init != LVC_GARCH_INIT_PRESAMPLE && o.init != LVC_GARCH_INIT_H1)) {
		snprintf(errstr, errstr_size,
		         "garch: options gtol %g, max_evals %d, mu_fixed %g, init %d: allowed "
		         "gtol > 0, max_evals > 0, finite mu_fixed, init PRESAMPLE or H1",
		         o.gtol, o.max_evals, o.mu_fixed, (int)o.init);
		return LVC_ERR_INVALID;
	}
	if (n < MIN_N) {
		snprintf(errstr, errstr_size, "garch: %zu returns: at least %d are needed", n,
		         MIN_N);
		return LVC_ERR_RANGE;
	}
	for (size_t t = 0; t < n; t++) {
		if (!isfinite(r[t])) {
			snprintf(errstr, errstr_size, "garch: return %zu is %g: allowed finite", t,
			         r[t]);
			return LVC_ERR_INVALID;
		}
		mean += r[t];
	}
	mean /= (double)n;
	for (size_t t = 0; t < n; t++) {
		var += (r[t] - mean) * (r[t] - mean);
	}
	var /= (double)n;
	if (!(var > 0.0) || !isfinite(var)) {
		snprintf(errstr, errstr_size,
		         "garch: the %zu returns have variance %g: allowed > 0 and finite", n, var);
		return LVC_ERR_INVALID;
	}
	/* s = 2^(e-1) with sd = m 2^e, m in [0.5, 1): sd / s in [1, 2), and the
	 * division below is exact. */
	(void)frexp(sqrt(var), &expo);
	s = ldexp(1.0, expo - 1);

	rs = malloc(n * sizeof(double));
	if (rs == NULL) {
		err = LVC_ERR_NOMEM;
		snprintf(errstr, errstr_size, "garch: out of memory for %zu returns", n);
		goto exit;
	}
	for (size_t t = 0; t < n; t++) {
		rs[t] = r[t] / s;
	}
	g.r = rs;
	g.n = n;
	g.est_mean = o.estimate_mean != 0;
	g.mu_fixed = o.mu_fixed / s;
	g.init = o.init;
	k = g.est_mean ? 4 : 3;
	mu0 = g.est_mean ? mean / s : g.mu_fixed;
	for (size_t t = 0; t < n; t++) {
		var0 += (rs[t] - mu0) * (rs[t] - mu0);
	}
	var0 /= (double)n;

	/* Stage 1: Nelder-Mead on the transform from every start. */
	for (size_t si = 0; si < sizeof(starts) / sizeof(starts[0]); si++) {
		double a0 = starts[si][0], b0 = starts[si][1], rest = 1.0 - a0 - b0;
		double t0[NPAR], step[NPAR];
		size_t off = g.est_mean ? 1 : 0;

		if (g.est_mean) {
			t0[0] = mu0;
			step[0] = 0.1 * sqrt(var0);
		}
		t0[off] = log(var0 * rest);
		t0[off + 1] = log(a0 / rest);
		t0[off + 2] = log(b0 / rest);
		step[off] = 0.5;
		step[off + 1] = 0.5;
		step[off + 2] = 0.5;
		/* A loose search per start is enough to tell the basins apart. */
		if (lvc_optim_nelder_mead(obj_transformed, &g, k, t0, step, 1e-6, 1e-4, o.max_evals,
		                          &res) != LVC_OK) {
			continue;
		}
		fit->evaluations += res.evaluations;
		if (res.f < best_f) {
			best_f = res.f;
			memcpy(best_t, t0, k * sizeof(double));
			memcpy(best_step, step, k * sizeof(double));
		}
	}
	if (!isfinite(best_f)) {
		err = LVC_ERR_RANGE;
		snprintf(errstr, errstr_size, "garch: no starting point has a finite likelihood");
		goto exit;
	}
	/* Then a tight one from the best, with a smaller simplex. */
	for (size_t i = 0; i < k; i++) {
		best_step[i] *= 0.1;
	}
	if (lvc_optim_nelder_mead(obj_transformed, &g, k, best_t, best_step, 1e-10, 1e-8,
	                          o.max_evals, &res) == LVC_OK) {
		fit->evaluations += res.evaluations;
	}

	/* Stage 2: BFGS on the natural parameters. */
	transformed_to_natural(&g, best_t, x);
	{
		size_t off = g.est_mean ? 1 : 0;

		if (g.est_mean) {
			typx[0] = 0.1;
		}
		typx[off] = 1e-3;
		typx[off + 1] = 1e-2;
		typx[off + 2] = 1e-2;
	}
	if (lvc_optim_bfgs(obj_natural, &g, k, x, typx, o.gtol, 1000, &res) == LVC_OK) {
		fit->evaluations += res.evaluations;
		fit->converged = res.converged;
	}
	fx = obj_natural(x, k, &g);

	/* Stage 3: Newton steps on the numerical Hessian while they improve:
	 * near the optimum they take the result to the noise floor of the
	 * differences, and the same Hessian gives the standard errors. */
	for (int it = 0; it < 3; it++) {
		double grad[NPAR], xn[NPAR], fn;

		if (lvc_optim_hessian(obj_natural, &g, k, x, typx, hess) != LVC_OK ||
		    lvc_optim_spd_inverse(k, hess, hinv) != LVC_OK ||
		    lvc_optim_gradient(obj_natural, &g, k, x, fx, typx, grad) != LVC_OK) {
			break;
		}
		fit->evaluations += (int)(2 * k * k + 1 + 2 * k);
		for (size_t i = 0; i < k; i++) {
			xn[i] = x[i];
			for (size_t j = 0; j < k; j++) {
				xn[i] -= hinv[i * k + j] * grad[j];
			}
		}
		fn = obj_natural(xn, k, &g);
		fit->evaluations++;
		if (!(fn < fx)) {
			break;
		}
		memcpy(x, xn, k * sizeof(double));
		fx = fn;
	}
	{
		/* The gradient test at the final point: a Newton step may have
		 * finished what BFGS could not. */
		double grad[NPAR], m = 0.0;

		if (lvc_optim_gradient(obj_natural, &g, k, x, fx, typx, grad) == LVC_OK) {
			for (size_t i = 0; i < k; i++) {
				m = fmax(m, fabs(grad[i]) * fmax(fabs(x[i]), typx[i]));
			}
			fit->converged = fit->converged || m / fmax(fabs(fx), 1.0) <= o.gtol;
		}
	}

	natural_to_par(&g, x, par_s);
	{
		pass_out_t out = { NULL, NULL, NULL, 0.0, 0.0 };

		ll_s = garch_pass(rs, n, par_s, g.init, &out);
		h_last_s = out.h_last;
		h_next_s = out.h_next;
	}
	fit->par[LVC_GARCH_MU] = par_s[LVC_GARCH_MU] * s;
	fit->par[LVC_GARCH_OMEGA] = par_s[LVC_GARCH_OMEGA] * s * s;
	fit->par[LVC_GARCH_ALPHA] = par_s[LVC_GARCH_ALPHA];
	fit->par[LVC_GARCH_BETA] = par_s[LVC_GARCH_BETA];
	fit->loglik = ll_s - (double)n * log(s);
	fit->persistence = par_s[LVC_GARCH_ALPHA] + par_s[LVC_GARCH_BETA];
	fit->uncond_var = fit->par[LVC_GARCH_OMEGA] / (1.0 - fit->persistence);
	fit->h_last = h_last_s * s * s;
	fit->h_next = h_next_s * s * s;
	fit->n = n;
	fit->npar = (int)k;
	fit->init = g.init;
	fit->at_bound = par_s[LVC_GARCH_ALPHA] <= BOUND_EPS || par_s[LVC_GARCH_BETA] <= BOUND_EPS ||
	                1.0 - fit->persistence <= BOUND_EPS;

	/* Standard errors, mapped back to the caller's units. */
	{
		size_t off = g.est_mean ? 1 : 0;

		if (g.est_mean) {
			idx[0] = LVC_GARCH_MU;
			scale[0] = s;
		}
		idx[off] = LVC_GARCH_OMEGA;
		scale[off] = s * s;
		idx[off + 1] = LVC_GARCH_ALPHA;
		scale[off + 1] = 1.0;
		idx[off + 2] = LVC_GARCH_BETA;
		scale[off + 2] = 1.0;
	}
	if (!fit->at_bound && lvc_optim_hessian(obj_natural, &g, k, x, typx, hess) == LVC_OK &&
	    lvc_optim_spd_inverse(k, hess, hinv) == LVC_OK) {
		se_ok = 1;
		fit->se_err = LVC_OK;
		for (int i = 0; i < NPAR; i++) {
			for (int j = 0; j < NPAR; j++) {
				fit->cov[i][j] = 0.0;
			}
		}
		for (size_t i = 0; i < k; i++) {
			fit->se[idx[i]] = scale[i] * sqrt(hinv[i * k + i]);
			for (size_t j = 0; j < k; j++) {
				fit->cov[idx[i]][idx[j]] = scale[i] * scale[j] * hinv[i * k + j];
			}
		}
	}
	if (fit->at_bound) {
		/* On a bound the scores are one-sided and no sandwich applies. */
		goto exit;
	}
	scores = malloc(k * n * sizeof(double));
	work = malloc(3 * n * sizeof(double));
	if (scores == NULL || work == NULL) {
		err = LVC_ERR_NOMEM;
		snprintf(errstr, errstr_size, "garch: out of memory for the scores of %zu returns",
		         n);
		goto exit;
	}
	if (scores_numeric(&g, k, x, typx, scores, work, work + n, work + 2 * n) == LVC_OK) {
		opg_errors(&g, k, scores, se_ok ? hinv : NULL, idx, scale, fit);
	}
exit:
	free(work);
	free(scores);
	free(rs);
	return err;
}
