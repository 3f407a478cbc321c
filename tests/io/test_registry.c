/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Schema Registry client and the outage rule, against a small
 * Confluent-API responder served in-process by libmicrohttpd on a free
 * loopback port (schemas by id, registration, lookup, basic auth, and a
 * switch that makes it answer 503 like a registry that is down). The real
 * registry is exercised by tests/integration/test_registry.py; this file
 * checks what the client does with each answer, and that the pipeline
 * holds a partition behind a new schema id while the registry is down,
 * lets other partitions flow, and processes the held records in order
 * once it is back.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <microhttpd.h>

#include "app/pipeline.h"
#include "io/codec.h"
#include "io/config.h"
#include "io/framing.h"
#include "io/registry.h"

/* ---- the fake registry ---- */

#define FAKE_MAX 16

typedef struct fake_s {
	struct MHD_Daemon *d;
	int port;
	char *schemas[FAKE_MAX]; /* by id */
	char subjects[FAKE_MAX][128];
	int subject_id[FAKE_MAX];
	int next_id;
	atomic_int down;      /* answer 503 */
	atomic_int slow_ms;   /* GET /schemas/ids/ answers after this long */
	atomic_int need_auth; /* require user:pass */
	atomic_int gets;
} fake_t;

typedef struct upload_s {
	char *p;
	size_t n;
} upload_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	json_decref(body);
	MHD_add_response_header(r, "Content-Type", "application/vnd.schemaregistry.v1+json");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
	fake_t *f = cls;
	upload_t *u = *con_cls;
	int id;

	(void)version;
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size > 0) {
		u->p = realloc(u->p, u->n + *data_size + 1);
		memcpy(u->p + u->n, data, *data_size);
		u->n += *data_size;
		u->p[u->n] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	if (atomic_load(&f->down)) {
		return reply(
		    c, 503,
		    json_pack("{s:i,s:s}", "error_code", 50003, "message", "Service Unavailable"));
	}
	if (atomic_load(&f->need_auth)) {
		const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

		/* base64("user:s3cret") */
		if (a == NULL || strcmp(a, "Basic dXNlcjpzM2NyZXQ=") != 0) {
			return reply(
			    c, 401,
			    json_pack("{s:i,s:s}", "error_code", 40101, "message", "Unauthorized"));
		}
	}
	if (strcmp(method, "GET") == 0 && sscanf(url, "/schemas/ids/%d", &id) == 1) {
		int slow = atomic_load(&f->slow_ms);

		atomic_fetch_add(&f->gets, 1);
		if (slow > 0) {
			/* A registry that hangs: the responder thread sleeps. */
			nanosleep(&(struct timespec){ slow / 1000, (slow % 1000) * 1000000L },
			          NULL);
		}
		if (id < 0 || id >= FAKE_MAX || f->schemas[id] == NULL) {
			return reply(c, 404,
			             json_pack("{s:i,s:s}", "error_code", 40403, "message",
			                       "Schema 42 not found"));
		}
		return reply(c, 200, json_pack("{s:s}", "schema", f->schemas[id]));
	}
	if (strcmp(method, "POST") == 0 && strncmp(url, "/subjects/", 10) == 0) {
		json_t *req = json_loadb(u->p != NULL ? u->p : "", u->n, 0, NULL);
		const char *schema = json_string_value(json_object_get(req, "schema"));
		char subject[128];
		int versions = strstr(url, "/versions") != NULL;
		int found = -1;

		snprintf(subject, sizeof(subject), "%.*s",
		         (int)(versions ? strstr(url, "/versions") - (url + 10)
		                        : (long)strlen(url + 10)),
		         url + 10);
		for (int i = 1; i < f->next_id; i++) {
			if (f->schemas[i] != NULL && schema != NULL &&
			    strcmp(f->schemas[i], schema) == 0 &&
			    strcmp(f->subjects[i], subject) == 0) {
				found = i;
			}
		}
		if (found < 0 && versions && schema != NULL && f->next_id < FAKE_MAX) {
			found = f->next_id++;
			f->schemas[found] = strdup(schema);
			snprintf(f->subjects[found], sizeof(f->subjects[0]), "%s", subject);
		}
		json_decref(req);
		if (found < 0) {
			return reply(c, 404,
			             json_pack("{s:i,s:s}", "error_code", 40403, "message",
			                       "Schema not found"));
		}
		return reply(c, 200, json_pack("{s:i}", "id", found));
	}
	return reply(c, 404, json_pack("{s:i,s:s}", "error_code", 404, "message", "HTTP 404"));
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
	upload_t *u = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (u != NULL) {
		free(u->p);
		free(u);
	}
	*con_cls = NULL;
}

