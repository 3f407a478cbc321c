/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the report's HTML/SVG writer (src/app/report.h): the text
 * buffer, escaping, number formatting, axis tick choice (linear and time,
 * against calendar dates worked out by hand), the M4 downsampling (it must
 * keep every extreme), and whole charts (well-formed, finite path data,
 * escaped names).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/report.h"

static char buf[128];

/* ---- buffer and escaping ------------------------------------------------------ */

Test(sbuf, grows_and_keeps_every_byte)
{
	lvc_sbuf_t b;

	lvc_sbuf_init(&b);
	for (int i = 0; i < 20000; i++) {
		lvc_sbuf_printf(&b, "%04d,", i % 10000);
	}
	cr_assert_not(b.oom);
	cr_assert_eq(b.len, 20000 * 5);
	cr_assert_eq(strlen(b.p), b.len);
	cr_assert_eq(strncmp(b.p, "0000,0001,0002,", 15), 0);
	cr_assert_eq(strcmp(b.p + b.len - 5, "9999,"), 0);
	lvc_sbuf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
}

Test(escape, replaces_the_five_xml_specials)
{
	lvc_sbuf_t b;

	lvc_sbuf_init(&b);
	lvc_sbuf_escape(&b, "a<b>&\"c'd");
	cr_assert_str_eq(b.p, "a&lt;b&gt;&amp;&quot;c&#39;d");
	lvc_sbuf_free(&b);
}

Test(escape, drops_control_bytes_and_keeps_utf8_tabs_and_newlines)
{
	lvc_sbuf_t b;

	lvc_sbuf_init(&b);
	lvc_sbuf_escape(&b, "x\x01y\x1b[0m\tz\n\xc3\xa9\xe2\x82\xac");
	cr_assert_str_eq(b.p, "xy[0m\tz\n\xc3\xa9\xe2\x82\xac");
	lvc_sbuf_free(&b);
}

Test(escape, leaves_plain_text_alone_and_empty_text_empty)
{
	lvc_sbuf_t b;

	lvc_sbuf_init(&b);
	lvc_sbuf_escape(&b, "");
	cr_assert_eq(b.len, 0);
	lvc_sbuf_escape(&b, "BTC-PERP 1.5 x");
	cr_assert_str_eq(b.p, "BTC-PERP 1.5 x");
	lvc_sbuf_free(&b);
}

/* ---- numbers -------------------------------------------------------------------- */

Test(number_format, path_coordinates_have_one_decimal_and_no_negative_zero)
{
	cr_assert_str_eq(lvc_report_coord(12.34, buf, sizeof(buf)), "12.3");
	cr_assert_str_eq(lvc_report_coord(12.35001, buf, sizeof(buf)), "12.4");
	cr_assert_str_eq(lvc_report_coord(7.0, buf, sizeof(buf)), "7");
	cr_assert_str_eq(lvc_report_coord(6.96, buf, sizeof(buf)), "7");
	cr_assert_str_eq(lvc_report_coord(-0.04, buf, sizeof(buf)), "0");
	cr_assert_str_eq(lvc_report_coord(-0.0, buf, sizeof(buf)), "0");
	cr_assert_str_eq(lvc_report_coord(-0.5, buf, sizeof(buf)), "-0.5");
	cr_assert_str_eq(lvc_report_coord(-120.0, buf, sizeof(buf)), "-120");
	cr_assert_str_eq(lvc_report_coord(100000.0, buf, sizeof(buf)), "100000");
}

