/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the Prometheus registry (src/io/metrics.c): every rendered text
 * goes through the strict parser of test_metrics_parser.h and values are
 * read back through it; the parser itself is shown to refuse each broken
 * form it claims to refuse. Also: definition errors with their messages,
 * label escaping round trips, histogram bucket edges, the series cap,
 * forgetting a series, concurrent increments, shortest float formatting,
 * quantiles against a brute-force computation, and the stage metric set
 * with its one-line summary.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "io/config.h"
#include "io/metrics.h"
#include "test_metrics_parser.h"

static char errstr[512];

/* Renders reg and parses it strictly; the caller frees the doc. */
static void render_parse(lvc_metrics_t *reg, prom_doc_t *doc, char **text)
{
	size_t len;

	cr_assert_eq(lvc_metrics_render(reg, text, &len), LVC_OK);
	cr_assert_eq(strlen(*text), len);
	cr_assert_eq(prom_parse(*text, doc), 0, "strict parse failed: %s\n---\n%s", doc->err,
	             *text);
}

static double value_of(const prom_doc_t *doc, const char *name, const char *labels)
{
	double v = NAN;

	cr_assert(prom_find(doc, name, labels, &v), "no series %s{%s}", name,
	          labels != NULL ? labels : "");
	return v;
}

/* ---- the parser refuses what it should --------------------------------- */

static void refuse(const char *text, const char *why_part)
{
	prom_doc_t d;

	cr_expect_neq(prom_parse(text, &d), 0, "parser accepted:\n%s", text);
	cr_expect(strstr(d.err, why_part) != NULL, "error '%s' lacks '%s'", d.err, why_part);
	prom_free(&d);
}

Test(prom_parser, refuses_each_broken_form)
{
	refuse("a_total 1", "newline");
	refuse("1a 1\n", "bad metric name");
	refuse("a{1b=\"x\"} 1\n", "bad label name");
	refuse("a{b=\"x\\t\"} 1\n", "bad escape");
	refuse("a{b=\"x} 1\n", "unterminated");
	refuse("a 0x10\n", "not a float");
	refuse("a inf\n", "not a float");
	refuse("a 1 1.5\n", "timestamp");
	refuse("# TYPE a gauge\n# TYPE a gauge\na 1\n", "TYPE given twice");
	refuse("a 1\n# TYPE a gauge\n", "TYPE after samples");
	refuse("# TYPE a gauges\n", "unknown TYPE");
	refuse("# HELP a x\\y\n", "bad escape in HELP");
	refuse("a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n", "not contiguous");
	refuse("a{x=\"1\"} 1\na{x=\"1\"} 2\n", "given twice");
	refuse("# TYPE c_total counter\nc_total -1\n", "counter below 0");
	refuse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
	       "h_count 1\n",
	       "not cumulative");
	refuse("# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
	       "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
	       "not increasing");
	refuse("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf");
	refuse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", "_count");
	refuse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "no _sum");
	refuse("a 1\r\n", "carriage return");
}

Test(prom_parser, accepts_the_formats_own_example)
{
	/* From the exposition format description, abridged. */
	static const char text[] =
	    "# HELP http_requests_total The total number of HTTP requests.\n"
	    "# TYPE http_requests_total counter\n"
	    "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
	    "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
	    "\n"
	    "# Escaping in label values:\n"
	    "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
	    "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
	    "metric_without_timestamp_and_labels 12.47\n"
	    "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
	    "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
	    "http_request_duration_seconds_sum 53423\n"
	    "http_request_duration_seconds_count 144320\n";
	prom_doc_t d;
	double v;

	cr_assert_eq(prom_parse(text, &d), 0, "%s", d.err);
	cr_assert(prom_find(&d, "msdos_file_access_time_seconds",
	                    "path=C:\\DIR\\FILE.TXT,error=Cannot find file:\n\"FILE.TXT\"", &v));
	cr_expect_eq(v, 1.458255915e9);
	prom_free(&d);
}

