/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Numerical optimisation for calibration (see optim.h): Nelder-Mead, BFGS
 * with numerical derivatives, Brent's minimiser, finite-difference gradient
 * and Hessian, and a Cholesky inverse.
 *
 * Invariants: all minimise; a non-finite objective value means "outside the
 * feasible region" and is never accepted as an improvement; every vector
 * and matrix is on the stack, bounded by LVC_OPTIM_MAX_DIM, so nothing
 * allocates. Load: calibration only (a fit calls the objective a few
 * thousand times); nothing here is on the per-tick path.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/optim.h"

#define MAXN LVC_OPTIM_MAX_DIM

/* Wraps the objective to count calls and to map NaN to +inf. */
typedef struct counted_s {
	lvc_optim_fn *fn;
	void *ctx;
	size_t n;
	int evals;
} counted_t;

static double eval(counted_t *c, const double *x)
{
	double f = c->fn(x, c->n, c->ctx);

	c->evals++;
	return isnan(f) ? INFINITY : f;
}

static double scale_of(double x, const double *typx, size_t i)
{
	double t = typx != NULL ? typx[i] : 1.0;

	return fmax(fabs(x), t);
}

/* ---- Nelder-Mead ---------------------------------------------------- */

typedef struct simplex_s {
	size_t n;
	double v[MAXN + 1][MAXN];
	double f[MAXN + 1];
} simplex_t;

static void simplex_sort(simplex_t *s)
{
	/* Insertion sort of n + 1 <= 9 vertices, best first. */
	for (size_t i = 1; i <= s->n; i++) {
		double fv = s->f[i], v[MAXN];
		size_t j = i;

		memcpy(v, s->v[i], sizeof(v));
		while (j > 0 && s->f[j - 1] > fv) {
			s->f[j] = s->f[j - 1];
			memcpy(s->v[j], s->v[j - 1], sizeof(v));
			j--;
		}
		s->f[j] = fv;
		memcpy(s->v[j], v, sizeof(v));
	}
}

/* Builds the simplex around x0 (value f0). A vertex that is infeasible is
 * tried on the other side, then at half the distance, so that a start next
 * to a constraint still gets a full-dimensional simplex. */
static void simplex_init(simplex_t *s, counted_t *c, const double *x0, double f0,
                         const double *step)
{
	size_t n = s->n;

	memcpy(s->v[0], x0, n * sizeof(double));
	s->f[0] = f0;
	for (size_t i = 1; i <= n; i++) {
		double h = step[i - 1];

		for (int tries = 0; tries < 40; tries++) {
			memcpy(s->v[i], x0, n * sizeof(double));
			s->v[i][i - 1] += h;
			s->f[i] = eval(c, s->v[i]);
			if (isfinite(s->f[i])) {
				break;
			}
			h = (tries % 2 == 0) ? -h : -0.5 * h;
		}
	}
}

static int simplex_converged(const simplex_t *s, double ftol, double xtol)
{
	size_t n = s->n;

	if (!(s->f[n] - s->f[0] <= ftol * (1.0 + fabs(s->f[0])))) {
		return 0;
	}
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (fabs(s->v[i][j] - s->v[0][j]) > xtol * (1.0 + fabs(s->v[0][j]))) {
				return 0;
			}
		}
	}
	return 1;
}

