/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The optimisers (core/optim.h) on functions with known minima: the
 * Rosenbrock valley, quadratics with a known Hessian, constrained problems
 * expressed as +inf outside the feasible set, and one-dimensional functions
 * for Brent.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "core/optim.h"

#define PI 3.14159265358979323846

static double rosenbrock(const double *x, size_t n, void *ctx)
{
	(void)n;
	(void)ctx;
	return 100.0 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]) + (1.0 - x[0]) * (1.0 - x[0]);
}

/* f(x) = 1/2 (x - c)' A (x - c) + 3 with A below (positive definite). */
static const double quad_a[16] = {
	4.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.3, 0.0, 0.1, 0.3, 1.0,
};
static const double quad_c[4] = { 1.0, -2.0, 0.5, 10.0 };

static double quadratic(const double *x, size_t n, void *ctx)
{
	double f = 0.0;

	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			f += 0.5 * (x[i] - quad_c[i]) * quad_a[i * 4 + j] * (x[j] - quad_c[j]);
		}
	}
	return f + 3.0;
}

/* (x - 2)^2 + (y + 1)^2 on the half-plane x < 1 (+inf outside). */
static double constrained(const double *x, size_t n, void *ctx)
{
	(void)n;
	(void)ctx;
	if (!(x[0] < 1.0)) {
		return INFINITY;
	}
	return (x[0] - 2.0) * (x[0] - 2.0) + (x[1] + 1.0) * (x[1] + 1.0);
}

Test(optim_nelder_mead, finds_the_rosenbrock_minimum)
{
	double x[2] = { -1.2, 1.0 }, step[2] = { 0.5, 0.5 };
	lvc_optim_result_t res;

	cr_assert_eq(lvc_optim_nelder_mead(rosenbrock, NULL, 2, x, step, 1e-14, 1e-10, 20000, &res),
	             LVC_OK);
	cr_assert(res.converged);
	cr_assert_lt(fabs(x[0] - 1.0), 1e-5, "x0 %.10f", x[0]);
	cr_assert_lt(fabs(x[1] - 1.0), 1e-5, "x1 %.10f", x[1]);
	cr_assert_lt(res.f, 1e-10);
}

Test(optim_nelder_mead, stays_inside_an_infinite_wall)
{
	double x[2] = { -3.0, 4.0 }, step[2] = { 1.0, 1.0 };
	lvc_optim_result_t res;

	cr_assert_eq(
	    lvc_optim_nelder_mead(constrained, NULL, 2, x, step, 1e-14, 1e-10, 20000, &res),
	    LVC_OK);
	cr_assert_lt(x[0], 1.0);
	cr_assert_gt(x[0], 1.0 - 1e-5, "x0 %.10f", x[0]);
	cr_assert_lt(fabs(x[1] + 1.0), 1e-5);
}

Test(optim_nelder_mead, rejects_an_infeasible_start_and_bad_arguments)
{
	double x[2] = { 2.0, 0.0 }, step[2] = { 1.0, 1.0 }, zero[2] = { 0.0, 1.0 };

	cr_assert_eq(lvc_optim_nelder_mead(constrained, NULL, 2, x, step, 1e-8, 1e-8, 100, NULL),
	             LVC_ERR_INVALID);
	x[0] = 0.0;
	cr_assert_eq(lvc_optim_nelder_mead(constrained, NULL, 2, x, zero, 1e-8, 1e-8, 100, NULL),
	             LVC_ERR_INVALID);
	cr_assert_eq(lvc_optim_nelder_mead(constrained, NULL, LVC_OPTIM_MAX_DIM + 1, x, step, 1e-8,
	                                   1e-8, 100, NULL),
	             LVC_ERR_INVALID);
}

Test(optim_bfgs, finds_the_rosenbrock_minimum_to_high_accuracy)
{
	double x[2] = { -1.2, 1.0 }, typx[2] = { 1.0, 1.0 };
	lvc_optim_result_t res;

	/* With f -> 0 the scale-free test is an absolute one, and the
	 * central differences are good to about f''' h^2 ~ 1e-8 here: a
	 * tolerance of 1e-7 is what numerical gradients can certify. */
	cr_assert_eq(lvc_optim_bfgs(rosenbrock, NULL, 2, x, typx, 1e-7, 1000, &res), LVC_OK);
	cr_assert(res.converged);
	cr_assert_lt(fabs(x[0] - 1.0), 1e-6, "x0 %.12f", x[0]);
	cr_assert_lt(fabs(x[1] - 1.0), 1e-6, "x1 %.12f", x[1]);
	cr_assert_lt(res.f, 1e-12);
}

Test(optim_bfgs, solves_a_quadratic_in_four_dimensions)
{
	double x[4] = { 0.0, 0.0, 0.0, 0.0 }, typx[4] = { 1.0, 1.0, 1.0, 1.0 };
	lvc_optim_result_t res;

	cr_assert_eq(lvc_optim_bfgs(quadratic, NULL, 4, x, typx, 1e-12, 200, &res), LVC_OK);
	cr_assert(res.converged);
	for (int i = 0; i < 4; i++) {
		cr_assert_lt(fabs(x[i] - quad_c[i]), 1e-8, "x%d %.12f", i, x[i]);
	}
	cr_assert_lt(fabs(res.f - 3.0), 1e-12);
}