/* ---- registry ------------------------------------------------------------ */

Test(metrics, renders_counters_gauges_and_help_in_registration_order)
{
	lvc_metrics_t *reg = lvc_metrics_new();
	lvc_counter_t *c = lvc_metrics_counter(reg, "t_things_total", "Things.", errstr, 512);
	lvc_gauge_t *g =
	    lvc_metrics_gauge(reg, "t_level", "A level with a \\ and more.", errstr, 512);
	prom_doc_t d;
	char *text;

	cr_assert_not_null(c, "%s", errstr);
	cr_assert_not_null(g, "%s", errstr);
	lvc_counter_inc(c);
	lvc_counter_add(c, 41);
	lvc_gauge_set(g, 2.5);
	lvc_gauge_add(g, -1.25);
	render_parse(reg, &d, &text);
	cr_expect_str_eq(text, "# HELP t_things_total Things.\n"
	                       "# TYPE t_things_total counter\n"
	                       "t_things_total 42\n"
	                       "# HELP t_level A level with a \\\\ and more.\n"
	                       "# TYPE t_level gauge\n"
	                       "t_level 1.25\n");
	cr_expect_str_eq(prom_type(&d, "t_things_total"), "counter");
	cr_expect_str_eq(d.fams[1].help, "A level with a \\ and more.");
	cr_expect_eq(lvc_counter_value(c), 42);
	cr_expect_eq(lvc_gauge_value(g), 1.25);
	prom_free(&d);
	free(text);
	lvc_metrics_destroy(reg);
}

