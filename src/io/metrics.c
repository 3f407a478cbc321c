/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus registry of io/metrics.h and the stage's metric set.
 *
 * Layout: a registry holds families in registration order; a family holds
 * up to max_series series, each allocated on its own so that its address
 * never changes (the hot path keeps it). The series count is published with
 * a release store after the series is complete, and creation happens under
 * the registry mutex, so a renderer holding the mutex always sees whole
 * series. Values are atomics: counters a uint64, gauges the bits of a
 * double, histograms one uint64 per bucket (not cumulative: cumulation is
 * done when rendering, so that an observation is a single increment) and
 * the sum as the bits of a double updated by compare-and-swap. _count is
 * rendered as the sum of the buckets, so that it always equals the +Inf
 * bucket of the same scrape.
 *
 * Load: series are created at start-up or on first use of a label set
 * (a handful per family); increments are one relaxed atomic each; a scrape
 * every few seconds renders a few kilobytes.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/metrics.h"
#include "core/errfmt.h"

#define DEFAULT_MAX_SERIES 64
#define LAG_MAX_SERIES     1024
#define BROKER_MAX_SERIES  256

typedef struct series_s {
	lvc_family_t *fam;
	char *values[LVC_METRIC_MAX_LABELS];
	atomic_int shown;
	_Atomic uint64_t v;        /* counter value, or the bits of a gauge's double */
	_Atomic uint64_t sum_bits; /* histogram sum (double bits) */
	_Atomic uint64_t *buckets; /* histogram: bounds_n + 1 counts */
} series_t;

/* The public series types are the same record; the distinct names keep a
 * counter from being passed where a gauge is expected. */
struct lvc_counter_s {
	series_t s;
};
struct lvc_gauge_s {
	series_t s;
};
struct lvc_histogram_s {
	series_t s;
};

struct lvc_family_s {
	lvc_metrics_t *reg;
	lvc_metric_type_t type;
	char *name;
	char *help;
	char *labels[LVC_METRIC_MAX_LABELS];
	size_t labels_n;
	double bounds[LVC_METRIC_MAX_BUCKETS];
	size_t bounds_n;
	size_t max_series;
	series_t **series;
	atomic_size_t series_n;
};

struct lvc_metrics_s {
	pthread_mutex_t lock;
	lvc_family_t **fams;
	size_t fams_n;
	size_t fams_cap;
};

/* ---- doubles in atomics ---------------------------------------------- */

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old, dbits(bitsd(old) + delta),
	                                              memory_order_relaxed, memory_order_relaxed)) {
		/* old was reloaded by the failed exchange. */
	}
}

/* ---- registry --------------------------------------------------------- */

lvc_metrics_t *lvc_metrics_new(void)
{
	lvc_metrics_t *reg = calloc(1, sizeof(*reg));

	if (reg == NULL) {
		return NULL;
	}
	if (pthread_mutex_init(&reg->lock, NULL) != 0) {
		free(reg);
		return NULL;
	}
	return reg;
}

static void series_free(series_t *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < LVC_METRIC_MAX_LABELS; i++) {
		free(s->values[i]);
	}
	free(s->buckets);
	free(s);
}

static void family_free(lvc_family_t *f)
{
	if (f == NULL) {
		return;
	}
	for (size_t i = 0; i < atomic_load(&f->series_n); i++) {
		series_free(f->series[i]);
	}
	free(f->series);
	for (size_t i = 0; i < f->labels_n; i++) {
		free(f->labels[i]);
	}
	free(f->name);
	free(f->help);
	free(f);
}