Test(optim_bfgs, stops_at_a_constraint_without_crossing_it)
{
	double x[2] = { -3.0, 4.0 }, typx[2] = { 1.0, 1.0 }, f0 = constrained(x, 2, NULL);
	lvc_optim_result_t res;

	/* BFGS is an unconstrained method: it reaches the wall and stops
	 * there (not converged, the gradient is not zero), always feasible. */
	cr_assert_eq(lvc_optim_bfgs(constrained, NULL, 2, x, typx, 1e-10, 500, &res), LVC_OK);
	cr_assert_not(res.converged);
	cr_assert_lt(x[0], 1.0);
	cr_assert_gt(x[0], 0.99, "x0 %.10f", x[0]);
	cr_assert(isfinite(res.f));
	cr_assert_lt(res.f, f0);
	cr_assert_eq(res.f, constrained(x, 2, NULL));
}

Test(optim_derivatives, recover_the_gradient_and_hessian_of_a_quadratic)
{
	double x[4] = { 0.3, -1.0, 2.0, 7.0 }, typx[4] = { 1.0, 1.0, 1.0, 1.0 };
	double g[4], h[16];

	cr_assert_eq(lvc_optim_gradient(quadratic, NULL, 4, x, quadratic(x, 4, NULL), typx, g),
	             LVC_OK);
	cr_assert_eq(lvc_optim_hessian(quadratic, NULL, 4, x, typx, h), LVC_OK);
	for (int i = 0; i < 4; i++) {
		double gi = 0.0;

		for (int j = 0; j < 4; j++) {
			gi += quad_a[i * 4 + j] * (x[j] - quad_c[j]);
			cr_assert_lt(fabs(h[i * 4 + j] - quad_a[i * 4 + j]), 1e-6,
			             "H[%d][%d] %.10f", i, j, h[i * 4 + j]);
		}
		cr_assert_lt(fabs(g[i] - gi), 1e-8, "g[%d] %.12f vs %.12f", i, g[i], gi);
	}
}

Test(optim_derivatives, hessian_refuses_a_point_next_to_a_wall)
{
	double x[2] = { 1.0 - 1e-7, 0.0 }, typx[2] = { 1.0, 1.0 }, h[4], g[2];

	cr_assert_eq(lvc_optim_hessian(constrained, NULL, 2, x, typx, h), LVC_ERR_RANGE);
	/* The gradient falls back to a one-sided difference instead. */
	cr_assert_eq(lvc_optim_gradient(constrained, NULL, 2, x, constrained(x, 2, NULL), typx, g),
	             LVC_OK);
	cr_assert_lt(fabs(g[0] - 2.0 * (x[0] - 2.0)), 1e-4, "g0 %.8f", g[0]);
}

Test(optim_spd_inverse, inverts_and_detects_indefinite_matrices)
{
	double inv[16], bad[4] = { 1.0, 2.0, 2.0, 1.0 }, sing[4] = { 1.0, 1.0, 1.0, 1.0 };

	cr_assert_eq(lvc_optim_spd_inverse(4, quad_a, inv), LVC_OK);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 4; j++) {
			double p = 0.0;

			for (int k = 0; k < 4; k++) {
				p += quad_a[i * 4 + k] * inv[k * 4 + j];
			}
			cr_assert_lt(fabs(p - (i == j ? 1.0 : 0.0)), 1e-13, "(A A^-1)[%d][%d]", i,
			             j);
		}
	}
	cr_assert_eq(lvc_optim_spd_inverse(2, bad, inv), LVC_ERR_RANGE);
	cr_assert_eq(lvc_optim_spd_inverse(2, sing, inv), LVC_ERR_RANGE);
}

static double parabola(double x, void *ctx)
{
	(void)ctx;
	return (x - 2.0) * (x - 2.0) + 1.0;
}

static double cosine(double x, void *ctx)
{
	(void)ctx;
	return cos(x);
}

/* |x - 0.7|: a kink, where parabolic steps do not help and golden section
 * must carry the search. */
static double kink(double x, void *ctx)
{
	(void)ctx;
	return fabs(x - 0.7);
}

Test(optim_brent, finds_one_dimensional_minima)
{
	double x, f;
	lvc_optim_result_t res;

	cr_assert_eq(lvc_optim_brent(parabola, NULL, 0.0, 5.0, 1e-10, 100, &x, &f, &res), LVC_OK);
	cr_assert(res.converged);
	cr_assert_lt(fabs(x - 2.0), 1e-8);
	cr_assert_lt(fabs(f - 1.0), 1e-15);
	cr_assert_eq(lvc_optim_brent(cosine, NULL, 3.0, 4.0, 1e-10, 100, &x, &f, &res), LVC_OK);
	cr_assert_lt(fabs(x - PI), 1e-8, "x %.12f", x);
	cr_assert_eq(lvc_optim_brent(kink, NULL, 0.0, 3.0, 1e-10, 200, &x, &f, &res), LVC_OK);
	cr_assert_lt(fabs(x - 0.7), 1e-8, "x %.12f", x);
	/* A monotone function: the minimum is the end of the interval. */
	cr_assert_eq(lvc_optim_brent(parabola, NULL, 3.0, 4.0, 1e-10, 100, &x, &f, &res), LVC_OK);
	cr_assert_lt(fabs(x - 3.0), 1e-8, "x %.12f", x);
	cr_assert_eq(lvc_optim_brent(parabola, NULL, 4.0, 3.0, 1e-10, 100, &x, &f, &res),
	             LVC_ERR_INVALID);
}