Test(metrics, refuses_bad_definitions_with_a_reason)
{
	static const char *const twice[] = { "a", "a" };
	static const char *const le[] = { "le" };
	static const char *const dunder[] = { "__x" };
	static const double bad_bounds[] = { 1, 1 };
	lvc_metrics_t *reg = lvc_metrics_new();
	lvc_family_def_t def = { 0 };

	cr_expect_null(lvc_metrics_counter(reg, "t_things", "x", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "counter t_things: a counter's name must end in _total");
	cr_expect_null(lvc_metrics_gauge(reg, "t_level_total", "x", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "gauge t_level_total: only counters end in _total");
	cr_expect_null(lvc_metrics_gauge(reg, "t-level", "x", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr,
	                 "metric name 't-level' is not valid: allowed [a-zA-Z_:][a-zA-Z0-9_:]*");
	cr_expect_null(lvc_metrics_gauge(reg, "t_level", "two\nlines", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metric t_level: help must be one line of text");
	cr_expect_null(
	    lvc_metrics_histogram(reg, "t_h_seconds", "x", bad_bounds, 2, errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "histogram t_h_seconds: bucket bound 1 (1) must be finite and "
	                         "greater than the one before");

	def.type = LVC_METRIC_GAUGE;
	def.name = "t_g";
	def.help = "x";
	def.labels = twice;
	def.labels_n = 2;
	cr_expect_null(lvc_metrics_add(reg, &def, errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metric t_g: label name 'a' given twice");
	def.labels = dunder;
	def.labels_n = 1;
	cr_expect_null(lvc_metrics_add(reg, &def, errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metric t_g: label name '__x' is not valid: allowed "
	                         "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __");
	def.type = LVC_METRIC_HISTOGRAM;
	def.labels = le;
	def.bounds = bad_bounds;
	def.bounds_n = 1;
	cr_expect_null(lvc_metrics_add(reg, &def, errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "histogram t_g: the label name 'le' is reserved for buckets");

	cr_assert_not_null(lvc_metrics_histogram(reg, "t_lat_seconds", "x", bad_bounds, 1, errstr,
	                                         sizeof(errstr)));
	cr_expect_null(lvc_metrics_gauge(reg, "t_lat_seconds", "x", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metric t_lat_seconds is already registered");
	cr_expect_null(lvc_metrics_gauge(reg, "t_lat_seconds_count", "x", errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metric t_lat_seconds_count is already registered");
	lvc_metrics_destroy(reg);
}

Test(metrics, escapes_label_values_so_that_they_read_back_unchanged)
{
	static const char *const names[] = { "path", "msg" };
	const char *vals[2] = { "C:\\dir\\file", "say \"hi\"\nand go" };
	lvc_metrics_t *reg = lvc_metrics_new();
	lvc_family_def_t def = { 0 };
	lvc_family_t *f;
	prom_doc_t d;
	char *text;
	size_t found = 0;

	def.type = LVC_METRIC_COUNTER;
	def.name = "t_odd_total";
	def.help = "Odd labels.";
	def.labels = names;
	def.labels_n = 2;
	cr_assert_not_null(f = lvc_metrics_add(reg, &def, errstr, sizeof(errstr)), "%s", errstr);
	lvc_counter_add(lvc_family_counter(f, vals), 7);
	render_parse(reg, &d, &text);
	cr_expect(strstr(text, "t_odd_total{path=\"C:\\\\dir\\\\file\",msg=\"say \\\"hi\\\"\\nand "
	                       "go\"} 7\n") != NULL,
	          "%s", text);
	for (size_t i = 0; i < d.n; i++) {
		if (strcmp(d.samples[i].name, "t_odd_total") == 0) {
			cr_expect_str_eq(prom_label(&d.samples[i], "path"), vals[0]);
			cr_expect_str_eq(prom_label(&d.samples[i], "msg"), vals[1]);
			cr_expect_eq(d.samples[i].value, 7);
			found++;
		}
	}
	cr_expect_eq(found, 1);
	prom_free(&d);
	free(text);
	lvc_metrics_destroy(reg);
}

Test(metrics, histogram_buckets_are_inclusive_cumulative_and_end_in_inf)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	static const double obs[] = { 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.2, 7, -1 };
	lvc_metrics_t *reg = lvc_metrics_new();
	lvc_histogram_t *h =
	    lvc_metrics_histogram(reg, "t_lat_seconds", "Latency.", bounds, 3, errstr, 512);
	uint64_t counts[4];
	double sum = 0, expect_sum = 0;
	prom_doc_t d;
	char *text;

	cr_assert_not_null(h, "%s", errstr);
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
		lvc_histogram_observe(h, obs[i]);
		expect_sum += obs[i];
	}
	lvc_histogram_observe(h, NAN); /* ignored */
	lvc_histogram_read(h, counts, &sum);
	/* le is inclusive: 0.001 falls in the first bucket, 0.1 in the third. */
	cr_expect_eq(counts[0], 3); /* -1, 0.0005, 0.001 */
	cr_expect_eq(counts[1], 2); /* 0.002, 0.01 */
	cr_expect_eq(counts[2], 2); /* 0.05, 0.1 */
	cr_expect_eq(counts[3], 2); /* 0.2, 7 */
	cr_expect_float_eq(sum, expect_sum, 1e-12);
	render_parse(reg, &d, &text);
	cr_expect_eq(value_of(&d, "t_lat_seconds_bucket", "le=0.001"), 3);
	cr_expect_eq(value_of(&d, "t_lat_seconds_bucket", "le=0.01"), 5);
	cr_expect_eq(value_of(&d, "t_lat_seconds_bucket", "le=0.1"), 7);
	cr_expect_eq(value_of(&d, "t_lat_seconds_bucket", "le=+Inf"), 9);
	cr_expect_eq(value_of(&d, "t_lat_seconds_count", ""), 9);
	cr_expect_float_eq(value_of(&d, "t_lat_seconds_sum", ""), expect_sum, 1e-12);
	cr_expect_str_eq(prom_type(&d, "t_lat_seconds"), "histogram");
	prom_free(&d);
	free(text);
	lvc_metrics_destroy(reg);
}

Test(metrics, labelled_families_cap_their_series_and_forget_hides_one)
{
	static const char *const names[] = { "p" };
	lvc_metrics_t *reg = lvc_metrics_new();
	lvc_family_def_t def = { 0 };
	lvc_family_t *f;
	const char *v0[] = { "0" }, *v1[] = { "1" }, *v2[] = { "2" };
	lvc_gauge_t *g0, *g1;
	prom_doc_t d;
	char *text;
	double v;

	def.type = LVC_METRIC_GAUGE;
	def.name = "t_lag";
	def.help = "Lag.";
	def.labels = names;
	def.labels_n = 1;
	def.max_series = 2;
	cr_assert_not_null(f = lvc_metrics_add(reg, &def, errstr, sizeof(errstr)), "%s", errstr);
	/* No series yet: HELP and TYPE only, still valid. */
	render_parse(reg, &d, &text);
	cr_expect_eq(d.n, 0);
	prom_free(&d);
	free(text);

	g0 = lvc_family_gauge(f, v0);
	g1 = lvc_family_gauge(f, v1);
	cr_assert_not_null(g0);
	cr_assert_not_null(g1);
	cr_expect_eq(lvc_family_gauge(f, v0), g0, "a lookup returns the same series");
	cr_expect_null(lvc_family_gauge(f, v2), "a third label set is over the cap");
	cr_expect_null(lvc_family_counter(f, v0), "a gauge family has no counters");
	lvc_gauge_set(g0, 5);
	lvc_gauge_set(g1, 7);
	cr_expect_eq(lvc_family_sum(f), 12);
	cr_expect_eq(lvc_family_forget(f, v1), LVC_OK);
	cr_expect_eq(lvc_family_forget(f, v2), LVC_ERR_NOT_FOUND);
	cr_expect_eq(lvc_family_sum(f), 5);
	render_parse(reg, &d, &text);
	cr_expect(prom_find(&d, "t_lag", "p=0", &v));
	cr_expect_not(prom_find(&d, "t_lag", "p=1", &v), "forgotten series is not rendered");
	prom_free(&d);
	free(text);
	/* Looked up again, it is back, from 0, at the same address. */
	cr_expect_eq(lvc_family_gauge(f, v1), g1);
	cr_expect_eq(lvc_gauge_value(g1), 0);
	render_parse(reg, &d, &text);
	cr_expect(prom_find(&d, "t_lag", "p=1", &v));
	cr_expect_eq(v, 0);
	prom_free(&d);
	free(text);
	lvc_metrics_destroy(reg);
}

struct hammer {
	lvc_counter_t *c;
	lvc_gauge_t *g;
	lvc_histogram_t *h;
};

#define HAMMER_N 200000

static void *hammer_run(void *arg)
{
	struct hammer *hm = arg;

	for (int i = 0; i < HAMMER_N; i++) {
		lvc_counter_inc(hm->c);
		lvc_gauge_add(hm->g, 1.0);
		lvc_histogram_observe(hm->h, (i % 2) ? 0.5 : 2.0);
	}
	return NULL;
}

Test(metrics, concurrent_increments_are_not_lost)
{
	static const double bounds[] = { 1 };
	lvc_metrics_t *reg = lvc_metrics_new();
	struct hammer hm;
	pthread_t th[4];
	uint64_t counts[2];
	double sum;

	hm.c = lvc_metrics_counter(reg, "t_n_total", "n", errstr, 512);
	hm.g = lvc_metrics_gauge(reg, "t_g", "g", errstr, 512);
	hm.h = lvc_metrics_histogram(reg, "t_h", "h", bounds, 1, errstr, 512);
	for (int i = 0; i < 4; i++) {
		pthread_create(&th[i], NULL, hammer_run, &hm);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
	}
	lvc_histogram_read(hm.h, counts, &sum);
	cr_expect_eq(lvc_counter_value(hm.c), 4 * HAMMER_N);
	cr_expect_eq(lvc_gauge_value(hm.g), 4.0 * HAMMER_N);
	cr_expect_eq(counts[0], 2 * HAMMER_N);
	cr_expect_eq(counts[1], 2 * HAMMER_N);
	cr_expect_eq(sum, 2.0 * HAMMER_N * 0.5 + 2.0 * HAMMER_N * 2.0);
	lvc_metrics_destroy(reg);
}

Test(metrics, formats_doubles_as_the_shortest_text_that_reads_back)
{
	char buf[64];
	uint64_t s = 88172645463325252ULL;

	cr_expect_str_eq(lvc_metrics_format_double(0.1, buf, sizeof(buf)), "0.1");
	cr_expect_str_eq(lvc_metrics_format_double(0.005, buf, sizeof(buf)), "0.005");
	cr_expect_str_eq(lvc_metrics_format_double(1e-7, buf, sizeof(buf)), "1e-07");
	cr_expect_str_eq(lvc_metrics_format_double(60, buf, sizeof(buf)), "60");
	cr_expect_str_eq(lvc_metrics_format_double(NAN, buf, sizeof(buf)), "NaN");
	cr_expect_str_eq(lvc_metrics_format_double(INFINITY, buf, sizeof(buf)), "+Inf");
	cr_expect_str_eq(lvc_metrics_format_double(-INFINITY, buf, sizeof(buf)), "-Inf");
	for (int i = 0; i < 10000; i++) {
		double v, back;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(&v, &s, sizeof(v));
		if (!isfinite(v)) {
			continue;
		}
		lvc_metrics_format_double(v, buf, sizeof(buf));
		cr_assert_eq(prom_float(buf, strlen(buf), &back), 0, "'%s' is not a float", buf);
		cr_assert_eq(back, v, "%s does not read back", buf);
	}
}

/* The quantile by brute force: sort the bucket upper bounds of every
 * observation and interpolate as histogram_quantile does. */
static double slow_quantile(const double *bounds, size_t n, const uint64_t *counts, double q)
{
	uint64_t total = 0;
	double rank;
	uint64_t seen = 0;

	for (size_t i = 0; i <= n; i++) {
		total += counts[i];
	}
	rank = q * (double)total;
	for (size_t i = 0; i < n; i++) {
		for (uint64_t k = 1; k <= counts[i]; k++) {
			if ((double)(seen + k) >= rank) {
				double lo = i == 0 ? 0 : bounds[i - 1];

				return lo +
				       (bounds[i] - lo) * (rank - (double)seen) / (double)counts[i];
			}
		}
		seen += counts[i];
	}
	return bounds[n - 1];
}

Test(metrics, quantile_interpolates_inside_the_bucket_like_promql)
{
	static const double b[] = { 0.001, 0.01, 0.1, 1 };
	uint64_t c1[5] = { 0, 100, 0, 0, 0 };
	uint64_t c2[5] = { 90, 9, 1, 0, 0 };
	uint64_t c3[5] = { 0, 0, 0, 0, 5 };
	uint64_t c0[5] = { 0 };
	uint64_t rng = 12345;

	/* 100 observations in (0.001, 0.01]: the median is the middle. */
	cr_expect_float_eq(lvc_histogram_quantile(b, 4, c1, 0.5), 0.0055, 1e-12);
	/* p99 of 90/9/1 is the top of the second bucket. */
	cr_expect_float_eq(lvc_histogram_quantile(b, 4, c2, 0.99), 0.01, 1e-12);
	cr_expect_float_eq(lvc_histogram_quantile(b, 4, c3, 0.5), 1, 0,
	                   "+Inf bucket: highest bound");
	cr_expect(isnan(lvc_histogram_quantile(b, 4, c0, 0.5)));
	for (int t = 0; t < 500; t++) {
		uint64_t c[5];
		double q;

		for (int i = 0; i < 5; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			c[i] = (rng >> 33) % 7;
		}
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		q = (double)(rng >> 11) * 0x1.0p-53;
		if (c[0] + c[1] + c[2] + c[3] + c[4] == 0) {
			continue;
		}
		cr_assert_float_eq(lvc_histogram_quantile(b, 4, c, q), slow_quantile(b, 4, c, q),
		                   1e-12, "q=%g", q);
	}
}

/* ---- the stage's metric set ---------------------------------------------- */

Test(stage_metrics, registers_every_name_of_the_contract_and_parses)
{
	static const char *const counters[] = { "levcal_ticks_in_total",
		                                "levcal_events_out_total",
		                                "levcal_dead_letters_total",
		                                "levcal_ticks_late_total",
		                                "levcal_transactions_committed_total",
		                                "levcal_transactions_aborted_total" };
	static const char *const gauges[] = { "levcal_consumer_lag",
		                              "levcal_instruments",
		                              "levcal_positions",
		                              "levcal_broker_rtt_seconds",
		                              "levcal_broker_rtt_p99_seconds",
		                              "levcal_up",
		                              "levcal_ready",
		                              "levcal_build_info" };
	lvc_config_t *cfg = lvc_config_new_default();
	lvc_stage_metrics_t *sm;
	prom_doc_t d;
	char *text;

	cr_assert_not_null(cfg);
	sm = lvc_stage_metrics_new(cfg, "1.2.3", errstr, sizeof(errstr));
	cr_assert_not_null(sm, "%s", errstr);
	lvc_counter_add(sm->ticks_in[LVC_SM_IN_TRADES], 3);
	lvc_counter_inc(sm->ticks_in[LVC_SM_IN_PRICES]);
	lvc_counter_inc(sm->events_out[LVC_SM_OUT_WARNING]);
	lvc_counter_inc(sm->dead_letters[lvc_dl_reason_of(LVC_ERR_DECODE)]);
	lvc_counter_inc(sm->dead_letters[lvc_dl_reason_of(LVC_ERR_INVALID)]);
	lvc_counter_inc(sm->dead_letters[lvc_dl_reason_of(LVC_ERR_NOMEM)]);
	cr_assert_eq(lvc_stage_metrics_set_lag(sm, "market.trades", 2, 17), LVC_OK);
	render_parse(sm->reg, &d, &text);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		cr_expect_str_eq(prom_type(&d, counters[i]), "counter", "%s", counters[i]);
	}
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		cr_expect_str_eq(prom_type(&d, gauges[i]), "gauge", "%s", gauges[i]);
	}
	cr_expect_str_eq(prom_type(&d, "levcal_processing_latency_seconds"), "histogram");
	cr_expect_str_eq(prom_type(&d, "levcal_arrival_latency_seconds"), "histogram");
	cr_expect_eq(value_of(&d, "levcal_ticks_in_total", "topic=market.trades"), 3);
	cr_expect_eq(value_of(&d, "levcal_ticks_in_total", "topic=market.prices"), 1);
	cr_expect_eq(value_of(&d, "levcal_ticks_in_total", "topic=risk.positions"), 0);
	cr_expect_eq(value_of(&d, "levcal_ticks_in_total", "topic=risk.balances"), 0);
	cr_expect_eq(value_of(&d, "levcal_events_out_total", "type=leverage_limit"), 0);
	cr_expect_eq(value_of(&d, "levcal_events_out_total", "type=liquidation_warning"), 1);
	cr_expect_eq(value_of(&d, "levcal_dead_letters_total", "reason=decode"), 1);
	cr_expect_eq(value_of(&d, "levcal_dead_letters_total", "reason=invalid"), 1);
	cr_expect_eq(value_of(&d, "levcal_dead_letters_total", "reason=other"), 1);
	cr_expect_eq(value_of(&d, "levcal_dead_letters_total", "reason=tombstone"), 0);
	cr_expect_eq(value_of(&d, "levcal_consumer_lag", "topic=market.trades,partition=2"), 17);
	cr_expect_eq(value_of(&d, "levcal_up", ""), 1);
	cr_expect_eq(value_of(&d, "levcal_ready", ""), 0);
	cr_expect_eq(value_of(&d, "levcal_build_info", "version=1.2.3"), 1);
	cr_expect_eq(value_of(&d, "levcal_processing_latency_seconds_bucket", "le=+Inf"), 0);
	prom_free(&d);
	free(text);
	lvc_stage_metrics_destroy(sm);
	lvc_config_destroy(cfg);
}

Test(stage_metrics, lag_ignores_unknown_values_and_forget_hides_revoked_partitions)
{
	lvc_config_t *cfg = lvc_config_new_default();
	lvc_stage_metrics_t *sm = lvc_stage_metrics_new(cfg, "x", errstr, sizeof(errstr));
	prom_doc_t d;
	char *text;
	double v;

	cr_assert_not_null(sm, "%s", errstr);
	lvc_stage_metrics_set_lag(sm, "market.prices", 0, 4);
	lvc_stage_metrics_set_lag(sm, "market.prices", 0, -1); /* unknown: unchanged */
	lvc_stage_metrics_set_lag(sm, "market.prices", 1, 6);
	lvc_stage_metrics_forget_lag(sm, "market.prices", 1);
	render_parse(sm->reg, &d, &text);
	cr_expect_eq(value_of(&d, "levcal_consumer_lag", "topic=market.prices,partition=0"), 4);
	cr_expect_not(prom_find(&d, "levcal_consumer_lag", "topic=market.prices,partition=1", &v));
	prom_free(&d);
	free(text);
	lvc_stage_metrics_destroy(sm);
	lvc_config_destroy(cfg);
}

Test(stage_metrics, summary_line_reports_totals_rate_and_interval_p99)
{
	lvc_config_t *cfg = lvc_config_new_default();
	lvc_stage_metrics_t *sm = lvc_stage_metrics_new(cfg, "x", errstr, sizeof(errstr));
	lvc_summary_t st = { 0 };
	char line[512];

	cr_assert_not_null(sm, "%s", errstr);
	lvc_stage_summary(sm, &st, 1000000, line, sizeof(line));
	cr_expect_str_eq(line, "in trades=0 prices=0 positions=0 balances=0 out limits=0 "
	                       "warnings=0 dead_letters=0 late=0 lag=0 p99=- txn=0/0");
	lvc_counter_add(sm->ticks_in[LVC_SM_IN_TRADES], 1500);
	lvc_counter_add(sm->ticks_in[LVC_SM_IN_PRICES], 500);
	lvc_counter_add(sm->events_out[LVC_SM_OUT_LIMIT], 3);
	lvc_counter_inc(sm->dead_letters[LVC_DL_TOMBSTONE]);
	lvc_counter_add(sm->ticks_late, 2);
	lvc_counter_add(sm->txn_committed, 9);
	lvc_counter_inc(sm->txn_aborted);
	lvc_stage_metrics_set_lag(sm, "market.trades", 0, 10);
	lvc_stage_metrics_set_lag(sm, "market.trades", 1, 2);
	/* 100 observations in (0.005, 0.01]: p99 interpolates to 9.95 ms. */
	for (int i = 0; i < 100; i++) {
		lvc_histogram_observe(sm->processing_latency, 0.007);
	}
	lvc_stage_summary(sm, &st, 11000000, line, sizeof(line));
	cr_expect_str_eq(line, "in trades=1500 prices=500 positions=0 balances=0 (200/s) out "
	                       "limits=3 warnings=0 dead_letters=1 late=2 lag=12 p99=9.95ms "
	                       "txn=9/1");
	/* The next interval has no observations of its own. */
	lvc_stage_summary(sm, &st, 21000000, line, sizeof(line));
	cr_expect(strstr(line, " (0/s) ") != NULL, "%s", line);
	cr_expect(strstr(line, " p99=- ") != NULL, "%s", line);
	lvc_stage_metrics_destroy(sm);
	lvc_config_destroy(cfg);
}