Test(number_format, refuses_non_finite_coordinates)
{
	cr_assert_null(lvc_report_coord(NAN, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "");
	cr_assert_null(lvc_report_coord(INFINITY, buf, sizeof(buf)));
	cr_assert_null(lvc_report_coord(-INFINITY, buf, sizeof(buf)));
}

Test(number_format, table_values_take_significant_digits)
{
	cr_assert_str_eq(lvc_report_num(1.23456789, 4, buf, sizeof(buf)), "1.235");
	cr_assert_str_eq(lvc_report_num(0.0107613978518, 6, buf, sizeof(buf)), "0.0107614");
	cr_assert_str_eq(lvc_report_num(1.07613978518e-06, 6, buf, sizeof(buf)), "1.07614e-06");
	cr_assert_str_eq(lvc_report_num(-0.0, 6, buf, sizeof(buf)), "0");
	cr_assert_str_eq(lvc_report_num(1974.0, 6, buf, sizeof(buf)), "1974");
	cr_assert_str_eq(lvc_report_num(NAN, 6, buf, sizeof(buf)), "n/a");
	cr_assert_str_eq(lvc_report_num(INFINITY, 6, buf, sizeof(buf)), "inf");
	cr_assert_str_eq(lvc_report_num(-INFINITY, 6, buf, sizeof(buf)), "-inf");
	/* Out-of-range digit counts are clamped. */
	cr_assert_str_eq(lvc_report_num(2.5, 0, buf, sizeof(buf)), "2");
	cr_assert_str_eq(lvc_report_num(0.1, 40, buf, sizeof(buf)), "0.10000000000000001");
}

Test(number_format, tick_labels_show_the_decimals_of_the_step)
{
	cr_assert_str_eq(lvc_report_tick_label(0.25, 0.25, buf, sizeof(buf)), "0.25");
	cr_assert_str_eq(lvc_report_tick_label(2.0, 0.5, buf, sizeof(buf)), "2.0");
	cr_assert_str_eq(lvc_report_tick_label(150.0, 50.0, buf, sizeof(buf)), "150");
	cr_assert_str_eq(lvc_report_tick_label(0.30000000000000004, 0.1, buf, sizeof(buf)), "0.3");
	/* A tick that should be zero but is floating-point noise. */
	cr_assert_str_eq(lvc_report_tick_label(-1.3877787807814457e-17, 0.2, buf, sizeof(buf)),
	                 "0.0");
	cr_assert_str_eq(lvc_report_tick_label(-4.0, 2.0, buf, sizeof(buf)), "-4");
	cr_assert_str_eq(lvc_report_tick_label(2e7, 1e7, buf, sizeof(buf)), "2e+07");
	cr_assert_str_eq(lvc_report_tick_label(3e-6, 1e-6, buf, sizeof(buf)), "3e-06");
}

/* ---- linear ticks --------------------------------------------------------------- */

Test(axis_ticks, choose_nice_steps_inside_the_range)
{
	double t[LVC_REPORT_MAX_TICKS], step = 0;
	size_t n = lvc_report_ticks(0.0, 1.0, 6, t, &step);

	cr_assert_eq(n, 6);
	cr_assert_float_eq(step, 0.2, 1e-15);
	for (size_t i = 0; i < n; i++) {
		cr_assert_float_eq(t[i], 0.2 * (double)i, 1e-12);
	}
	n = lvc_report_ticks(-3.7, 12.2, 5, t, &step);
	cr_assert_eq(step, 5.0);
	cr_assert_eq(n, 3);
	cr_assert_eq(t[0], 0.0);
	cr_assert_eq(t[1], 5.0);
	cr_assert_eq(t[2], 10.0);
	n = lvc_report_ticks(69.1, 104.2, 8, t, &step);
	cr_assert_eq(step, 5.0);
	cr_assert_eq(t[0], 70.0);
	cr_assert_eq(t[n - 1], 100.0);
}

Test(axis_ticks, refuse_empty_and_non_finite_ranges)
{
	double t[LVC_REPORT_MAX_TICKS], step = 0;

	cr_assert_eq(lvc_report_ticks(1.0, 1.0, 6, t, &step), 0);
	cr_assert_eq(lvc_report_ticks(2.0, 1.0, 6, t, &step), 0);
	cr_assert_eq(lvc_report_ticks(NAN, 1.0, 6, t, &step), 0);
	cr_assert_eq(lvc_report_ticks(0.0, INFINITY, 6, t, &step), 0);
	cr_assert_eq(lvc_report_ticks(0.0, 1.0, 1, t, &step), 0);
}

Test(axis_ticks, obey_the_limit_and_cover_the_range_for_many_ranges)
{
	double t[LVC_REPORT_MAX_TICKS], step = 0;
	uint64_t s = 42;

	for (int k = 0; k < 20000; k++) {
		double lo, hi, span;
		size_t max, n;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		lo = ((double)(s >> 11) * 0x1.0p-53 - 0.5) * pow(10.0, (double)((s >> 3) % 12) - 6);
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		span = (double)((s >> 11) + 1) * 0x1.0p-53 * pow(10.0, (double)((s >> 5) % 14) - 7);
		hi = lo + span;
		max = 2 + (size_t)((s >> 40) % 10);
		if (!(hi > lo)) {
			continue;
		}
		n = lvc_report_ticks(lo, hi, max, t, &step);
		cr_assert(n >= 1 && n <= max, "[%g, %g] max %zu: %zu ticks", lo, hi, max, n);
		/* A nice step: 1, 2 or 5 times a power of ten. */
		{
			double m = step / pow(10.0, floor(log10(step) + 1e-12));

			cr_assert(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 ||
			              fabs(m - 10) < 1e-9,
			          "step %g", step);
		}
		for (size_t i = 0; i < n; i++) {
			cr_assert(t[i] >= lo - 1e-9 * span && t[i] <= hi + 1e-9 * span);
			if (i > 0) {
				cr_assert(t[i] > t[i - 1]);
			}
		}
		/* The smallest such step: a step one notch finer gives too many. */
		cr_assert((hi - lo) / step < 5.0 * (double)max + 1, "[%g, %g]: step %g too coarse",
		          lo, hi, step);
	}
}

/* ---- dates and time ticks ----------------------------------------------------------- */

Test(time_ticks, civil_dates_round_trip_and_match_known_days)
{
	int64_t y;
	int m, d;

	cr_assert_eq(lvc_report_days(1970, 1, 1), 0);
	cr_assert_eq(lvc_report_days(2000, 3, 1), 11017);
	cr_assert_eq(lvc_report_days(2000, 2, 29), 11016);
	cr_assert_eq(lvc_report_days(2024, 1, 1), 19723);
	cr_assert_eq(lvc_report_days(1969, 12, 31), -1);
	cr_assert_eq(lvc_report_days(1984, 1, 2), 5114);
	for (int64_t day = -800000; day <= 800000; day += 7) {
		int64_t back;

		lvc_report_civil(day, &y, &m, &d);
		cr_assert(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		back = lvc_report_days(y, m, d);
		cr_assert_eq(back, day, "%" PRId64 " -> %" PRId64 "-%d-%d -> %" PRId64, day, y, m,
		             d, back);
	}
	lvc_report_civil(11016, &y, &m, &d);
	cr_assert(y == 2000 && m == 2 && d == 29);
}

Test(time_ticks, label_dates_and_times_in_utc)
{
	const double t = 1704067200.0 + 14 * 3600 + 5 * 60 + 30.25; /* 2024-01-01 14:05:30.25 */
	int unit = -1;
	double tk[LVC_REPORT_MAX_TICKS];

	/* The step ids come from lvc_report_time_ticks(): find them by range. */
	cr_assert_gt(lvc_report_time_ticks(0, 2, 10, tk, &unit), 0); /* sub-second */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "14:05:30.250");
	cr_assert_str_eq(lvc_report_time_label(t, unit, 1, buf, sizeof(buf)),
	                 "2024-01-01 14:05:30.250");
	cr_assert_gt(lvc_report_time_ticks(0, 60, 10, tk, &unit), 0); /* seconds */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "14:05:30");
	cr_assert_gt(lvc_report_time_ticks(0, 6 * 3600, 8, tk, &unit), 0); /* hours */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "14:05");
	cr_assert_str_eq(lvc_report_time_label(t, unit, 1, buf, sizeof(buf)), "2024-01-01 14:05");
	cr_assert_gt(lvc_report_time_ticks(0, 20 * 86400, 8, tk, &unit), 0); /* days */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "2024-01-01");
	cr_assert_gt(lvc_report_time_ticks(0, 200 * 86400, 8, tk, &unit), 0); /* months */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "2024-01");
	cr_assert_gt(lvc_report_time_ticks(0, 3000.0 * 86400, 8, tk, &unit), 0); /* years */
	cr_assert_str_eq(lvc_report_time_label(t, unit, 0, buf, sizeof(buf)), "2024");
	/* Before the epoch. */
	cr_assert_gt(lvc_report_time_ticks(0, 20 * 86400, 8, tk, &unit), 0);
	cr_assert_str_eq(lvc_report_time_label(-86400.0, unit, 0, buf, sizeof(buf)), "1969-12-31");
}

