/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the operations endpoint (src/io/http.c) over real HTTP: a server
 * on 127.0.0.1 port 0 (the bound port read back), scraped with libcurl.
 * /metrics parses with the strict parser of test_metrics_parser.h and its
 * counters move between scrapes; /healthz turns 503 when the heartbeat is
 * older than the limit (the heartbeat timestamp is set as data, no sleeps)
 * and 200 again after a beat; /readyz is 503 before ready and 200 after,
 * with levcal_ready following; other paths and methods; an address in use
 * and a malformed address give clear errors; stop frees the port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "io/config.h"
#include "io/http.h"
#include "io/metrics.h"
#include "test_metrics_parser.h"

static char errstr[512];

typedef struct resp_s {
	long status;
	char *body;
	size_t len;
	char ctype[128];
} resp_t;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	resp_t *r = arg;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	cr_assert_not_null(nb);
	memcpy(nb + r->len, p, sz * n);
	r->len += sz * n;
	nb[r->len] = '\0';
	r->body = nb;
	return sz * n;
}

static resp_t fetch(int port, const char *method, const char *path)
{
	CURL *c = curl_easy_init();
	resp_t r = { 0 };
	char url[256];
	char *ct = NULL;
	CURLcode rc;

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r.ctype, sizeof(r.ctype), "%s", ct != NULL ? ct : "");
	if (r.body == NULL) {
		r.body = calloc(1, 1);
	}
	curl_easy_cleanup(c);
	return r;
}

static lvc_config_t *cfg;
static lvc_stage_metrics_t *sm;
static lvc_health_t health;
static lvc_http_t *srv;
static int port;

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cr_assert_not_null(cfg = lvc_config_new_default());
	sm = lvc_stage_metrics_new(cfg, "9.9.9", errstr, sizeof(errstr));
	cr_assert_not_null(sm, "%s", errstr);
	lvc_health_init(&health, 5 * INT64_C(1000000), sm->ready);
	srv = lvc_http_start("127.0.0.1:0", sm->reg, &health, errstr, sizeof(errstr));
	cr_assert_not_null(srv, "%s", errstr);
	port = lvc_http_port(srv);
	cr_assert_gt(port, 0);
}

static void teardown(void)
{
	lvc_http_stop(srv);
	lvc_stage_metrics_destroy(sm);
	lvc_config_destroy(cfg);
	curl_global_cleanup();
}

static double scrape(const char *name, const char *labels)
{
	resp_t r = fetch(port, "GET", "/metrics");
	prom_doc_t d;
	double v = -1;

	cr_assert_eq(r.status, 200);
	cr_assert_eq(prom_parse(r.body, &d), 0, "%s\n%s", d.err, r.body);
	cr_assert(prom_find(&d, name, labels, &v), "no %s{%s}", name, labels);
	prom_free(&d);
	free(r.body);
	return v;
}

TestSuite(http, .init = setup, .fini = teardown);

Test(http, serves_metrics_that_parse_strictly_and_counters_move_between_scrapes)
{
	resp_t r = fetch(port, "GET", "/metrics");

	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	free(r.body);
	cr_expect_eq(scrape("levcal_ticks_in_total", "topic=market.trades"), 0);
	cr_expect_eq(scrape("levcal_build_info", "version=9.9.9"), 1);
	cr_expect_eq(scrape("levcal_up", ""), 1);
	lvc_counter_add(sm->ticks_in[LVC_SM_IN_TRADES], 250);
	lvc_counter_inc(sm->events_out[LVC_SM_OUT_LIMIT]);
	lvc_histogram_observe(sm->processing_latency, 0.003);
	lvc_stage_metrics_set_lag(sm, "market.trades", 0, 42);
	cr_expect_eq(scrape("levcal_ticks_in_total", "topic=market.trades"), 250);
	cr_expect_eq(scrape("levcal_events_out_total", "type=leverage_limit"), 1);
	cr_expect_eq(scrape("levcal_processing_latency_seconds_bucket", "le=0.005"), 1);
	cr_expect_eq(scrape("levcal_processing_latency_seconds_bucket", "le=0.0025"), 0);
	cr_expect_eq(scrape("levcal_processing_latency_seconds_count", ""), 1);
	cr_expect_eq(scrape("levcal_consumer_lag", "topic=market.trades,partition=0"), 42);
}

Test(http, healthz_fails_when_the_heartbeat_is_older_than_the_limit)
{
	resp_t r = fetch(port, "GET", "/healthz");

	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "ok\n");
	free(r.body);

	/* A heartbeat 12 s in the past against a 5 s limit. */
	lvc_health_beat_at(&health, lvc_health_now_us() - 12 * INT64_C(1000000));
	r = fetch(port, "GET", "/healthz");
	cr_expect_eq(r.status, 503);
	cr_expect(strncmp(r.body, "unhealthy: main loop heartbeat is 12.", 37) == 0, "%s", r.body);
	cr_expect(strstr(r.body, " s old (limit 5 s)\n") != NULL, "%s", r.body);
	free(r.body);

	/* Just inside the limit is still alive. */
	lvc_health_beat_at(&health, lvc_health_now_us() - 4 * INT64_C(1000000));
	r = fetch(port, "GET", "/healthz");
	cr_expect_eq(r.status, 200);
	free(r.body);

	lvc_health_beat(&health);
	r = fetch(port, "GET", "/healthz");
	cr_expect_eq(r.status, 200);
	free(r.body);
}