void lvc_metrics_destroy(lvc_metrics_t *reg)
{
	if (reg == NULL) {
		return;
	}
	for (size_t i = 0; i < reg->fams_n; i++) {
		family_free(reg->fams[i]);
	}
	free(reg->fams);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static int valid_metric_name(const char *s)
{
	if (s == NULL || *s == '\0') {
		return 0;
	}
	for (const char *p = s; *p != '\0'; p++) {
		int alpha =
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';

		if (!alpha && !(p > s && *p >= '0' && *p <= '9')) {
			return 0;
		}
	}
	return 1;
}

static int valid_label_name(const char *s)
{
	if (s == NULL || *s == '\0' || strncmp(s, "__", 2) == 0) {
		return 0;
	}
	for (const char *p = s; *p != '\0'; p++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';

		if (!alpha && !(p > s && *p >= '0' && *p <= '9')) {
			return 0;
		}
	}
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *type_name(lvc_metric_type_t t)
{
	switch (t) {
	case LVC_METRIC_COUNTER:
		return "counter";
	case LVC_METRIC_GAUGE:
		return "gauge";
	case LVC_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* Checks a definition; 0 or -1 with errstr. */
static int def_check(const lvc_metrics_t *reg, const lvc_family_def_t *def, char *errstr,
                     size_t errstr_size)
{
	const char *name = def->name != NULL ? def->name : "(null)";

	if (!valid_metric_name(def->name)) {
		LVC_ERRF("metric name '%s' is not valid: allowed [a-zA-Z_:][a-zA-Z0-9_:]*", name);
		return -1;
	}
	if (def->type != LVC_METRIC_COUNTER && def->type != LVC_METRIC_GAUGE &&
	    def->type != LVC_METRIC_HISTOGRAM) {
		LVC_ERRF("metric %s: type %d is not counter, gauge or histogram", name,
		         (int)def->type);
		return -1;
	}
	if (def->type == LVC_METRIC_COUNTER && !ends_with(def->name, "_total")) {
		LVC_ERRF("counter %s: a counter's name must end in _total", name);
		return -1;
	}
	if (def->type != LVC_METRIC_COUNTER && ends_with(def->name, "_total")) {
		LVC_ERRF("%s %s: only counters end in _total", type_name(def->type), name);
		return -1;
	}
	if (def->help == NULL || strchr(def->help, '\n') != NULL) {
		LVC_ERRF("metric %s: help must be one line of text", name);
		return -1;
	}
	if (def->labels_n > LVC_METRIC_MAX_LABELS || (def->labels_n > 0 && def->labels == NULL)) {
		LVC_ERRF("metric %s: %zu label names; allowed: 0 to %d", name, def->labels_n,
		         LVC_METRIC_MAX_LABELS);
		return -1;
	}
	for (size_t i = 0; i < def->labels_n; i++) {
		if (!valid_label_name(def->labels[i])) {
			LVC_ERRF("metric %s: label name '%s' is not valid: allowed "
			         "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
			         name, def->labels[i] != NULL ? def->labels[i] : "(null)");
			return -1;
		}
		if (def->type == LVC_METRIC_HISTOGRAM && strcmp(def->labels[i], "le") == 0) {
			LVC_ERRF("histogram %s: the label name 'le' is reserved for buckets", name);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(def->labels[i], def->labels[j]) == 0) {
				LVC_ERRF("metric %s: label name '%s' given twice", name,
				         def->labels[i]);
				return -1;
			}
		}
	}
	if (def->type == LVC_METRIC_HISTOGRAM) {
		if (def->bounds == NULL || def->bounds_n == 0 ||
		    def->bounds_n > LVC_METRIC_MAX_BUCKETS) {
			LVC_ERRF("histogram %s: %zu bucket bounds; allowed: 1 to %d", name,
			         def->bounds_n, LVC_METRIC_MAX_BUCKETS);
			return -1;
		}
		for (size_t i = 0; i < def->bounds_n; i++) {
			if (!isfinite(def->bounds[i]) ||
			    (i > 0 && def->bounds[i] <= def->bounds[i - 1])) {
				LVC_ERRF("histogram %s: bucket bound %zu (%g) must be finite and "
				         "greater "
				         "than the one before",
				         name, i, def->bounds[i]);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < reg->fams_n; i++) {
		const char *other = reg->fams[i]->name;
		size_t n = strlen(other);

		/* A histogram also owns NAME_bucket, NAME_sum and NAME_count. */
		if (strcmp(other, def->name) == 0 ||
		    (reg->fams[i]->type == LVC_METRIC_HISTOGRAM &&
		     strncmp(def->name, other, n) == 0 &&
		     (strcmp(def->name + n, "_bucket") == 0 || strcmp(def->name + n, "_sum") == 0 ||
		      strcmp(def->name + n, "_count") == 0))) {
			LVC_ERRF("metric %s is already registered", name);
			return -1;
		}
	}
	return 0;
}

static series_t *series_new(lvc_family_t *f, const char *const *values)
{
	series_t *s;

	/* Every public type has the same size and layout as series_t. */
	if ((s = calloc(1, sizeof(struct lvc_histogram_s))) == NULL) {
		return NULL;
	}
	s->fam = f;
	for (size_t i = 0; i < f->labels_n; i++) {
		if ((s->values[i] = strdup(values[i] != NULL ? values[i] : "")) == NULL) {
			goto fail;
		}
	}
	if (f->type == LVC_METRIC_HISTOGRAM) {
		s->buckets = calloc(f->bounds_n + 1, sizeof(*s->buckets));
		if (s->buckets == NULL) {
			goto fail;
		}
	}
	atomic_store(&s->v, f->type == LVC_METRIC_GAUGE ? dbits(0.0) : 0);
	atomic_store(&s->sum_bits, dbits(0.0));
	atomic_store(&s->shown, 1);
	return s;
fail:
	series_free(s);
	return NULL;
}

lvc_family_t *lvc_metrics_add(lvc_metrics_t *reg, const lvc_family_def_t *def, char *errstr,
                              size_t errstr_size)
{
	lvc_family_t *f = NULL;

	pthread_mutex_lock(&reg->lock);
	if (def_check(reg, def, errstr, errstr_size) != 0) {
		goto fail;
	}
	if (reg->fams_n == reg->fams_cap) {
		size_t cap = reg->fams_cap == 0 ? 16 : reg->fams_cap * 2;
		lvc_family_t **fams = realloc(reg->fams, cap * sizeof(*fams));

		if (fams == NULL) {
			goto nomem;
		}
		reg->fams = fams;
		reg->fams_cap = cap;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		goto nomem;
	}
	f->reg = reg;
	f->type = def->type;
	f->max_series = def->labels_n == 0     ? 1
	                : def->max_series == 0 ? DEFAULT_MAX_SERIES
	                                       : def->max_series;
	if ((f->name = strdup(def->name)) == NULL || (f->help = strdup(def->help)) == NULL ||
	    (f->series = calloc(f->max_series, sizeof(*f->series))) == NULL) {
		goto nomem;
	}
	for (size_t i = 0; i < def->labels_n; i++) {
		if ((f->labels[i] = strdup(def->labels[i])) == NULL) {
			goto nomem;
		}
		f->labels_n = i + 1;
	}
	if (def->type == LVC_METRIC_HISTOGRAM) {
		memcpy(f->bounds, def->bounds, def->bounds_n * sizeof(double));
		f->bounds_n = def->bounds_n;
	}
	if (f->labels_n == 0) {
		if ((f->series[0] = series_new(f, NULL)) == NULL) {
			goto nomem;
		}
		atomic_store_explicit(&f->series_n, 1, memory_order_release);
	}
	reg->fams[reg->fams_n++] = f;
	pthread_mutex_unlock(&reg->lock);
	return f;
nomem:
	LVC_ERRF("metric %s: out of memory", def->name);
fail:
	family_free(f);
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

static series_t *single(lvc_metrics_t *reg, lvc_metric_type_t type, const char *name,
                        const char *help, const double *bounds, size_t bounds_n, char *errstr,
                        size_t errstr_size)
{
	lvc_family_def_t def = { 0 };
	lvc_family_t *f;

	def.type = type;
	def.name = name;
	def.help = help;
	def.bounds = bounds;
	def.bounds_n = bounds_n;
	if ((f = lvc_metrics_add(reg, &def, errstr, errstr_size)) == NULL) {
		return NULL;
	}
	return f->series[0];
}

lvc_counter_t *lvc_metrics_counter(lvc_metrics_t *reg, const char *name, const char *help,
                                   char *errstr, size_t errstr_size)
{
	return (lvc_counter_t *)single(reg, LVC_METRIC_COUNTER, name, help, NULL, 0, errstr,
	                               errstr_size);
}

lvc_gauge_t *lvc_metrics_gauge(lvc_metrics_t *reg, const char *name, const char *help, char *errstr,
                               size_t errstr_size)
{
	return (lvc_gauge_t *)single(reg, LVC_METRIC_GAUGE, name, help, NULL, 0, errstr,
	                             errstr_size);
}

lvc_histogram_t *lvc_metrics_histogram(lvc_metrics_t *reg, const char *name, const char *help,
                                       const double *bounds, size_t bounds_n, char *errstr,
                                       size_t errstr_size)
{
	return (lvc_histogram_t *)single(reg, LVC_METRIC_HISTOGRAM, name, help, bounds, bounds_n,
	                                 errstr, errstr_size);
}

/* The series of values in f, or NULL; caller holds the lock. */
static series_t *find_locked(const lvc_family_t *f, const char *const *values)
{
	size_t n = atomic_load_explicit(&f->series_n, memory_order_acquire);

	for (size_t i = 0; i < n; i++) {
		series_t *s = f->series[i];
		size_t j = 0;

		while (j < f->labels_n &&
		       strcmp(s->values[j], values[j] != NULL ? values[j] : "") == 0) {
			j++;
		}
		if (j == f->labels_n) {
			return s;
		}
	}
	return NULL;
}

static series_t *lookup(lvc_family_t *f, lvc_metric_type_t type, const char *const *values)
{
	series_t *s = NULL;
	size_t n;

	if (f == NULL || f->type != type || (f->labels_n > 0 && values == NULL)) {
		return NULL;
	}
	if (f->labels_n == 0) {
		return f->series[0];
	}
	pthread_mutex_lock(&f->reg->lock);
	if ((s = find_locked(f, values)) != NULL) {
		atomic_store(&s->shown, 1);
		goto out;
	}
	n = atomic_load(&f->series_n);
	if (n == f->max_series) {
		goto out;
	}
	if ((s = series_new(f, values)) != NULL) {
		f->series[n] = s;
		atomic_store_explicit(&f->series_n, n + 1, memory_order_release);
	}
out:
	pthread_mutex_unlock(&f->reg->lock);
	return s;
}

lvc_counter_t *lvc_family_counter(lvc_family_t *f, const char *const *values)
{
	return (lvc_counter_t *)lookup(f, LVC_METRIC_COUNTER, values);
}

lvc_gauge_t *lvc_family_gauge(lvc_family_t *f, const char *const *values)
{
	return (lvc_gauge_t *)lookup(f, LVC_METRIC_GAUGE, values);
}

lvc_histogram_t *lvc_family_histogram(lvc_family_t *f, const char *const *values)
{
	return (lvc_histogram_t *)lookup(f, LVC_METRIC_HISTOGRAM, values);
}

lvc_err_t lvc_family_forget(lvc_family_t *f, const char *const *values)
{
	series_t *s;
	lvc_err_t ret = LVC_ERR_NOT_FOUND;

	if (f == NULL || (f->labels_n > 0 && values == NULL)) {
		return LVC_ERR_INVALID;
	}
	pthread_mutex_lock(&f->reg->lock);
	if ((s = f->labels_n == 0 ? f->series[0] : find_locked(f, values)) != NULL) {
		atomic_store(&s->shown, 0);
		atomic_store(&s->v, f->type == LVC_METRIC_GAUGE ? dbits(0.0) : 0);
		if (s->buckets != NULL) {
			for (size_t i = 0; i <= f->bounds_n; i++) {
				atomic_store(&s->buckets[i], 0);
			}
			atomic_store(&s->sum_bits, dbits(0.0));
		}
		ret = LVC_OK;
	}
	pthread_mutex_unlock(&f->reg->lock);
	return ret;
}

double lvc_family_sum(const lvc_family_t *f)
{
	size_t n = atomic_load_explicit(&f->series_n, memory_order_acquire);
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		const series_t *s = f->series[i];

		if (!atomic_load(&s->shown)) {
			continue;
		}
		if (f->type == LVC_METRIC_COUNTER) {
			sum += (double)atomic_load_explicit(&s->v, memory_order_relaxed);
		} else if (f->type == LVC_METRIC_GAUGE) {
			sum += bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
		}
	}
	return sum;
}

/* ---- the hot path ------------------------------------------------------ */

void lvc_counter_inc(lvc_counter_t *c)
{
	atomic_fetch_add_explicit(&c->s.v, 1, memory_order_relaxed);
}

void lvc_counter_add(lvc_counter_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->s.v, n, memory_order_relaxed);
}

uint64_t lvc_counter_value(const lvc_counter_t *c)
{
	return atomic_load_explicit(&c->s.v, memory_order_relaxed);
}

void lvc_gauge_set(lvc_gauge_t *g, double v)
{
	atomic_store_explicit(&g->s.v, dbits(v), memory_order_relaxed);
}

void lvc_gauge_add(lvc_gauge_t *g, double delta)
{
	atomic_add_double(&g->s.v, delta);
}

double lvc_gauge_value(const lvc_gauge_t *g)
{
	return bitsd(atomic_load_explicit(&g->s.v, memory_order_relaxed));
}

void lvc_histogram_observe(lvc_histogram_t *h, double v)
{
	const lvc_family_t *f = h->s.fam;
	size_t lo = 0, hi = f->bounds_n;

	if (isnan(v)) {
		return;
	}
	/* The first bucket whose upper bound is >= v (le is inclusive). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v <= f->bounds[mid]) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	atomic_fetch_add_explicit(&h->s.buckets[lo], 1, memory_order_relaxed);
	atomic_add_double(&h->s.sum_bits, v);
}

size_t lvc_histogram_bounds(const lvc_histogram_t *h, const double **bounds)
{
	*bounds = h->s.fam->bounds;
	return h->s.fam->bounds_n;
}

void lvc_histogram_read(const lvc_histogram_t *h, uint64_t *counts, double *sum)
{
	for (size_t i = 0; i <= h->s.fam->bounds_n; i++) {
		counts[i] = atomic_load_explicit(&h->s.buckets[i], memory_order_relaxed);
	}
	*sum = bitsd(atomic_load_explicit(&h->s.sum_bits, memory_order_relaxed));
}

double lvc_histogram_quantile(const double *bounds, size_t bounds_n, const uint64_t *counts,
                              double q)
{
	uint64_t total = 0, cum = 0;
	double rank;

	for (size_t i = 0; i <= bounds_n; i++) {
		total += counts[i];
	}
	if (total == 0 || !(q >= 0 && q <= 1)) {
		return NAN;
	}
	rank = q * (double)total;
	for (size_t i = 0; i < bounds_n; i++) {
		double lower = i == 0 ? 0.0 : bounds[i - 1];

		if (counts[i] > 0 && (double)(cum + counts[i]) >= rank) {
			return lower +
			       (bounds[i] - lower) * (rank - (double)cum) / (double)counts[i];
		}
		cum += counts[i];
	}
	return bounds[bounds_n - 1];
}

/* ---- rendering --------------------------------------------------------- */

char *lvc_metrics_format_double(double v, char *buf, size_t size)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		/* Integers as integers: "60", not "6e+01". */
		snprintf(buf, size, "%.0f", v);
	} else {
		/* The shortest %g that reads back as v. */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v) {
				break;
			}
		}
	}
	return buf;
}

/* Writes s with the escapes of the format: backslash and newline always,
 * the double quote only inside label values. */
static void put_escaped(FILE *out, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			fputs("\\\\", out);
		} else if (*s == '\n') {
			fputs("\\n", out);
		} else if (quote && *s == '"') {
			fputs("\\\"", out);
		} else {
			fputc(*s, out);
		}
	}
}