Test(time_ticks, fall_on_whole_hours_for_a_day)
{
	double tk[LVC_REPORT_MAX_TICKS];
	int unit;
	const double t0 = 1704067200.0 + 1234.5, t1 = t0 + 86400.0;
	size_t n = lvc_report_time_ticks(t0, t1, 9, tk, &unit);

	/* 24 h in at most 9 ticks: every 3 h, at 03:00, 06:00, ... */
	cr_assert_eq(n, 8);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(fmod(tk[i], 10800.0), 0.0, "%.3f", tk[i]);
		cr_assert(tk[i] >= t0 && tk[i] <= t1);
	}
	cr_assert_eq(tk[0], 1704067200.0 + 10800.0);
}

Test(time_ticks, fall_on_first_days_of_months_and_years)
{
	double tk[LVC_REPORT_MAX_TICKS];
	int unit;
	/* 1984-01-02 .. 1989-05-29, the DEM/GBP sample as daily trades. */
	double t0 = 5114.0 * 86400, t1 = (5114.0 + 1974) * 86400;
	size_t n = lvc_report_time_ticks(t0, t1, 9, tk, &unit);
	int64_t y;
	int m, d;

	cr_assert_eq(n, 5); /* 1985 .. 1989 */
	for (size_t i = 0; i < n; i++) {
		lvc_report_civil((int64_t)(tk[i] / 86400), &y, &m, &d);
		cr_assert(m == 1 && d == 1 && y == 1985 + (int64_t)i, "%" PRId64 "-%d-%d", y, m, d);
		cr_assert_eq(fmod(tk[i], 86400.0), 0.0);
	}
	/* A quarter: monthly ticks at 00:00 on the 1st. */
	t0 = (double)lvc_report_days(2024, 1, 15) * 86400;
	t1 = (double)lvc_report_days(2024, 4, 20) * 86400;
	n = lvc_report_time_ticks(t0, t1, 4, tk, &unit);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		lvc_report_civil((int64_t)(tk[i] / 86400), &y, &m, &d);
		cr_assert(y == 2024 && m == 2 + (int)i && d == 1, "%" PRId64 "-%d-%d", y, m, d);
	}
}