Test(http, readyz_is_false_before_ready_and_true_after)
{
	resp_t r = fetch(port, "GET", "/readyz");

	cr_expect_eq(r.status, 503);
	cr_expect_str_eq(r.body,
	                 "not ready: waiting for the partition assignment and state restore\n");
	free(r.body);
	cr_expect_eq(scrape("levcal_ready", ""), 0);

	lvc_health_set_ready(&health, 1);
	r = fetch(port, "GET", "/readyz");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "ready\n");
	free(r.body);
	cr_expect_eq(scrape("levcal_ready", ""), 1);

	/* A revocation takes readiness away again. */
	lvc_health_set_ready(&health, 0);
	r = fetch(port, "GET", "/readyz");
	cr_expect_eq(r.status, 503);
	free(r.body);
	cr_expect_eq(scrape("levcal_ready", ""), 0);
}

Test(http, answers_other_paths_with_404_and_other_methods_with_405)
{
	resp_t r = fetch(port, "GET", "/");

	cr_expect_eq(r.status, 404);
	free(r.body);
	r = fetch(port, "GET", "/metrics/extra");
	cr_expect_eq(r.status, 404);
	free(r.body);
	r = fetch(port, "POST", "/metrics");
	cr_expect_eq(r.status, 405);
	free(r.body);
	r = fetch(port, "DELETE", "/readyz");
	cr_expect_eq(r.status, 405);
	free(r.body);
	r = fetch(port, "HEAD", "/healthz");
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.len, 0);
	free(r.body);
}

Test(http, an_address_in_use_is_a_clear_error)
{
	char listen[64], want[128];
	lvc_http_t *second;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	second = lvc_http_start(listen, sm->reg, &health, errstr, sizeof(errstr));
	cr_expect_null(second);
	snprintf(want, sizeof(want), "metrics.listen 127.0.0.1:%d: address already in use", port);
	cr_expect_str_eq(errstr, want);
	lvc_http_stop(second);
}

Test(http, malformed_addresses_are_refused_with_what_is_allowed)
{
	static const char *const bad[] = { "9464",           "localhost",
		                           "127.0.0.1:",     "127.0.0.1:99999",
		                           "127.0.0.1:94x4", "[::1]9464",
		                           "a:b:9464" };
	char want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_null(lvc_http_start(bad[i], sm->reg, &health, errstr, sizeof(errstr)),
		               "%s", bad[i]);
		snprintf(want, sizeof(want),
		         "metrics.listen %s: not an address; allowed: HOST:PORT, [IPV6]:PORT or "
		         ":PORT with PORT 0 to 65535",
		         bad[i]);
		cr_expect_str_eq(errstr, want);
	}
	cr_expect_null(lvc_http_start("", sm->reg, &health, errstr, sizeof(errstr)));
	cr_expect_str_eq(errstr, "metrics.listen is empty: the endpoint is disabled");
}

Test(http, stop_frees_the_port_for_the_next_server)
{
	char listen[64];
	lvc_http_t *again;
	resp_t r;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	lvc_http_stop(srv);
	srv = NULL;
	again = lvc_http_start(listen, sm->reg, &health, errstr, sizeof(errstr));
	cr_assert_not_null(again, "%s", errstr);
	cr_expect_eq(lvc_http_port(again), port);
	r = fetch(port, "GET", "/healthz");
	cr_expect_eq(r.status, 200);
	free(r.body);
	srv = again;
}

Test(health, heartbeat_age_is_computed_from_the_given_clock)
{
	lvc_health_t h;
	int64_t age;

	lvc_health_init(&h, 0, NULL);
	cr_expect_eq(h.max_age_us, LVC_HEALTH_MAX_AGE_DEFAULT_US);
	lvc_health_beat_at(&h, 1000000);
	cr_expect(lvc_health_alive(&h, 1000000 + LVC_HEALTH_MAX_AGE_DEFAULT_US, &age));
	cr_expect_eq(age, LVC_HEALTH_MAX_AGE_DEFAULT_US);
	cr_expect_not(lvc_health_alive(&h, 1000001 + LVC_HEALTH_MAX_AGE_DEFAULT_US, &age));
	/* A clock behind the heartbeat (another thread beat meanwhile). */
	cr_expect(lvc_health_alive(&h, 999000, &age));
	cr_expect_eq(age, 0);
}
