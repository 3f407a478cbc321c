/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Quantile functions of src/core/quantile.c against published tables and
 * closed forms, and the CDF round trip.
 *
 * Tables: the standard normal points 1.959964 (0.975), 2.326348 (0.99) and
 * 3.090232 (0.999), and the Student t critical values of the usual t table
 * (nu 3, 4, 5, 10, 30 at one-sided 0.95 ... 0.999; the NIST/SEMATECH
 * e-Handbook's table of critical values of Student's t lists them to 3
 * decimals, the values below are the same points to 6 decimals, as R's qt()
 * prints them), asserted to table precision.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "core/policy.h"

Test(quantile_normal, matches_the_published_points)
{
	cr_assert_float_eq(lvc_quantile_normal(0.975), 1.959964, 5e-7);
	cr_assert_float_eq(lvc_quantile_normal(0.99), 2.326348, 5e-7);
	cr_assert_float_eq(lvc_quantile_normal(0.999), 3.090232, 5e-7);
	cr_assert_float_eq(lvc_quantile_normal(0.95), 1.644854, 5e-7);
	/* Far tail (AS 241's third region): qnorm(1e-10) = -6.361341. */
	cr_assert_float_eq(lvc_quantile_normal(1e-10), -6.361341, 5e-7);
}

Test(quantile_normal, is_zero_at_one_half_and_odd_about_it)
{
	cr_assert_eq(lvc_quantile_normal(0.5), 0.0);
	for (double p = 0.001; p < 0.5; p += 0.0173) {
		cr_assert_float_eq(lvc_quantile_normal(1.0 - p), -lvc_quantile_normal(p), 1e-12,
		                   "p %g", p);
	}
}

Test(quantile_normal, round_trips_through_the_cdf_in_every_region)
{
	/* Tail probabilities from the central region into the far tail; the
	 * smaller tail is compared relatively, where the precision is. */
	static const double tails[] = { 0.5,  0.4,   0.3,   0.075, 0.07,  0.01,  1e-3,  1e-5,
		                        1e-8, 1e-11, 1e-12, 1e-15, 1e-20, 1e-50, 1e-100 };

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		double q = tails[i];
		double z = lvc_quantile_normal(q);

		/* An error e in z moves the tail by about z^2 e relatively. */
		double tol = 1e-14 * fmax(10.0, z * z);

		cr_assert(fabs(lvc_normal_cdf(z) - q) <= tol * q, "tail %g: Phi(%.17g) = %.17g", q,
		          z, lvc_normal_cdf(z));
		/* Upper side: Phi(-z(1 - q)) = q. */
		if (q >= 1e-15) {
			double zu = lvc_quantile_normal(1.0 - q);
			double want = 1.0 - (1.0 - q); /* the q that 1 - q holds */

			cr_assert(fabs(lvc_normal_cdf(-zu) - want) <= 1e-12 * want, "upper tail %g",
			          q);
		}
	}
}

Test(quantile_normal, is_infinite_at_the_ends_and_nan_outside)
{
	cr_assert(isinf(lvc_quantile_normal(0.0)) && lvc_quantile_normal(0.0) < 0);
	cr_assert(isinf(lvc_quantile_normal(1.0)) && lvc_quantile_normal(1.0) > 0);
	cr_assert(isnan(lvc_quantile_normal(-0.1)));
	cr_assert(isnan(lvc_quantile_normal(1.5)));
	cr_assert(isnan(lvc_quantile_normal(NAN)));
}

Test(normal_cdf, matches_known_values)
{
	cr_assert_float_eq(lvc_normal_cdf(0.0), 0.5, 1e-16);
	cr_assert_float_eq(lvc_normal_cdf(1.0), 0.841344746068543, 1e-15);
	cr_assert_float_eq(lvc_normal_cdf(-1.959964), 0.025, 1e-7);
	cr_assert_float_eq(lvc_normal_cdf(-3.0), 0.00134989803163009, 1e-17);
}

Test(quantile_student_t, matches_the_t_table)
{
	static const double ps[5] = { 0.95, 0.975, 0.99, 0.995, 0.999 };
	static const struct {
		double nu;
		double t[5];
	} table[] = {
		{ 3, { 2.353363, 3.182446, 4.540703, 5.840909, 10.214532 } },
		{ 4, { 2.131847, 2.776445, 3.746947, 4.604095, 7.173182 } },
		{ 5, { 2.015048, 2.570582, 3.364930, 4.032143, 5.893430 } },
		{ 10, { 1.812461, 2.228139, 2.763769, 3.169273, 4.143700 } },
		{ 30, { 1.697261, 2.042272, 2.457262, 2.749996, 3.385185 } },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		for (size_t j = 0; j < 5; j++) {
			double got = lvc_quantile_student_t(ps[j], table[i].nu);

			cr_assert(fabs(got - table[i].t[j]) <= 5e-7,
			          "nu %g p %g: got %.9f want %.6f", table[i].nu, ps[j], got,
			          table[i].t[j]);
			/* Odd about 0.5. */
			cr_assert_float_eq(lvc_quantile_student_t(1.0 - ps[j], table[i].nu), -got,
			                   1e-9);
		}
	}
}