Test(time_ticks, obey_the_limit_for_spans_from_milliseconds_to_centuries)
{
	double tk[LVC_REPORT_MAX_TICKS];
	int unit;

	for (double span = 0.003; span < 3e9; span *= 1.37) {
		for (size_t max = 2; max <= 12; max += 5) {
			double t0 = 1.6e9 + span * 0.3;
			size_t n = lvc_report_time_ticks(t0, t0 + span, max, tk, &unit);

			cr_assert(n >= 1 && n <= max, "span %g max %zu: %zu ticks", span, max, n);
			for (size_t i = 1; i < n; i++) {
				cr_assert(tk[i] > tk[i - 1]);
			}
		}
	}
}

/* ---- downsampling ----------------------------------------------------------------------- */

Test(downsample, keeps_the_extremes_of_every_column)
{
	const size_t n = 1000000, cols = 100;
	double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
	double ox[4 * 100 + 8], oy[4 * 100 + 8];
	lvc_series_arrays_t pa;
	lvc_series_t s;
	size_t m;

	cr_assert(x != NULL && y != NULL);
	for (size_t i = 0; i < n; i++) {
		x[i] = (double)i;
		y[i] = sin((double)i * 1e-4);
	}
	y[123457] = 50.0;  /* one spike up */
	y[876543] = -40.0; /* one spike down */
	s = lvc_series_from_arrays(&pa, x, y, n);
	m = lvc_report_downsample(&s, 0.0, (double)n, cols, ox, oy, sizeof(ox) / sizeof(ox[0]));
	cr_assert(m > cols && m <= 4 * cols, "%zu points", m);
	{
		double hi = -INFINITY, lo = INFINITY;
		int spike_up = 0, spike_down = 0;

		for (size_t k = 0; k < m; k++) {
			hi = fmax(hi, oy[k]);
			lo = fmin(lo, oy[k]);
			spike_up |= ox[k] == 123457.0;
			spike_down |= ox[k] == 876543.0;
			if (k > 0) {
				cr_assert_gt(ox[k], ox[k - 1], "order kept");
			}
		}
		cr_assert_eq(hi, 50.0);
		cr_assert_eq(lo, -40.0);
		cr_assert(spike_up && spike_down);
	}
	/* Every column: its min and max are among the output. */
	for (size_t c = 0; c < cols; c++) {
		double cmin = INFINITY, cmax = -INFINITY;
		int got_min = 0, got_max = 0;

		for (size_t i = c * (n / cols); i < (c + 1) * (n / cols); i++) {
			cmin = fmin(cmin, y[i]);
			cmax = fmax(cmax, y[i]);
		}
		for (size_t k = 0; k < m; k++) {
			if (ox[k] >= (double)(c * (n / cols)) &&
			    ox[k] < (double)((c + 1) * (n / cols))) {
				got_min |= oy[k] == cmin;
				got_max |= oy[k] == cmax;
			}
		}
		cr_assert(got_min && got_max, "column %zu", c);
	}
	/* The first and the last point are always kept. */
	cr_assert_eq(ox[0], 0.0);
	cr_assert_eq(ox[m - 1], (double)(n - 1));
	free(x);
	free(y);
}

