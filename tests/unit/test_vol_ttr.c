/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Range estimators and close-to-close against R TTR volatility(), the usual
 * outside reference, on TTR's own sample data (../shared/data/ttrc.csv,
 * 5,550 daily OHLC rows). The reference values were computed once by
 * tests/data/ttr/make_reference.R (TTR 0.24.3, n = 20, N = 260) and are
 * committed as tests/data/ttr/ttrc_volatility_n20_N260.csv: R is not needed
 * here.
 *
 * Mapping TTR's conventions onto ours:
 * - Bars: row i of the file is bar j0 + i of bar_interval 1 day, consecutive
 *   (a trading-day clock: TTR ignores calendar gaps, so weekends are not
 *   empty bars here). Its O, H, L, C are fed as four ticks at j B + 1 us,
 *   + 2 us, + 3 us and exactly (j + 1) B, the bar's end, which belongs to bar
 *   j by our rule ts <= t_k. The bar completes with the next row's open, so
 *   the value for row i is read after that tick (and one extra tick follows
 *   the last row).
 * - N scaling: TTR returns sqrt(N * variance per row). Ours is sqrt(variance
 *   per second * annualization_days * 86400) with variance per second =
 *   variance per bar / 86400, so annualization_days = N = 260 makes them the
 *   same number.
 * - Denominators: TTR's runSum(x, n) / n is our mean over the window's bars
 *   (parkinson, garman_klass, rogers_satchell); its runVar / runSD are
 *   sample variances (n - 1), as are ours (close, yang_zhang's overnight
 *   and open-to-close terms). yang_zhang's k = 0.34 / (1.34 + (n+1)/(n-1))
 *   with n = 20 in both.
 * - close: TTR uses runSD(ROC(C), n - 1), i.e. n - 1 = 19 returns; our close
 *   over a window of N bars uses N returns (each bar against the previous
 *   close), so the close config has a window of 19 bars, the others 20.
 * - Overnight: TTR's ln(O_t / C_(t-1)) with C_(t-1) the previous row is our
 *   ln(O / previous bar's close) because rows are consecutive bars.
 * - Start: row 0 is our seed bar (no previous close), excluded from every
 *   bar estimator, so our window first holds 20 real bars at row 20 (close:
 *   19 at row 19); TTR's parkinson and friends start at row 19 using row 0.
 *   Rows before our window is full are not compared; all later rows are.
 * - TTR computes returns as log(C_t) - log(C_(t-1)) and runSum as a running
 *   sum; we use log(C_t / C_(t-1)) and exact window sums. Both differences
 *   are far below 1e-9 relative on this data (the test prints the largest).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/vol.h"

#define DAY_US (INT64_C(86400) * INT64_C(1000000))
#define NROWS  5550

typedef struct row_s {
	double o, h, l, c;
	double ref[5]; /* close, parkinson, garman_klass, rogers_satchell, yang_zhang */
	int has[5];
} row_t;

static const lvc_estimator_t ests[5] = { LVC_EST_CLOSE, LVC_EST_PARKINSON, LVC_EST_GARMAN_KLASS,
	                                 LVC_EST_ROGERS_SATCHELL, LVC_EST_YANG_ZHANG };

static size_t load(row_t *rows)
{
	FILE *f = fopen(LVC_SHARED_DATA_DIR "/ttrc.csv", "r");
	FILE *g = fopen(LVC_DATA_DIR "/ttr/ttrc_volatility_n20_N260.csv", "r");
	char line[512];
	size_t n = 0, m = 0;

	cr_assert_not_null(f, "cannot open " LVC_SHARED_DATA_DIR "/ttrc.csv");
	cr_assert_not_null(g, "cannot open the TTR fixture");
	cr_assert_not_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f) != NULL && n < NROWS) {
		char date[32];
		double vol;

		cr_assert_eq(sscanf(line, "%31[^,],%lf,%lf,%lf,%lf,%lf", date, &rows[n].o,
		                    &rows[n].h, &rows[n].l, &rows[n].c, &vol),
		             6, "ttrc.csv line %zu", n + 2);
		n++;
	}
	while (fgets(line, sizeof(line), g) != NULL) {
		char *tok, *save = NULL;
		size_t idx;
		int col = 0;

		if (line[0] == '#' || strncmp(line, "row,", 4) == 0) {
			continue;
		}
		tok = strtok_r(line, ",\n", &save);
		idx = (size_t)strtoul(tok, NULL, 10);
		cr_assert_eq(idx, m, "fixture rows out of order");
		strtok_r(NULL, ",\n", &save); /* date */
		while ((tok = strtok_r(NULL, ",\n", &save)) != NULL && col < 5) {
			rows[idx].has[col] = strcmp(tok, "NA") != 0;
			rows[idx].ref[col] = rows[idx].has[col] ? strtod(tok, NULL) : 0;
			col++;
		}
		cr_assert_eq(col, 5);
		m++;
	}
	fclose(f);
	fclose(g);
	cr_assert_eq(n, NROWS);
	cr_assert_eq(m, NROWS);
	return n;
}

Test(vol_ttr, range_estimators_and_close_match_r_ttr_volatility)
{
	row_t *rows = calloc(NROWS, sizeof(*rows));
	size_t n = load(rows);
	const int64_t j0 = 5480; /* 1985-01-02 as days since the epoch */

	for (int k = 0; k < 5; k++) {
		lvc_params_t all;
		lvc_vol_t *vol;
		double worst = 0;
		size_t compared = 0;
		size_t first = ests[k] == LVC_EST_CLOSE ? 19 : 20;

		lvc_params_defaults(&all);
		all.vol.estimator = ests[k];
		all.vol.sample_interval_us = DAY_US;
		all.vol.bar_interval_us = DAY_US;
		all.vol.window_us = (ests[k] == LVC_EST_CLOSE ? 19 : 20) * DAY_US;
		all.vol.annualization_days = 260;
		vol = lvc_vol_new(&all.vol, 0.3);
		cr_assert_not_null(vol);
		for (size_t i = 0; i < n; i++) {
			int64_t b = (j0 + (int64_t)i) * DAY_US;

			cr_assert_eq(lvc_vol_update(vol, b + 1, rows[i].o), LVC_VOL_APPLIED);
			if (i > 0 && i - 1 >= first) {
				/* Bar i - 1 just completed. */
				double s = lvc_vol_sigma_ann(vol), r = rows[i - 1].ref[k];
				double rel = fabs(s - r) / fabs(r);

				cr_assert(rows[i - 1].has[k], "TTR has no value at row %zu", i - 1);
				cr_assert(rel <= 1e-9,
				          "%s row %zu: ours %.17g, TTR %.17g (rel %.3g)",
				          lvc_estimator_names[ests[k]], i - 1, s, r, rel);
				worst = fmax(worst, rel);
				compared++;
			}
			lvc_vol_update(vol, b + 2, rows[i].h);
			lvc_vol_update(vol, b + 3, rows[i].l);
			lvc_vol_update(vol, b + DAY_US, rows[i].c);
		}
		/* The last bar completes with one more tick. */
		lvc_vol_update(vol, (j0 + (int64_t)n) * DAY_US + 1, rows[n - 1].c);
		cr_assert(fabs(lvc_vol_sigma_ann(vol) - rows[n - 1].ref[k]) <=
		          1e-9 * rows[n - 1].ref[k]);
		compared++;
		cr_assert_eq(compared, n - first);
		fprintf(stderr, "TTR %-16s %zu rows, largest relative difference %.3g\n",
		        lvc_estimator_names[ests[k]], compared, worst);
		lvc_vol_destroy(vol);
	}
	free(rows);
}