/* NAME{labels[,le="..."]} with the braces left out when there are none. */
static void put_name(FILE *out, const lvc_family_t *f, const series_t *s, const char *suffix,
                     const char *le)
{
	fputs(f->name, out);
	fputs(suffix, out);
	if (f->labels_n == 0 && le == NULL) {
		return;
	}
	fputc('{', out);
	for (size_t i = 0; i < f->labels_n; i++) {
		fprintf(out, "%s%s=\"", i > 0 ? "," : "", f->labels[i]);
		put_escaped(out, s->values[i], 1);
		fputc('"', out);
	}
	if (le != NULL) {
		fprintf(out, "%sle=\"%s\"", f->labels_n > 0 ? "," : "", le);
	}
	fputc('}', out);
}

static void render_series(FILE *out, const lvc_family_t *f, const series_t *s)
{
	char num[64];

	switch (f->type) {
	case LVC_METRIC_COUNTER:
		put_name(out, f, s, "", NULL);
		fprintf(out, " %" PRIu64 "\n", atomic_load_explicit(&s->v, memory_order_relaxed));
		break;
	case LVC_METRIC_GAUGE:
		put_name(out, f, s, "", NULL);
		fprintf(out, " %s\n",
		        lvc_metrics_format_double(bitsd(atomic_load(&s->v)), num, sizeof(num)));
		break;
	case LVC_METRIC_HISTOGRAM: {
		uint64_t cum = 0;

		for (size_t i = 0; i <= f->bounds_n; i++) {
			cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
			if (i < f->bounds_n) {
				lvc_metrics_format_double(f->bounds[i], num, sizeof(num));
			} else {
				snprintf(num, sizeof(num), "+Inf");
			}
			put_name(out, f, s, "_bucket", num);
			fprintf(out, " %" PRIu64 "\n", cum);
		}
		put_name(out, f, s, "_sum", NULL);
		fprintf(
		    out, " %s\n",
		    lvc_metrics_format_double(bitsd(atomic_load(&s->sum_bits)), num, sizeof(num)));
		put_name(out, f, s, "_count", NULL);
		fprintf(out, " %" PRIu64 "\n", cum);
		break;
	}
	}
}