static void fake_start(fake_t *f)
{
	const union MHD_DaemonInfo *info;

	f->next_id = f->next_id > 0 ? f->next_id : 1;
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                        handle, f, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	                        MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
	cr_assert_not_null(f->d);
	info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	f->port = info->port;
}

static void fake_stop(fake_t *f)
{
	MHD_stop_daemon(f->d);
	for (int i = 0; i < FAKE_MAX; i++) {
		free(f->schemas[i]);
	}
}

static lvc_registry_t *client(const fake_t *f, const char *user, const char *password)
{
	char url[64], err[256];
	lvc_registry_conf_t rc = { 0 };
	lvc_registry_t *reg;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
	rc.url = url;
	rc.user = user;
	rc.password = password;
	rc.verify = 1;
	rc.timeout_us = 2000000;
	reg = lvc_registry_new(&rc, err, sizeof(err));
	cr_assert_not_null(reg, "%s", err);
	return reg;
}

/* ---- the client ---- */

Test(registry, fetches_a_schema_by_id_and_tells_404_from_an_outage)
{
	fake_t f = { .next_id = 8 };
	lvc_registry_t *reg;
	char *json = NULL, type[16], err[512];

	f.schemas[7] = strdup("{\"type\":\"string\"}");
	fake_start(&f);
	reg = client(&f, NULL, NULL);
	cr_assert_eq(lvc_registry_get_schema(reg, 7, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_OK, "%s", err);
	cr_assert_str_eq(json, "{\"type\":\"string\"}");
	cr_assert_str_eq(type, "AVRO");
	free(json);
	cr_assert_eq(lvc_registry_get_schema(reg, 42, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_ERR_NOT_FOUND);
	cr_assert(strstr(err, "/schemas/ids/42 answered 404: Schema 42 not found") != NULL, "%s",
	          err);
	atomic_store(&f.down, 1);
	cr_assert_eq(lvc_registry_get_schema(reg, 7, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_ERR_IO);
	cr_assert(strstr(err, "503") != NULL, "%s", err);
	MHD_stop_daemon(f.d);
	f.d = NULL;
	cr_assert_eq(lvc_registry_get_schema(reg, 7, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_ERR_IO);
	cr_assert(strstr(err, "Couldn't connect") != NULL || strstr(err, "connect") != NULL, "%s",
	          err);
	lvc_registry_destroy(reg);
	for (int i = 0; i < FAKE_MAX; i++) {
		free(f.schemas[i]);
	}
}

Test(registry, sends_basic_auth_and_never_shows_the_password)
{
	fake_t f = { .next_id = 8 };
	lvc_registry_t *good, *bad;
	char *json = NULL, type[16], err[512];

	f.schemas[7] = strdup("\"long\"");
	atomic_store(&f.need_auth, 1);
	fake_start(&f);
	good = client(&f, "user", "s3cret");
	bad = client(&f, "user", "wrong-pass");
	cr_assert_eq(lvc_registry_get_schema(good, 7, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_OK, "%s", err);
	free(json);
	cr_assert_eq(lvc_registry_get_schema(bad, 7, &json, type, sizeof(type), err, sizeof(err)),
	             LVC_ERR_INVALID);
	cr_assert(strstr(err, "401") != NULL, "%s", err);
	cr_assert_null(strstr(err, "wrong-pass"), "%s", err);
	lvc_registry_destroy(good);
	lvc_registry_destroy(bad);
	fake_stop(&f);
}

Test(registry, registers_once_and_looks_up_the_same_id)
{
	fake_t f = { 0 };
	lvc_registry_t *reg;
	int32_t id = -1, again = -1, found = -1;
	char err[512];

	fake_start(&f);
	reg = client(&f, NULL, NULL);
	cr_assert_eq(lvc_registry_lookup(reg, "t-value", "\"int\"", &found, err, sizeof(err)),
	             LVC_ERR_NOT_FOUND);
	cr_assert_eq(lvc_registry_register(reg, "t-value", "\"int\"", &id, err, sizeof(err)),
	             LVC_OK, "%s", err);
	cr_assert_eq(lvc_registry_register(reg, "t-value", "\"int\"", &again, err, sizeof(err)),
	             LVC_OK, "%s", err);
	cr_assert_eq(lvc_registry_lookup(reg, "t-value", "\"int\"", &found, err, sizeof(err)),
	             LVC_OK, "%s", err);
	cr_assert_gt(id, 0);
	cr_assert_eq(again, id);
	cr_assert_eq(found, id);
	lvc_registry_destroy(reg);
	fake_stop(&f);
}

/* ---- the pipeline through an outage ---- */

/* Trade with the fields reordered and one added (a producer's evolution). */
static const char *evolved_trade =
    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
    "{\"name\":\"ts_us\",\"type\":\"long\"},"
    "{\"name\":\"instrument\",\"type\":\"string\"},"
    "{\"name\":\"venue\",\"type\":\"string\",\"default\":\"\"},"
    "{\"name\":\"price\",\"type\":\"double\"},"
    "{\"name\":\"qty\",\"type\":\"double\"},"
    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";

/* A framed Trade of evolved_trade with id. */
static size_t framed_trade(uint8_t *b, int32_t id, const char *instrument, int64_t ts_us)
{
	size_t n = 5;
	uint64_t z = ((uint64_t)ts_us << 1) ^ (uint64_t)(ts_us >> 63);
	double price = 100, qty = 1;

	lvc_framing_header(id, b);
	while (z >= 0x80) {
		b[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	b[n++] = (uint8_t)z;
	b[n++] = (uint8_t)(2 * strlen(instrument));
	memcpy(b + n, instrument, strlen(instrument));
	n += strlen(instrument);
	b[n++] = 2 * 3;
	memcpy(b + n, "xyz", 3);
	n += 3;
	memcpy(b + n, &price, 8);
	n += 8;
	memcpy(b + n, &qty, 8);
	n += 8;
	b[n++] = 0;
	return n;
}

typedef struct got_s {
	int n;
	char source[32][128];
	char key[32][64];
	int kind[32];
	uint8_t head[32][5];
	char error[32][256];
} got_t;

static int sink(void *opaque, const lvc_outrec_t *out)
{
	got_t *g = opaque;

	cr_assert_lt(g->n, 32);
	snprintf(g->source[g->n], sizeof(g->source[0]), "%s", out->source);
	snprintf(g->key[g->n], sizeof(g->key[0]), "%.*s", (int)out->key_len,
	         (const char *)out->key);
	g->kind[g->n] = (int)out->kind;
	snprintf(g->error[g->n], sizeof(g->error[0]), "%s", out->error != NULL ? out->error : "");
	memcpy(g->head[g->n], out->value, out->value_len >= 5 ? 5 : out->value_len);
	g->n++;
	return 0;
}

static void process(lvc_pipeline_t *pl, int32_t partition, int64_t offset, int32_t id,
                    const char *instrument)
{
	uint8_t b[128];
	char err[512];
	lvc_inrec_t in = { 0 };

	in.input = LVC_IN_TRADES;
	in.topic = "market.trades";
	in.partition = partition;
	in.offset = offset;
	in.key = instrument;
	in.key_len = strlen(instrument);
	in.value = b;
	in.value_len = framed_trade(b, id, instrument, 1700000000000000 + offset);
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
}

static lvc_config_t *config_for(const fake_t *f)
{
	char yaml[512], err[512];
	lvc_config_t *cfg;

	snprintf(yaml, sizeof(yaml),
	         "schema:\n"
	         "  wire_format: confluent\n"
	         "  registry: {url: \"http://127.0.0.1:%d\", timeout: 2s}\n",
	         f->port);
	cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	return cfg;
}

Test(registry_outage, holds_a_partition_behind_a_new_id_and_lets_others_flow)
{
	fake_t f = { .next_id = 9 };
	lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	got_t g = { 0 };
	char err[512];
	lvc_pipeline_stats_t st;
	int64_t off = -1;
	struct timespec t0, now;

	f.schemas[7] = strdup(evolved_trade);
	f.schemas[8] = strdup(evolved_trade);
	fake_start(&f);
	cfg = config_for(&f);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	/* auto_register (the default) registered our two output schemas */
	cr_assert_str_eq(f.subjects[9], "risk.leverage-limits-value");
	cr_assert_str_eq(f.subjects[10], "risk.liquidation-warnings-value");

	process(pl, 0, 1, 7, "I1"); /* id 7 fetched and cached */
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.source[0], "market.trades:0:1");
	cr_assert_eq(memcmp(g.head[0], "\x00\x00\x00\x00\x09", 5), 0, "framed with id 9");

	atomic_store(&f.down, 1);
	process(pl, 0, 2, 8, "I2"); /* new id, registry down: held */
	process(pl, 0, 3, 7, "I3"); /* cached id, but behind a held record */
	process(pl, 1, 1, 7, "J1"); /* another partition: flows */
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.source[1], "market.trades:1:1");
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.held_now, 2);
	cr_assert_eq(st.held, 2);
	cr_assert_eq(st.registry_down, 1);
	cr_assert_eq(st.dead_letters, 0);
	cr_assert_eq(lvc_pipeline_hold_offset(pl, LVC_IN_TRADES, 0, &off), 1);
	cr_assert_eq(off, 2);
	cr_assert_eq(lvc_pipeline_hold_offset(pl, LVC_IN_TRADES, 1, &off), 0);

	atomic_store(&f.down, 0);
	/* Wait (condition, deadline) for the backoff to let a fetch through. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		lvc_pipeline_stats(pl, &st);
		if (st.retry_in_us == 0) {
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		cr_assert_lt(now.tv_sec - t0.tv_sec, 10, "backoff never elapsed");
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	process(pl, 0, 4, 7, "I4");
	cr_assert_eq(g.n, 5);
	cr_assert_str_eq(g.source[2], "market.trades:0:2");
	cr_assert_str_eq(g.key[2], "I2");
	cr_assert_str_eq(g.source[3], "market.trades:0:3");
	cr_assert_str_eq(g.source[4], "market.trades:0:4");
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.held_now, 0);
	cr_assert_eq(st.registry_down, 0);
	cr_assert_eq(st.dead_letters, 0);
	cr_assert_eq(lvc_pipeline_hold_offset(pl, LVC_IN_TRADES, 0, &off), 0);
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}

Test(registry_outage, an_id_the_registry_does_not_have_is_a_dead_letter)
{
	fake_t f = { 0 };
	lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	got_t g = { 0 };
	char err[512];
	lvc_pipeline_stats_t st;

	fake_start(&f);
	cfg = config_for(&f);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	process(pl, 0, 1, 12, "I1");
	process(pl, 0, 2, 12, "I1"); /* cached as missing: no second request */
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.kind[0], LVC_OUT_DEAD_LETTER);
	cr_assert(strstr(g.error[0], "schema id 12 is not in the registry (schema registry "
	                             "http://127.0.0.1:") != NULL,
	          "%s", g.error[0]);
	cr_assert(strstr(g.error[0], "/schemas/ids/12 answered 404: Schema 42 not found)") != NULL,
	          "%s", g.error[0]);
	cr_assert_eq(atomic_load(&f.gets), 1);
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.dead_letters, 2);
	cr_assert_eq(st.held_now, 0);
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}

Test(registry_outage, a_registry_down_at_start_is_an_error_naming_it)
{
	fake_t f = { 0 };
	lvc_config_t *cfg;
	got_t g = { 0 };
	char err[512];

	fake_start(&f);
	cfg = config_for(&f);
	atomic_store(&f.down, 1);
	cr_assert_null(lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err)));
	cr_assert(strstr(err, "registering levcal.LeverageLimit under subject "
	                      "risk.leverage-limits-value") != NULL,
	          "%s", err);
	cr_assert(strstr(err, "503") != NULL, "%s", err);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}

