/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EWMA half-life by maximum likelihood (core/calib.h): recovery on a process
 * whose true variance forecast is an EWMA (IGARCH with omega = 0), agreement
 * with a brute-force fine grid on simulated data and on the DEM/GBP returns,
 * and the loss curve returned for the report.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/calib.h"
#include "test_rng.h"

#define LN2     0.69314718055994530942
#define DAY_US  INT64_C(86400000000)
#define SIM_N   4000
#define N_SEEDS 20

/* IGARCH(1,1) with omega = 0: r_t = sqrt(v_t) z_t, v_(t+1) = lambda v_t +
 * (1 - lambda) r_t^2. Its one-step forecast is exactly the EWMA. */
static void simulate_igarch(rng_t *g, double lambda, double v0, double *r, size_t n)
{
	double v = v0;

	for (size_t t = 0; t < n; t++) {
		r[t] = sqrt(v) * rng_normal(g);
		v = lambda * v + (1.0 - lambda) * r[t] * r[t];
	}
}

static double *read_dem2gbp(size_t *n)
{
	FILE *f = fopen(LVC_SHARED_DATA_DIR "/dem2gbp.csv", "r");
	char line[128];
	double *r = malloc(4096 * sizeof(double));

	cr_assert_not_null(f);
	cr_assert_not_null(r);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	*n = 0;
	while (*n < 4096 && fgets(line, sizeof(line), f) != NULL) {
		r[(*n)++] = strtod(line, NULL);
	}
	fclose(f);
	cr_assert_eq(*n, 1974);
	return r;
}

/* The argmax of the loss over `points` log-spaced half-lives in [lo, hi]. */
static double brute_force(const double *r, size_t n, double init_var, double lo, double hi,
                          int points, double *best_ll)
{
	double best_h = NAN;

	*best_ll = -INFINITY;
	for (int k = 0; k < points; k++) {
		double h = exp(log(lo) + (log(hi) - log(lo)) * k / (points - 1)), ll;

		cr_assert_eq(lvc_ewma_loglik(r, n, exp(-LN2 / h), init_var, 0, &ll), LVC_OK);
		if (ll > *best_ll) {
			*best_ll = ll;
			best_h = h;
		}
	}
	return best_h;
}