/* One run of the simplex method from x0; returns 1 when converged. */
static int nm_run(counted_t *c, size_t n, double *x, double *fx, const double *step, double ftol,
                  double xtol, int max_evals, int *iters)
{
	simplex_t s;
	double ca, cb, cg, cd; /* reflection, expansion, contraction, shrink */

	s.n = n;
	if (n >= 2) {
		ca = 1.0;
		cb = 1.0 + 2.0 / (double)n;
		cg = 0.75 - 1.0 / (2.0 * (double)n);
		cd = 1.0 - 1.0 / (double)n;
	} else {
		ca = 1.0;
		cb = 2.0;
		cg = 0.5;
		cd = 0.5;
	}
	simplex_init(&s, c, x, *fx, step);
	for (;;) {
		double xo[MAXN], xr[MAXN], xe[MAXN], xc[MAXN], fr, fe, fc;
		int shrink = 0;

		simplex_sort(&s);
		if (simplex_converged(&s, ftol, xtol)) {
			memcpy(x, s.v[0], n * sizeof(double));
			*fx = s.f[0];
			return 1;
		}
		if (c->evals >= max_evals) {
			memcpy(x, s.v[0], n * sizeof(double));
			*fx = s.f[0];
			return 0;
		}
		(*iters)++;
		for (size_t j = 0; j < n; j++) {
			xo[j] = 0.0;
			for (size_t i = 0; i < n; i++) {
				xo[j] += s.v[i][j];
			}
			xo[j] /= (double)n;
			xr[j] = xo[j] + ca * (xo[j] - s.v[n][j]);
		}
		fr = eval(c, xr);
		if (fr < s.f[0]) {
			for (size_t j = 0; j < n; j++) {
				xe[j] = xo[j] + cb * (xr[j] - xo[j]);
			}
			fe = eval(c, xe);
			if (fe < fr) {
				memcpy(s.v[n], xe, n * sizeof(double));
				s.f[n] = fe;
			} else {
				memcpy(s.v[n], xr, n * sizeof(double));
				s.f[n] = fr;
			}
		} else if (fr < s.f[n - 1]) {
			memcpy(s.v[n], xr, n * sizeof(double));
			s.f[n] = fr;
		} else if (fr < s.f[n]) {
			/* Outside contraction, towards the reflected point. */
			for (size_t j = 0; j < n; j++) {
				xc[j] = xo[j] + cg * (xr[j] - xo[j]);
			}
			fc = eval(c, xc);
			if (fc <= fr) {
				memcpy(s.v[n], xc, n * sizeof(double));
				s.f[n] = fc;
			} else {
				shrink = 1;
			}
		} else {
			/* Inside contraction, towards the worst point. */
			for (size_t j = 0; j < n; j++) {
				xc[j] = xo[j] + cg * (s.v[n][j] - xo[j]);
			}
			fc = eval(c, xc);
			if (fc < s.f[n]) {
				memcpy(s.v[n], xc, n * sizeof(double));
				s.f[n] = fc;
			} else {
				shrink = 1;
			}
		}
		if (shrink) {
			for (size_t i = 1; i <= n; i++) {
				for (size_t j = 0; j < n; j++) {
					s.v[i][j] = s.v[0][j] + cd * (s.v[i][j] - s.v[0][j]);
				}
				s.f[i] = eval(c, s.v[i]);
			}
		}
	}
}

lvc_err_t lvc_optim_nelder_mead(lvc_optim_fn *fn, void *ctx, size_t n, double *x,
                                const double *step, double ftol, double xtol, int max_evals,
                                lvc_optim_result_t *res)
{
	counted_t c = { fn, ctx, n, 0 };
	double fx;
	int iters = 0, converged = 0;

	if (fn == NULL || x == NULL || step == NULL || n == 0 || n > MAXN || max_evals <= 0) {
		return LVC_ERR_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(step[i] != 0.0) || !isfinite(step[i]) || !isfinite(x[i])) {
			return LVC_ERR_INVALID;
		}
	}
	fx = eval(&c, x);
	if (!isfinite(fx)) {
		return LVC_ERR_INVALID;
	}
	/* Restart from the best vertex with the original steps until a run no
	 * longer improves on its start: a simplex that collapsed onto a
	 * subspace is rebuilt full-dimensional. */
	for (int restart = 0; restart < 10 && c.evals < max_evals; restart++) {
		double f0 = fx;

		converged = nm_run(&c, n, x, &fx, step, ftol, xtol, max_evals, &iters);
		if (!converged || !(f0 - fx > ftol * (1.0 + fabs(fx)))) {
			break;
		}
	}
	if (res != NULL) {
		res->f = fx;
		res->iterations = iters;
		res->evaluations = c.evals;
		res->converged = converged;
	}
	return LVC_OK;
}

/* ---- derivatives ---------------------------------------------------- */

static lvc_err_t gradient_counted(counted_t *c, const double *x, double fx, const double *typx,
                                  double *g)
{
	const double rel = cbrt(DBL_EPSILON);
	size_t n = c->n;
	double xp[MAXN];

	memcpy(xp, x, n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double h = rel * scale_of(x[i], typx, i), fp, fm, hp, hm;

		/* The step is made exactly representable so that the divisor is
		 * the step actually taken. */
		xp[i] = x[i] + h;
		hp = xp[i] - x[i];
		fp = eval(c, xp);
		xp[i] = x[i] - h;
		hm = x[i] - xp[i];
		fm = eval(c, xp);
		xp[i] = x[i];
		if (isfinite(fp) && isfinite(fm)) {
			g[i] = (fp - fm) / (hp + hm);
		} else if (isfinite(fp)) {
			g[i] = (fp - fx) / hp;
		} else if (isfinite(fm)) {
			g[i] = (fx - fm) / hm;
		} else {
			return LVC_ERR_RANGE;
		}
	}
	return LVC_OK;
}

