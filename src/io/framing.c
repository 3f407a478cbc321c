/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Confluent wire format: the 5-byte header, and the wire object that
 * turns framed values into plain Avro binary of our schemas and back.
 *
 * The wire keeps a table of the writer schema ids seen (open addressing,
 * at most LVC__WIRE_MAX_IDS; ids past that are dead letters, so that a
 * stream of random ids cannot grow memory or flood the registry). An entry
 * holds the writer schema text and, per record type it arrived as, the
 * resolver made from it or the reason it cannot be used; a 404 from the
 * registry is kept as a permanent reason too. Entries live for the
 * process lifetime: a registry id never changes its schema.
 *
 * Outage: a fetch that fails for want of the registry (no answer, 5xx,
 * 401/403: the registry or our credentials, not the record) marks the
 * registry down and sets a retry time, backoff 100 ms doubling to 5 s;
 * until then new ids are answered LVC_ERR_IO at once. Cached ids are
 * never affected. Up/down transitions are logged once each.
 *
 * Fetches run on one background thread (the registry client is used by
 * that thread only, once the output ids are settled at creation): the
 * caller posts the id and waits at most LVC__WIRE_WAIT_US for the answer.
 * A healthy registry answers within that, so the record is decoded at
 * once; a registry that hangs costs the caller that wait and no more (the
 * record is LVC_ERR_IO: held by the pipeline), while the fetch goes on up
 * to schema.registry.timeout and its answer is taken by a later call. One
 * fetch is in flight at a time; other new ids wait for it.
 *
 * Load: a hash lookup per record; the registry is asked once per new id.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/codec_resolve.h"
#include "io/framing.h"
#include "io/log.h"
#include "io/registry.h"

#define LVC__WIRE_MAX_IDS     4096
#define LVC__WIRE_BACKOFF_MIN INT64_C(100000)
#define LVC__WIRE_BACKOFF_MAX INT64_C(5000000)
#define LVC__WIRE_OUT_INITIAL 512
/* How long a decode waits for a fetch before the record is held. */
#define LVC__WIRE_WAIT_US INT64_C(250000)

/* The fetch thread's mailbox (under mu). */
struct lvc__fetcher {
	pthread_t thr;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a request posted, a result ready, or stop */
	int stop;
	int32_t req_id; /* -1: none posted */
	int busy;       /* the thread is fetching req_id */
	int done;       /* the result of req_id is ready */
	lvc_err_t err;
	char *json;
	char type[32];
	char why[512];
};

struct lvc__wentry {
	int32_t id;
	int used;
	char *json; /* the writer schema; NULL when fail is set */
	char *fail; /* permanent reason for every type, or NULL */
	lvc_resolver_t *res[LVC_REC__COUNT];
	char *res_fail[LVC_REC__COUNT];
};

struct lvc__wout {
	int32_t id;
	uint8_t *buf;
	size_t cap;
};

struct lvc_wire_s {
	const lvc_config_t *cfg;
	lvc_registry_t *reg; /* NULL on a registry-less bus */
	struct lvc__wentry *tab;
	size_t tab_cap, tab_n;
	struct lvc__wout out[LVC_REC__COUNT];
	int64_t next_try_us, backoff_us;
	lvc_wire_stats_t stats;
	struct lvc__fetcher f;
};

