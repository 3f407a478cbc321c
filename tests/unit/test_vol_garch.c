/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GARCH(1,1) filter of src/core/vol.c on the Bollerslev-Ghysels
 * DEM/GBP returns (../shared/data/dem2gbp.csv, the standard GARCH
 * benchmark): prices cumulated as the data README says (P_0 = 100,
 * P_t = P_(t-1) exp(r_t / 100)), one tick per day, bar_interval 1 day, and
 * the variance path compared with a slow recomputation straight from the
 * file's returns, h <- omega + alpha (r / 100)^2 + beta h in long double,
 * started at the prior. The parameters are the published maximum-likelihood
 * estimates converted from percent^2 to decimal^2 (omega 0.0107613e-4,
 * alpha 0.153134, beta 0.805974); the fit itself belongs to calibration.
 * The prior is the sample mean of the squared decimal returns, the usual
 * start of the recursion.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/params.h"
#include "core/vol.h"

#define DAY_US (INT64_C(86400) * INT64_C(1000000))

static size_t load_returns(double *r, size_t cap)
{
	FILE *f = fopen(LVC_SHARED_DATA_DIR "/dem2gbp.csv", "r");
	char line[128];
	size_t n = 0;

	cr_assert_not_null(f, "cannot open " LVC_SHARED_DATA_DIR "/dem2gbp.csv");
	cr_assert_not_null(fgets(line, sizeof(line), f)); /* "DEM2GBP" */
	while (fgets(line, sizeof(line), f) != NULL && n < cap) {
		char *end;

		r[n] = strtod(line, &end);
		cr_assert(end != line, "dem2gbp.csv line %zu", n + 2);
		n++;
	}
	fclose(f);
	return n;
}

Test(vol_garch, variance_path_on_dem2gbp_matches_a_slow_recomputation)
{
	double *r = calloc(4000, sizeof(*r));
	size_t n = load_returns(r, 4000);
	lvc_params_t all;
	lvc_vol_t *vol;
	long double h, mean_sq = 0;
	double prior, px = 100.0, worst = 0;
	const int64_t j0 = 5115; /* 1984-01-03 as days since the epoch */

	cr_assert_eq(n, 1974);
	for (size_t t = 0; t < n; t++) {
		mean_sq += (long double)(r[t] / 100) * (r[t] / 100);
	}
	mean_sq /= n;
	lvc_params_defaults(&all);
	all.vol.estimator = LVC_EST_GARCH;
	all.vol.sample_interval_us = DAY_US;
	all.vol.bar_interval_us = DAY_US;
	all.vol.window_us = 2 * DAY_US;
	all.vol.garch_omega = 0.0107613e-4;
	all.vol.garch_alpha = 0.153134;
	all.vol.garch_beta = 0.805974;
	prior = sqrt((double)mean_sq * all.vol.annualization_days);
	vol = lvc_vol_new(&all.vol, prior);
	cr_assert_not_null(vol);

	/* The slow path starts where the definition says: the prior per bar. */
	h = (long double)prior * prior / all.vol.annualization_days;
	lvc_vol_update(vol, j0 * DAY_US + DAY_US / 2, px); /* P_0: the seed bar */
	for (size_t t = 1; t <= n; t++) {
		double s;

		px *= exp(r[t - 1] / 100);
		lvc_vol_update(vol, (j0 + (int64_t)t) * DAY_US + DAY_US / 2, px);
		if (t >= 2) {
			/* The tick of day t completed bar t - 1, whose return is r_(t-1). */
			long double xp = (long double)r[t - 2] / 100;
			double rel;

			h = all.vol.garch_omega + all.vol.garch_alpha * xp * xp +
			    all.vol.garch_beta * h;
			s = lvc_vol_sigma_ann(vol);
			rel = fabs(s - sqrt((double)h * all.vol.annualization_days)) / s;
			cr_assert(rel <= 1e-9, "day %zu: ours %.17g, slow %.17g", t, s,
			          sqrt((double)h * all.vol.annualization_days));
			worst = fmax(worst, rel);
		}
	}
	/* One more tick completes the last bar. */
	lvc_vol_update(vol, (j0 + (int64_t)n + 1) * DAY_US + DAY_US / 2, px);
	{
		long double xl = (long double)r[n - 1] / 100;

		h = all.vol.garch_omega + all.vol.garch_alpha * xl * xl + all.vol.garch_beta * h;
		cr_assert(
		    fabs(lvc_vol_sigma_ann(vol) - sqrt((double)h * all.vol.annualization_days)) <=
		    1e-9 * lvc_vol_sigma_ann(vol));
	}
	/* The path moved away from the prior: this is not a constant. */
	cr_assert(fabs(lvc_vol_sigma_ann(vol) - prior) > 1e-3 * prior);
	fprintf(stderr, "garch on dem2gbp: %zu days, largest relative difference %.3g\n", n, worst);
	lvc_vol_destroy(vol);
	free(r);
}