Test(registry_subjects, record_name_strategy_and_lookup_without_registration)
{
	fake_t f = { 0 };
	lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	got_t g = { 0 };
	char yaml[512], err[512];

	fake_start(&f);
	/* record_name: the subjects are the records' full names */
	snprintf(yaml, sizeof(yaml),
	         "schema:\n  wire_format: confluent\n  subject_strategy: record_name\n"
	         "  registry: {url: \"http://127.0.0.1:%d\"}\n",
	         f.port);
	cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	cr_assert_str_eq(f.subjects[1], "levcal.LeverageLimit");
	cr_assert_str_eq(f.subjects[2], "levcal.LiquidationWarning");
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);

	/* auto_register false: the ids of the versions registered above are
	 * looked up, nothing new is registered */
	snprintf(yaml, sizeof(yaml),
	         "schema:\n  wire_format: confluent\n  subject_strategy: record_name\n"
	         "  auto_register: false\n  registry: {url: \"http://127.0.0.1:%d\"}\n",
	         f.port);
	cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	cr_assert_eq(f.next_id, 3, "nothing registered");
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);

	/* auto_register false under topic_name subjects nobody registered */
	snprintf(yaml, sizeof(yaml),
	         "schema:\n  wire_format: confluent\n  auto_register: false\n"
	         "  registry: {url: \"http://127.0.0.1:%d\"}\n",
	         f.port);
	cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_null(lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err)));
	cr_assert(strstr(err, "schema: subject risk.leverage-limits-value has no version with our "
	                      "schema levcal.LeverageLimit, and schema.auto_register is false: "
	                      "register it, or set schema.ids.leverage_limit") != NULL,
	          "%s", err);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}