Test(downsample, passes_short_series_through_unchanged)
{
	double x[] = { 1, 2, 3, 4, 5 }, y[] = { 5, 3, 4, 1, 2 };
	double ox[64], oy[64];
	lvc_series_arrays_t pa;
	lvc_series_t s = lvc_series_from_arrays(&pa, x, y, 5);
	size_t m = lvc_report_downsample(&s, 0.0, 10.0, 10, ox, oy, 64);

	cr_assert_eq(m, 5);
	for (size_t k = 0; k < m; k++) {
		cr_assert_eq(ox[k], x[k]);
		cr_assert_eq(oy[k], y[k]);
	}
}

Test(downsample, leaves_out_non_finite_and_out_of_range_points)
{
	double x[] = { -1, 1, 2, NAN, 4, 5, 11 }, y[] = { 9, 1, NAN, 3, INFINITY, 5, 9 };
	double ox[64], oy[64];
	lvc_series_arrays_t pa;
	lvc_series_t s = lvc_series_from_arrays(&pa, x, y, 7);
	size_t m = lvc_report_downsample(&s, 0.0, 10.0, 10, ox, oy, 64);

	cr_assert_eq(m, 2);
	cr_assert(ox[0] == 1 && oy[0] == 1);
	cr_assert(ox[1] == 5 && oy[1] == 5);
	cr_assert_eq(lvc_report_downsample(&s, 0.0, 10.0, 0, ox, oy, 64), 0);
	cr_assert_eq(lvc_report_downsample(&s, 10.0, 10.0, 5, ox, oy, 64), 0);
}

/* ---- charts --------------------------------------------------------------------------------- */

/* Every number in every d="..." of the document parses and is finite;
 * returns the count of series paths. */
static int check_paths(const char *svg)
{
	int series = 0;

	for (const char *p = strstr(svg, " d=\""); p != NULL; p = strstr(p + 1, " d=\"")) {
		const char *q = p + 4, *end = strchr(q, '"');
		int nums = 0;

		cr_assert_not_null(end);
		if (strncmp(p - 14, "class=\"series\"", 14) == 0) {
			series++;
		}
		while (q < end) {
			if (strchr("MLHVZ ", *q) != NULL) {
				q++;
				continue;
			}
			{
				char *e;
				double v = strtod(q, &e);

				cr_assert(e > q, "bad path text at '%.20s'", q);
				cr_assert(isfinite(v));
				q = e;
				nums++;
			}
		}
		cr_assert_gt(nums, 0, "an empty path");
	}
	return series;
}

static double g_x[5000], g_y[5000];

