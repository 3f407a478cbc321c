/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backtest report of `levcal calibrate --report FILE.html` (issue 7): one
 * self-contained HTML file with inline SVG charts, no JavaScript and no
 * external asset, so that it opens anywhere (a browser offline, a CI
 * artifact viewer) and shows the same thing every time.
 *
 * The pieces are small and tested on their own (tests/io/test_report.c):
 *
 * - lvc_sbuf_t: a growable text buffer that remembers an allocation failure
 *   (every append after one is a no-op, checked once at the end).
 * - Escaping of text and attribute values for HTML and SVG (XML): & < > "
 *   and ' become entities, other control characters are dropped, so any
 *   instrument or file name is safe in the document.
 * - Number formatting: path coordinates with one decimal (a tenth of a
 *   pixel) and no "-0"; table values with a given number of significant
 *   digits; axis labels with the decimals their tick step needs.
 * - Axis ticks: "nice" linear steps (1, 2, 5 times a power of ten) and time
 *   steps from a millisecond to decades, on calendar boundaries (UTC) for
 *   days, months and years, labelled with the part of the date or time
 *   that changes at that step.
 * - Downsampling for long series: per pixel column the first, lowest,
 *   highest and last point, in their original order (the "M4" reduction),
 *   so a chart of millions of points has at most four points per column and
 *   every spike stays visible.
 * - A chart: time on x, a linear y axis, line, step and marker series, a
 *   legend, a title and axis labels, clipped to the plot area.
 *
 * Thread rules: no shared state; one buffer per thread.
 */
#ifndef LVC_APP_REPORT_H
#define LVC_APP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "app/calibrate.h"
#include "core/err.h"

/* ---- text buffer -------------------------------------------------------- */

typedef struct lvc_sbuf_s {
	char *p;    /* NUL-terminated when len > 0; NULL before the first append */
	size_t len; /* bytes, without the NUL */
	size_t cap;
	int oom; /* an append failed: the content is incomplete */
} lvc_sbuf_t;

/* Sets b to empty. Does not allocate. */
void lvc_sbuf_init(lvc_sbuf_t *b);

/* Frees b's memory and sets it to empty; accepts an empty buffer. */
void lvc_sbuf_free(lvc_sbuf_t *b);

/* Appends s (or the first n bytes of s); grows geometrically. */
void lvc_sbuf_puts(lvc_sbuf_t *b, const char *s);
void lvc_sbuf_putn(lvc_sbuf_t *b, const char *s, size_t n);