static void *lvc__fetch_main(void *opaque)
{
	lvc_wire_t *w = opaque;
	struct lvc__fetcher *f = &w->f;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		int32_t id;
		char *json = NULL, type[32], why[512];
		lvc_err_t err;

		while (!f->stop && (f->req_id < 0 || f->busy || f->done)) {
			pthread_cond_wait(&f->cv, &f->mu);
		}
		if (f->stop) {
			break;
		}
		id = f->req_id;
		f->busy = 1;
		pthread_mutex_unlock(&f->mu);
		type[0] = '\0';
		why[0] = '\0';
		err = lvc_registry_get_schema(w->reg, id, &json, type, sizeof(type), why,
		                              sizeof(why));
		pthread_mutex_lock(&f->mu);
		f->busy = 0;
		f->done = 1;
		f->err = err;
		f->json = json;
		memcpy(f->type, type, sizeof(f->type));
		memcpy(f->why, why, sizeof(f->why));
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

lvc_err_t lvc_framing_parse(const void *buf, size_t len, int32_t *schema_id, const void **payload,
                            size_t *payload_len, char *errstr, size_t errstr_size)
{
	const uint8_t *p = buf;

	if (p == NULL || len < LVC_FRAMING_HEADER_SIZE) {
		snprintf(errstr, errstr_size,
		         "confluent framing: %zu byte(s), shorter than the 5-byte header "
		         "(magic byte 0x00 and a 4-byte schema id)",
		         p == NULL ? (size_t)0 : len);
		return LVC_ERR_DECODE;
	}
	if (p[0] != LVC_FRAMING_MAGIC) {
		snprintf(errstr, errstr_size, "confluent framing: magic byte 0x%02x, expected 0x00",
		         p[0]);
		return LVC_ERR_DECODE;
	}
	*schema_id = (int32_t)(((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) |
	                       ((uint32_t)p[3] << 8) | (uint32_t)p[4]);
	*payload = p + LVC_FRAMING_HEADER_SIZE;
	*payload_len = len - LVC_FRAMING_HEADER_SIZE;
	return LVC_OK;
}

void lvc_framing_header(int32_t schema_id, uint8_t out[LVC_FRAMING_HEADER_SIZE])
{
	uint32_t u = (uint32_t)schema_id;

	out[0] = LVC_FRAMING_MAGIC;
	out[1] = (uint8_t)(u >> 24);
	out[2] = (uint8_t)(u >> 16);
	out[3] = (uint8_t)(u >> 8);
	out[4] = (uint8_t)u;
}

static int64_t lvc__mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *lvc__sdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL) {
		memcpy(d, s, n);
	}
	return d;
}

/* The entry of id, or the free slot where it goes (NULL when full). */
static struct lvc__wentry *lvc__slot(lvc_wire_t *w, int32_t id)
{
	size_t mask = w->tab_cap - 1;
	size_t i = ((uint32_t)id * UINT32_C(2654435761)) & mask;

	for (size_t k = 0; k < w->tab_cap; k++, i = (i + 1) & mask) {
		struct lvc__wentry *e = &w->tab[i];

		if (!e->used || e->id == id) {
			return e;
		}
	}
	return NULL;
}

static const int64_t *lvc__static_id(const lvc_config_t *cfg, lvc_rec_type_t type)
{
	switch (type) {
	case LVC_REC_TRADE:
		return &cfg->schema.ids.trade;
	case LVC_REC_PRICE:
		return &cfg->schema.ids.price_tick;
	case LVC_REC_POSITION:
		return &cfg->schema.ids.position;
	case LVC_REC_BALANCE:
		return &cfg->schema.ids.account_balance;
	case LVC_REC_LIMIT:
		return &cfg->schema.ids.leverage_limit;
	case LVC_REC_WARNING:
		return &cfg->schema.ids.liquidation_warning;
	default:
		return NULL;
	}
}

static const char *const lvc__id_keys[LVC_REC__COUNT] = {
	[LVC_REC_TRADE] = "schema.ids.trade",
	[LVC_REC_PRICE] = "schema.ids.price_tick",
	[LVC_REC_POSITION] = "schema.ids.position",
	[LVC_REC_BALANCE] = "schema.ids.account_balance",
	[LVC_REC_LIMIT] = "schema.ids.leverage_limit",
	[LVC_REC_WARNING] = "schema.ids.liquidation_warning",
};

/* Subject of our schema of type for topic (already prefixed). */
static void lvc__subject(const lvc_config_t *cfg, lvc_rec_type_t type, const char *prefix,
                         const char *topic, char *out, size_t size)
{
	if (cfg->schema.subject_strategy == LVC_SUBJECT_RECORD_NAME) {
		snprintf(out, size, "%s", lvc_rec_type_names[type]);
	} else {
		snprintf(out, size, "%s%s-value", prefix != NULL ? prefix : "", topic);
	}
}