Test(chart, writes_one_svg_with_finite_paths_axes_and_an_escaped_legend)
{
	lvc_chart_t c;
	lvc_series_arrays_t pa, pb;
	lvc_sbuf_t b;
	double mx[] = { 1.6e9 + 1000 }, my[] = { 101 };

	for (int i = 0; i < 5000; i++) {
		g_x[i] = 1.6e9 + 3.6 * i;
		g_y[i] = 100 + sin(i * 0.01);
	}
	lvc_chart_init(&c, "Price <of> \"A&B\"", "price");
	lvc_chart_add(&c, "price of <script>", "#1f77b4", LVC_CHART_LINE,
	              lvc_series_from_arrays(&pa, g_x, g_y, 5000));
	lvc_chart_add(&c, "exceeded", "#d62728", LVC_CHART_MARK_DOWN,
	              lvc_series_from_arrays(&pb, mx, my, 1));
	lvc_sbuf_init(&b);
	cr_assert_eq(lvc_chart_svg(&c, "c0-price", &b), LVC_OK);
	cr_assert_eq(strncmp(b.p, "<svg ", 5), 0);
	cr_assert_eq(strcmp(b.p + b.len - 7, "</svg>\n"), 0);
	cr_assert_null(strstr(b.p, "<script"));
	cr_assert_not_null(strstr(b.p, "price of &lt;script&gt;"));
	cr_assert_not_null(strstr(b.p, "Price &lt;of&gt; &quot;A&amp;B&quot;"));
	cr_assert_not_null(strstr(b.p, "clipPath id=\"c0-price-clip\""));
	cr_assert_not_null(strstr(b.p, "url(#c0-price-clip)"));
	cr_assert_eq(check_paths(b.p), 2);
	/* x labels are times of day on that date. */
	cr_assert_not_null(strstr(b.p, "2020-09-13"));
	cr_assert_not_null(strstr(b.p, ">time (UTC)</text>"));
	cr_assert_null(strstr(b.p, "no data"));
	lvc_sbuf_free(&b);
}

Test(chart, downsamples_long_series_to_the_plot_width)
{
	static double x[200000], y[200000];
	lvc_chart_t c;
	lvc_series_arrays_t pa;
	lvc_sbuf_t b;
	const char *p, *end;
	int vertices = 0;

	for (int i = 0; i < 200000; i++) {
		x[i] = 1.7e9 + i;
		y[i] = (i % 2) ? 1.0 : -1.0;
	}
	lvc_chart_init(&c, "long", "y");
	lvc_chart_add(&c, "zigzag", "#000000", LVC_CHART_LINE,
	              lvc_series_from_arrays(&pa, x, y, 200000));
	lvc_sbuf_init(&b);
	cr_assert_eq(lvc_chart_svg(&c, "z", &b), LVC_OK);
	p = strstr(b.p, "class=\"series\" d=\"");
	cr_assert_not_null(p);
	end = strchr(p + 18, '"');
	for (const char *q = p; q < end; q++) {
		vertices += *q == 'M' || *q == 'L';
	}
	/* 998 px of plot: at most 4 vertices a column. */
	cr_assert(vertices > 998 && vertices <= 4 * 998, "%d vertices", vertices);
	lvc_sbuf_free(&b);
}

Test(chart, draws_a_step_to_its_end_and_says_no_data_when_empty)
{
	double x[] = { 1.7e9, 1.7e9 + 100 }, y[] = { 10, 20 };
	lvc_chart_t c;
	lvc_chart_series_t *cs;
	lvc_series_arrays_t pa, pe;
	lvc_sbuf_t b;

	lvc_chart_init(&c, "lev", "x");
	c.x0 = 1.7e9;
	c.x1 = 1.7e9 + 200;
	c.y0 = 0;
	c.y1 = 25;
	cs = lvc_chart_add(&c, "max leverage", "#2ca02c", LVC_CHART_STEP,
	                   lvc_series_from_arrays(&pa, x, y, 2));
	cs->step_to = 1.7e9 + 200;
	lvc_sbuf_init(&b);
	cr_assert_eq(lvc_chart_svg(&c, "s", &b), LVC_OK);
	/* Plot from x = 78 to 1076 px and from y = 48 to 252 px for 25 to 0:
	 * 10 at 170.4, 20 at 88.8; the last piece ends at the right edge. */
	cr_assert_not_null(strstr(b.p, "d=\"M78 170.4 L577 170.4 L577 88.8 L1076 88.8\""), "%s",
	                   b.p);
	lvc_sbuf_free(&b);

	lvc_chart_init(&c, "empty", "y");
	lvc_chart_add(&c, "nothing", "#000000", LVC_CHART_LINE,
	              lvc_series_from_arrays(&pe, x, y, 0));
	lvc_sbuf_init(&b);
	cr_assert_eq(lvc_chart_svg(&c, "e", &b), LVC_OK);
	cr_assert_not_null(strstr(b.p, ">no data</text>"));
	cr_assert_eq(check_paths(b.p), 0);
	lvc_sbuf_free(&b);
}