Test(registry_subjects, an_incompatible_writer_is_a_dead_letter_naming_the_field)
{
	fake_t f = { .next_id = 9 };
	lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	got_t g = { 0 };
	char err[512];
	uint8_t b[64];
	lvc_inrec_t in = { 0 };
	lvc_pipeline_stats_t st;

	f.schemas[7] = strdup("{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\","
	                      "\"fields\":[{\"name\":\"instrument\",\"type\":\"string\"}]}");
	fake_start(&f);
	cfg = config_for(&f);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	lvc_framing_header(7, b);
	b[5] = 2;
	b[6] = 'X';
	in.input = LVC_IN_TRADES;
	in.topic = "market.trades";
	in.value = b;
	in.value_len = 7;
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.kind[0], LVC_OUT_DEAD_LETTER);
	cr_assert_str_eq(g.error[0], "schema id 7 cannot be read as levcal.Trade: Trade.ts_us: the "
	                             "writer schema has no field ts_us, and ours gives it no "
	                             "default");
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.dead_letters, 1);
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

Test(registry_outage, a_hanging_registry_costs_one_bounded_wait_not_its_timeout)
{
	fake_t f = { .next_id = 9 };
	lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	got_t g = { 0 };
	char err[512];
	lvc_pipeline_stats_t st;
	double t0, t1, t2;

	f.schemas[7] = strdup(evolved_trade);
	f.schemas[8] = strdup(evolved_trade);
	fake_start(&f);
	cfg = config_for(&f); /* schema.registry.timeout 2s */
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	process(pl, 1, 1, 7, "J1"); /* id 7 cached */
	cr_assert_eq(g.n, 1);

	atomic_store(&f.slow_ms, 1500);
	t0 = mono_s();
	process(pl, 0, 1, 8, "I1"); /* new id, the registry hangs: held after the wait */
	t1 = mono_s();
	process(pl, 1, 2, 7, "J2"); /* cached id: no second wait */
	t2 = mono_s();
	cr_assert_lt(t1 - t0, 1.0, "the new id took %.3f s", t1 - t0);
	cr_assert_lt(t2 - t1, 0.2, "the cached id waited %.3f s", t2 - t1);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.source[1], "market.trades:1:2");
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.held_now, 1);
	cr_assert_eq(st.fetching, 1);
	cr_assert_eq(st.registry_down, 0, "slow is not down");

	/* The answer arrives in the background; the next record takes it. */
	for (;;) {
		lvc_pipeline_stats(pl, &st);
		if (!st.fetching) {
			break;
		}
		cr_assert_lt(mono_s() - t0, 10, "the fetch never finished");
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	process(pl, 1, 3, 7, "J3");
	cr_assert_eq(g.n, 4);
	cr_assert_str_eq(g.source[2], "market.trades:0:1");
	cr_assert_str_eq(g.key[2], "I1");
	cr_assert_str_eq(g.source[3], "market.trades:1:3");
	lvc_pipeline_stats(pl, &st);
	cr_assert_eq(st.held_now, 0);
	cr_assert_eq(st.dead_letters, 0);
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
	fake_stop(&f);
}
