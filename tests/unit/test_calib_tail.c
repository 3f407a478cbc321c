/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Student-t degrees of freedom from standardized returns (core/calib.h),
 * and the one-instrument entry point that chains GARCH, EWMA and nu.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/calib.h"
#include "core/stats.h"
#include "test_rng.h"

#define SIM_N   4000
#define N_SEEDS 10

/* Unit-variance Student-t draw for integer nu: Z / sqrt(chi2_nu / nu),
 * scaled by sqrt((nu - 2) / nu). */
static double rng_t_unit(rng_t *g, int nu)
{
	double c = 0.0, z = rng_normal(g);

	for (int k = 0; k < nu; k++) {
		double x = rng_normal(g);

		c += x * x;
	}
	return z / sqrt(c / nu) * sqrt((nu - 2.0) / nu);
}

/*
 * Tolerance. The estimator is asymptotically normal in u = ln(nu - 2) with
 * the standard error the fit reports (the curvature of the likelihood); in
 * u the sampling distribution is close to symmetric, while in nu it is
 * skewed to the right (a long upper tail for nu = 10). So the check is
 * |u_hat - u| <= 2 se_u, which holds with probability 0.95: at least 8 of
 * 10 seeds per nu (the chance of 3 or more misses is 1.2% per nu). And the
 * reported se_u must describe the real spread: the standard deviation of
 * u_hat over the seeds lies within a factor 2 of the mean se_u (with 10
 * seeds the sample standard deviation is itself uncertain by about 25%).
 */
Test(t_fit, recovers_nu_of_simulated_t_draws)
{
	static const int nus[] = { 4, 6, 10 };
	double *z = malloc(SIM_N * sizeof(double));

	cr_assert_not_null(z);
	for (size_t a = 0; a < sizeof(nus) / sizeof(nus[0]); a++) {
		int nu = nus[a], within = 0;
		double u_true = log(nu - 2.0), su = 0.0, su2 = 0.0, se_mean = 0.0, nu_mean = 0.0;

		for (int seed = 1; seed <= N_SEEDS; seed++) {
			rng_t g = { UINT64_C(99991) * (uint64_t)seed + (uint64_t)nu };
			lvc_t_fit_t fit;
			char errstr[256] = "";
			double u;

			for (size_t t = 0; t < SIM_N; t++) {
				z[t] = rng_t_unit(&g, nu);
			}
			cr_assert_eq(lvc_t_fit(z, SIM_N, &fit, errstr, sizeof(errstr)), LVC_OK,
			             "%s", errstr);
			cr_assert_not(fit.at_bound);
			cr_assert_gt(fit.loglik, fit.loglik_normal);
			u = log(fit.nu - 2.0);
			if (fabs(u - u_true) <= 2.0 * fit.se_log_nu_m2) {
				within++;
			}
			su += u;
			su2 += u * u;
			se_mean += fit.se_log_nu_m2;
			nu_mean += fit.nu;
		}
		{
			double mean = su / N_SEEDS;
			double sd = sqrt((su2 - N_SEEDS * mean * mean) / (N_SEEDS - 1));

			se_mean /= N_SEEDS;
			nu_mean /= N_SEEDS;
			fprintf(stderr,
			        "t recovery nu=%d, %d seeds of n=%d: mean nu %.3f, within 2 se %d, "
			        "sd(ln(nu-2)) "
			        "%.3f vs mean se %.3f\n",
			        nu, N_SEEDS, SIM_N, nu_mean, within, sd, se_mean);
			cr_expect_geq(within, 8, "nu %d: %d of %d", nu, within, N_SEEDS);
			cr_expect_lt(sd, 2.0 * se_mean, "nu %d", nu);
			cr_expect_gt(sd, 0.5 * se_mean, "nu %d", nu);
		}
	}
	free(z);
}