lvc_err_t lvc_metrics_render(lvc_metrics_t *reg, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int bad;

	*out = NULL;
	*out_len = 0;
	if (f == NULL) {
		return LVC_ERR_NOMEM;
	}
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->fams_n; i++) {
		const lvc_family_t *fam = reg->fams[i];
		size_t n = atomic_load_explicit(&fam->series_n, memory_order_acquire);

		fprintf(f, "# HELP %s ", fam->name);
		put_escaped(f, fam->help, 0);
		fprintf(f, "\n# TYPE %s %s\n", fam->name, type_name(fam->type));
		for (size_t j = 0; j < n; j++) {
			if (atomic_load(&fam->series[j]->shown)) {
				render_series(f, fam, fam->series[j]);
			}
		}
	}
	pthread_mutex_unlock(&reg->lock);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		return LVC_ERR_NOMEM;
	}
	*out = buf;
	*out_len = len;
	return LVC_OK;
}

/* ---- the stage's metric set -------------------------------------------- */

const double lvc_latency_bounds_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	                                0.25,   0.5,   1,      2.5,   5,    10,    30,   60 };
const size_t lvc_latency_bounds_n = sizeof(lvc_latency_bounds_s) / sizeof(lvc_latency_bounds_s[0]);

static const char *const dl_names[LVC_DL__COUNT] = { "decode", "invalid", "tombstone", "other" };
static const char *const out_names[LVC_SM_OUT__COUNT] = { "leverage_limit", "liquidation_warning" };

