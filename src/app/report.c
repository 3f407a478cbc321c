/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The calibration report (report.h): a small HTML and SVG writer of our own
 * and the page `levcal calibrate --report` writes with it.
 *
 * The writer has no state but the buffer it appends to. Every number that
 * reaches the document goes through one of three formatters (coordinates,
 * table values, tick labels), every text through lvc_sbuf_escape(), so the
 * output is well-formed XML inside HTML5 whatever the names in the data.
 * Charts downsample to the pixel columns of their plot area (M4: first,
 * min, max, last per column), so a year of ticks costs one pass over the
 * points and a few thousand path vertices. The page has no script, no
 * external style sheet, font or image: it is one file.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/report.h"
#include "app/version.h"
#include "core/calib.h"
#include "core/params.h"
#include "core/records.h"
#include "core/numeric.h"

/* ---- text buffer ---------------------------------------------------------- */

void lvc_sbuf_init(lvc_sbuf_t *b)
{
	memset(b, 0, sizeof(*b));
}

void lvc_sbuf_free(lvc_sbuf_t *b)
{
	free(b->p);
	lvc_sbuf_init(b);
}

static int sbuf_reserve(lvc_sbuf_t *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->oom) {
		return -1;
	}
	if (more > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	need = b->len + more + 1;
	if (need <= b->cap) {
		return 0;
	}
	cap = b->cap > 0 ? b->cap : 256;
	while (cap < need) {
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void lvc_sbuf_putn(lvc_sbuf_t *b, const char *s, size_t n)
{
	if (n == 0 || sbuf_reserve(b, n) != 0) {
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void lvc_sbuf_puts(lvc_sbuf_t *b, const char *s)
{
	lvc_sbuf_putn(b, s, strlen(s));
}

void lvc_sbuf_printf(lvc_sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || sbuf_reserve(b, (size_t)n) != 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void lvc_sbuf_escape(lvc_sbuf_t *b, const char *s)
{
	const char *run = s;

	/* Plain runs are copied in one piece; only the special bytes are
	 * replaced. */
	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
				rep = "";
			}
			break;
		}
		if (rep != NULL) {
			lvc_sbuf_putn(b, run, (size_t)(s - run));
			lvc_sbuf_puts(b, rep);
			run = s + 1;
		}
	}
	lvc_sbuf_putn(b, run, (size_t)(s - run));
}

/* ---- numbers ---------------------------------------------------------------- */

/* Removes a "-" in front of a number that prints as zero ("-0", "-0.00"). */
static void drop_negative_zero(char *buf)
{
	if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1)) {
		memmove(buf, buf + 1, strlen(buf));
	}
}

char *lvc_report_coord(double x, char *buf, size_t size)
{
	size_t n;

	if (size == 0) {
		return NULL;
	}
	buf[0] = '\0';
	if (!isfinite(x)) {
		return NULL;
	}
	snprintf(buf, size, "%.1f", x);
	n = strlen(buf);
	if (n >= 2 && buf[n - 1] == '0' && buf[n - 2] == '.') {
		buf[n - 2] = '\0';
	}
	drop_negative_zero(buf);
	return buf;
}

char *lvc_report_num(double x, int sig, char *buf, size_t size)
{
	if (size == 0) {
		return buf;
	}
	if (isnan(x)) {
		snprintf(buf, size, "n/a");
	} else if (isinf(x)) {
		snprintf(buf, size, x > 0 ? "inf" : "-inf");
	} else {
		sig = sig < 1 ? 1 : sig > 17 ? 17 : sig;
		snprintf(buf, size, "%.*g", sig, x == 0.0 ? 0.0 : x);
		drop_negative_zero(buf);
	}
	return buf;
}

/* Decimals that print multiples of step exactly (0..12). */
static int step_decimals(double step)
{
	double s = fabs(step);

	for (int d = 0; d <= 12; d++) {
		double v = s * pow(10.0, d);

		if (fabs(v - nearbyint(v)) <= 1e-6 * v) {
			return d;
		}
	}
	return 12;
}

char *lvc_report_tick_label(double x, double step, char *buf, size_t size)
{
	double ax = fabs(x);

	if (size == 0) {
		return buf;
	}
	if (!isfinite(x)) {
		return lvc_report_num(x, 6, buf, size);
	}
	/* Rounding: a tick is a multiple of the step, so anything smaller than
	 * a millionth of the step is floating-point noise ("-0", 1e-17). */
	if (ax < fabs(step) * 1e-6) {
		x = 0.0;
		ax = 0.0;
	}
	if (ax >= 1e7 || (ax > 0 && fabs(step) < 1e-4)) {
		snprintf(buf, size, "%.3g", x);
	} else {
		snprintf(buf, size, "%.*f", step_decimals(step), x);
	}
	drop_negative_zero(buf);
	return buf;
}

/* ---- axis ticks ---------------------------------------------------------------- */

size_t lvc_report_ticks(double lo, double hi, size_t max_ticks, double *out, double *step)
{
	static const double mult[] = { 1.0, 2.0, 5.0, 10.0 };
	double span = hi - lo, mag;

	if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || !isfinite(span) || max_ticks < 2) {
		return 0;
	}
	if (max_ticks > LVC_REPORT_MAX_TICKS) {
		max_ticks = LVC_REPORT_MAX_TICKS;
	}
	mag = pow(10.0, floor(log10(span / (double)max_ticks)));
	for (int round = 0; round < 4; round++, mag *= 10.0) {
		for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
			double s = mult[i] * mag;
			double k0 = ceil(lo / s - 1e-9), k1 = floor(hi / s + 1e-9);
			size_t n;

			if (!(k1 >= k0) || k1 - k0 + 1 > (double)max_ticks) {
				continue;
			}
			n = (size_t)(k1 - k0 + 1);
			for (size_t k = 0; k < n; k++) {
				out[k] = (k0 + (double)k) * s;
			}
			*step = s;
			return n;
		}
	}
	return 0;
}