lvc_err_t lvc_optim_gradient(lvc_optim_fn *fn, void *ctx, size_t n, const double *x, double fx,
                             const double *typx, double *g)
{
	counted_t c = { fn, ctx, n, 0 };

	if (fn == NULL || x == NULL || g == NULL || n == 0 || n > MAXN) {
		return LVC_ERR_INVALID;
	}
	return gradient_counted(&c, x, fx, typx, g);
}

static lvc_err_t hessian_counted(counted_t *c, const double *x, const double *typx, double *hess)
{
	const double rel = pow(DBL_EPSILON, 0.25);
	size_t n = c->n;
	double h[MAXN], xp[MAXN], f0;

	f0 = eval(c, x);
	if (!isfinite(f0)) {
		return LVC_ERR_RANGE;
	}
	memcpy(xp, x, n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		volatile double t = x[i] + rel * scale_of(x[i], typx, i);

		h[i] = t - x[i];
	}
	for (size_t i = 0; i < n; i++) {
		double fp, fm;

		xp[i] = x[i] + h[i];
		fp = eval(c, xp);
		xp[i] = x[i] - h[i];
		fm = eval(c, xp);
		xp[i] = x[i];
		if (!isfinite(fp) || !isfinite(fm)) {
			return LVC_ERR_RANGE;
		}
		hess[i * n + i] = (fp - 2.0 * f0 + fm) / (h[i] * h[i]);
		for (size_t j = 0; j < i; j++) {
			double fpp, fpm, fmp, fmm;

			xp[i] = x[i] + h[i];
			xp[j] = x[j] + h[j];
			fpp = eval(c, xp);
			xp[j] = x[j] - h[j];
			fpm = eval(c, xp);
			xp[i] = x[i] - h[i];
			fmm = eval(c, xp);
			xp[j] = x[j] + h[j];
			fmp = eval(c, xp);
			xp[i] = x[i];
			xp[j] = x[j];
			if (!isfinite(fpp) || !isfinite(fpm) || !isfinite(fmp) || !isfinite(fmm)) {
				return LVC_ERR_RANGE;
			}
			hess[i * n + j] = (fpp - fpm - fmp + fmm) / (4.0 * h[i] * h[j]);
			hess[j * n + i] = hess[i * n + j];
		}
	}
	return LVC_OK;
}

lvc_err_t lvc_optim_hessian(lvc_optim_fn *fn, void *ctx, size_t n, const double *x,
                            const double *typx, double *hess)
{
	counted_t c = { fn, ctx, n, 0 };

	if (fn == NULL || x == NULL || hess == NULL || n == 0 || n > MAXN) {
		return LVC_ERR_INVALID;
	}
	return hessian_counted(&c, x, typx, hess);
}