const char *lvc_dl_reason_name(lvc_dl_reason_t r)
{
	return (unsigned)r < LVC_DL__COUNT ? dl_names[r] : "other";
}

lvc_dl_reason_t lvc_dl_reason_of(lvc_err_t err)
{
	switch (err) {
	case LVC_ERR_DECODE:
		return LVC_DL_DECODE;
	case LVC_ERR_INVALID:
		return LVC_DL_INVALID;
	default:
		return LVC_DL_OTHER;
	}
}

static lvc_family_t *add_family(lvc_metrics_t *reg, lvc_metric_type_t type, const char *name,
                                const char *help, const char *const *labels, size_t labels_n,
                                size_t max_series, char *errstr, size_t errstr_size)
{
	lvc_family_def_t def = { 0 };

	def.type = type;
	def.name = name;
	def.help = help;
	def.labels = labels;
	def.labels_n = labels_n;
	def.max_series = max_series;
	return lvc_metrics_add(reg, &def, errstr, errstr_size);
}

lvc_stage_metrics_t *lvc_stage_metrics_new(const lvc_config_t *cfg, const char *version,
                                           char *errstr, size_t errstr_size)
{
	static const char *const l_topic[] = { "topic" };
	static const char *const l_type[] = { "type" };
	static const char *const l_reason[] = { "reason" };
	static const char *const l_lag[] = { "topic", "partition" };
	static const char *const l_broker[] = { "broker" };
	static const char *const l_version[] = { "version" };
	lvc_stage_metrics_t *sm = calloc(1, sizeof(*sm));
	lvc_metrics_t *reg;
	lvc_family_t *f;
	const char *topics[LVC_SM_IN__COUNT];

	if (sm == NULL || (sm->reg = reg = lvc_metrics_new()) == NULL) {
		LVC_ERRF("out of memory creating the metrics registry");
		goto fail;
	}
	topics[LVC_SM_IN_TRADES] = cfg->topics.trades;
	topics[LVC_SM_IN_PRICES] = cfg->topics.prices;
	topics[LVC_SM_IN_POSITIONS] = cfg->topics.positions;
	topics[LVC_SM_IN_BALANCES] = cfg->topics.balances;

	if ((f = add_family(reg, LVC_METRIC_COUNTER, "levcal_ticks_in_total",
	                    "Input records read, by topic.", l_topic, 1, LVC_SM_IN__COUNT, errstr,
	                    errstr_size)) == NULL) {
		goto fail;
	}
	for (int i = 0; i < LVC_SM_IN__COUNT; i++) {
		const char *v[1] = { topics[i] != NULL ? topics[i] : "" };

		/* Two inputs configured with one topic share its series. */
		if ((sm->ticks_in[i] = lvc_family_counter(f, v)) == NULL) {
			goto nomem;
		}
	}
	if ((f = add_family(reg, LVC_METRIC_COUNTER, "levcal_events_out_total",
	                    "Events produced, by type.", l_type, 1, LVC_SM_OUT__COUNT, errstr,
	                    errstr_size)) == NULL) {
		goto fail;
	}
	for (int i = 0; i < LVC_SM_OUT__COUNT; i++) {
		const char *v[1] = { out_names[i] };

		if ((sm->events_out[i] = lvc_family_counter(f, v)) == NULL) {
			goto nomem;
		}
	}
	if ((f = sm->dead_letter_family =
	         add_family(reg, LVC_METRIC_COUNTER, "levcal_dead_letters_total",
	                    "Input records sent to the dead-letter topic, by reason.", l_reason, 1,
	                    LVC_DL__COUNT, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	for (int i = 0; i < LVC_DL__COUNT; i++) {
		const char *v[1] = { dl_names[i] };

		if ((sm->dead_letters[i] = lvc_family_counter(f, v)) == NULL) {
			goto nomem;
		}
	}
	if ((sm->ticks_late = lvc_metrics_counter(
	         reg, "levcal_ticks_late_total",
	         "Ticks older than their instrument's newest applied tick: counted, not applied.",
	         errstr, errstr_size)) == NULL ||
	    (sm->txn_committed = lvc_metrics_counter(reg, "levcal_transactions_committed_total",
	                                             "Kafka transactions committed.", errstr,
	                                             errstr_size)) == NULL ||
	    (sm->txn_aborted =
	         lvc_metrics_counter(reg, "levcal_transactions_aborted_total",
	                             "Kafka transactions aborted.", errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sm->consumer_lag = add_family(
	         reg, LVC_METRIC_GAUGE, "levcal_consumer_lag",
	         "Records not yet read per assigned input partition: end offset minus position.",
	         l_lag, 2, LAG_MAX_SERIES, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sm->processing_latency = lvc_metrics_histogram(
	         reg, "levcal_processing_latency_seconds",
	         "Time from a tick's event time (ts_us) to producing the event it caused.",
	         lvc_latency_bounds_s, lvc_latency_bounds_n, errstr, errstr_size)) == NULL ||
	    (sm->arrival_latency = lvc_metrics_histogram(
	         reg, "levcal_arrival_latency_seconds",
	         "Time from a record's arrival at the stage to producing the event it caused.",
	         lvc_latency_bounds_s, lvc_latency_bounds_n, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sm->instruments = lvc_metrics_gauge(reg, "levcal_instruments",
	                                         "Instruments whose state this instance holds.",
	                                         errstr, errstr_size)) == NULL ||
	    (sm->positions =
	         lvc_metrics_gauge(reg, "levcal_positions", "Open positions this instance watches.",
	                           errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sm->broker_rtt = add_family(reg, LVC_METRIC_GAUGE, "levcal_broker_rtt_seconds",
	                                 "Kafka broker round-trip time, average over the last "
	                                 "librdkafka statistics interval.",
	                                 l_broker, 1, BROKER_MAX_SERIES, errstr, errstr_size)) ==
	        NULL ||
	    (sm->broker_rtt_p99 =
	         add_family(reg, LVC_METRIC_GAUGE, "levcal_broker_rtt_p99_seconds",
	                    "Kafka broker round-trip time, 99th percentile over "
	                    "the last librdkafka statistics interval.",
	                    l_broker, 1, BROKER_MAX_SERIES, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sm->up = lvc_metrics_gauge(reg, "levcal_up", "1 while the levcal process runs.",
	                                errstr, errstr_size)) == NULL ||
	    (sm->ready = lvc_metrics_gauge(reg, "levcal_ready",
	                                   "1 when the consumer has its assignment and state is "
	                                   "restored (what /readyz reports).",
	                                   errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((f = add_family(reg, LVC_METRIC_GAUGE, "levcal_build_info",
	                    "Always 1; the version label names the build.", l_version, 1, 1, errstr,
	                    errstr_size)) == NULL) {
		goto fail;
	} else {
		const char *v[1] = { version != NULL ? version : "unknown" };
		lvc_gauge_t *g = lvc_family_gauge(f, v);

		if (g == NULL) {
			goto nomem;
		}
		lvc_gauge_set(g, 1);
	}
	lvc_gauge_set(sm->up, 1);
	return sm;
nomem:
	LVC_ERRF("out of memory creating the stage metrics");
fail:
	lvc_stage_metrics_destroy(sm);
	return NULL;
}

void lvc_stage_metrics_destroy(lvc_stage_metrics_t *sm)
{
	if (sm == NULL) {
		return;
	}
	lvc_metrics_destroy(sm->reg);
	free(sm);
}

lvc_err_t lvc_stage_metrics_set_lag(lvc_stage_metrics_t *sm, const char *topic, int32_t partition,
                                    int64_t lag)
{
	char p[16];
	const char *v[2] = { topic, p };
	lvc_gauge_t *g;

	if (lag < 0) {
		return LVC_OK;
	}
	snprintf(p, sizeof(p), "%" PRId32, partition);
	if ((g = lvc_family_gauge(sm->consumer_lag, v)) == NULL) {
		return LVC_ERR_RANGE;
	}
	lvc_gauge_set(g, (double)lag);
	return LVC_OK;
}

void lvc_stage_metrics_forget_lag(lvc_stage_metrics_t *sm, const char *topic, int32_t partition)
{
	char p[16];
	const char *v[2] = { topic, p };

	snprintf(p, sizeof(p), "%" PRId32, partition);
	(void)lvc_family_forget(sm->consumer_lag, v);
}

void lvc_stage_summary(const lvc_stage_metrics_t *sm, lvc_summary_t *st, int64_t now_us, char *buf,
                       size_t size)
{
	uint64_t in[LVC_SM_IN__COUNT], in_sum = 0;
	uint64_t counts[LVC_METRIC_MAX_BUCKETS + 1], delta[LVC_METRIC_MAX_BUCKETS + 1];
	const double *bounds;
	size_t nb = lvc_histogram_bounds(sm->processing_latency, &bounds);
	double sum, p99, rate = 0;
	char p99s[32], rates[32] = "";

	for (int i = 0; i < LVC_SM_IN__COUNT; i++) {
		in[i] = lvc_counter_value(sm->ticks_in[i]);
		in_sum += in[i];
	}
	lvc_histogram_read(sm->processing_latency, counts, &sum);
	for (size_t i = 0; i <= nb; i++) {
		delta[i] = counts[i] - st->prev_buckets[i];
		st->prev_buckets[i] = counts[i];
	}
	p99 = lvc_histogram_quantile(bounds, nb, delta, 0.99);
	if (isnan(p99)) {
		snprintf(p99s, sizeof(p99s), "-");
	} else {
		/* Three significant digits and never an exponent in a log line:
		 * "9.95ms", "812ms", "2.48s". */
		double ms = p99 * 1e3;

		if (p99 >= 1) {
			snprintf(p99s, sizeof(p99s), "%.*fs",
			         p99 >= 100  ? 0
			         : p99 >= 10 ? 1
			                     : 2,
			         p99);
		} else {
			int d = ms >= 100 ? 0 : ms >= 10 ? 1 : ms >= 1 ? 2 : 3;

			snprintf(p99s, sizeof(p99s), "%.*fms", d, ms);
		}
	}
	if (st->prev_us > 0 && now_us > st->prev_us) {
		rate = (double)(in_sum - st->prev_in) * 1e6 / (double)(now_us - st->prev_us);
		snprintf(rates, sizeof(rates), " (%.0f/s)", rate);
	}
	st->prev_us = now_us;
	st->prev_in = in_sum;
	snprintf(buf, size,
	         "in trades=%" PRIu64 " prices=%" PRIu64 " positions=%" PRIu64 " balances=%" PRIu64
	         "%s out limits=%" PRIu64 " warnings=%" PRIu64 " dead_letters=%.0f late=%" PRIu64
	         " lag=%.0f p99=%s txn=%" PRIu64 "/%" PRIu64,
	         in[LVC_SM_IN_TRADES], in[LVC_SM_IN_PRICES], in[LVC_SM_IN_POSITIONS],
	         in[LVC_SM_IN_BALANCES], rates, lvc_counter_value(sm->events_out[LVC_SM_OUT_LIMIT]),
	         lvc_counter_value(sm->events_out[LVC_SM_OUT_WARNING]),
	         lvc_family_sum(sm->dead_letter_family), lvc_counter_value(sm->ticks_late),
	         lvc_family_sum(sm->consumer_lag), p99s, lvc_counter_value(sm->txn_committed),
	         lvc_counter_value(sm->txn_aborted));
}
