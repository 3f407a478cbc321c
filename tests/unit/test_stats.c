/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Special functions (core/stats.h) against closed forms, published
 * chi-square tables and an independent implementation (libm's lgamma,
 * erf, erfc; single-threaded here, so lgamma's global signgam is harmless).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "core/stats.h"

#define LN_PI 1.14472988584940017414

static double rel_err(double x, double ref)
{
	return fabs(x - ref) / fmax(fabs(ref), 1e-300);
}

Test(stats_lgamma, matches_log_factorials_and_half_integers)
{
	double lf = 0.0; /* ln((k-1)!) */

	cr_assert_lt(fabs(lvc_stats_lgamma(1.0)), 1e-15);
	cr_assert_lt(fabs(lvc_stats_lgamma(2.0)), 1e-15);
	cr_assert_lt(fabs(lvc_stats_lgamma(0.5) - 0.5 * LN_PI), 1e-15);
	/* Gamma(3/2) = sqrt(pi) / 2. */
	cr_assert_lt(fabs(lvc_stats_lgamma(1.5) - (0.5 * LN_PI - log(2.0))), 1e-15);
	for (int k = 2; k <= 60; k++) {
		lf += log((double)(k - 1));
		cr_assert_lt(rel_err(lvc_stats_lgamma((double)k), lf), 1e-14,
		             "k=%d: %.17g vs %.17g", k, lvc_stats_lgamma((double)k), lf);
	}
}

Test(stats_lgamma, agrees_with_libm_over_six_decades)
{
	double worst_abs = 0.0, worst_rel = 0.0;

	for (double x = 1e-3; x < 1e6; x *= 1.01) {
		double ref = lgamma(x), got = lvc_stats_lgamma(x);

		if (x < 3.0) {
			worst_abs = fmax(worst_abs, fabs(got - ref));
		} else {
			worst_rel = fmax(worst_rel, rel_err(got, ref));
		}
	}
	fprintf(stderr,
	        "lgamma vs libm: max abs error %.3g on (0, 3), max rel error %.3g on [3, 1e6)\n",
	        worst_abs, worst_rel);
	cr_assert_lt(worst_abs, 1e-14);
	cr_assert_lt(worst_rel, 1e-14);
}

Test(stats_lgamma, is_nan_outside_its_domain)
{
	cr_assert(isnan(lvc_stats_lgamma(0.0)));
	cr_assert(isnan(lvc_stats_lgamma(-1.5)));
	cr_assert(isnan(lvc_stats_lgamma(NAN)));
	/* Tiny x: ln Gamma(x) = -ln x - euler_gamma x + O(x^2). */
	cr_assert_lt(rel_err(lvc_stats_lgamma(1e-10), -log(1e-10) - 0.5772156649015329e-10), 1e-14);
}

Test(stats_gamma, matches_closed_forms)
{
	for (double x = 0.01; x < 60.0; x *= 1.3) {
		double p1 = lvc_stats_gamma_p(1.0, x), q1 = lvc_stats_gamma_q(1.0, x);
		double ph = lvc_stats_gamma_p(0.5, x), qh = lvc_stats_gamma_q(0.5, x);
		/* Q(5, x) = e^-x sum_{k<5} x^k / k!. */
		double q5 =
		    exp(-x) * (1.0 + x + x * x / 2.0 + x * x * x / 6.0 + x * x * x * x / 24.0);

		cr_assert_lt(rel_err(p1, -expm1(-x)), 1e-13, "P(1, %g)", x);
		cr_assert_lt(rel_err(q1, exp(-x)), 1e-13, "Q(1, %g)", x);
		cr_assert_lt(rel_err(ph, erf(sqrt(x))), 1e-13, "P(1/2, %g)", x);
		cr_assert_lt(rel_err(qh, erfc(sqrt(x))), 1e-12, "Q(1/2, %g)", x);
		cr_assert_lt(rel_err(lvc_stats_gamma_q(5.0, x), q5), 1e-12, "Q(5, %g)", x);
		cr_assert_lt(fabs(lvc_stats_gamma_p(5.0, x) + lvc_stats_gamma_q(5.0, x) - 1.0),
		             1e-14);
	}
	cr_assert_eq(lvc_stats_gamma_p(2.0, 0.0), 0.0);
	cr_assert_eq(lvc_stats_gamma_q(2.0, 0.0), 1.0);
	cr_assert(isnan(lvc_stats_gamma_p(0.0, 1.0)));
	cr_assert(isnan(lvc_stats_gamma_q(1.0, -1.0)));
}

/* Upper critical values of the chi-square distribution, as printed (three
 * decimals) in the NIST/SEMATECH e-Handbook of Statistical Methods, section
 * 1.3.6.7.4, for P = 0.95 and 0.99. A value rounded to 5e-4 moves the CDF by
 * at most pdf(x) * 5e-4 < 3e-5 for these rows. */
Test(stats_chi2, matches_published_critical_values)
{
	static const struct {
		double df, x95, x99;
	} tab[] = {
		{ 1, 3.841, 6.635 },    { 2, 5.991, 9.210 },    { 3, 7.815, 11.345 },
		{ 5, 11.070, 15.086 },  { 10, 18.307, 23.209 }, { 20, 31.410, 37.566 },
		{ 30, 43.773, 50.892 }, { 50, 67.505, 76.154 }, { 100, 124.342, 135.807 },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		cr_assert_lt(fabs(lvc_stats_chi2_cdf(tab[i].x95, tab[i].df) - 0.95), 3e-5, "df %g",
		             tab[i].df);
		cr_assert_lt(fabs(lvc_stats_chi2_cdf(tab[i].x99, tab[i].df) - 0.99), 3e-5, "df %g",
		             tab[i].df);
		cr_assert_lt(fabs(lvc_stats_chi2_sf(tab[i].x95, tab[i].df) - 0.05), 3e-5);
	}
}

Test(stats_chi2, is_exact_where_closed_forms_exist)
{
	/* df 1: chi2 = Z^2, so the 0.95 point is 1.959963984540054^2. df 2:
	 * CDF = 1 - exp(-x / 2), so the 0.95 point is -2 ln 0.05. */
	cr_assert_lt(fabs(lvc_stats_chi2_cdf(1.959963984540054 * 1.959963984540054, 1.0) - 0.95),
	             1e-14);
	cr_assert_lt(fabs(lvc_stats_chi2_cdf(-2.0 * log(0.05), 2.0) - 0.95), 1e-14);
	for (double x = 0.1; x < 400.0; x *= 1.5) {
		cr_assert_lt(rel_err(lvc_stats_chi2_sf(x, 2.0), exp(-x / 2.0)), 1e-12, "x %g", x);
		cr_assert_lt(rel_err(lvc_stats_chi2_sf(x, 1.0), erfc(sqrt(x / 2.0))), 1e-11, "x %g",
		             x);
	}
	cr_assert_eq(lvc_stats_chi2_cdf(-1.0, 3.0), 0.0);
	cr_assert_eq(lvc_stats_chi2_sf(0.0, 3.0), 1.0);
	cr_assert(isnan(lvc_stats_chi2_cdf(1.0, 0.0)));
}

/* Simpson's rule of exp(logpdf(z)) * z^k over [-L, L]. */
static double t_moment(double nu, int k, double lim, int m)
{
	double h = 2.0 * lim / m, s = 0.0;

	for (int i = 0; i <= m; i++) {
		double z = -lim + h * i, w = (i == 0 || i == m) ? 1.0 : (i % 2 ? 4.0 : 2.0);

		s += w * exp(lvc_stats_t_unit_logpdf(z, nu)) * pow(z, k);
	}
	return s * h / 3.0;
}

Test(stats_student_t, unit_variance_density_integrates_to_one_with_variance_one)
{
	static const double nus[] = { 5.0, 8.0, 30.0 };

	for (size_t i = 0; i < 3; i++) {
		double mass = t_moment(nus[i], 0, 300.0, 600000);
		double var = t_moment(nus[i], 2, 300.0, 600000);

		/* The tail beyond 300 holds O(300^-nu) of the mass and
		 * O(300^(2-nu)) of the variance: below 1e-6 for nu >= 5. */
		cr_assert_lt(fabs(mass - 1.0), 1e-9, "nu %g: mass %.12f", nus[i], mass);
		cr_assert_lt(fabs(var - 1.0), 2e-6, "nu %g: variance %.12f", nus[i], var);
	}
}

Test(stats_student_t, matches_the_closed_form_for_three_degrees_of_freedom)
{
	/* t_3 density 2 / (pi sqrt(3) (1 + x^2/3)^2); unit variance: z = x /
	 * sqrt(3), f(z) = sqrt(3) t_3(sqrt(3) z) = 2 / (pi (1 + z^2)^2). */
	for (double z = -20.0; z <= 20.0; z += 0.37) {
		double ref = log(2.0) - LN_PI - 2.0 * log1p(z * z);

		cr_assert_lt(fabs(lvc_stats_t_unit_logpdf(z, 3.0) - ref), 1e-13, "z %g", z);
	}
}

Test(stats_student_t, tends_to_the_normal_for_large_nu)
{
	for (double z = -4.0; z <= 4.0; z += 0.5) {
		cr_assert_lt(fabs(lvc_stats_t_unit_logpdf(z, 1e7) - lvc_stats_normal_logpdf(z)),
		             1e-5, "z %g", z);
	}
	cr_assert(isnan(lvc_stats_t_unit_logpdf(0.0, 2.0)));
	cr_assert(isnan(lvc_stats_t_unit_logpdf(NAN, 5.0)));
}