/* Finds or registers the id of our output schema of type. */
static lvc_err_t lvc__output_id(lvc_wire_t *w, lvc_rec_type_t type, const char *prefix,
                                const char *topic, char *errstr, size_t errstr_size)
{
	const int64_t *sid = lvc__static_id(w->cfg, type);
	char subject[512], why[512];
	int32_t id = -1;
	lvc_err_t err;

	if (sid != NULL && *sid > 0) {
		w->out[type].id = (int32_t)*sid;
		lvc_info("schema: %s framed with the configured id %" PRId32 " (%s)",
		         lvc_rec_type_names[type], w->out[type].id, lvc__id_keys[type]);
		return LVC_OK;
	}
	if (w->reg == NULL) {
		snprintf(errstr, errstr_size, "schema: no id for %s: set schema.registry.url or %s",
		         lvc_rec_type_names[type], lvc__id_keys[type]);
		return LVC_ERR_CONFIG;
	}
	lvc__subject(w->cfg, type, prefix, topic, subject, sizeof(subject));
	if (w->cfg->schema.auto_register) {
		err = lvc_registry_register(w->reg, subject, lvc_codec_schema_json(type), &id, why,
		                            sizeof(why));
	} else {
		err = lvc_registry_lookup(w->reg, subject, lvc_codec_schema_json(type), &id, why,
		                          sizeof(why));
	}
	if (err != LVC_OK) {
		if (!w->cfg->schema.auto_register && err == LVC_ERR_NOT_FOUND) {
			snprintf(errstr, errstr_size,
			         "schema: subject %s has no version with our schema %s, and "
			         "schema.auto_register is false: register it, or set %s (%s)",
			         subject, lvc_rec_type_names[type], lvc__id_keys[type], why);
		} else {
			snprintf(errstr, errstr_size, "schema: %s %s under subject %s: %s",
			         w->cfg->schema.auto_register ? "registering" : "looking up",
			         lvc_rec_type_names[type], subject, why);
		}
		return err == LVC_ERR_NOMEM ? err : LVC_ERR_CONFIG;
	}
	w->out[type].id = id;
	lvc_info("schema: %s %s under subject %s: id %" PRId32, lvc_rec_type_names[type],
	         w->cfg->schema.auto_register ? "registered" : "found", subject, id);
	return LVC_OK;
}

lvc_wire_t *lvc_wire_new(const lvc_config_t *cfg, const char *topic_prefix, char *errstr,
                         size_t errstr_size)
{
	lvc_wire_t *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(errstr, errstr_size, "out of memory creating the wire format");
		return NULL;
	}
	w->cfg = cfg;
	w->f.req_id = -1;
	pthread_mutex_init(&w->f.mu, NULL);
	pthread_cond_init(&w->f.cv, NULL);
	w->tab_cap = 64;
	if ((w->tab = calloc(w->tab_cap, sizeof(*w->tab))) == NULL) {
		snprintf(errstr, errstr_size, "out of memory creating the wire format");
		goto fail;
	}
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		w->out[t].id = -1;
	}
	if (cfg->schema.registry_url != NULL && cfg->schema.registry_url[0] != '\0') {
		lvc_registry_conf_t rc = { 0 };

		rc.url = cfg->schema.registry_url;
		rc.user = cfg->schema.registry_user;
		rc.password = cfg->schema.registry_password;
		rc.ca_file = cfg->schema.registry_ca_file;
		rc.cert_file = cfg->schema.registry_cert_file;
		rc.key_file = cfg->schema.registry_key_file;
		rc.key_password = cfg->schema.registry_key_password;
		rc.verify = cfg->schema.registry_verify;
		rc.timeout_us = cfg->schema.registry_timeout_us;
		if ((w->reg = lvc_registry_new(&rc, errstr, errstr_size)) == NULL) {
			goto fail;
		}
	}
	/* Static ids of the inputs stand for our own schemas. */
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		const int64_t *sid = lvc__static_id(cfg, (lvc_rec_type_t)t);
		struct lvc__wentry *e;
		lvc_err_t err;
		char why[512];

		if (sid == NULL || *sid <= 0 || t == LVC_REC_LIMIT || t == LVC_REC_WARNING) {
			continue;
		}
		e = lvc__slot(w, (int32_t)*sid);
		if (e->used) {
			snprintf(errstr, errstr_size,
			         "schema: %s and another schema.ids key both use id %" PRId64,
			         lvc__id_keys[t], *sid);
			goto fail;
		}
		e->used = 1;
		e->id = (int32_t)*sid;
		w->tab_n++;
		if ((e->json = lvc__sdup(lvc_codec_schema_json((lvc_rec_type_t)t))) == NULL) {
			snprintf(errstr, errstr_size, "out of memory creating the wire format");
			goto fail;
		}
		err = lvc_resolver_new((lvc_rec_type_t)t, e->json, &e->res[t], why, sizeof(why));
		if (err != LVC_OK) {
			snprintf(errstr, errstr_size, "schema: %s: %s", lvc__id_keys[t], why);
			goto fail;
		}
	}
	if (lvc__output_id(w, LVC_REC_LIMIT, topic_prefix, cfg->topics.leverage_limits, errstr,
	                   errstr_size) != LVC_OK ||
	    lvc__output_id(w, LVC_REC_WARNING, topic_prefix, cfg->topics.liquidation_warnings,
	                   errstr, errstr_size) != LVC_OK) {
		goto fail;
	}
	if (w->reg != NULL) {
		if (pthread_create(&w->f.thr, NULL, lvc__fetch_main, w) != 0) {
			snprintf(errstr, errstr_size, "schema: cannot start the fetch thread");
			goto fail;
		}
		w->f.started = 1;
	}
	return w;