void lvc_report_civil(int64_t days, int64_t *y, int *m, int *d)
{
	/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms":
	 * civil_from_days. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int64_t lvc_report_days(int64_t y, int m, int d)
{
	/* days_from_civil, same source. */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

enum { U_MS, U_S, U_MIN, U_DAY, U_MONTH, U_YEAR };

typedef struct tstep_s {
	int unit;   /* label style */
	double sec; /* step length (approximate for months and years) */
	int n;      /* months or years per step */
} tstep_t;

static const tstep_t tsteps[] = {
	{ U_MS, 0.001, 0 },      { U_MS, 0.002, 0 },
	{ U_MS, 0.005, 0 },      { U_MS, 0.01, 0 },
	{ U_MS, 0.02, 0 },       { U_MS, 0.05, 0 },
	{ U_MS, 0.1, 0 },        { U_MS, 0.2, 0 },
	{ U_MS, 0.5, 0 },        { U_S, 1, 0 },
	{ U_S, 2, 0 },           { U_S, 5, 0 },
	{ U_S, 10, 0 },          { U_S, 15, 0 },
	{ U_S, 30, 0 },          { U_MIN, 60, 0 },
	{ U_MIN, 120, 0 },       { U_MIN, 300, 0 },
	{ U_MIN, 600, 0 },       { U_MIN, 900, 0 },
	{ U_MIN, 1800, 0 },      { U_MIN, 3600, 0 },
	{ U_MIN, 7200, 0 },      { U_MIN, 10800, 0 },
	{ U_MIN, 21600, 0 },     { U_MIN, 43200, 0 },
	{ U_DAY, 86400, 0 },     { U_DAY, 172800, 0 },
	{ U_DAY, 604800, 0 },    { U_DAY, 1209600, 0 },
	{ U_MONTH, 2629746, 1 }, { U_MONTH, 5259492, 2 },
	{ U_MONTH, 7889238, 3 }, { U_MONTH, 15778476, 6 },
};

size_t lvc_report_time_ticks(double t0_s, double t1_s, size_t max_ticks, double *out, int *unit)
{
	const size_t nsteps = sizeof(tsteps) / sizeof(tsteps[0]);
	double span = t1_s - t0_s;

	if (!isfinite(t0_s) || !isfinite(t1_s) || !(t1_s > t0_s) || max_ticks < 2) {
		return 0;
	}
	if (max_ticks > LVC_REPORT_MAX_TICKS) {
		max_ticks = LVC_REPORT_MAX_TICKS;
	}
	for (size_t i = 0; i < nsteps; i++) {
		const tstep_t *st = &tsteps[i];
		size_t n = 0;

		if (span / st->sec + 1.0 > (double)max_ticks * 1.5) {
			continue; /* far too many: skip without generating */
		}
		if (st->n == 0) {
			double k0 = ceil(t0_s / st->sec - 1e-9), k1 = floor(t1_s / st->sec + 1e-9);

			if (k1 - k0 + 1 > (double)max_ticks) {
				continue;
			}
			for (double k = k0; k <= k1 && n < max_ticks; k++) {
				out[n++] = k * st->sec;
			}
		} else {
			int64_t y, mi;
			int m, d;

			lvc_report_civil((int64_t)floor(t0_s / 86400.0), &y, &m, &d);
			/* Months since 1970-01, from the month of t0 on. */
			mi = (y - 1970) * 12 + (m - 1);
			mi = mi - ((mi % st->n) + st->n) % st->n;
			for (;; mi += st->n) {
				int64_t yy = 1970 + (mi >= 0 ? mi / 12 : (mi - 11) / 12);
				int mm = (int)(mi - (yy - 1970) * 12) + 1;
				double t = (double)lvc_report_days(yy, mm, 1) * 86400.0;

				if (t < t0_s - 1e-6) {
					continue;
				}
				if (t > t1_s + 1e-6) {
					break;
				}
				if (n == max_ticks) {
					n++; /* one more than allowed: this step does not fit */
					break;
				}
				out[n++] = t;
			}
			if (n > max_ticks) {
				continue;
			}
		}
		*unit = st->unit;
		return n;
	}
	/* Years: 1, 2, 5, 10, 20, 50, ... */
	for (int64_t ny = 1; ny <= INT64_C(1000000000); ny *= 10) {
		static const int64_t ym[] = { 1, 2, 5 };

		for (size_t j = 0; j < 3; j++) {
			int64_t step = ny * ym[j], y0, y1;
			int m, d;
			size_t n = 0;

			lvc_report_civil((int64_t)floor(t0_s / 86400.0), &y0, &m, &d);
			lvc_report_civil((int64_t)floor(t1_s / 86400.0), &y1, &m, &d);
			if ((y1 - y0) / step + 1 > (int64_t)max_ticks) {
				continue;
			}
			y0 = y0 - ((y0 % step) + step) % step;
			for (int64_t y = y0; y <= y1 && n < max_ticks; y += step) {
				double t = (double)lvc_report_days(y, 1, 1) * 86400.0;

				if (t >= t0_s - 1e-6 && t <= t1_s + 1e-6) {
					out[n++] = t;
				}
			}
			*unit = U_YEAR;
			return n;
		}
	}
	return 0;
}

char *lvc_report_time_label(double t_s, int unit, int with_date, char *buf, size_t size)
{
	double day_f = floor(t_s / 86400.0);
	double sod = t_s - day_f * 86400.0; /* seconds of the day */
	int64_t y;
	int mo, d, hh, mm, ss, ms;
	long msod;

	if (size == 0) {
		return buf;
	}
	if (!isfinite(t_s)) {
		snprintf(buf, size, "n/a");
		return buf;
	}
	lvc_report_civil((int64_t)day_f, &y, &mo, &d);
	msod = lround(sod * 1000.0);
	if (msod >= 86400000L) {
		msod = 86399999L;
	}
	hh = (int)(msod / 3600000L);
	mm = (int)(msod / 60000L % 60);
	ss = (int)(msod / 1000L % 60);
	ms = (int)(msod % 1000L);
	switch (unit) {
	case U_MS:
		if (with_date) {
			snprintf(buf, size, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%03d", y, mo, d,
			         hh, mm, ss, ms);
		} else {
			snprintf(buf, size, "%02d:%02d:%02d.%03d", hh, mm, ss, ms);
		}
		break;
	case U_S:
		if (with_date) {
			snprintf(buf, size, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d", y, mo, d, hh,
			         mm, ss);
		} else {
			snprintf(buf, size, "%02d:%02d:%02d", hh, mm, ss);
		}
		break;
	case U_MIN:
		if (with_date) {
			snprintf(buf, size, "%04" PRId64 "-%02d-%02d %02d:%02d", y, mo, d, hh, mm);
		} else {
			snprintf(buf, size, "%02d:%02d", hh, mm);
		}
		break;
	case U_DAY:
		snprintf(buf, size, "%04" PRId64 "-%02d-%02d", y, mo, d);
		break;
	case U_MONTH:
		snprintf(buf, size, "%04" PRId64 "-%02d", y, mo);
		break;
	default:
		snprintf(buf, size, "%04" PRId64, y);
		break;
	}
	return buf;
}

/* ---- series and downsampling ------------------------------------------------- */

static void arrays_get(const void *ctx, size_t i, double *x, double *y)
{
	const lvc_series_arrays_t *pa = ctx;

	*x = pa->x[i];
	*y = pa->y[i];
}

lvc_series_t lvc_series_from_arrays(lvc_series_arrays_t *pa, const double *x, const double *y,
                                    size_t n)
{
	lvc_series_t s;

	pa->x = x;
	pa->y = y;
	s.n = n;
	s.get = arrays_get;
	s.ctx = pa;
	return s;
}

typedef struct colpts_s {
	size_t idx[4]; /* first, min, max, last */
	double x[4], y[4];
	int used;
} colpts_t;

/* Writes a column's distinct points in index order; returns the new count. */
static size_t flush_column(const colpts_t *c, double *ox, double *oy, size_t n, size_t cap)
{
	int order[4] = { 0, 1, 2, 3 };

	if (!c->used) {
		return n;
	}
	/* Insertion sort of four by index. */
	for (int i = 1; i < 4; i++) {
		for (int j = i; j > 0 && c->idx[order[j]] < c->idx[order[j - 1]]; j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (int i = 0; i < 4; i++) {
		int k = order[i];

		if (i > 0 && c->idx[k] == c->idx[order[i - 1]]) {
			continue;
		}
		if (n < cap) {
			ox[n] = c->x[k];
			oy[n] = c->y[k];
			n++;
		}
	}
	return n;
}

size_t lvc_report_downsample(const lvc_series_t *s, double x0, double x1, size_t columns,
                             double *ox, double *oy, size_t cap)
{
	colpts_t col;
	size_t cur = SIZE_MAX, n = 0;
	double w;

	if (columns == 0 || !(x1 > x0) || s == NULL || s->get == NULL) {
		return 0;
	}
	w = (x1 - x0) / (double)columns;
	memset(&col, 0, sizeof(col));
	for (size_t i = 0; i < s->n; i++) {
		double x, y;
		size_t c;

		s->get(s->ctx, i, &x, &y);
		if (!isfinite(x) || !isfinite(y) || x < x0 || x > x1) {
			continue;
		}
		c = (size_t)((x - x0) / w);
		if (c >= columns) {
			c = columns - 1;
		}
		if (c != cur) {
			n = flush_column(&col, ox, oy, n, cap);
			cur = c;
			for (int k = 0; k < 4; k++) {
				col.idx[k] = i;
				col.x[k] = x;
				col.y[k] = y;
			}
			col.used = 1;
			continue;
		}
		if (y < col.y[1]) {
			col.idx[1] = i;
			col.x[1] = x;
			col.y[1] = y;
		}
		if (y > col.y[2]) {
			col.idx[2] = i;
			col.x[2] = x;
			col.y[2] = y;
		}
		col.idx[3] = i;
		col.x[3] = x;
		col.y[3] = y;
	}
	return flush_column(&col, ox, oy, n, cap);
}

/* A step series as a line: point i, then (x of point i + 1, y of point i),
 * and at the end (step_to, y of the last point). */
typedef struct step_ctx_s {
	const lvc_series_t *src;
	double step_to;
} step_ctx_t;

static void step_get(const void *ctx, size_t i, double *x, double *y)
{
	const step_ctx_t *sc = ctx;
	double xn, yn;

	sc->src->get(sc->src->ctx, i / 2, x, y);
	if (i % 2 == 1) {
		if (i / 2 + 1 < sc->src->n) {
			sc->src->get(sc->src->ctx, i / 2 + 1, &xn, &yn);
			*x = xn;
		} else {
			*x = sc->step_to;
		}
	}
}

/* ---- charts ------------------------------------------------------------------- */

void lvc_chart_init(lvc_chart_t *c, const char *title, const char *y_label)
{
	memset(c, 0, sizeof(*c));
	c->title = title;
	c->y_label = y_label;
	c->x_label = "time (UTC)";
	c->width = 1100;
	c->height = 300;
	c->y0 = c->y1 = NAN;
	c->y_scale = 1.0;
}

lvc_chart_series_t *lvc_chart_add(lvc_chart_t *c, const char *name, const char *color,
                                  lvc_chart_kind_t kind, lvc_series_t data)
{
	lvc_chart_series_t *s;

	if (c->series_n >= LVC_CHART_MAX_SERIES) {
		return NULL;
	}
	s = &c->series[c->series_n++];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->color = color;
	s->kind = kind;
	s->step_to = NAN;
	s->data = data;
	return s;
}

#define CH_LEFT   78
#define CH_RIGHT  24
#define CH_BOTTOM 48
#define CH_TITLE  22
#define CH_LEGEND 18

typedef struct reduced_s {
	double *x, *y;
	size_t n;
} reduced_t;

/* Estimated width of a legend entry in px (DejaVu Sans 12 px averages
 * about 7 px a character). */
static int legend_width(const char *name)
{
	return 36 + 15 * (int)strlen(name) / 2;
}

static void put_coord(lvc_sbuf_t *out, double v)
{
	char buf[64];

	/* Off-plot points are clipped; keep their numbers small. */
	v = v < -1e5 ? -1e5 : v > 1e5 ? 1e5 : v;
	lvc_sbuf_puts(out, lvc_report_coord(v, buf, sizeof(buf)) != NULL ? buf : "0");
}

static void put_text(lvc_sbuf_t *out, double x, double y, const char *anchor, const char *extra,
                     const char *text)
{
	lvc_sbuf_puts(out, "<text x=\"");
	put_coord(out, x);
	lvc_sbuf_puts(out, "\" y=\"");
	put_coord(out, y);
	lvc_sbuf_printf(out, "\" text-anchor=\"%s\"%s%s>", anchor, extra[0] != '\0' ? " " : "",
	                extra);
	lvc_sbuf_escape(out, text);
	lvc_sbuf_puts(out, "</text>\n");
}

lvc_err_t lvc_chart_svg(const lvc_chart_t *c, const char *id, lvc_sbuf_t *out)
{
	reduced_t red[LVC_CHART_MAX_SERIES];
	int W = c->width > 0 ? c->width : 1100, H = c->height > 0 ? c->height : 300;
	int legend_rows = 1, lx, top, pw, ph;
	double x0 = c->x0, x1 = c->x1, y0 = c->y0, y1 = c->y1,
	       ys = c->y_scale != 0 ? c->y_scale : 1;
	double ticks[LVC_REPORT_MAX_TICKS], step = 1;
	size_t nt, columns, cap;
	int unit = 0, have = 0;
	lvc_err_t err = LVC_OK;
	char buf[96];

	memset(red, 0, sizeof(red));
	/* Legend rows first: they set the plot's top. */
	lx = CH_LEFT;
	for (size_t i = 0; i < c->series_n; i++) {
		int w = legend_width(c->series[i].name);

		if (lx + w > W - CH_RIGHT && lx > CH_LEFT) {
			legend_rows++;
			lx = CH_LEFT;
		}
		lx += w;
	}
	top = CH_TITLE + CH_LEGEND * legend_rows + 8;
	pw = W - CH_LEFT - CH_RIGHT;
	ph = H - top - CH_BOTTOM;
	if (pw < 50 || ph < 30) {
		pw = pw < 50 ? 50 : pw;
		ph = ph < 30 ? 30 : ph;
		W = CH_LEFT + CH_RIGHT + pw;
		H = top + CH_BOTTOM + ph;
	}

	/* The x range from the data when not given. */
	if (!(x1 > x0)) {
		x0 = INFINITY;
		x1 = -INFINITY;
		for (size_t i = 0; i < c->series_n; i++) {
			const lvc_series_t *s = &c->series[i].data;
			double x, y;

			if (s->n == 0) {
				continue;
			}
			s->get(s->ctx, 0, &x, &y);
			x0 = fmin(x0, x);
			s->get(s->ctx, s->n - 1, &x, &y);
			x1 = fmax(x1, x);
			if (c->series[i].kind == LVC_CHART_STEP && isfinite(c->series[i].step_to)) {
				x1 = fmax(x1, c->series[i].step_to);
			}
		}
		if (!(x1 > x0) && isfinite(x0)) {
			x1 = x0 + 1.0;
		}
	}
	columns = (size_t)pw;
	cap = 4 * columns + 8;
	if (isfinite(x0) && isfinite(x1)) {
		for (size_t i = 0; i < c->series_n; i++) {
			const lvc_chart_series_t *cs = &c->series[i];
			step_ctx_t sc = { &cs->data, isfinite(cs->step_to) ? cs->step_to : NAN };
			lvc_series_t st = { 0, step_get, &sc };
			const lvc_series_t *src = &cs->data;

			if (cs->kind == LVC_CHART_STEP && cs->data.n > 0) {
				double lx_, ly_;

				if (isnan(sc.step_to)) {
					cs->data.get(cs->data.ctx, cs->data.n - 1, &lx_, &ly_);
					sc.step_to = lx_;
				}
				st.n = 2 * cs->data.n;
				src = &st;
			}
			red[i].x = malloc(cap * sizeof(double));
			red[i].y = malloc(cap * sizeof(double));
			if (red[i].x == NULL || red[i].y == NULL) {
				err = LVC_ERR_NOMEM;
				goto exit;
			}
			red[i].n =
			    lvc_report_downsample(src, x0, x1, columns, red[i].x, red[i].y, cap);
			for (size_t k = 0; k < red[i].n; k++) {
				red[i].y[k] *= ys;
			}
			have |= red[i].n > 0;
		}
	}
	/* The y range from the reduced data (it keeps every extreme). */
	if (isnan(y0) || isnan(y1)) {
		double lo = INFINITY, hi = -INFINITY;

		for (size_t i = 0; i < c->series_n; i++) {
			for (size_t k = 0; k < red[i].n; k++) {
				lo = fmin(lo, red[i].y[k]);
				hi = fmax(hi, red[i].y[k]);
			}
		}
		if (!isfinite(lo)) {
			lo = 0.0;
			hi = 1.0;
		}
		if (hi - lo <= fabs(hi) * 1e-12) {
			double pad = fabs(hi) > 0 ? fabs(hi) * 0.05 : 1.0;

			lo -= pad;
			hi += pad;
		}
		y0 = isnan(y0) ? lo - 0.05 * (hi - lo) : y0 * ys;
		y1 = isnan(y1) ? hi + 0.05 * (hi - lo) : y1 * ys;
	} else {
		y0 *= ys;
		y1 *= ys;
	}
	if (!(x1 > x0) || !isfinite(x0)) {
		x0 = 0.0;
		x1 = 1.0;
	}

#define PX(x) (CH_LEFT + ((x)-x0) / (x1 - x0) * pw)
#define PY(y) (top + ph - ((y)-y0) / (y1 - y0) * ph)

	lvc_sbuf_printf(out,
	                "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	                "role=\"img\" font-family=\"DejaVu Sans, Verdana, sans-serif\" "
	                "font-size=\"12\">\n<title>",
	                W, H, W, H);
	lvc_sbuf_escape(out, c->title != NULL ? c->title : "");
	lvc_sbuf_puts(out, "</title>\n<defs><clipPath id=\"");
	lvc_sbuf_escape(out, id);
	lvc_sbuf_printf(out,
	                "-clip\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
	                "</clipPath></defs>\n",
	                CH_LEFT, top, pw, ph);
	lvc_sbuf_printf(
	    out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
	put_text(out, CH_LEFT, 15, "start", "font-size=\"14\" font-weight=\"bold\"",
	         c->title != NULL ? c->title : "");

	/* Legend. */
	lx = CH_LEFT;
	for (size_t i = 0, row = 0; i < c->series_n; i++) {
		const lvc_chart_series_t *cs = &c->series[i];
		int w = legend_width(cs->name), ly;

		if (lx + w > W - CH_RIGHT && lx > CH_LEFT) {
			row++;
			lx = CH_LEFT;
		}
		ly = CH_TITLE + (int)row * CH_LEGEND + 10;
		if (cs->kind == LVC_CHART_MARK_UP || cs->kind == LVC_CHART_MARK_DOWN) {
			lvc_sbuf_printf(out, "<path d=\"M%d %d L%d %d L%d %d Z\" fill=\"%s\"/>\n",
			                lx + 3, cs->kind == LVC_CHART_MARK_UP ? ly + 4 : ly - 4,
			                lx + 15, cs->kind == LVC_CHART_MARK_UP ? ly + 4 : ly - 4,
			                lx + 9, cs->kind == LVC_CHART_MARK_UP ? ly - 5 : ly + 5,
			                cs->color);
		} else {
			lvc_sbuf_printf(
			    out, "<path d=\"M%d %d L%d %d\" stroke=\"%s\" stroke-width=\"3\"%s/>\n",
			    lx, ly, lx + 18, ly, cs->color,
			    cs->dashed ? " stroke-dasharray=\"4 3\"" : "");
		}
		put_text(out, lx + 23, ly + 4, "start", "", cs->name);
		lx += w;
	}

	/* Grid and y ticks. */
	nt = lvc_report_ticks(y0, y1, (size_t)(ph / 40 > 2 ? ph / 40 : 2) + 1, ticks, &step);
	lvc_sbuf_puts(out, "<path class=\"grid\" d=\"");
	for (size_t k = 0; k < nt; k++) {
		lvc_sbuf_printf(out, "%sM%d ", k > 0 ? " " : "", CH_LEFT);
		put_coord(out, PY(ticks[k]));
		lvc_sbuf_printf(out, " H%d", CH_LEFT + pw);
	}
	lvc_sbuf_puts(out, "\" stroke=\"#e3e3e3\" fill=\"none\"/>\n");
	for (size_t k = 0; k < nt; k++) {
		put_text(out, CH_LEFT - 6, PY(ticks[k]) + 4, "end", "fill=\"#333333\"",
		         lvc_report_tick_label(ticks[k], step, buf, sizeof(buf)));
	}
	/* x ticks. */
	nt = lvc_report_time_ticks(x0, x1, (size_t)(pw / 120 > 2 ? pw / 120 : 2), ticks, &unit);
	if (nt > 0) {
		lvc_sbuf_puts(out, "<path class=\"grid\" d=\"");
		for (size_t k = 0; k < nt; k++) {
			lvc_sbuf_puts(out, k > 0 ? " M" : "M");
			put_coord(out, PX(ticks[k]));
			lvc_sbuf_printf(out, " %d V%d", top, top + ph + 5);
		}
		lvc_sbuf_puts(out, "\" stroke=\"#e3e3e3\" fill=\"none\"/>\n");
	}
	for (size_t k = 0; k < nt; k++) {
		int with_date = unit < U_DAY && (k == 0 || floor(ticks[k] / 86400.0) !=
		                                               floor(ticks[k - 1] / 86400.0));

		put_text(out, PX(ticks[k]), top + ph + 18, "middle", "fill=\"#333333\"",
		         lvc_report_time_label(ticks[k], unit, with_date, buf, sizeof(buf)));
	}
	/* Axes and labels. */
	lvc_sbuf_printf(out,
	                "<path class=\"axis\" d=\"M%d %d V%d H%d\" stroke=\"#333333\" "
	                "fill=\"none\"/>\n",
	                CH_LEFT, top, top + ph, CH_LEFT + pw);
	put_text(out, CH_LEFT + pw / 2.0, H - 8, "middle", "fill=\"#333333\"",
	         c->x_label != NULL ? c->x_label : "");
	{
		char tr[96];

		snprintf(tr, sizeof(tr), "fill=\"#333333\" transform=\"rotate(-90 16 %d)\"",
		         top + ph / 2);
		put_text(out, 16, top + ph / 2.0, "middle", tr,
		         c->y_label != NULL ? c->y_label : "");
	}

	/* Series, clipped to the plot. */
	lvc_sbuf_puts(out, "<g clip-path=\"url(#");
	lvc_sbuf_escape(out, id);
	lvc_sbuf_puts(out, "-clip)\">\n");
	for (size_t i = 0; i < c->series_n; i++) {
		const lvc_chart_series_t *cs = &c->series[i];
		int mark = cs->kind == LVC_CHART_MARK_UP || cs->kind == LVC_CHART_MARK_DOWN;

		if (red[i].n == 0) {
			continue;
		}
		lvc_sbuf_puts(out, "<path class=\"series\" d=\"");
		for (size_t k = 0; k < red[i].n; k++) {
			double px = PX(red[i].x[k]), py = PY(red[i].y[k]);

			if (mark) {
				double dy = cs->kind == LVC_CHART_MARK_UP ? 1 : -1;

				lvc_sbuf_puts(out, k > 0 ? " M" : "M");
				put_coord(out, px - 5);
				lvc_sbuf_putn(out, " ", 1);
				put_coord(out, py + 5 * dy);
				lvc_sbuf_puts(out, " L");
				put_coord(out, px + 5);
				lvc_sbuf_putn(out, " ", 1);
				put_coord(out, py + 5 * dy);
				lvc_sbuf_puts(out, " L");
				put_coord(out, px);
				lvc_sbuf_putn(out, " ", 1);
				put_coord(out, py - 4 * dy);
				lvc_sbuf_puts(out, " Z");
			} else {
				lvc_sbuf_puts(out, k == 0 ? "M" : " L");
				put_coord(out, px);
				lvc_sbuf_putn(out, " ", 1);
				put_coord(out, py);
			}
		}
		if (mark) {
			lvc_sbuf_printf(out, "\" fill=\"%s\" fill-opacity=\"0.85\"/>\n", cs->color);
		} else {
			lvc_sbuf_printf(out,
			                "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
			                "stroke-linejoin=\"round\"%s/>\n",
			                cs->color, cs->width > 0 ? cs->width : 1.5,
			                cs->dashed ? " stroke-dasharray=\"6 4\"" : "");
		}
	}
	lvc_sbuf_puts(out, "</g>\n");
	if (!have) {
		put_text(out, CH_LEFT + pw / 2.0, top + ph / 2.0, "middle", "fill=\"#999999\"",
		         "no data");
	}
	lvc_sbuf_puts(out, "</svg>\n");
#undef PX
#undef PY
exit:
	for (size_t i = 0; i < c->series_n; i++) {
		free(red[i].x);
		free(red[i].y);
	}
	if (err == LVC_OK && out->oom) {
		err = LVC_ERR_NOMEM;
	}
	return err;
}

/* ---- the calibration report ------------------------------------------------------ */

static const char *const palette[LVC_CALIB_NEST] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
	"#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
};

#define C_PRICE  "#1f77b4"
#define C_IM     "#d62728"
#define C_MM     "#ff7f0e"
#define C_LEV    "#2ca02c"
#define C_STALE  "#7f7f7f"
#define C_FITTED "#000000"

static void obs_get(const void *ctx, size_t i, double *x, double *y)
{
	const lvc_calib_ins_t *ins = ctx;

	*x = (double)ins->obs[i].ts_us / 1e6;
	*y = ins->obs[i].price;
}

static void lim_get(const void *ctx, size_t i, double *x, double *y)
{
	const lvc_calib_ins_t *ins = ctx;

	*x = (double)ins->lims[i].ts_us / 1e6;
	*y = ins->lims[i].max_leverage;
}

typedef struct sig_ctx_s {
	const lvc_calib_ins_t *ins;
	int est; /* an estimator, or -1 for the max of the configured components */
} sig_ctx_t;

static void sig_get(const void *ctx, size_t i, double *x, double *y)
{
	const sig_ctx_t *sc = ctx;
	const lvc_calib_ins_t *ins = sc->ins;

	*x = (double)ins->sig_t[i] / 1e6;
	if (sc->est >= 0) {
		*y = ins->sig[sc->est][i];
		return;
	}
	*y = NAN;
	for (size_t k = 0; k < ins->params->vol.max_of_n; k++) {
		int e = (int)ins->params->vol.max_of[k];

		if (e >= 0 && e < LVC_CALIB_NEST && (isnan(*y) || ins->sig[e][i] > *y)) {
			*y = ins->sig[e][i];
		}
	}
}

static void fitted_get(const void *ctx, size_t i, double *x, double *y)
{
	const lvc_calib_ins_t *ins = ctx;

	*x = (double)ins->smp.bar_t[i] / 1e6;
	*y = ins->garch_sigma_ann[i];
}

/* Points of a marker series, owned. */
typedef struct marks_s {
	double *x, *y;
	size_t n, cap;
	lvc_series_arrays_t pa;
} marks_t;

static int marks_add(marks_t *m, double x, double y)
{
	if (m->n == m->cap) {
		size_t cap = m->cap > 0 ? m->cap * 2 : 64;
		double *nx = realloc(m->x, cap * sizeof(double)), *ny;

		if (nx == NULL) {
			return -1;
		}
		m->x = nx;
		if ((ny = realloc(m->y, cap * sizeof(double))) == NULL) {
			return -1;
		}
		m->y = ny;
		m->cap = cap;
	}
	m->x[m->n] = x;
	m->y[m->n] = y;
	m->n++;
	return 0;
}

static void marks_free(marks_t *m)
{
	free(m->x);
	free(m->y);
	memset(m, 0, sizeof(*m));
}

typedef struct mark_ctx_s {
	const lvc_cov_obs_t *obs;
	int64_t h;
	marks_t (*mk)[2];
	int64_t (*counts)[2];
} mark_ctx_t;

static int mark_block(void *opaque, const lvc_cov_block_t *b)
{
	mark_ctx_t *c = opaque;
	const lvc_cov_obs_t *at = &c->obs[b->i], *end = &c->obs[b->j];
	double x = (double)(b->anchor_us + c->h) / 1e6;

	for (int m = 0; m < 2; m++) {
		double mr = m == 0 ? at->imr : at->mmr;

		if (!(mr > 0) || !isfinite(mr)) {
			continue;
		}
		if (-b->ret > mr) {
			c->counts[m][0]++;
			if (marks_add(&c->mk[m][0], x, end->price) != 0) {
				return -1;
			}
		}
		if (b->ret > mr) {
			c->counts[m][1]++;
			if (marks_add(&c->mk[m][1], x, end->price) != 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* The exceedances of the tested blocks (lvc_coverage_blocks), marked at
 * the end of their block: [margin][0 long loss, 1 short loss]. */
static int block_marks(const lvc_calib_ins_t *ins, marks_t mk[2][2], int64_t counts[2][2])
{
	mark_ctx_t c = { ins->obs, ins->cov_opts.horizon_us, mk, counts };

	memset(counts, 0, 4 * sizeof(int64_t));
	return lvc_coverage_blocks(ins->obs, ins->obs_n, ins->cov_opts.horizon_us, mark_block, &c);
}

static void put_num(lvc_sbuf_t *b, double x, int sig)
{
	char buf[64];

	lvc_sbuf_puts(b, lvc_report_num(x, sig, buf, sizeof(buf)));
}

static void put_time(lvc_sbuf_t *b, int64_t ts_us)
{
	char buf[64];

	lvc_sbuf_puts(b, lvc_report_time_label((double)ts_us / 1e6, U_S, 1, buf, sizeof(buf)));
}

static void put_duration(lvc_sbuf_t *b, int64_t us)
{
	char buf[64];

	lvc_sbuf_escape(b, lvc_duration_format(us, buf, sizeof(buf)));
}

/* A coverage verdict at 5%: class and text. */
static const char *verdict_html(const lvc_cov_test_t *t, const char **cls)
{
	*cls = "";
	if (isnan(t->p_pof)) {
		return "no test";
	}
	if (t->p_pof >= 0.05 && (isnan(t->p_cc) || t->p_cc >= 0.05)) {
		*cls = "pass";
		return "pass";
	}
	*cls = "reject";
	if (t->p_pof < 0.05) {
		return t->rate > t->expected ? "reject: too many" : "reject: too few";
	}
	return "reject: clustered";
}

static void coverage_table(lvc_sbuf_t *b, const lvc_cov_result_t *r)
{
	static const char *const mname[] = { "initial (IM)", "maintenance (MM)" };
	static const char *const sname[] = { "long", "short", "either" };

	lvc_sbuf_puts(b, "<table class=\"cov\">\n<tr><th class=\"l\">margin</th><th "
	                 "class=\"l\">side</th><th>blocks</th><th>exceedances</th><th>rate</th>"
	                 "<th>expected</th><th>Kupiec LR</th><th>p</th><th>Christoffersen ind "
	                 "LR</th><th>p</th><th>cond. coverage LR</th><th>p</th><th "
	                 "class=\"l\">at 5%</th><th>all ticks: trials</th><th>exceed</th>"
	                 "<th>rate</th></tr>\n");
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			const lvc_cov_test_t *t = &r->block[m][s];
			const lvc_cov_count_t *o = &r->overlap[m][s];
			const char *cls, *v = verdict_html(t, &cls);

			lvc_sbuf_printf(
			    b,
			    "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%" PRId64
			    "</td><td>%" PRId64 "</td><td>",
			    mname[m], sname[s], t->trials, t->exceed);
			put_num(b, t->rate, 4);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->expected, 4);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->lr_pof, 4);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->p_pof, 3);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->lr_ind, 4);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->p_ind, 3);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->lr_cc, 4);
			lvc_sbuf_puts(b, "</td><td>");
			put_num(b, t->p_cc, 3);
			lvc_sbuf_printf(b,
			                "</td><td class=\"l %s\">%s</td><td>%" PRId64
			                "</td><td>%" PRId64 "</td><td>",
			                cls, v, o->trials, o->exceed);
			put_num(b, o->rate, 4);
			lvc_sbuf_puts(b, "</td></tr>\n");
		}
	}
	lvc_sbuf_puts(b, "</table>\n");
}