Test(t_fit, finds_light_tails_in_normal_data)
{
	double *z = malloc(SIM_N * sizeof(double));
	rng_t g = { 3 };
	lvc_t_fit_t fit;
	char errstr[256] = "";

	cr_assert_not_null(z);
	for (size_t t = 0; t < SIM_N; t++) {
		z[t] = rng_normal(&g);
	}
	cr_assert_eq(lvc_t_fit(z, SIM_N, &fit, errstr, sizeof(errstr)), LVC_OK, "%s", errstr);
	fprintf(stderr, "t fit on normal data: nu %.1f (at_bound %d)\n", fit.nu, fit.at_bound);
	cr_assert_gt(fit.nu, 20.0);
	cr_assert_lt(fabs(fit.z_var - 1.0), 0.1);
	free(z);
}

Test(t_loglik, is_the_sum_of_unit_variance_log_densities)
{
	const double z[5] = { -2.5, -0.3, 0.0, 1.1, 4.0 };
	double ll, ref = 0.0;

	for (int t = 0; t < 5; t++) {
		ref += lvc_stats_t_unit_logpdf(z[t], 5.5);
	}
	cr_assert_eq(lvc_t_loglik(z, 5, 5.5, &ll), LVC_OK);
	cr_assert_lt(fabs(ll - ref), 1e-13);
	cr_assert_eq(lvc_t_loglik(z, 5, 2.0, &ll), LVC_ERR_INVALID);
}

Test(t_fit, rejects_too_few_residuals)
{
	double z[49] = { 0.0 };
	lvc_t_fit_t fit;
	char errstr[256];

	cr_assert_eq(lvc_t_fit(z, 49, &fit, errstr, sizeof(errstr)), LVC_ERR_RANGE);
	cr_assert_str_eq(errstr, "student_t: 49 residuals: at least 50 are needed");
}

Test(calib_returns, fits_every_model_of_one_instrument)
{
	FILE *f = fopen(LVC_SHARED_DATA_DIR "/dem2gbp.csv", "r");
	char line[128], errstr[256] = "";
	double *r = malloc(4096 * sizeof(double));
	size_t n = 0;
	lvc_calib_result_t res;

	cr_assert_not_null(f);
	cr_assert_not_null(r);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	while (n < 4096 && fgets(line, sizeof(line), f) != NULL) {
		r[n++] = strtod(line, NULL);
	}
	fclose(f);
	cr_assert_eq(
	    lvc_calib_returns(r, n, INT64_C(86400000000), NULL, &res, errstr, sizeof(errstr)),
	    LVC_OK, "%s", errstr);
	cr_assert_eq(res.garch_err, LVC_OK);
	cr_assert_eq(res.ewma_err, LVC_OK);
	cr_assert_eq(res.tail_err, LVC_OK);
	fprintf(stderr,
	        "dem2gbp, all models: GARCH alpha %.4f beta %.4f; EWMA half-life %.2f days; t nu "
	        "%.2f (se %.2f), z variance %.4f, logL t %.2f vs normal %.2f\n",
	        res.garch.par[LVC_GARCH_ALPHA], res.garch.par[LVC_GARCH_BETA], res.ewma.half_life_n,
	        res.tail.nu, res.tail.se_nu, res.tail.z_var, res.tail.loglik,
	        res.tail.loglik_normal);
	cr_assert_lt(fabs(res.garch.par[LVC_GARCH_ALPHA] - 0.153134), 1e-5);
	/* Daily FX returns are fat-tailed even after GARCH filtering. */
	cr_assert_gt(res.tail.nu, 3.0);
	cr_assert_lt(res.tail.nu, 8.0);
	cr_assert_gt(res.tail.loglik, res.tail.loglik_normal + 10.0);
	cr_assert_lt(fabs(res.tail.z_var - 1.0), 0.05);
	/* Too few returns: each model reports its own error. */
	cr_assert_eq(
	    lvc_calib_returns(r, 20, INT64_C(86400000000), NULL, &res, errstr, sizeof(errstr)),
	    LVC_ERR_RANGE);
	cr_assert_eq(res.garch_err, LVC_ERR_RANGE);
	cr_assert_eq(res.ewma_err, LVC_OK);
	cr_assert_eq(res.tail_err, LVC_ERR_STATE);
	free(r);
}