fail:
	lvc_wire_destroy(w);
	return NULL;
}

void lvc_wire_destroy(lvc_wire_t *w)
{
	if (w == NULL) {
		return;
	}
	if (w->f.started) {
		/* A fetch in flight ends within schema.registry.timeout. */
		pthread_mutex_lock(&w->f.mu);
		w->f.stop = 1;
		pthread_cond_broadcast(&w->f.cv);
		pthread_mutex_unlock(&w->f.mu);
		pthread_join(w->f.thr, NULL);
	}
	free(w->f.json);
	pthread_cond_destroy(&w->f.cv);
	pthread_mutex_destroy(&w->f.mu);
	for (size_t i = 0; i < w->tab_cap; i++) {
		struct lvc__wentry *e = &w->tab[i];

		free(e->json);
		free(e->fail);
		for (int t = 0; t < LVC_REC__COUNT; t++) {
			lvc_resolver_destroy(e->res[t]);
			free(e->res_fail[t]);
		}
	}
	free(w->tab);
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		free(w->out[t].buf);
	}
	lvc_registry_destroy(w->reg);
	free(w);
}

/* Doubles the table (load factor 1/2). */
static int lvc__grow(lvc_wire_t *w)
{
	struct lvc__wentry *old = w->tab;
	size_t old_cap = w->tab_cap;

	if ((w->tab = calloc(old_cap * 2, sizeof(*w->tab))) == NULL) {
		w->tab = old;
		return -1;
	}
	w->tab_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].used) {
			*lvc__slot(w, old[i].id) = old[i];
		}
	}
	free(old);
	return 0;
}

/* Takes a finished answer (for whichever id) out of the mailbox: 1 and
 * its fields, or 0 when none is there. */
static int lvc__collect(lvc_wire_t *w, int32_t *id, lvc_err_t *err, char **json, char *type,
                        size_t type_size, char *why, size_t why_size)
{
	struct lvc__fetcher *f = &w->f;
	int took = 0;

	pthread_mutex_lock(&f->mu);
	if (f->req_id >= 0 && f->done) {
		*id = f->req_id;
		*err = f->err;
		*json = f->json;
		f->json = NULL;
		snprintf(type, type_size, "%s", f->type);
		snprintf(why, why_size, "%s", f->why);
		f->done = 0;
		f->req_id = -1;
		took = 1;
	}
	pthread_mutex_unlock(&f->mu);
	return took;
}

/* Asks the fetch thread for id and waits at most LVC__WIRE_WAIT_US:
 * LVC_ERR_STATE (with errstr) when no answer came in that time or a fetch
 * is in flight already (no second wait), else the registry's answer. */
