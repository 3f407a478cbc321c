/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small-dimension numerical optimisation for calibration: Nelder-Mead
 * simplex search, BFGS quasi-Newton with numerical gradients, Brent's
 * one-dimensional minimiser, central-difference gradient and Hessian, and
 * the inverse of a symmetric positive definite matrix (Cholesky).
 *
 * Every routine minimises. An objective returns +INFINITY (or NaN, treated
 * the same) outside its feasible region; the searches then back off, so a
 * constraint is expressed by the objective alone. Dimensions are at most
 * LVC_OPTIM_MAX_DIM and all working storage lives on the stack: nothing here
 * allocates. Matrices are n * n doubles, row-major. The routines keep no
 * state between calls and are safe to run from several threads on
 * different data.
 */
#ifndef LVC_CORE_OPTIM_H
#define LVC_CORE_OPTIM_H

#include <stddef.h>

#include "core/err.h"

#define LVC_OPTIM_MAX_DIM 8

/* Objective of n variables; ctx is the caller's, passed through. */
typedef double lvc_optim_fn(const double *x, size_t n, void *ctx);

/* Objective of one variable. */
typedef double lvc_optim_fn1(double x, void *ctx);

typedef struct lvc_optim_result_s {
	double f;        /* objective at the returned point */
	int iterations;  /* iterations of the method (simplex moves, BFGS steps) */
	int evaluations; /* objective calls */
	int converged;   /* 1: the tolerance was met; 0: the budget ran out first */
} lvc_optim_result_t;

/* Nelder-Mead simplex search with the dimension-adaptive coefficients of Gao
 * and Han (2012), restarted from the best vertex until a restart no longer
 * improves (the usual remedy for a collapsed simplex).
 * fn, ctx: the objective. n: 1..LVC_OPTIM_MAX_DIM. x: in, the start (must be
 * feasible); out, the best vertex. step: initial simplex edge per
 * coordinate (non-zero). Stops when the spread of the vertex values is at
 * most ftol * (1 + |f_best|) and every vertex lies within xtol * (1 +
 * |x_best_i|) of the best in every coordinate, or after max_evals calls.
 * res (may be NULL) receives the summary.
 * Returns LVC_OK (also when the budget ran out: see res->converged),
 * LVC_ERR_INVALID for bad arguments or an infeasible start. */
lvc_err_t lvc_optim_nelder_mead(lvc_optim_fn *fn, void *ctx, size_t n, double *x,
                                const double *step, double ftol, double xtol, int max_evals,
                                lvc_optim_result_t *res);

/* BFGS quasi-Newton minimisation with central-difference gradients and a
 * backtracking (Armijo) line search that also backs off infeasible points.
 * The initial inverse Hessian is the inverse of the numerical Hessian at x
 * when that is positive definite, else diag(typx^2). It is an
 * unconstrained method: it approaches a minimum on a constraint only as far
 * as its line search allows and stops there unconverged (search such
 * problems on a transformed space with Nelder-Mead first).
 * typx: typical magnitude of each variable (> 0), the floor of the
 * difference steps and of the convergence scaling. Converged when
 * max_i |g_i| max(|x_i|, typx_i) / max(|f|, 1) <= gtol (a scale-free
 * gradient test), or after max_iter steps. x: in the start (feasible), out
 * the result. Returns LVC_OK, LVC_ERR_INVALID for bad arguments or an
 * infeasible start. */
lvc_err_t lvc_optim_bfgs(lvc_optim_fn *fn, void *ctx, size_t n, double *x, const double *typx,
                         double gtol, int max_iter, lvc_optim_result_t *res);

/* Central-difference gradient of fn at x into g[0..n), steps
 * cbrt(DBL_EPSILON) * max(|x_i|, typx_i); falls back to a one-sided
 * difference where one side is infeasible. fx: fn(x), already known.
 * Returns LVC_ERR_RANGE when both sides of a coordinate are infeasible. */
lvc_err_t lvc_optim_gradient(lvc_optim_fn *fn, void *ctx, size_t n, const double *x, double fx,
                             const double *typx, double *g);

/* Central-difference Hessian of fn at x into hess[n * n] (symmetric), steps
 * DBL_EPSILON^(1/4) * max(|x_i|, typx_i): 2 n^2 + 1 calls. Returns
 * LVC_ERR_RANGE when a point within one step of x is infeasible (x on or
 * next to a constraint: the Hessian is then not a valid curvature). */
lvc_err_t lvc_optim_hessian(lvc_optim_fn *fn, void *ctx, size_t n, const double *x,
                            const double *typx, double *hess);

/* Inverse of the symmetric positive definite matrix a[n * n] into
 * inv[n * n] by Cholesky factorisation (a and inv may not alias). Returns
 * LVC_ERR_RANGE when a is not (numerically) positive definite. */
lvc_err_t lvc_optim_spd_inverse(size_t n, const double *a, double *inv);

/* Brent's minimiser (golden section with parabolic interpolation, Brent 1973
 * ch. 5) on [a, b], a < b, to an absolute x tolerance of tol + 3 eps |x|.
 * Writes the minimiser to *xmin and its value to *fmin. Finds a local
 * minimum: callers bracket the global one first (e.g. with a grid).
 * Returns LVC_OK or LVC_ERR_INVALID for bad arguments. */
lvc_err_t lvc_optim_brent(lvc_optim_fn1 *fn, void *ctx, double a, double b, double tol,
                          int max_iter, double *xmin, double *fmin, lvc_optim_result_t *res);

#endif