Test(ewma_fit, recovers_the_half_life_of_an_igarch_process)
{
	const double lambda = 0.97, true_hl = LN2 / -log(lambda); /* 22.76 intervals */
	double *r = malloc(SIM_N * sizeof(double)), worst = 0.0;
	int within = 0;

	cr_assert_not_null(r);
	for (int seed = 1; seed <= N_SEEDS; seed++) {
		rng_t g = { UINT64_C(7777) * (uint64_t)seed };
		lvc_ewma_fit_t fit;
		char errstr[256] = "";
		double zscore;

		simulate_igarch(&g, lambda, 1e-4, r, SIM_N);
		cr_assert_eq(lvc_ewma_fit(r, SIM_N, 1000000, NULL, &fit, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_not(fit.at_bound);
		cr_assert(isfinite(fit.se_log_half_life));
		cr_assert_eq(fit.half_life_us, llround(fit.half_life_n * 1e6));
		cr_assert_lt(fabs(fit.lambda - exp(-LN2 / fit.half_life_n)), 1e-15);
		zscore = (log(fit.half_life_n) - log(true_hl)) / fit.se_log_half_life;
		worst = fmax(worst, fabs(zscore));
		if (fabs(zscore) <= 2.0) {
			within++;
		}
	}
	fprintf(stderr,
	        "EWMA recovery (IGARCH lambda %.2f, half-life %.2f intervals), %d seeds of n=%d: "
	        "within 2 se in %d, worst |z| %.2f\n",
	        lambda, true_hl, N_SEEDS, SIM_N, within, worst);
	cr_assert_geq(within, 16);
	free(r);
}

Test(ewma_fit, agrees_with_a_brute_force_grid_on_simulated_data)
{
	double *r = malloc(SIM_N * sizeof(double)), ll_brute, h_brute;
	rng_t g = { 99 };
	lvc_ewma_fit_t fit;
	char errstr[256] = "";

	cr_assert_not_null(r);
	simulate_igarch(&g, 0.99, 1e-4, r, SIM_N);
	cr_assert_eq(lvc_ewma_fit(r, SIM_N, 1000000, NULL, &fit, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	h_brute = brute_force(r, SIM_N, fit.init_var, 1.0, SIM_N, 20001, &ll_brute);
	fprintf(stderr, "EWMA simulated: half-life %.4f (brute force %.4f), logL %.6f (%.6f)\n",
	        fit.half_life_n, h_brute, fit.loglik, ll_brute);
	cr_assert_geq(fit.loglik, ll_brute - 1e-9);
	/* The grid spacing is ln(4000) / 20000 = 4e-4 in ln half-life. */
	cr_assert_lt(fabs(log(fit.half_life_n) - log(h_brute)), 1e-3);
	free(r);
}

Test(ewma_fit, agrees_with_a_brute_force_grid_on_dem2gbp)
{
	size_t n;
	double *r = read_dem2gbp(&n), ll_brute, h_brute;
	lvc_ewma_fit_t fit;
	char errstr[256] = "";

	cr_assert_eq(lvc_ewma_fit(r, n, DAY_US, NULL, &fit, errstr, sizeof(errstr)), LVC_OK, "%s",
	             errstr);
	h_brute = brute_force(r, n, fit.init_var, 1.0, (double)n, 20001, &ll_brute);
	fprintf(stderr,
	        "EWMA dem2gbp: half-life %.4f days (brute force %.4f), lambda %.6f, logL %.6f "
	        "(%.6f), se(ln hl) %.3f\n",
	        fit.half_life_n, h_brute, fit.lambda, fit.loglik, ll_brute, fit.se_log_half_life);
	cr_assert_geq(fit.loglik, ll_brute - 1e-9);
	cr_assert_lt(fabs(log(fit.half_life_n) - log(h_brute)), 1e-3);
	cr_assert_eq(fit.half_life_us, llround(fit.half_life_n * (double)DAY_US));
	free(r);
}

Test(ewma_fit, returns_the_loss_curve_on_a_log_spaced_grid)
{
	size_t n;
	double *r = read_dem2gbp(&n);
	lvc_ewma_opts_t o;
	lvc_ewma_fit_t fit;
	char errstr[256] = "";

	lvc_ewma_opts_defaults(&o);
	o.min_half_life_n = 2.0;
	o.max_half_life_n = 500.0;
	o.grid_n = 25;
	cr_assert_eq(lvc_ewma_fit(r, n, DAY_US, &o, &fit, errstr, sizeof(errstr)), LVC_OK, "%s",
	             errstr);
	cr_assert_eq(fit.grid_n, 25);
	cr_assert_lt(fabs(fit.grid_half_life_n[0] - 2.0), 1e-12);
	cr_assert_lt(fabs(fit.grid_half_life_n[24] - 500.0), 1e-9);
	for (size_t k = 0; k < fit.grid_n; k++) {
		double ll;

		if (k > 0) {
			/* Equal steps in ln half-life. */
			cr_assert_lt(
			    fabs(log(fit.grid_half_life_n[k] / fit.grid_half_life_n[k - 1]) -
			         log(250.0) / 24.0),
			    1e-12);
		}
		cr_assert_eq(lvc_ewma_loglik(r, n, exp(-LN2 / fit.grid_half_life_n[k]),
		                             fit.init_var, 0, &ll),
		             LVC_OK);
		cr_assert_lt(fabs(ll - fit.grid_loglik[k]), 1e-9);
		cr_assert_geq(fit.loglik, fit.grid_loglik[k]);
	}
	free(r);
}

Test(ewma_loglik, follows_the_spec_recursion)
{
	/* v_1 = 2; v_2 = 0.5 * 2 + 0.5 * 1 = 1.5; v_3 = 0.5 * 1.5 + 0.5 * 4 =
	 * 2.75. L = -1/2 sum (ln 2 pi + ln v_t + r_t^2 / v_t). */
	const double r[3] = { 1.0, -2.0, 0.5 }, v[3] = { 2.0, 1.5, 2.75 };
	double ll, ref = 0.0, ll_skip;

	for (int t = 0; t < 3; t++) {
		ref += -0.5 * (log(2.0 * 3.14159265358979323846) + log(v[t]) + r[t] * r[t] / v[t]);
	}
	cr_assert_eq(lvc_ewma_loglik(r, 3, 0.5, 2.0, 0, &ll), LVC_OK);
	cr_assert_lt(fabs(ll - ref), 1e-15);
	/* skip drops the first terms from the sum, not from the recursion. */
	cr_assert_eq(lvc_ewma_loglik(r, 3, 0.5, 2.0, 2, &ll_skip), LVC_OK);
	cr_assert_lt(
	    fabs(ll_skip - (-0.5 * (log(2.0 * 3.14159265358979323846) + log(2.75) + 0.25 / 2.75))),
	    1e-15);
	cr_assert_eq(lvc_ewma_loglik(r, 3, 0.0, 2.0, 0, &ll), LVC_ERR_INVALID);
	cr_assert_eq(lvc_ewma_loglik(r, 3, 0.5, 0.0, 0, &ll), LVC_ERR_INVALID);
	cr_assert_eq(lvc_ewma_loglik(r, 3, 0.5, 1.0, 3, &ll), LVC_ERR_INVALID);
}

Test(ewma_fit, prefers_a_long_half_life_for_constant_variance)
{
	double *r = malloc(SIM_N * sizeof(double));
	rng_t g = { 5 };
	lvc_ewma_fit_t fit;
	char errstr[256] = "";

	cr_assert_not_null(r);
	for (size_t t = 0; t < SIM_N; t++) {
		r[t] = 0.02 * rng_normal(&g);
	}
	cr_assert_eq(lvc_ewma_fit(r, SIM_N, 1000000, NULL, &fit, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	fprintf(stderr, "EWMA on white noise: half-life %.1f intervals, at_bound %d\n",
	        fit.half_life_n, fit.at_bound);
	/* Any short memory only adds noise to the forecast. */
	cr_assert_gt(fit.half_life_n, 200.0);
	free(r);
}

Test(ewma_fit, survives_runs_of_zero_returns)
{
	double *r = calloc(SIM_N, sizeof(double));
	rng_t g = { 11 };
	lvc_ewma_fit_t fit;
	char errstr[256] = "";

	cr_assert_not_null(r);
	/* A quiet market: nine intervals in ten without a trade. */
	for (size_t t = 0; t < SIM_N; t += 10) {
		r[t] = 0.01 * rng_normal(&g);
	}
	cr_assert_eq(lvc_ewma_fit(r, SIM_N, 1000000, NULL, &fit, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_assert(isfinite(fit.loglik));
	cr_assert(isfinite(fit.half_life_n));
	/* A half-life shorter than the gaps forgets the level between trades. */
	cr_assert_gt(fit.half_life_n, 10.0);
	free(r);
}

Test(ewma_fit, rejects_bad_arguments_with_a_message)
{
	double r[20] = { 0.0 };
	lvc_ewma_fit_t fit;
	lvc_ewma_opts_t o;
	char errstr[256];

	cr_assert_eq(lvc_ewma_fit(r, 20, 1000000, NULL, &fit, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "ewma: initial variance 0 (all returns zero?): allowed > 0 and "
	                         "finite");
	r[3] = 1.0;
	cr_assert_eq(lvc_ewma_fit(r, 5, 1000000, NULL, &fit, errstr, sizeof(errstr)),
	             LVC_ERR_RANGE);
	cr_assert_eq(lvc_ewma_fit(r, 20, 0, NULL, &fit, errstr, sizeof(errstr)), LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "ewma: interval 0 us: allowed > 0");
	lvc_ewma_opts_defaults(&o);
	o.grid_n = LVC_EWMA_GRID_MAX + 1;
	cr_assert_eq(lvc_ewma_fit(r, 20, 1000000, &o, &fit, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
}