static lvc_err_t lvc__ask(lvc_wire_t *w, int32_t id, char **json, char *type, size_t type_size,
                          char *why, size_t why_size, char *errstr, size_t errstr_size)
{
	struct lvc__fetcher *f = &w->f;
	struct timespec until;
	int64_t wait_ns;
	int32_t got = -1;
	lvc_err_t err = LVC_OK;

	pthread_mutex_lock(&f->mu);
	if (f->req_id >= 0) {
		int32_t other = f->req_id;

		pthread_mutex_unlock(&f->mu);
		snprintf(errstr, errstr_size,
		         "schema id %" PRId32 " is not cached; the registry at %s is still being "
		         "asked for id %" PRId32,
		         id, lvc_registry_url(w->reg), other);
		return LVC_ERR_STATE;
	}
	f->req_id = id;
	f->done = 0;
	pthread_cond_broadcast(&f->cv);
	clock_gettime(CLOCK_REALTIME, &until);
	wait_ns = (int64_t)until.tv_nsec + LVC__WIRE_WAIT_US * 1000;
	until.tv_sec += (time_t)(wait_ns / 1000000000);
	until.tv_nsec = (long)(wait_ns % 1000000000);
	while (!f->done) {
		if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	if (!lvc__collect(w, &got, &err, json, type, type_size, why, why_size)) {
		snprintf(errstr, errstr_size,
		         "schema id %" PRId32 " is not cached and the registry at %s has not "
		         "answered within %" PRId64 " ms (still asking)",
		         id, lvc_registry_url(w->reg), LVC__WIRE_WAIT_US / 1000);
		return LVC_ERR_STATE;
	}
	return err;
}

/* Fetches id from the registry into a new entry. LVC_OK (the entry is
 * there, maybe with a permanent failure), LVC_ERR_IO (registry down, no
 * entry made), LVC_ERR_NOMEM. */
/* Puts the registry's answer err/json/type/why for id into the cache
 * (*out: the new entry, maybe a permanent failure), or marks the registry
 * down (LVC_ERR_IO, no entry). Takes json. */
static lvc_err_t lvc__take(lvc_wire_t *w, int32_t id, lvc_err_t err, char *json, const char *type,
                           char *why, size_t why_size, struct lvc__wentry **out, char *errstr,
                           size_t errstr_size)
{
	struct lvc__wentry *e;
	int64_t now = lvc__mono_us();

	w->stats.fetches++;
	if (err == LVC_ERR_IO || (err == LVC_ERR_INVALID &&
	                          (strstr(why, " 401") != NULL || strstr(why, " 403") != NULL))) {
		w->stats.fetch_errors++;
		w->backoff_us = w->backoff_us == 0 ? LVC__WIRE_BACKOFF_MIN : w->backoff_us * 2;
		if (w->backoff_us > LVC__WIRE_BACKOFF_MAX) {
			w->backoff_us = LVC__WIRE_BACKOFF_MAX;
		}
		w->next_try_us = now + w->backoff_us;
		if (!w->stats.registry_down) {
			w->stats.registry_down = 1;
			w->stats.down_since_us = now;
			lvc_warn(
			    "schema registry unreachable (%s): records with schema ids not yet "
			    "cached are held and retried with backoff up to %" PRId64 " s; cached "
			    "ids keep flowing",
			    why, LVC__WIRE_BACKOFF_MAX / 1000000);
		}
		snprintf(errstr, errstr_size, "schema id %" PRId32 " is not cached and %s", id,
		         why);
		return LVC_ERR_IO;
	}
	if (w->stats.registry_down) {
		lvc_info("schema registry at %s reachable again after %.1f s",
		         lvc_registry_url(w->reg), (double)(now - w->stats.down_since_us) / 1e6);
		w->stats.registry_down = 0;
	}
	w->backoff_us = 0;
	if (err == LVC_ERR_NOMEM) {
		snprintf(errstr, errstr_size, "%s", why);
		return err;
	}
	if (2 * (w->tab_n + 1) > w->tab_cap && lvc__grow(w) != 0) {
		free(json);
		snprintf(errstr, errstr_size, "out of memory caching schema id %" PRId32, id);
		return LVC_ERR_NOMEM;
	}
	e = lvc__slot(w, id);
	e->used = 1;
	e->id = id;
	w->tab_n++;
	if (err == LVC_OK && strcmp(type, "AVRO") != 0) {
		snprintf(why, why_size, "schema id %" PRId32 " is a %s schema, not Avro", id, type);
		err = LVC_ERR_INVALID;
	} else if (err == LVC_ERR_NOT_FOUND) {
		char tmp[700];

		snprintf(tmp, sizeof(tmp), "schema id %" PRId32 " is not in the registry (%s)", id,
		         why);
		snprintf(why, why_size, "%.500s", tmp);
	}
	if (err != LVC_OK) {
		free(json);
		json = NULL;
		if ((e->fail = lvc__sdup(why)) == NULL) {
			return LVC_ERR_NOMEM;
		}
	}
	e->json = json;
	*out = e;
	return LVC_OK;
}

/* Fetches id from the registry into a new entry: LVC_OK (*out, maybe a
 * permanent failure), LVC_ERR_IO (registry down, or no answer yet),
 * LVC_ERR_NOMEM. */
static lvc_err_t lvc__fetch(lvc_wire_t *w, int32_t id, struct lvc__wentry **out, char *errstr,
                            size_t errstr_size)
{
	char *json = NULL, type[32], why[512];
	int64_t now;
	int32_t got;
	lvc_err_t err;

	/* An answer that came in meanwhile, maybe for another id, is cached
	 * first, so that one slow id cannot block the mailbox. */
	if (lvc__collect(w, &got, &err, &json, type, sizeof(type), why, sizeof(why))) {
		err =
		    lvc__take(w, got, err, json, type, why, sizeof(why), out, errstr, errstr_size);
		if (got == id || err == LVC_ERR_NOMEM) {
			return err;
		}
		json = NULL;
	}
	now = lvc__mono_us();
	if (w->stats.registry_down && now < w->next_try_us) {
		snprintf(errstr, errstr_size,
		         "schema id %" PRId32 " is not cached and the schema registry at %s is "
		         "unreachable (next try in %" PRId64 " ms)",
		         id, lvc_registry_url(w->reg), (w->next_try_us - now + 999) / 1000);
		return LVC_ERR_IO;
	}
	err = lvc__ask(w, id, &json, type, sizeof(type), why, sizeof(why), errstr, errstr_size);
	if (err == LVC_ERR_STATE) {
		return LVC_ERR_IO; /* still asking: errstr says so */
	}
	return lvc__take(w, id, err, json, type, why, sizeof(why), out, errstr, errstr_size);
}

lvc_err_t lvc_wire_decode(lvc_wire_t *w, lvc_rec_type_t type, const void *buf, size_t len,
                          const void **out, size_t *out_len, char *errstr, size_t errstr_size)
{
	const void *payload;
	size_t plen;
	int32_t id;
	struct lvc__wentry *e;
	lvc_err_t err;

	if ((unsigned)type >= LVC_REC__COUNT) {
		snprintf(errstr, errstr_size, "no such record type");
		return LVC_ERR_INVALID;
	}
	if ((err = lvc_framing_parse(buf, len, &id, &payload, &plen, errstr, errstr_size)) !=
	    LVC_OK) {
		return err;
	}
	e = lvc__slot(w, id);
	if (e == NULL || !e->used) {
		if (w->reg == NULL) {
			snprintf(errstr, errstr_size,
			         "schema id %" PRId32
			         " is none of the configured schema.ids and no "
			         "schema.registry.url is set",
			         id);
			return LVC_ERR_DECODE;
		}
		if (w->tab_n >= LVC__WIRE_MAX_IDS) {
			snprintf(errstr, errstr_size,
			         "schema id %" PRId32 " is new and %d ids are cached already (the "
			         "most this stage keeps)",
			         id, LVC__WIRE_MAX_IDS);
			return LVC_ERR_DECODE;
		}
		if ((err = lvc__fetch(w, id, &e, errstr, errstr_size)) != LVC_OK) {
			return err;
		}
	}
	if (e->fail != NULL) {
		snprintf(errstr, errstr_size, "%s", e->fail);
		return LVC_ERR_DECODE;
	}
	if (e->res[type] == NULL && e->res_fail[type] == NULL) {
		char why[512];

		err = lvc_resolver_new(type, e->json, &e->res[type], why, sizeof(why));
		if (err == LVC_ERR_NOMEM) {
			snprintf(errstr, errstr_size, "%s", why);
			return err;
		}
		if (err != LVC_OK) {
			char msg[700];

			snprintf(msg, sizeof(msg), "schema id %" PRId32 " cannot be read as %s: %s",
			         id, lvc_rec_type_names[type], why);
			if ((e->res_fail[type] = lvc__sdup(msg)) == NULL) {
				return LVC_ERR_NOMEM;
			}
			lvc_warn("%s", msg);
		} else {
			w->stats.resolved++;
			lvc_info("schema id %" PRId32 " resolved against %s%s", id,
			         lvc_rec_type_names[type],
			         lvc_resolver_is_identity(e->res[type]) ? " (our schema exactly)"
			                                                : "");
		}
	}
	if (e->res_fail[type] != NULL) {
		snprintf(errstr, errstr_size, "%s", e->res_fail[type]);
		return LVC_ERR_INVALID;
	}
	if (lvc_resolver_is_identity(e->res[type])) {
		w->stats.passthrough++;
	} else {
		w->stats.transcoded++;
	}
	return lvc_resolver_run(e->res[type], payload, plen, out, out_len, errstr, errstr_size);
}

lvc_err_t lvc_wire_encode(lvc_wire_t *w, lvc_rec_type_t type, const void *buf, size_t len,
                          const void **out, size_t *out_len)
{
	struct lvc__wout *o;

	if ((unsigned)type >= LVC_REC__COUNT || w->out[type].id < 0) {
		return LVC_ERR_INVALID;
	}
	o = &w->out[type];
	if (o->cap < len + LVC_FRAMING_HEADER_SIZE) {
		size_t cap = o->cap ? o->cap : LVC__WIRE_OUT_INITIAL;
		uint8_t *p;

		while (cap < len + LVC_FRAMING_HEADER_SIZE) {
			cap *= 2;
		}
		if ((p = realloc(o->buf, cap)) == NULL) {
			return LVC_ERR_NOMEM;
		}
		o->buf = p;
		o->cap = cap;
	}
	lvc_framing_header(o->id, o->buf);
	memcpy(o->buf + LVC_FRAMING_HEADER_SIZE, buf, len);
	*out = o->buf;
	*out_len = len + LVC_FRAMING_HEADER_SIZE;
	return LVC_OK;
}

int32_t lvc_wire_output_id(const lvc_wire_t *w, lvc_rec_type_t type)
{
	return (unsigned)type < LVC_REC__COUNT ? w->out[type].id : -1;
}

static int lvc__fetch_pending(lvc_wire_t *w);

int lvc_wire_may_retry(const lvc_wire_t *w)
{
	if (w->f.started && lvc__fetch_pending((lvc_wire_t *)(uintptr_t)w)) {
		return 0;
	}
	return !w->stats.registry_down || lvc__mono_us() >= w->next_try_us;
}

/* Whether the answer to a fetch still in flight has arrived. */
static int lvc__fetch_pending(lvc_wire_t *w)
{
	int pending;

	pthread_mutex_lock(&w->f.mu);
	pending = w->f.req_id >= 0 && !w->f.done;
	pthread_mutex_unlock(&w->f.mu);
	return pending;
}

void lvc_wire_stats(const lvc_wire_t *w, lvc_wire_stats_t *out)
{
	int64_t now = lvc__mono_us();

	*out = w->stats;
	out->fetch_in_flight = w->f.started ? lvc__fetch_pending((lvc_wire_t *)(uintptr_t)w) : 0;
	out->retry_in_us =
	    w->stats.registry_down && w->next_try_us > now ? w->next_try_us - now : 0;
}

/* ---- held records ----------------------------------------------------------- */

struct lvc__lane {
	int input;
	int32_t partition;
	lvc_held_t *head, *tail;
};

struct lvc_holdq_s {
	struct lvc__lane *lanes;
	size_t lanes_n, lanes_cap;
	size_t count, bytes, max_bytes;
};

lvc_holdq_t *lvc_holdq_new(size_t max_bytes)
{
	lvc_holdq_t *q = calloc(1, sizeof(*q));

	if (q != NULL) {
		q->max_bytes = max_bytes;
	}
	return q;
}

static void lvc__held_free(lvc_held_t *h)
{
	free(h->topic);
	free(h->key);
	free(h->value);
	free(h);
}

void lvc_holdq_destroy(lvc_holdq_t *q)
{
	if (q == NULL) {
		return;
	}
	for (size_t i = 0; i < q->lanes_n; i++) {
		lvc_held_t *h = q->lanes[i].head;

		while (h != NULL) {
			lvc_held_t *next = h->next;

			lvc__held_free(h);
			h = next;
		}
	}
	free(q->lanes);
	free(q);
}

static struct lvc__lane *lvc__lane(const lvc_holdq_t *q, int input, int32_t partition)
{
	for (size_t i = 0; i < q->lanes_n; i++) {
		if (q->lanes[i].input == input && q->lanes[i].partition == partition) {
			return &q->lanes[i];
		}
	}
	return NULL;
}

static size_t lvc__held_bytes(const lvc_held_t *h)
{
	return sizeof(*h) + strlen(h->topic) + 1 + h->key_len + h->value_len;
}

lvc_err_t lvc_holdq_push(lvc_holdq_t *q, int input, const char *topic, int32_t partition,
                         int64_t offset, const void *key, size_t key_len, const void *value,
                         size_t value_len)
{
	struct lvc__lane *l = lvc__lane(q, input, partition);
	lvc_held_t *h;
	size_t need = sizeof(*h) + strlen(topic) + 1 + key_len + value_len;

	if (q->bytes + need > q->max_bytes) {
		return LVC_ERR_RANGE;
	}
	if (l == NULL) {
		if (q->lanes_n == q->lanes_cap) {
			size_t cap = q->lanes_cap ? q->lanes_cap * 2 : 8;
			struct lvc__lane *p = realloc(q->lanes, cap * sizeof(*p));

			if (p == NULL) {
				return LVC_ERR_NOMEM;
			}
			q->lanes = p;
			q->lanes_cap = cap;
		}
		l = &q->lanes[q->lanes_n++];
		memset(l, 0, sizeof(*l));
		l->input = input;
		l->partition = partition;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL || (h->topic = lvc__sdup(topic)) == NULL ||
	    (key != NULL && (h->key = malloc(key_len > 0 ? key_len : 1)) == NULL) ||
	    (value != NULL && (h->value = malloc(value_len > 0 ? value_len : 1)) == NULL)) {
		if (h != NULL) {
			lvc__held_free(h);
		}
		return LVC_ERR_NOMEM;
	}
	h->input = input;
	h->partition = partition;
	h->offset = offset;
	if (key != NULL) {
		memcpy(h->key, key, key_len);
	}
	h->key_len = key_len;
	if (value != NULL) {
		memcpy(h->value, value, value_len);
	}
	h->value_len = value_len;
	if (l->tail != NULL) {
		l->tail->next = h;
	} else {
		l->head = h;
	}
	l->tail = h;
	q->count++;
	q->bytes += need;
	return LVC_OK;
}

const lvc_held_t *lvc_holdq_front(const lvc_holdq_t *q, int input, int32_t partition)
{
	const struct lvc__lane *l = lvc__lane(q, input, partition);

	return l != NULL ? l->head : NULL;
}

void lvc_holdq_pop(lvc_holdq_t *q, int input, int32_t partition)
{
	struct lvc__lane *l = lvc__lane(q, input, partition);
	lvc_held_t *h;

	if (l == NULL || (h = l->head) == NULL) {
		return;
	}
	l->head = h->next;
	if (l->head == NULL) {
		l->tail = NULL;
	}
	q->count--;
	q->bytes -= lvc__held_bytes(h);
	lvc__held_free(h);
}

size_t lvc_holdq_count(const lvc_holdq_t *q)
{
	return q->count;
}

size_t lvc_holdq_bytes(const lvc_holdq_t *q)
{
	return q->bytes;
}

size_t lvc_holdq_lanes(const lvc_holdq_t *q)
{
	return q->lanes_n;
}

void lvc_holdq_lane(const lvc_holdq_t *q, size_t i, int *input, int32_t *partition)
{
	*input = q->lanes[i].input;
	*partition = q->lanes[i].partition;
}