Test(quantile_student_t, matches_the_closed_forms_for_one_and_two_degrees)
{
	/* nu = 1 (Cauchy): t = tan(pi (p - 1/2)); nu = 2: t = (2p - 1) /
	 * sqrt(2 p (1 - p)). */
	for (double p = 0.55; p < 0.9999; p += 0.0411) {
		double cauchy = tan(3.14159265358979323846 * (p - 0.5));
		double two = (2 * p - 1) / sqrt(2 * p * (1 - p));

		cr_assert(fabs(lvc_quantile_student_t(p, 1) - cauchy) <= 1e-12 * cauchy, "p %g", p);
		cr_assert(fabs(lvc_quantile_student_t(p, 2) - two) <= 1e-12 * two, "p %g", p);
	}
	cr_assert_float_eq(lvc_quantile_student_t(0.75, 1), 1.0, 1e-14);
}

Test(quantile_student_t, matches_r_for_non_integer_degrees_and_far_tails)
{
	/* R: qt(0.99, 2.5), qt(0.9999, 3.7), qt(1e-9, 6). */
	cr_assert_float_eq(lvc_quantile_student_t(0.99, 2.5), 5.35311117303089, 1e-11);
	cr_assert_float_eq(lvc_quantile_student_t(0.9999, 3.7), 14.7803964455355, 1e-10);
	cr_assert_float_eq(lvc_quantile_student_t(1e-9, 6), -56.8014306403632, 1e-9);
}

Test(quantile_student_t, round_trips_through_its_cdf)
{
	static const double nus[] = { 2.1, 2.5, 3, 4, 4.5, 7, 10, 30, 100, 1e4 };
	static const double ps[] = { 0.5001, 0.6, 0.9, 0.95, 0.99, 0.999, 0.99999, 1 - 1e-9 };

	for (size_t i = 0; i < sizeof(nus) / sizeof(nus[0]); i++) {
		for (size_t j = 0; j < sizeof(ps) / sizeof(ps[0]); j++) {
			double t = lvc_quantile_student_t(ps[j], nus[i]);
			double tail = 1.0 - ps[j];

			/* The upper tail at t, 1 - F(t) = F(-t), relative to it. */
			cr_assert(fabs(lvc_student_t_cdf(-t, nus[i]) - tail) <= 1e-11 * tail,
			          "nu %g p %.12g: t %.17g, F(-t) %.17g", nus[i], ps[j], t,
			          lvc_student_t_cdf(-t, nus[i]));
		}
	}
}

Test(quantile_student_t, tends_to_the_normal_for_many_degrees)
{
	cr_assert_float_eq(lvc_quantile_student_t(0.99, 1e8), lvc_quantile_normal(0.99), 1e-7);
	cr_assert_float_eq(lvc_student_t_cdf(1.0, 1e8), lvc_normal_cdf(1.0), 1e-8);
}

Test(quantile_student_t, scales_to_unit_variance)
{
	/* z_t(0.99, 4) = 3.746947 * sqrt(2 / 4). */
	cr_assert_float_eq(lvc_quantile_student_t_unit(0.99, 4), 3.746947 * sqrt(0.5), 5e-7);
	cr_assert_float_eq(lvc_quantile_student_t_unit(0.99, 4), 2.649492, 5e-7);
	cr_assert_float_eq(lvc_quantile_student_t_unit(0.975, 10), 2.228139 * sqrt(8.0 / 10.0),
	                   5e-7);
	/* No unit variance at nu <= 2. */
	cr_assert(isnan(lvc_quantile_student_t_unit(0.99, 2)));
	cr_assert(isnan(lvc_quantile_student_t_unit(0.99, 1.5)));
}

Test(quantile_student_t, is_nan_outside_its_domain)
{
	cr_assert(isnan(lvc_quantile_student_t(0.99, 0)));
	cr_assert(isnan(lvc_quantile_student_t(0.99, -3)));
	cr_assert(isnan(lvc_quantile_student_t(1.2, 4)));
	cr_assert(isnan(lvc_student_t_cdf(1.0, 0)));
	cr_assert_eq(lvc_quantile_student_t(0.5, 4), 0.0);
	cr_assert(isinf(lvc_quantile_student_t(1.0, 4)));
}