lvc_err_t lvc_optim_spd_inverse(size_t n, const double *a, double *inv)
{
	double l[MAXN * MAXN], y[MAXN];

	if (a == NULL || inv == NULL || n == 0 || n > MAXN) {
		return LVC_ERR_INVALID;
	}
	/* a = L L^T. A pivot that is not clearly positive relative to the
	 * diagonal it came from means a is not positive definite in floating
	 * point (a singular or indefinite Hessian: no standard errors). */
	memset(l, 0, sizeof(l));
	for (size_t j = 0; j < n; j++) {
		double d = a[j * n + j];

		for (size_t k = 0; k < j; k++) {
			d -= l[j * n + k] * l[j * n + k];
		}
		if (!(d > 1e-14 * fabs(a[j * n + j])) || !isfinite(d)) {
			return LVC_ERR_RANGE;
		}
		l[j * n + j] = sqrt(d);
		for (size_t i = j + 1; i < n; i++) {
			double s = a[i * n + j];

			for (size_t k = 0; k < j; k++) {
				s -= l[i * n + k] * l[j * n + k];
			}
			l[i * n + j] = s / l[j * n + j];
		}
	}
	/* Column c of the inverse solves L L^T x = e_c. */
	for (size_t c = 0; c < n; c++) {
		for (size_t i = 0; i < n; i++) {
			double s = (i == c) ? 1.0 : 0.0;

			for (size_t k = 0; k < i; k++) {
				s -= l[i * n + k] * y[k];
			}
			y[i] = s / l[i * n + i];
		}
		for (size_t ii = n; ii-- > 0;) {
			double s = y[ii];

			for (size_t k = ii + 1; k < n; k++) {
				s -= l[k * n + ii] * inv[k * n + c];
			}
			inv[ii * n + c] = s / l[ii * n + ii];
		}
	}
	/* Symmetrise the rounding. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			double m = 0.5 * (inv[i * n + j] + inv[j * n + i]);

			inv[i * n + j] = m;
			inv[j * n + i] = m;
		}
	}
	return LVC_OK;
}

/* ---- BFGS ------------------------------------------------------------ */

static double grad_test(size_t n, const double *g, const double *x, const double *typx, double f)
{
	double m = 0.0;

	for (size_t i = 0; i < n; i++) {
		m = fmax(m, fabs(g[i]) * scale_of(x[i], typx, i));
	}
	return m / fmax(fabs(f), 1.0);
}

static void diag_inverse(size_t n, const double *x, const double *typx, double *hinv)
{
	memset(hinv, 0, n * n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double s = scale_of(x[i], typx, i);

		hinv[i * n + i] = s * s;
	}
}

lvc_err_t lvc_optim_bfgs(lvc_optim_fn *fn, void *ctx, size_t n, double *x, const double *typx,
                         double gtol, int max_iter, lvc_optim_result_t *res)
{
	counted_t c = { fn, ctx, n, 0 };
	double hinv[MAXN * MAXN], hess[MAXN * MAXN], g[MAXN], fx;
	int iters = 0, converged = 0, fresh = 0; /* fresh: hinv is the diagonal, untried */
	lvc_err_t err = LVC_OK;

	if (fn == NULL || x == NULL || typx == NULL || n == 0 || n > MAXN || max_iter < 0) {
		return LVC_ERR_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(typx[i] > 0.0) || !isfinite(x[i])) {
			return LVC_ERR_INVALID;
		}
	}
	fx = eval(&c, x);
	if (!isfinite(fx)) {
		return LVC_ERR_INVALID;
	}
	if (hessian_counted(&c, x, typx, hess) != LVC_OK ||
	    lvc_optim_spd_inverse(n, hess, hinv) != LVC_OK) {
		diag_inverse(n, x, typx, hinv);
		fresh = 1;
	}
	err = gradient_counted(&c, x, fx, typx, g);
	if (err != LVC_OK) {
		goto exit;
	}
	while (iters < max_iter) {
		double d[MAXN], xn[MAXN], gn[MAXN], s[MAXN], y[MAXN], hy[MAXN];
		double slope = 0.0, t = 1.0, fn_new = INFINITY, sy = 0.0, yhy = 0.0;
		int accepted = 0, tiny_step = 1;

		if (grad_test(n, g, x, typx, fx) <= gtol) {
			converged = 1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			d[i] = 0.0;
			for (size_t j = 0; j < n; j++) {
				d[i] -= hinv[i * n + j] * g[j];
			}
			slope += g[i] * d[i];
		}
		if (!(slope < 0.0)) {
			/* Not a descent direction: the approximation went bad. */
			if (fresh) {
				break;
			}
			diag_inverse(n, x, typx, hinv);
			fresh = 1;
			continue;
		}
		for (int k = 0; k < 60; k++) {
			for (size_t i = 0; i < n; i++) {
				xn[i] = x[i] + t * d[i];
			}
			fn_new = eval(&c, xn);
			if (isfinite(fn_new) && fn_new <= fx + 1e-4 * t * slope) {
				accepted = 1;
				break;
			}
			t *= 0.5;
		}
		if (!accepted) {
			/* The line search found no decrease: either the inverse
			 * Hessian is poor (retry once from the diagonal), or x is
			 * at the optimum to within the noise of the differences. */
			if (fresh) {
				break;
			}
			diag_inverse(n, x, typx, hinv);
			fresh = 1;
			continue;
		}
		iters++;
		err = gradient_counted(&c, xn, fn_new, typx, gn);
		if (err != LVC_OK) {
			goto exit;
		}
		for (size_t i = 0; i < n; i++) {
			s[i] = xn[i] - x[i];
			y[i] = gn[i] - g[i];
			sy += s[i] * y[i];
			if (fabs(s[i]) > 4.0 * DBL_EPSILON * scale_of(x[i], typx, i)) {
				tiny_step = 0;
			}
		}
		memcpy(x, xn, n * sizeof(double));
		memcpy(g, gn, n * sizeof(double));
		fx = fn_new;
		fresh = 0;
		if (tiny_step) {
			converged = grad_test(n, g, x, typx, fx) <= gtol;
			break;
		}
		if (!(sy > 0.0)) {
			/* Curvature condition fails (noise or non-convexity): skip the
			 * update rather than lose positive definiteness. */
			continue;
		}
		/* H <- H + (sy + y'Hy) ss'/sy^2 - (Hy s' + s y'H)/sy. */
		for (size_t i = 0; i < n; i++) {
			hy[i] = 0.0;
			for (size_t j = 0; j < n; j++) {
				hy[i] += hinv[i * n + j] * y[j];
			}
			yhy += y[i] * hy[i];
		}
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < n; j++) {
				hinv[i * n + j] += (sy + yhy) * s[i] * s[j] / (sy * sy) -
				                   (hy[i] * s[j] + s[i] * hy[j]) / sy;
			}
		}
	}
	if (!converged) {
		converged = grad_test(n, g, x, typx, fx) <= gtol;
	}