static void param_row(lvc_sbuf_t *b, const char *model, const char *name, double est, double se,
                      double se_robust, const char *configured)
{
	lvc_sbuf_printf(b, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td>", model, name);
	put_num(b, est, 8);
	lvc_sbuf_puts(b, "</td><td>");
	put_num(b, se, 4);
	lvc_sbuf_puts(b, "</td><td>");
	put_num(b, se_robust, 4);
	lvc_sbuf_puts(b, "</td><td class=\"l\">");
	lvc_sbuf_escape(b, configured);
	lvc_sbuf_puts(b, "</td></tr>\n");
}

static void params_table(lvc_sbuf_t *b, const lvc_calib_ins_t *ins)
{
	const lvc_vol_params_t *vp = &ins->params->vol;
	const lvc_lev_params_t *lp = &ins->params->lev;
	char c[64], d[64];

	lvc_sbuf_puts(b, "<table class=\"par\">\n<tr><th class=\"l\">model</th><th "
	                 "class=\"l\">parameter</th><th>estimate</th><th>se (Hessian)</th><th>se "
	                 "(robust)</th><th class=\"l\">configured now</th></tr>\n");
	if (ins->garch_out.err == LVC_OK) {
		const lvc_garch_fit_t *g = &ins->garch;
		double unc = sqrt(g->uncond_var / ((double)vp->bar_interval_us / 1e6) *
		                  vp->annualization_days * 86400.0);

		param_row(b, "GARCH(1,1)", "mu (per bar)", g->par[LVC_GARCH_MU],
		          g->se[LVC_GARCH_MU], g->se_robust[LVC_GARCH_MU],
		          "0 (the engine's filter has no mean)");
		snprintf(c, sizeof(c), "%.6g", vp->garch_omega);
		param_row(b, "GARCH(1,1)", "omega (variance per bar)", g->par[LVC_GARCH_OMEGA],
		          g->se[LVC_GARCH_OMEGA], g->se_robust[LVC_GARCH_OMEGA], c);
		snprintf(c, sizeof(c), "%.6g", vp->garch_alpha);
		param_row(b, "GARCH(1,1)", "alpha", g->par[LVC_GARCH_ALPHA], g->se[LVC_GARCH_ALPHA],
		          g->se_robust[LVC_GARCH_ALPHA], c);
		snprintf(c, sizeof(c), "%.6g", vp->garch_beta);
		param_row(b, "GARCH(1,1)", "beta", g->par[LVC_GARCH_BETA], g->se[LVC_GARCH_BETA],
		          g->se_robust[LVC_GARCH_BETA], c);
		snprintf(c, sizeof(c), "%.6g", vp->garch_alpha + vp->garch_beta);
		param_row(b, "GARCH(1,1)", "persistence alpha + beta", g->persistence, NAN, NAN, c);
		param_row(b, "GARCH(1,1)", "unconditional sigma_ann", unc, NAN, NAN, "");
		snprintf(c, sizeof(c), "%zu returns, %s%s", g->n,
		         g->converged ? "converged" : "NOT converged",
		         g->at_bound ? ", at a bound" : "");
		param_row(b, "GARCH(1,1)", "log-likelihood", g->loglik, NAN, NAN, c);
	} else {
		lvc_sbuf_puts(
		    b, "<tr><td class=\"l\">GARCH(1,1)</td><td class=\"l\" colspan=\"5\">not "
		       "fitted: ");
		lvc_sbuf_escape(b, ins->garch_out.why);
		lvc_sbuf_puts(b, "</td></tr>\n");
	}
	if (ins->ewma_out.err == LVC_OK) {
		const lvc_ewma_fit_t *e = &ins->ewma;
		double hl_s = e->half_life_n * (double)vp->sample_interval_us / 1e6;

		char w[32];

		snprintf(c, sizeof(c), "%s (written: %s)",
		         lvc_duration_format(vp->half_life_us, d, sizeof(d)),
		         lvc_duration_format(ins->half_life_us, w, sizeof(w)));
		param_row(b, "EWMA", "half-life (s)", hl_s, hl_s * e->se_log_half_life, NAN, c);
		param_row(b, "EWMA", "ln half-life", log(hl_s), e->se_log_half_life, NAN, "");
		param_row(b, "EWMA", "lambda per sample interval", e->lambda, NAN, NAN, "");
		snprintf(c, sizeof(c), "%zu returns%s", e->n_used,
		         e->at_bound ? ", at the end of the search range" : "");
		param_row(b, "EWMA", "log-likelihood", e->loglik, NAN, NAN, c);
	} else {
		lvc_sbuf_puts(b, "<tr><td class=\"l\">EWMA</td><td class=\"l\" colspan=\"5\">not "
		                 "fitted: ");
		lvc_sbuf_escape(b, ins->ewma_out.why);
		lvc_sbuf_puts(b, "</td></tr>\n");
	}
	if (ins->tail_out.err == LVC_OK) {
		const lvc_t_fit_t *t = &ins->tail;

		if (lp->tail == LVC_TAIL_STUDENT_T) {
			snprintf(c, sizeof(c), "student_t, nu %.4g", lp->tail_nu);
		} else {
			snprintf(c, sizeof(c), "normal");
		}
		param_row(b, "Student t", "nu", t->nu, t->se_nu, NAN, c);
		param_row(b, "Student t", "log-likelihood (t)", t->loglik, NAN, NAN, "");
		param_row(b, "Student t", "log-likelihood (normal)", t->loglik_normal, NAN, NAN,
		          "");
		snprintf(c, sizeof(c), "%s",
		         ins->tail_student ? "student_t written" : "not written");
		param_row(b, "Student t", "2 (logL t - logL normal)", ins->tail_lr, NAN, NAN, c);
	} else {
		lvc_sbuf_puts(b,
		              "<tr><td class=\"l\">Student t</td><td class=\"l\" colspan=\"5\">not "
		              "fitted: ");
		lvc_sbuf_escape(b, ins->tail_out.why);
		lvc_sbuf_puts(b, "</td></tr>\n");
	}
	lvc_sbuf_puts(b, "</table>\n");
}

static lvc_err_t instrument_section(lvc_sbuf_t *b, const lvc_calib_run_t *run, size_t idx)
{
	const lvc_calib_ins_t *ins = run->ins[idx];
	const lvc_vol_params_t *vp = &ins->params->vol;
	const lvc_lev_params_t *lp = &ins->params->lev;
	marks_t mk[2][2], stale;
	int64_t counts[2][2];
	sig_ctx_t sc[LVC_CALIB_NEST + 1];
	lvc_series_arrays_t stale_pa;
	lvc_chart_t ch;
	lvc_chart_series_t *cs;
	char id[64], names[LVC_CALIB_NEST + 2][64], d2[32];
	double x0, x1;
	lvc_err_t err = LVC_OK;

	memset(mk, 0, sizeof(mk));
	memset(&stale, 0, sizeof(stale));
	lvc_sbuf_printf(b, "<section class=\"ins\" id=\"ins-%zu\">\n<h2>", idx);
	lvc_sbuf_escape(b, ins->name);
	lvc_sbuf_puts(b, "</h2>\n<p class=\"meta\">");
	lvc_sbuf_printf(b, "%" PRIu64 " source ticks (%s)", ins->smp.ticks,
	                vp->source == LVC_SOURCE_MARK ? "MARK prices" : "trades");
	if (ins->obs_n > 0) {
		lvc_sbuf_puts(b, " from ");
		put_time(b, ins->obs[0].ts_us);
		lvc_sbuf_puts(b, " to ");
		put_time(b, ins->obs[ins->obs_n - 1].ts_us);
		lvc_sbuf_puts(b, " UTC");
	}
	lvc_sbuf_printf(b, "; %zu grid returns of ", ins->smp.grid_n);
	put_duration(b, vp->sample_interval_us);
	lvc_sbuf_printf(b, ", %zu bar returns of ", ins->smp.bar_n);
	put_duration(b, vp->bar_interval_us);
	lvc_sbuf_printf(b, "; %zu published limits; horizon ", ins->lims_n);
	put_duration(b, lp->horizon_us);
	lvc_sbuf_printf(b, ", confidence %g, %s tail", lp->confidence,
	                lp->tail == LVC_TAIL_STUDENT_T ? "Student t" : "normal");
	if (ins->smp.grid_gaps > 0 || ins->smp.bar_gaps > 0) {
		lvc_sbuf_printf(b,
		                "; feed gaps longer than stale_after: %" PRIu64
		                " empty grid intervals "
		                "and %" PRIu64 " empty bars left out of the fits",
		                ins->smp.grid_dropped, ins->smp.bar_dropped);
	}
	lvc_sbuf_puts(b, ".</p>\n");

	x0 = ins->obs_n > 0 ? (double)ins->obs[0].ts_us / 1e6 : 0;
	x1 = ins->obs_n > 0 ? (double)ins->obs[ins->obs_n - 1].ts_us / 1e6 : 1;
	if (!(x1 > x0)) {
		x1 = x0 + 1;
	}

	/* Price with the exceedances of the tested blocks. */
	if (block_marks(ins, mk, counts) != 0) {
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	lvc_chart_init(&ch,
	               "Price and margin exceedances (tested blocks, marked where the block ends)",
	               "price");
	ch.x0 = x0;
	ch.x1 = x1;
	lvc_chart_add(&ch, "price", C_PRICE, LVC_CHART_LINE,
	              (lvc_series_t){ ins->obs_n, obs_get, ins });
	snprintf(names[0], sizeof(names[0]), "MM exceeded, price fell (%" PRId64 ")", counts[1][0]);
	snprintf(names[1], sizeof(names[1]), "MM exceeded, price rose (%" PRId64 ")", counts[1][1]);
	snprintf(names[2], sizeof(names[2]), "IM exceeded, price fell (%" PRId64 ")", counts[0][0]);
	snprintf(names[3], sizeof(names[3]), "IM exceeded, price rose (%" PRId64 ")", counts[0][1]);
	lvc_chart_add(&ch, names[0], C_MM, LVC_CHART_MARK_DOWN,
	              lvc_series_from_arrays(&mk[1][0].pa, mk[1][0].x, mk[1][0].y, mk[1][0].n));
	lvc_chart_add(&ch, names[1], C_MM, LVC_CHART_MARK_UP,
	              lvc_series_from_arrays(&mk[1][1].pa, mk[1][1].x, mk[1][1].y, mk[1][1].n));
	lvc_chart_add(&ch, names[2], C_IM, LVC_CHART_MARK_DOWN,
	              lvc_series_from_arrays(&mk[0][0].pa, mk[0][0].x, mk[0][0].y, mk[0][0].n));
	lvc_chart_add(&ch, names[3], C_IM, LVC_CHART_MARK_UP,
	              lvc_series_from_arrays(&mk[0][1].pa, mk[0][1].x, mk[0][1].y, mk[0][1].n));
	snprintf(id, sizeof(id), "c%zu-price", idx);
	if ((err = lvc_chart_svg(&ch, id, b)) != LVC_OK) {
		goto exit;
	}

	/* sigma_ann per estimator. */
	lvc_chart_init(&ch, "Annualized volatility per estimator (sampled when a bar completes)",
	               "sigma_ann (%)");
	ch.x0 = x0;
	ch.x1 = x1;
	ch.y_scale = 100.0;
	for (int e = 0; e < LVC_CALIB_NEST; e++) {
		int conf = (int)vp->estimator == e;

		if (ins->vols[e] == NULL && ins->sig_n > 0) {
			continue;
		}
		sc[e].ins = ins;
		sc[e].est = e;
		snprintf(names[e], sizeof(names[e]), "%s%s", lvc_estimator_names[e],
		         conf ? " (configured)" : "");
		cs = lvc_chart_add(&ch, names[e], palette[e], LVC_CHART_LINE,
		                   (lvc_series_t){ ins->sig_n, sig_get, &sc[e] });
		if (cs != NULL && conf) {
			cs->width = 2.5;
		}
	}
	if (vp->estimator == LVC_EST_MAX) {
		sc[LVC_CALIB_NEST].ins = ins;
		sc[LVC_CALIB_NEST].est = -1;
		cs = lvc_chart_add(&ch, "max (configured)", "#d62728", LVC_CHART_LINE,
		                   (lvc_series_t){ ins->sig_n, sig_get, &sc[LVC_CALIB_NEST] });
		if (cs != NULL) {
			cs->width = 2.5;
		}
	}
	if (ins->garch_sigma_ann != NULL) {
		cs = lvc_chart_add(&ch, "garch (fitted)", C_FITTED, LVC_CHART_LINE,
		                   (lvc_series_t){ ins->smp.bar_n, fitted_get, ins });
		if (cs != NULL) {
			cs->dashed = 1;
			cs->width = 1.2;
		}
	}
	snprintf(id, sizeof(id), "c%zu-sigma", idx);
	if ((err = lvc_chart_svg(&ch, id, b)) != LVC_OK) {
		goto exit;
	}

	/* Max leverage over time. */
	for (size_t i = 0; i < ins->lims_n; i++) {
		if (ins->lims[i].status == LVC_STATUS_STALE &&
		    marks_add(&stale, (double)ins->lims[i].ts_us / 1e6,
		              ins->lims[i].max_leverage) != 0) {
			err = LVC_ERR_NOMEM;
			goto exit;
		}
	}
	lvc_chart_init(&ch, "Max leverage published (step: in force until the next limit)",
	               "max leverage (x)");
	ch.x0 = x0;
	ch.x1 = x1;
	cs = lvc_chart_add(&ch, "max leverage", C_LEV, LVC_CHART_STEP,
	                   (lvc_series_t){ ins->lims_n, lim_get, ins });
	if (cs != NULL) {
		cs->step_to = x1;
		cs->width = 2.0;
	}
	snprintf(names[LVC_CALIB_NEST + 1], sizeof(names[0]), "STALE (%zu)", stale.n);
	lvc_chart_add(&ch, names[LVC_CALIB_NEST + 1], C_STALE, LVC_CHART_MARK_DOWN,
	              lvc_series_from_arrays(&stale_pa, stale.x, stale.y, stale.n));
	snprintf(id, sizeof(id), "c%zu-lev", idx);
	if ((err = lvc_chart_svg(&ch, id, b)) != LVC_OK) {
		goto exit;
	}

	lvc_sbuf_puts(b, "<h3>Fitted parameters</h3>\n");
	params_table(b, ins);
	lvc_sbuf_puts(b, "<h3>Coverage of the published margins</h3>\n");
	if (ins->cov_out.err != LVC_OK) {
		lvc_sbuf_puts(b, "<p>backtest failed: ");
		lvc_sbuf_escape(b, ins->cov_out.why);
		lvc_sbuf_puts(b, "</p>\n");
	} else {
		lvc_sbuf_printf(b,
		                "<p class=\"note\">%" PRId64 " blocks of %s, %" PRId64
		                " without a limit in force (skipped).</p>\n",
		                ins->cov.blocks_total,
		                lvc_duration_format(lp->horizon_us, d2, sizeof(d2)),
		                ins->cov.blocks_no_limit);
		coverage_table(b, &ins->cov);
	}
	lvc_sbuf_puts(b, "</section>\n");
exit:
	for (int m = 0; m < 2; m++) {
		marks_free(&mk[m][0]);
		marks_free(&mk[m][1]);
	}
	marks_free(&stale);
	return err != LVC_OK ? err : b->oom ? LVC_ERR_NOMEM : LVC_OK;
}

static const char style[] =
    "body{font-family:\"DejaVu Sans\",Verdana,sans-serif;margin:20px 28px;color:#222;"
    "background:#fff;max-width:1180px}\n"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;border-bottom:1px solid #bbb;"
    "padding-bottom:3px;margin:30px 0 8px}h3{font-size:14px;margin:14px 0 4px}\n"
    "table{border-collapse:collapse;font-size:12px;margin:6px 0 14px}\n"
    "th,td{border:1px solid #d0d0d0;padding:2px 6px;text-align:right;white-space:nowrap}\n"
    "th{background:#f0f0f0;white-space:normal;vertical-align:bottom}.l{text-align:left}\n"
    ".pass{color:#1a7f37;font-weight:bold}.reject{color:#b00020;font-weight:bold}\n"
    ".meta{color:#444;font-size:13px;margin:4px 0}code{font-size:12px}\n"
    ".note{font-size:12px;color:#333;max-width:1100px;margin:4px 0}\n"
    "svg.chart{display:block;margin:4px 0 10px;border:1px solid #eee}\n";

lvc_err_t lvc_report_html(const lvc_calib_run_t *run, lvc_sbuf_t *b)
{
	lvc_err_t err;
	char d[64];

	lvc_sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	                 "<title>levcal calibration: config_id ");
	lvc_sbuf_escape(b, run->cfg->config_id);
	lvc_sbuf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", style);
	lvc_sbuf_puts(b, "<h1>levcal calibration report, config_id ");
	lvc_sbuf_escape(b, run->cfg->config_id);
	lvc_sbuf_puts(b, "</h1>\n<p class=\"meta\">config <code>");
	lvc_sbuf_escape(b, run->cfg->path != NULL ? run->cfg->path : "-");
	lvc_sbuf_puts(b, "</code>; inputs:");
	for (size_t i = 0; i < run->inputs_n; i++) {
		lvc_sbuf_puts(b, i > 0 ? ", <code>" : " <code>");
		lvc_sbuf_escape(b, run->inputs[i]);
		lvc_sbuf_puts(b, "</code>");
	}
	lvc_sbuf_printf(b,
	                "</p>\n<p class=\"meta\">%" PRIu64 " records, %zu instrument(s), %" PRIu64
	                " published limits, %" PRIu64 " dead letters, %" PRIu64
	                " late ticks; levcal ",
	                run->records, run->ins_n, run->limits, run->dead_letters, run->ticks_late);
	lvc_sbuf_escape(b, lvc_version());
	lvc_sbuf_puts(b, ".</p>\n");

	/* Summary. */
	lvc_sbuf_puts(b, "<h2>Summary</h2>\n<table class=\"sum\">\n<tr><th "
	                 "class=\"l\">instrument</th><th>ticks</th><th>bars</th><th>EWMA "
	                 "half-life</th><th>GARCH omega</th><th>alpha</th><th>beta</th>"
	                 "<th>persistence</th><th>t nu</th><th class=\"l\">tail</th><th>IM "
	                 "exceedances / blocks (either side)</th><th>Kupiec p</th><th "
	                 "class=\"l\">IM at 5%</th></tr>\n");
	for (size_t i = 0; i < run->ins_n; i++) {
		const lvc_calib_ins_t *ins = run->ins[i];
		const lvc_cov_test_t *t = &ins->cov.block[LVC_COV_IM][LVC_COV_EITHER];
		int g = ins->garch_out.err == LVC_OK;
		const char *cls, *v = ins->cov_out.err == LVC_OK ? verdict_html(t, &cls) : "failed";

		if (ins->cov_out.err != LVC_OK) {
			cls = "reject";
		}
		lvc_sbuf_printf(b, "<tr><td class=\"l\"><a href=\"#ins-%zu\">", i);
		lvc_sbuf_escape(b, ins->name);
		lvc_sbuf_printf(b, "</a></td><td>%" PRIu64 "</td><td>%zu</td><td>", ins->smp.ticks,
		                ins->smp.bar_n);
		lvc_sbuf_escape(b, ins->ewma_out.err == LVC_OK
		                       ? lvc_duration_format(ins->half_life_us, d, sizeof(d))
		                       : "-");
		lvc_sbuf_puts(b, "</td><td>");
		put_num(b, g ? ins->garch.par[LVC_GARCH_OMEGA] : NAN, 6);
		lvc_sbuf_puts(b, "</td><td>");
		put_num(b, g ? ins->garch.par[LVC_GARCH_ALPHA] : NAN, 5);
		lvc_sbuf_puts(b, "</td><td>");
		put_num(b, g ? ins->garch.par[LVC_GARCH_BETA] : NAN, 5);
		lvc_sbuf_puts(b, "</td><td>");
		put_num(b, g ? ins->garch.persistence : NAN, 5);
		lvc_sbuf_puts(b, "</td><td>");
		put_num(b, ins->tail_out.err == LVC_OK ? ins->tail.nu : NAN, 4);
		lvc_sbuf_printf(
		    b, "</td><td class=\"l\">%s</td><td>%" PRId64 " / %" PRId64 "</td><td>",
		    ins->tail_out.err != LVC_OK ? "-"
		    : ins->tail_student         ? "student_t"
		                                : "normal",
		    t->exceed, t->trials);
		put_num(b, t->p_pof, 3);
		lvc_sbuf_printf(b, "</td><td class=\"l %s\">%s</td></tr>\n", cls, v);
	}
	lvc_sbuf_puts(b, "</table>\n");
	if (run->ins_n > 1) {
		lvc_sbuf_printf(b, "<h2>Coverage, all instruments %s</h2>\n",
		                run->pooled_ok
		                    ? "pooled"
		                    : "(counts only: the instruments expect different rates)");
		lvc_sbuf_printf(b,
		                "<p class=\"note\">%" PRId64 " blocks, %" PRId64
		                " without a limit. Pooling adds the counts and assumes the "
		                "instruments' exceedances independent of each other; correlated "
		                "markets break that (one market-wide move hits all at once), so "
		                "read these p-values as optimistic.</p>\n",
		                run->pooled.blocks_total, run->pooled.blocks_no_limit);
		coverage_table(b, &run->pooled);
	}

	/* Method. */
	lvc_sbuf_puts(
	    b,
	    "<h2>Method</h2>\n<p class=\"note\"><b>Data.</b> The inputs are merged in event time "
	    "exactly as <code>levcal replay</code> merges them and fed through the same pipeline; "
	    "the ticks the engine applied to an instrument's volatility (its configured source) "
	    "give its returns, and the LeverageLimit events the pipeline produced give the limit "
	    "in "
	    "force at every time. Grid returns at <code>volatility.sample_interval</code> follow "
	    "SPEC &#167;3 (previous-tick interpolation); bar returns are close-to-close log "
	    "returns of <code>volatility.bar_interval</code> bars. A run of empty intervals in a "
	    "gap longer than <code>leverage.stale_after</code> (the engine publishes STALE there) "
	    "keeps at most stale_after / interval zero returns; the rest is a feed gap, not "
	    "market data, and is left out of the fits.</p>\n"
	    "<p class=\"note\"><b>Fits.</b> EWMA half-life by the Gaussian likelihood of the "
	    "one-step variance forecast on the grid returns (grid search, then Brent). GARCH(1,1) "
	    "by Gaussian maximum likelihood with a constant mean on the bar returns, the recursion "
	    "started at the sample mean of the squared residuals (the Fiorentini-Calzolari-"
	    "Panattoni convention); omega is variance per bar, as "
	    "<code>volatility.garch.omega</code>; standard errors from the inverse Hessian, "
	    "robust ones from the Bollerslev-Wooldridge sandwich. Student-t nu by maximum "
	    "likelihood on the GARCH-standardized returns; <code>tail: student_t</code> is "
	    "suggested only when nu &lt; 30 and 2 (logL t - logL normal) &gt; 6.63 (the "
	    "chi-square(1) "
	    "1% point).</p>\n"
	    "<p class=\"note\"><b>Coverage.</b> A margin rate m covers a loss of m times the "
	    "notional; a long loses when the price falls by more than m over "
	    "<code>leverage.horizon</code>, a short when it rises by more. Outcomes of limits "
	    "closer than a horizon share price moves, so the tests use non-overlapping blocks: "
	    "anchors at the multiples of the horizon since the epoch, the limit in force and the "
	    "price at the anchor, the price one horizon later. Kupiec's proportion-of-failures "
	    "test compares the exceedance rate with the expected one; Christoffersen's tests "
	    "check that exceedances do not cluster (independence) and both together (conditional "
	    "coverage). Expected rate: the chance under the configured model that the move "
	    "exceeds im_multiplier z sigma_h (times mm_ratio for the maintenance margin), per "
	    "side; the published margins are rounded up to a leverage step and clamped, so a "
	    "correct model gives fewer exceedances than expected and Kupiec may reject with "
	    "\"too few\". The rate over every tick (overlapping horizons) is shown for "
	    "description only. A verdict \"pass\" means neither Kupiec nor conditional coverage "
	    "rejects at 5%.</p>\n");

	for (size_t i = 0; i < run->ins_n; i++) {
		if ((err = instrument_section(b, run, i)) != LVC_OK) {
			return err;
		}
	}
	lvc_sbuf_puts(b, "</body>\n</html>\n");
	return b->oom ? LVC_ERR_NOMEM : LVC_OK;
}

lvc_err_t lvc_report_write(const lvc_calib_run_t *run, const char *path, char *errstr,
                           size_t errstr_size)
{
	lvc_sbuf_t b;
	FILE *f = NULL;
	lvc_err_t err;

	lvc_sbuf_init(&b);
	if ((err = lvc_report_html(run, &b)) != LVC_OK) {
		snprintf(errstr, errstr_size, "%s: out of memory building the report", path);
		goto exit;
	}
	if ((f = fopen(path, "w")) == NULL) {
		snprintf(errstr, errstr_size, "%s: cannot open for writing: %s", path,
		         strerror(errno));
		err = LVC_ERR_IO;
		goto exit;
	}
	if (fwrite(b.p, 1, b.len, f) != b.len) {
		snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
		err = LVC_ERR_IO;
	}
	if (fclose(f) != 0 && err == LVC_OK) {
		snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
		err = LVC_ERR_IO;
	}
exit:
	lvc_sbuf_free(&b);
	return err;
}