/* Appends printf-formatted text. */
void lvc_sbuf_printf(lvc_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s escaped for HTML/XML text and double- or single-quoted
 * attribute values: & < > " ' become &amp; &lt; &gt; &quot; &#39;; bytes
 * below 0x20 other than tab, newline and carriage return are dropped (XML
 * 1.0 does not allow them). Other bytes, UTF-8 included, are copied. */
void lvc_sbuf_escape(lvc_sbuf_t *b, const char *s);

/* ---- numbers -------------------------------------------------------------- */

/* A path coordinate: x rounded to one decimal, without a trailing ".0" and
 * never "-0" ("12.3", "7", "-0.5"). Returns buf, or NULL (buf "") when x is
 * not finite: callers never write such a point. */
char *lvc_report_coord(double x, char *buf, size_t size);

/* A table value with sig (1..17) significant digits in %g style, "-0"
 * printed as "0", "n/a" for NaN, "inf"/"-inf" for infinities. Returns buf. */
char *lvc_report_num(double x, int sig, char *buf, size_t size);

/* An axis label for value x on a grid of the given step: as many decimals
 * as the step needs (step 0.25 -> 2, step 50 -> 0), %g beyond 1e-4..1e7.
 * Returns buf. */
char *lvc_report_tick_label(double x, double step, char *buf, size_t size);

/* ---- axis ticks ------------------------------------------------------------ */

#define LVC_REPORT_MAX_TICKS 32

/* Nice linear ticks for [lo, hi] (lo < hi, both finite): the smallest step
 * of the form {1, 2, 5} x 10^k that gives at most max_ticks (2..32) ticks
 * inside [lo, hi]; writes the ticks (multiples of the step, ascending) into
 * out[0..max_ticks) and the step into *step. Returns the count (0 for a bad
 * range). */
size_t lvc_report_ticks(double lo, double hi, size_t max_ticks, double *out, double *step);

/* Time ticks for [t0_s, t1_s] in seconds since the Unix epoch (UTC), at most
 * max_ticks (2..32): the smallest step among 1, 2, 5, 10, 20, 50, 100, 200,
 * 500 ms, 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h,
 * 1, 2, 7, 14 days, 1, 2, 3, 6 months, 1, 2, 5, 10, ... years that fits.
 * Day, month and year ticks fall on UTC midnights, first days of months and
 * of years. Writes the ticks into out[] and the step's id into *unit
 * (for lvc_report_time_label()). Returns the count (0 for a bad range). */
size_t lvc_report_time_ticks(double t0_s, double t1_s, size_t max_ticks, double *out, int *unit);

/* The label of time tick t_s (seconds since the epoch, UTC) for a step id
 * from lvc_report_time_ticks(): "14:05:30.250" for sub-second steps,
 * "14:05:30" for seconds, "14:05" for minutes and hours (with the date,
 * "2024-03-01 14:05", when with_date), "2024-03-01" for days, "2024-03"
 * for months, "2024" for years. Returns buf. */
char *lvc_report_time_label(double t_s, int unit, int with_date, char *buf, size_t size);

/* Civil date (proleptic Gregorian, UTC) of a day count since 1970-01-01 and
 * back (Howard Hinnant's algorithms, exact for any int64 day within +-2^40). */
void lvc_report_civil(int64_t days, int64_t *y, int *m, int *d);
int64_t lvc_report_days(int64_t y, int m, int d);

/* ---- series and downsampling ----------------------------------------------- */

/* A read-only series of n points with ascending x: get(ctx, i, &x, &y). */
typedef void(lvc_series_get_fn)(const void *ctx, size_t i, double *x, double *y);

typedef struct lvc_series_s {
	size_t n;
	lvc_series_get_fn *get;
	const void *ctx;
} lvc_series_t;

/* Two plain arrays as a series (xs and ys borrowed; the struct pa must
 * outlive the series). */
typedef struct lvc_series_arrays_s {
	const double *x;
	const double *y;
} lvc_series_arrays_t;
lvc_series_t lvc_series_from_arrays(lvc_series_arrays_t *pa, const double *x, const double *y,
                                    size_t n);

/* Reduces series s to at most 4 points per column of `columns` equal
 * columns over [x0, x1): for each column the first, the lowest, the highest
 * and the last point (each once, in their original order). Points outside
 * [x0, x1] and points with a non-finite x or y are left out. Writes into
 * ox[0..cap), oy[0..cap) (cap >= 4 * columns + 4 is always enough) and
 * returns the count. With columns 0 or x1 <= x0 it returns 0. */
size_t lvc_report_downsample(const lvc_series_t *s, double x0, double x1, size_t columns,
                             double *ox, double *oy, size_t cap);

/* ---- charts ---------------------------------------------------------------- */

typedef enum lvc_chart_kind_e {
	LVC_CHART_LINE,      /* a polyline through the points */
	LVC_CHART_STEP,      /* each value holds until the next point's x */
	LVC_CHART_MARK_UP,   /* a triangle pointing up at each point */
	LVC_CHART_MARK_DOWN, /* a triangle pointing down at each point */
} lvc_chart_kind_t;

#define LVC_CHART_MAX_SERIES 16

typedef struct lvc_chart_series_s {
	const char *name;  /* legend text */
	const char *color; /* "#rrggbb" */
	lvc_chart_kind_t kind;
	int dashed;
	double width;   /* stroke width in px; 0: 1.5 */
	double step_to; /* LVC_CHART_STEP: x where the last value ends (NaN: the last point) */
	lvc_series_t data;
} lvc_chart_series_t;

typedef struct lvc_chart_s {
	const char *title;
	const char *y_label; /* with its unit, e.g. "price" or "sigma_ann (%)" */
	const char *x_label; /* e.g. "time (UTC)" */
	int width, height;   /* px; 0: 1100 x 300 */
	double x0, x1;       /* seconds since the epoch; x1 <= x0: from the data */
	double y0, y1;       /* NaN: from the data (padded by 5%) */
	double y_scale;      /* values are multiplied by this for display; 0: 1 */
	size_t series_n;
	lvc_chart_series_t series[LVC_CHART_MAX_SERIES];
} lvc_chart_t;

/* Fills c with no series and the defaults above. */
void lvc_chart_init(lvc_chart_t *c, const char *title, const char *y_label);

/* Adds a series (copied; its data stays borrowed). Returns the series for
 * further settings, or NULL when LVC_CHART_MAX_SERIES are there. */
lvc_chart_series_t *lvc_chart_add(lvc_chart_t *c, const char *name, const char *color,
                                  lvc_chart_kind_t kind, lvc_series_t data);

/* Writes the chart as one <svg> element into out. id must be unique in the
 * document (it names the clip path). Long series are downsampled to the
 * plot's pixel columns. Allocates working arrays (freed before it returns).
 * Returns LVC_OK, LVC_ERR_NOMEM. A chart with no finite point is drawn with
 * its axes and a "no data" note. */
lvc_err_t lvc_chart_svg(const lvc_chart_t *c, const char *id, lvc_sbuf_t *out);

/* ---- the calibration report ------------------------------------------------- */

/* Appends the whole HTML page of a calibration run to out: title (config
 * file, config_id, inputs), a summary table, the pooled coverage tests, the
 * method notes, and per instrument the price chart with the exceedances of
 * the tested horizon blocks marked, sigma_ann of every estimator (and the
 * fitted GARCH), max leverage over time, the fitted parameters with their
 * standard errors next to the configured values, and the coverage tests.
 * Returns LVC_OK or LVC_ERR_NOMEM. */
lvc_err_t lvc_report_html(const lvc_calib_run_t *run, lvc_sbuf_t *out);

/* Writes lvc_report_html() to path. LVC_OK, LVC_ERR_NOMEM, or LVC_ERR_IO with
 * "PATH: reason" in errstr. */
lvc_err_t lvc_report_write(const lvc_calib_run_t *run, const char *path, char *errstr,
                           size_t errstr_size);

#endif