exit:
	if (res != NULL) {
		res->f = fx;
		res->iterations = iters;
		res->evaluations = c.evals;
		res->converged = converged;
	}
	return err;
}

/* ---- Brent ----------------------------------------------------------- */

lvc_err_t lvc_optim_brent(lvc_optim_fn1 *fn, void *ctx, double a, double b, double tol,
                          int max_iter, double *xmin, double *fmin, lvc_optim_result_t *res)
{
	const double cgold = 0.5 * (3.0 - sqrt(5.0)); /* 0.381966: golden section */
	double x, w, v, fx, fw, fv, d = 0.0, e = 0.0;
	int iters = 0, evals = 0, converged = 0;

	if (fn == NULL || xmin == NULL || fmin == NULL || !(a < b) || !isfinite(a) ||
	    !isfinite(b) || !(tol > 0.0) || max_iter <= 0) {
		return LVC_ERR_INVALID;
	}
	/* x: best so far; w: second best; v: previous w; the minimum lies in
	 * [a, b] throughout. */
	x = w = v = a + cgold * (b - a);
	fx = fn(x, ctx);
	evals++;
	if (isnan(fx)) {
		fx = INFINITY;
	}
	fw = fv = fx;
	for (; iters < max_iter; iters++) {
		double m = 0.5 * (a + b), tol1 = tol + 3.0 * DBL_EPSILON * fabs(x),
		       tol2 = 2.0 * tol1;
		double u, fu;
		int golden = 1;

		if (fabs(x - m) <= tol2 - 0.5 * (b - a)) {
			converged = 1;
			break;
		}
		if (fabs(e) > tol1) {
			/* Fit a parabola through x, w, v. */
			double r = (x - w) * (fx - fv), q = (x - v) * (fx - fw), p;

			p = (x - v) * q - (x - w) * r;
			q = 2.0 * (q - r);
			if (q > 0.0) {
				p = -p;
			} else {
				q = -q;
			}
			r = e;
			e = d;
			/* Accept the parabolic step only when it falls inside the
			 * interval and moves less than half the step before last. */
			if (fabs(p) < fabs(0.5 * q * r) && p > q * (a - x) && p < q * (b - x)) {
				d = p / q;
				u = x + d;
				if (u - a < tol2 || b - u < tol2) {
					d = (x < m) ? tol1 : -tol1;
				}
				golden = 0;
			}
		}
		if (golden) {
			e = (x < m) ? b - x : a - x;
			d = cgold * e;
		}
		u = (fabs(d) >= tol1) ? x + d : x + (d > 0.0 ? tol1 : -tol1);
		fu = fn(u, ctx);
		evals++;
		if (isnan(fu)) {
			fu = INFINITY;
		}
		if (fu <= fx) {
			if (u < x) {
				b = x;
			} else {
				a = x;
			}
			v = w;
			fv = fw;
			w = x;
			fw = fx;
			x = u;
			fx = fu;
		} else {
			if (u < x) {
				a = u;
			} else {
				b = u;
			}
			if (fu <= fw || w == x) {
				v = w;
				fv = fw;
				w = u;
				fw = fu;
			} else if (fu <= fv || v == x || v == w) {
				v = u;
				fv = fu;
			}
		}
	}
	*xmin = x;
	*fmin = fx;
	if (res != NULL) {
		res->f = fx;
		res->iterations = iters;
		res->evaluations = evals;
		res->converged = converged;
	}
	return LVC_OK;
}
