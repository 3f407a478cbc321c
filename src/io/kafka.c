/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka wrapped once. Configuration is layered: levcal's defaults for
 * the role, then every property of the config's `kafka` section (so a user
 * can override any default), then the settings levcal's guarantees depend
 * on (forced; overriding them would silently break a guarantee, so they are
 * applied last). Errors carry librdkafka's own errstr.
 *
 * librdkafka's log lines go through io/log with librdkafka's facility, so
 * the process has one log format; its error callback logs, and a fatal
 * error is remembered so that the next poll reports LVC_ERR_FATAL.
 *
 * A SASL authentication failure is fatal too: librdkafka would retry it
 * forever, and wrong credentials do not heal. It is seen in the log
 * callback (librdkafka's FAIL line, logged on its broker thread at once)
 * and in the error callback (RD_KAFKA_RESP_ERR__AUTHENTICATION, delivered
 * only on a poll), remembered with the user, mechanism and listener, and
 * reported by the next poll and by metadata waits, which wait in short
 * slices so that a start-up with wrong credentials ends in about a second.
 * The password is never read back from the configuration.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "io/kafka.h"
#include "io/log.h"
#include "core/errfmt.h"

struct lvc_kafka_s {
	rd_kafka_t *rk;
	int consumer;
	lvc_rebalance_fn *rebalance;
	lvc_delivery_fn *delivery;
	void *opaque;
	atomic_int fatal;
	int report_eof;                              /* lvc_consumer_report_eof() */
	rd_kafka_topic_partition_list_t *table_ends; /* lvc_consumer_assign_tables() */
	/* Authentication failure: 0 none, 1 being written, 2 auth_msg set. */
	atomic_int auth;
	char auth_msg[640];
	char sasl_user[128], sasl_mech[64], servers[256]; /* for auth_msg */
};

/* The statistics hook (lvc_kafka_set_stats_hook): set before clients are
 * made, read when they are configured. */
static lvc_stats_fn *_Atomic stats_fn;
static void *_Atomic stats_opaque;

struct lvc_mock_s {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
};

/* Remembers (once) that a broker refused our SASL credentials. reason is
 * librdkafka's "[thrd:..]: sasl_plaintext://HOST:PORT/ID: SASL
 * authentication error: WHY (after ...)"; the listener is taken from it,
 * else from bootstrap.servers. Called on any thread. */
static void auth_failed(lvc_kafka_t *k, const char *reason)
{
	const char *p = strstr(reason, ": SASL ");
	const char *why = p != NULL ? p + 2 : reason;
	const char *sep = strstr(why, ": ");
	const char *lst = NULL, *end = NULL, *after;
	int expect = 0, why_n;

	if (k == NULL || !atomic_compare_exchange_strong(&k->auth, &expect, 1)) {
		return;
	}
	/* The broker's own words follow librdkafka's "SASL ...: " prefix. */
	if (sep != NULL && strncmp(why, "SASL authentication", 19) == 0) {
		why = sep + 2;
	}
	after = strstr(why, " (after "); /* librdkafka's timing suffix */
	why_n = after != NULL ? (int)(after - why) : (int)strlen(why);
	for (const char *q = reason; p != NULL && q < p; q++) {
		if (strncmp(q, "://", 3) == 0) {
			lst = q + 3;
		}
	}
	if (lst != NULL) { /* the broker's name: PROTO://HOST:PORT/ID */
		end = lst + strcspn(lst, "/");
		end = end < p ? end : p;
	}
	snprintf(k->auth_msg, sizeof(k->auth_msg),
	         "kafka: authentication failed for user '%s' with SASL mechanism %s at %.*s: %.*s",
	         k->sasl_user[0] != '\0' ? k->sasl_user : "(sasl.username not set)", k->sasl_mech,
	         lst != NULL ? (int)(end - lst) : (int)strlen(k->servers),
	         lst != NULL ? lst : k->servers, why_n, why);
	atomic_store(&k->auth, 2);
	lvc_error("%s", k->auth_msg);
}

/* Whether librdkafka's broker-failure text is a refusal of our credentials:
 * rd_kafka_broker_fail()'s "SASL authentication error|failure: WHY" or
 * "SASL [MECH ]mechanism handshake failed: WHY", where WHY is the broker's
 * or the SASL client's reason. A local error (transport, timeout, a handle
 * being destroyed: "SaslAuthenticateRequest failed: Local: ...") is not:
 * librdkafka reconnects from those. */
static int is_auth_failure(const char *text)
{
	const char *p = strstr(text, ": SASL ");

	return p != NULL &&
	       (strstr(p, "SASL authentication") != NULL ||
	        strstr(p, "mechanism handshake failed") != NULL) &&
	       strstr(p, "Local: ") == NULL && strstr(p, "parsing failed") == NULL;
}

/* The authentication failure, when there was one: 1 with errstr set. */
static int auth_check(lvc_kafka_t *k, char *errstr, size_t errstr_size)
{
	if (atomic_load(&k->auth) != 2) {
		return 0;
	}
	LVC_ERRF("%s", k->auth_msg);
	return 1;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	lvc_log_level_t l = level <= 3   ? LVC_LOG_ERROR
	                    : level <= 4 ? LVC_LOG_WARN
	                    : level <= 6 ? LVC_LOG_INFO
	                                 : LVC_LOG_DEBUG;

	/* One `kafka` section configures every client levcal makes, so a
	 * consumer property reaching a producer (and the reverse) is expected,
	 * not worth a warning. */
	if (strcmp(fac, "CONFWARN") == 0 &&
	    strstr(buf, "property and will be ignored by this") != NULL) {
		l = LVC_LOG_DEBUG;
	}
	lvc_log(l, "librdkafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
	if (strcmp(fac, "FAIL") == 0 && is_auth_failure(buf)) {
		auth_failed(rd_kafka_opaque(rk), buf);
	}
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	lvc_kafka_t *k = opaque;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];

		rd_kafka_fatal_error(rk, why, sizeof(why));
		lvc_error("kafka %s: fatal error: %s", rd_kafka_name(rk), why);
		atomic_store(&k->fatal, 1);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION && is_auth_failure(reason)) {
		auth_failed(k, reason); /* already logged when log_cb saw it */
	}
	/* Transport and all-brokers-down errors are retried by librdkafka. */
	lvc_warn("kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err),
	         reason);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	lvc_stats_fn *fn = atomic_load(&stats_fn);

	(void)opaque;
	if (fn != NULL) {
		fn(atomic_load(&stats_opaque), json, len, rd_kafka_type(rk) == RD_KAFKA_CONSUMER);
	}
	return 0; /* librdkafka frees json */
}

void lvc_kafka_set_stats_hook(lvc_stats_fn *fn, void *opaque)
{
	atomic_store(&stats_opaque, opaque);
	atomic_store(&stats_fn, fn);
}

static int conf_apply(rd_kafka_conf_t *conf, const lvc_kv_t *kv, size_t n, const char *what,
                      char *errstr, size_t errstr_size)
{
	char why[512];

	for (size_t i = 0; i < n; i++) {
		if (rd_kafka_conf_set(conf, kv[i].key, kv[i].value, why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			/* A secret's value is never echoed. */
			LVC_ERRF("%s%s: %s", what, kv[i].key, why);
			return -1;
		}
	}
	return 0;
}

static rd_kafka_conf_t *conf_build(lvc_kafka_t *k, const lvc_config_t *cfg,
                                   const lvc_kv_t *defaults, size_t defaults_n,
                                   const lvc_kv_t *forced, size_t forced_n, char *errstr,
                                   size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (conf_apply(conf, defaults, defaults_n, "levcal default kafka.", errstr, errstr_size) !=
	        0 ||
	    (cfg != NULL &&
	     conf_apply(conf, cfg->kafka, cfg->kafka_n, "kafka.", errstr, errstr_size) != 0) ||
	    conf_apply(conf, forced, forced_n, "kafka.", errstr, errstr_size) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* What an authentication failure names (never the password). */
	for (size_t i = 0; i < 3; i++) {
		static const char *const names[] = { "sasl.username", "sasl.mechanisms",
			                             "bootstrap.servers" };
		char *dst[] = { k->sasl_user, k->sasl_mech, k->servers };
		size_t sizes[] = { sizeof(k->sasl_user), sizeof(k->sasl_mech), sizeof(k->servers) };

		if (rd_kafka_conf_get(conf, names[i], dst[i], &sizes[i]) != RD_KAFKA_CONF_OK) {
			dst[i][0] = '\0';
		}
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (atomic_load(&stats_fn) != NULL) {
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
	}
	return conf;
}

static lvc_tp_t *tps_from_list(const rd_kafka_topic_partition_list_t *l)
{
	lvc_tp_t *tps = calloc((size_t)l->cnt + 1, sizeof(*tps));

	if (tps == NULL) {
		return NULL;
	}
	for (int i = 0; i < l->cnt; i++) {
		tps[i].topic = l->elems[i].topic;
		tps[i].partition = l->elems[i].partition;
	}
	return tps;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	lvc_kafka_t *k = opaque;
	int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	lvc_tp_t *tps = tps_from_list(parts);
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (cooperative) {
			error = rd_kafka_incremental_assign(rk, parts);
		} else {
			aerr = rd_kafka_assign(rk, parts);
		}
		lvc_info("kafka: assigned %d partition(s)", parts->cnt);
		if (k->rebalance != NULL && tps != NULL) {
			k->rebalance(k->opaque, 1, tps, (size_t)parts->cnt);
		}
	} else {
		lvc_info("kafka: revoking %d partition(s)%s", parts->cnt,
		         err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "" : " (lost)");
		if (k->rebalance != NULL && tps != NULL) {
			k->rebalance(k->opaque, 0, tps, (size_t)parts->cnt);
		}
		if (cooperative) {
			error = rd_kafka_incremental_unassign(rk, parts);
		} else {
			aerr = rd_kafka_assign(rk, NULL);
		}
	}
	if (error != NULL) {
		lvc_error("kafka: rebalance: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	} else if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lvc_error("kafka: rebalance: %s", rd_kafka_err2str(aerr));
	}
	free(tps);
}

lvc_kafka_t *lvc_consumer_new(const lvc_config_t *cfg, const lvc_kv_t *defaults, size_t defaults_n,
                              const lvc_kv_t *forced, size_t forced_n, const char *const *topics,
                              size_t topics_n, lvc_rebalance_fn *rebalance, void *opaque,
                              char *errstr, size_t errstr_size)
{
	lvc_kafka_t *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *subs = NULL;
	rd_kafka_resp_err_t err;
	char why[512];

	if (k == NULL) {
		LVC_ERRF("out of memory creating the consumer");
		return NULL;
	}
	k->consumer = 1;
	k->rebalance = rebalance;
	k->opaque = opaque;
	if ((conf = conf_build(k, cfg, defaults, defaults_n, forced, forced_n, errstr,
	                       errstr_size)) == NULL) {
		free(k);
		return NULL;
	}
	/* A consumer that subscribes to nothing (it assigns partitions: the
	 * stage's tables and state readers, replay) never joins the group, so
	 * it is never a static member: a kafka.group.instance.id of the config
	 * is the group consumer's alone (with it, such a consumer was fenced
	 * as a second instance of that id, which is fatal). */
	if (topics_n == 0 && rd_kafka_conf_set(conf, "group.instance.id", "", why, sizeof(why)) !=
	                         RD_KAFKA_CONF_OK) {
		LVC_ERRF("kafka.group.instance.id: %s", why);
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	if ((k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL) {
		LVC_ERRF("creating the consumer: %s", why);
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	rd_kafka_poll_set_consumer(k->rk);
	if (topics_n > 0) {
		subs = rd_kafka_topic_partition_list_new((int)topics_n);
		for (size_t i = 0; i < topics_n; i++) {
			rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
		}
		err = rd_kafka_subscribe(k->rk, subs);
		rd_kafka_topic_partition_list_destroy(subs);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			LVC_ERRF("subscribing: %s", rd_kafka_err2str(err));
			rd_kafka_destroy(k->rk);
			free(k);
			return NULL;
		}
	}
	return k;
}

/* A table partition reached its end (enable.partition.eof): it is caught
 * up even when control records keep its position below the end offset. */
static void table_eof(lvc_kafka_t *c, const rd_kafka_message_t *rkm)
{
	rd_kafka_topic_partition_t *tp;

	if (c->table_ends == NULL || rkm->rkt == NULL) {
		return;
	}
	tp = rd_kafka_topic_partition_list_find(c->table_ends, rd_kafka_topic_name(rkm->rkt),
	                                        rkm->partition);
	if (tp != NULL) {
		tp->offset = 0; /* nothing left to wait for */
	}
}

lvc_err_t lvc_consumer_poll(lvc_kafka_t *c, int timeout_ms, lvc_msg_t *out, char *errstr,
                            size_t errstr_size)
{
	rd_kafka_message_t *rkm;

	memset(out, 0, sizeof(*out));
	if (auth_check(c, errstr, errstr_size)) {
		return LVC_ERR_FATAL;
	}
	if (atomic_load(&c->fatal)) {
		LVC_ERRF("the consumer hit a fatal error (logged above)");
		return LVC_ERR_FATAL;
	}
	if ((rkm = rd_kafka_consumer_poll(c->rk, timeout_ms)) == NULL) {
		return LVC_ERR_NOT_FOUND;
	}
	if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lvc_err_t ret =
		    rkm->err == RD_KAFKA_RESP_ERR__FATAL ? LVC_ERR_FATAL : LVC_ERR_KAFKA;

		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			table_eof(c, rkm);
			if (c->report_eof && rkm->rkt != NULL) {
				/* The topic name lives as long as the message. */
				out->topic = rd_kafka_topic_name(rkm->rkt);
				out->partition = rkm->partition;
				out->offset = rkm->offset;
				out->timestamp_ms = -1;
				out->eof = 1;
				out->rkm_ = rkm;
				return LVC_OK;
			}
			rd_kafka_message_destroy(rkm);
			return LVC_ERR_NOT_FOUND;
		}
		LVC_ERRF("%s [%d]: %s", rkm->rkt != NULL ? rd_kafka_topic_name(rkm->rkt) : "-",
		         (int)rkm->partition, rd_kafka_message_errstr(rkm));
		rd_kafka_message_destroy(rkm);
		return ret;
	}
	out->topic = rd_kafka_topic_name(rkm->rkt);
	out->partition = rkm->partition;
	out->offset = rkm->offset;
	out->key = rkm->key;
	out->key_len = rkm->key_len;
	out->value = rkm->payload;
	out->value_len = rkm->len;
	out->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
	out->rkm_ = rkm;
	return LVC_OK;
}

void lvc_msg_release(lvc_msg_t *m)
{
	if (m->rkm_ != NULL) {
		rd_kafka_message_destroy(m->rkm_);
	}
	memset(m, 0, sizeof(*m));
}

lvc_err_t lvc_consumer_store(lvc_kafka_t *c, const char *topic, int32_t partition,
                             int64_t next_offset, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next_offset;
	err = rd_kafka_offsets_store(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("storing offset %lld of %s [%d]: %s", (long long)next_offset, topic,
		         (int)partition, rd_kafka_err2str(err));
		return LVC_ERR_KAFKA;
	}
	return LVC_OK;
}

lvc_err_t lvc_consumer_commit(lvc_kafka_t *c, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
		return LVC_OK;
	}
	LVC_ERRF("committing offsets: %s", rd_kafka_err2str(err));
	return LVC_ERR_KAFKA;
}

lvc_err_t lvc_consumer_assign_tables(lvc_kafka_t *c, const char *const *topics, size_t n,
                                     int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
	rd_kafka_topic_partition_list_t *ends = rd_kafka_topic_partition_list_new(16);
	rd_kafka_resp_err_t err;
	lvc_err_t ret = LVC_ERR_KAFKA;

	for (size_t t = 0; t < n; t++) {
		int parts = 0;

		if (lvc_kafka_partition_count(c, topics[t], timeout_ms, &parts, errstr,
		                              errstr_size) != LVC_OK) {
			ret = LVC_ERR_NOT_FOUND;
			goto out;
		}
		for (int p = 0; p < parts; p++) {
			int64_t lo, hi;

			/* Just after a topic is created the broker may not know its
			 * leaders yet: retry what is retriable for a few seconds. */
			for (int attempt = 0;; attempt++) {
				err = rd_kafka_query_watermark_offsets(c->rk, topics[t], p, &lo,
				                                       &hi, timeout_ms);
				if (attempt >= 20 ||
				    (err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
				     err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
				     err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
					break;
				}
				nanosleep(&(struct timespec){ 0, 250 * 1000 * 1000 }, NULL);
			}
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
				LVC_ERRF("end offset of %s [%d]: %s", topics[t], p,
				         rd_kafka_err2str(err));
				goto out;
			}
			rd_kafka_topic_partition_list_add(l, topics[t], p)->offset =
			    RD_KAFKA_OFFSET_BEGINNING;
			rd_kafka_topic_partition_list_add(ends, topics[t], p)->offset = hi;
		}
	}
	if ((err = rd_kafka_assign(c->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("assigning the table topics: %s", rd_kafka_err2str(err));
		goto out;
	}
	if (c->table_ends != NULL) {
		rd_kafka_topic_partition_list_destroy(c->table_ends);
	}
	c->table_ends = ends;
	ends = NULL;
	ret = LVC_OK;
out:
	rd_kafka_topic_partition_list_destroy(l);
	if (ends != NULL) {
		rd_kafka_topic_partition_list_destroy(ends);
	}
	return ret;
}

int lvc_consumer_caught_up(lvc_kafka_t *c)
{
	rd_kafka_topic_partition_list_t *pos;
	int ok = 1;

	if (c->table_ends == NULL) {
		return 1;
	}
	pos = rd_kafka_topic_partition_list_copy(c->table_ends);
	if (rd_kafka_position(c->rk, pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ok = 0;
	}
	for (int i = 0; ok && i < pos->cnt; i++) {
		int64_t end = c->table_ends->elems[i].offset;

		/* An empty partition is caught up before it has a position. */
		if (end > 0 && pos->elems[i].offset < end) {
			ok = 0;
		}
	}
	rd_kafka_topic_partition_list_destroy(pos);
	return ok;
}

void lvc_consumer_close(lvc_kafka_t *c)
{
	if (c == NULL) {
		return;
	}
	if (c->table_ends != NULL) {
		rd_kafka_topic_partition_list_destroy(c->table_ends);
	}
	rd_kafka_consumer_close(c->rk);
	rd_kafka_destroy(c->rk);
	free(c);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	lvc_kafka_t *k = opaque;

	(void)rk;
	if (k->delivery == NULL) {
		return;
	}
	if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		char why[512];

		snprintf(why, sizeof(why), "%s [%d]: %s", rd_kafka_topic_name(rkm->rkt),
		         (int)rkm->partition, rd_kafka_err2str(rkm->err));
		k->delivery(k->opaque, rkm->_private, LVC_ERR_KAFKA, why);
	} else {
		k->delivery(k->opaque, rkm->_private, LVC_OK, NULL);
	}
}

lvc_kafka_t *lvc_producer_new(const lvc_config_t *cfg, const lvc_kv_t *defaults, size_t defaults_n,
                              const lvc_kv_t *forced, size_t forced_n, lvc_delivery_fn *delivery,
                              void *opaque, char *errstr, size_t errstr_size)
{
	lvc_kafka_t *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf;
	char why[512];

	if (k == NULL) {
		LVC_ERRF("out of memory creating the producer");
		return NULL;
	}
	k->delivery = delivery;
	k->opaque = opaque;
	if ((conf = conf_build(k, cfg, defaults, defaults_n, forced, forced_n, errstr,
	                       errstr_size)) == NULL) {
		free(k);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		LVC_ERRF("creating the producer: %s", why);
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	return k;
}

lvc_err_t lvc_produce(lvc_kafka_t *p, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *value, size_t value_len,
                      const lvc_header_t *headers, size_t headers_n, void *msg_opaque, char *errstr,
                      size_t errstr_size)
{
	if (auth_check(p, errstr, errstr_size)) {
		return LVC_ERR_FATAL;
	}
	for (;;) {
		rd_kafka_headers_t *hdrs = rd_kafka_headers_new(headers_n);
		rd_kafka_resp_err_t err;

		for (size_t i = 0; i < headers_n; i++) {
			rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, -1);
		}
		err = rd_kafka_producev(
		    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
		    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
		    RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			return LVC_OK;
		}
		/* On failure the headers were not taken over. */
		rd_kafka_headers_destroy(hdrs);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			LVC_ERRF("producing to %s: %s", topic, rd_kafka_err2str(err));
			return err == RD_KAFKA_RESP_ERR__FATAL ? LVC_ERR_FATAL : LVC_ERR_KAFKA;
		}
		/* The local queue is full: serve delivery reports until there is
		 * room. This is the back-pressure that keeps memory bounded. */
		rd_kafka_poll(p->rk, 10);
	}
}

int lvc_producer_poll(lvc_kafka_t *p, int timeout_ms)
{
	return rd_kafka_poll(p->rk, timeout_ms);
}

lvc_err_t lvc_producer_flush(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("flushing the producer: %s (%d message(s) still queued)",
		         rd_kafka_err2str(err), rd_kafka_outq_len(p->rk));
		return LVC_ERR_KAFKA;
	}
	return LVC_OK;
}

int lvc_producer_outq_len(lvc_kafka_t *p)
{
	return rd_kafka_outq_len(p->rk);
}

void lvc_producer_close(lvc_kafka_t *p, int timeout_ms)
{
	if (p == NULL) {
		return;
	}
	rd_kafka_flush(p->rk, timeout_ms);
	rd_kafka_destroy(p->rk);
	free(p);
}

lvc_err_t lvc_kafka_partition_count(lvc_kafka_t *k, const char *topic, int timeout_ms, int *out,
                                    char *errstr, size_t errstr_size)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	lvc_err_t ret = LVC_OK;
	int64_t left_ms = timeout_ms;
	int slice = 250;

	if (rkt == NULL) {
		LVC_ERRF("topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		return LVC_ERR_KAFKA;
	}
	/* In growing slices: rd_kafka_metadata() waits its whole timeout for
	 * a usable broker, which with refused credentials never comes. */
	for (;;) {
		slice = left_ms < slice ? (int)left_ms : slice;
		err = rd_kafka_metadata(k->rk, 0, rkt, &md, slice);
		left_ms -= slice;
		if ((err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT) ||
		    left_ms <= 0 || auth_check(k, NULL, 0)) {
			break;
		}
		slice = slice < 2000 ? 2 * slice : slice;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR && auth_check(k, errstr, errstr_size)) {
		ret = LVC_ERR_FATAL;
	} else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("metadata of topic %s: %s", topic, rd_kafka_err2str(err));
		ret = LVC_ERR_KAFKA;
	} else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_resp_err_t terr =
		    md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN;

		LVC_ERRF("topic %s: %s", topic, rd_kafka_err2str(terr));
		ret = terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? LVC_ERR_NOT_FOUND
		                                                      : LVC_ERR_KAFKA;
	} else {
		*out = md->topics[0].partition_cnt;
	}
	if (md != NULL) {
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	return ret;
}

lvc_err_t lvc_consumer_lags(lvc_kafka_t *c, lvc_lag_fn *fn, void *opaque)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err = rd_kafka_assignment(c->rk, &l);

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		return LVC_ERR_KAFKA;
	}
	if (rd_kafka_position(c->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < l->cnt; i++) {
			const rd_kafka_topic_partition_t *tp = &l->elems[i];
			int64_t lo, hi;

			if (tp->offset < 0 ||
			    rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo,
			                                   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			    hi < 0) {
				continue;
			}
			fn(opaque, tp->topic, tp->partition, hi > tp->offset ? hi - tp->offset : 0);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return LVC_OK;
}

lvc_mock_t *lvc_mock_new(int brokers, char *errstr, size_t errstr_size)
{
	lvc_mock_t *m = calloc(1, sizeof(*m));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512];

	if (m == NULL) {
		LVC_ERRF("out of memory creating the mock cluster");
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	/* This handle only hosts the mock brokers. */
	if ((m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		LVC_ERRF("creating the mock cluster's handle: %s", why);
		rd_kafka_conf_destroy(conf);
		free(m);
		return NULL;
	}
	if ((m->mc = rd_kafka_mock_cluster_new(m->rk, brokers)) == NULL) {
		LVC_ERRF("creating the mock cluster failed");
		rd_kafka_destroy(m->rk);
		free(m);
		return NULL;
	}
	return m;
}

const char *lvc_mock_bootstraps(const lvc_mock_t *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

lvc_err_t lvc_mock_topic_create(lvc_mock_t *m, const char *topic, int partitions)
{
	return rd_kafka_mock_topic_create(m->mc, topic, partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR
	           ? LVC_OK
	           : LVC_ERR_KAFKA;
}

void lvc_mock_destroy(lvc_mock_t *m)
{
	if (m == NULL) {
		return;
	}
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
	free(m);
}

/*
 * Exactly-once processing, replays and the state topic.
 */

void lvc_consumer_report_eof(lvc_kafka_t *c, int on)
{
	c->report_eof = on;
}

static rd_kafka_topic_partition_list_t *tpo_list(const lvc_tpo_t *tps, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? (int)n : 1);

	for (size_t i = 0; i < n; i++) {
		rd_kafka_topic_partition_list_add(l, tps[i].topic, tps[i].partition)->offset =
		    tps[i].offset;
	}
	return l;
}

lvc_err_t lvc_consumer_assign(lvc_kafka_t *c, const lvc_tpo_t *tps, size_t n, char *errstr,
                              size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = n > 0 ? tpo_list(tps, n) : NULL;
	rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, l);

	if (l != NULL) {
		rd_kafka_topic_partition_list_destroy(l);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("assigning %zu partition(s): %s", n, rd_kafka_err2str(err));
		return LVC_ERR_KAFKA;
	}
	return LVC_OK;
}

lvc_err_t lvc_consumer_pause(lvc_kafka_t *c, const char *topic, int32_t partition, int pause,
                             char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	rd_kafka_topic_partition_list_add(l, topic, partition);
	err = pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		err = l->elems[0].err;
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("%s %s [%d]: %s", pause ? "pausing" : "resuming", topic, (int)partition,
		         rd_kafka_err2str(err));
		return LVC_ERR_KAFKA;
	}
	return LVC_OK;
}

lvc_err_t lvc_consumer_committed(lvc_kafka_t *c, lvc_tpo_t *tps, size_t n, int timeout_ms,
                                 char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = tpo_list(tps, n);
	rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, l, timeout_ms);
	lvc_err_t ret = LVC_OK;

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("committed offsets of %zu partition(s): %s", n, rd_kafka_err2str(err));
		ret = LVC_ERR_KAFKA;
	}
	for (int i = 0; ret == LVC_OK && i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &l->elems[i];

		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			LVC_ERRF("committed offset of %s [%d]: %s", tp->topic, (int)tp->partition,
			         rd_kafka_err2str(tp->err));
			ret = LVC_ERR_KAFKA;
			break;
		}
		tps[i].offset = tp->offset >= 0 ? tp->offset : -1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return ret;
}

lvc_err_t lvc_consumer_seek(lvc_kafka_t *c, const lvc_tpo_t *tps, size_t n, int timeout_ms,
                            char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = tpo_list(tps, n);
	rd_kafka_error_t *error;
	lvc_err_t ret = LVC_OK;

	for (int i = 0; i < l->cnt; i++) {
		if (l->elems[i].offset < 0) {
			l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
		}
	}
	if ((error = rd_kafka_seek_partitions(c->rk, l, timeout_ms)) != NULL) {
		LVC_ERRF("seeking %zu partition(s): %s", n, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		ret = LVC_ERR_KAFKA;
	}
	for (int i = 0; ret == LVC_OK && i < l->cnt; i++) {
		if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			LVC_ERRF("seeking %s [%d] to %lld: %s", l->elems[i].topic,
			         (int)l->elems[i].partition, (long long)tps[i].offset,
			         rd_kafka_err2str(l->elems[i].err));
			ret = LVC_ERR_KAFKA;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return ret;
}

int64_t lvc_consumer_position(lvc_kafka_t *c, const char *topic, int32_t partition)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t off = -1;

	rd_kafka_topic_partition_list_add(l, topic, partition);
	if (rd_kafka_position(c->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0) {
		off = l->elems[0].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return off;
}

int lvc_consumer_assignment_lost(lvc_kafka_t *c)
{
	return rd_kafka_assignment_lost(c->rk);
}

lvc_err_t lvc_kafka_watermarks(lvc_kafka_t *k, const char *topic, int32_t partition, int timeout_ms,
                               int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err =
	    rd_kafka_query_watermark_offsets(k->rk, topic, partition, lo, hi, timeout_ms);

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("offsets of %s [%d]: %s", topic, (int)partition, rd_kafka_err2str(err));
		return err == RD_KAFKA_RESP_ERR__FATAL ? LVC_ERR_FATAL : LVC_ERR_KAFKA;
	}
	return LVC_OK;
}

lvc_err_t lvc_kafka_offsets_for_times(lvc_kafka_t *k, lvc_tpo_t *tps, size_t n, int timeout_ms,
                                      char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l = tpo_list(tps, n);
	rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(k->rk, l, timeout_ms);
	lvc_err_t ret = LVC_OK;

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("offsets for times of %zu partition(s): %s", n, rd_kafka_err2str(err));
		ret = LVC_ERR_KAFKA;
	}
	for (int i = 0; ret == LVC_OK && i < l->cnt; i++) {
		if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			LVC_ERRF("offset for time %lld of %s [%d]: %s", (long long)tps[i].offset,
			         l->elems[i].topic, (int)l->elems[i].partition,
			         rd_kafka_err2str(l->elems[i].err));
			ret = LVC_ERR_KAFKA;
			break;
		}
		tps[i].offset = l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return ret;
}

/* Waits for one admin result event on q; NULL on timeout. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int timeout_ms)
{
	return rd_kafka_queue_poll(q, timeout_ms + 2000);
}

lvc_err_t lvc_kafka_topic_describe(lvc_kafka_t *k, const char *topic, int timeout_ms,
                                   int *partitions, const char *const *keys, char **values,
                                   size_t value_size, size_t n, char *errstr, size_t errstr_size)
{
	rd_kafka_queue_t *q = NULL;
	rd_kafka_AdminOptions_t *o = NULL;
	rd_kafka_ConfigResource_t *cr = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_DescribeConfigs_result_t *res;
	const rd_kafka_ConfigResource_t **rs;
	const rd_kafka_ConfigEntry_t **entries;
	size_t rs_n = 0, entries_n = 0;
	char why[512];
	lvc_err_t ret;

	for (size_t i = 0; i < n; i++) {
		values[i][0] = '\0';
	}
	if ((ret = lvc_kafka_partition_count(k, topic, timeout_ms, partitions, errstr,
	                                     errstr_size)) != LVC_OK) {
		return ret;
	}
	ret = LVC_ERR_KAFKA;
	q = rd_kafka_queue_new(k->rk);
	o = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	if (rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, why, sizeof(why)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("describing topic %s: %s", topic, why);
		goto out;
	}
	cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_DescribeConfigs(k->rk, &cr, 1, o, q);
	if ((ev = admin_wait(q, timeout_ms)) == NULL) {
		LVC_ERRF("describing topic %s: no answer within %d ms", topic, timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("describing topic %s: %s", topic, rd_kafka_event_error_string(ev));
		goto out;
	}
	res = rd_kafka_event_DescribeConfigs_result(ev);
	rs = res != NULL ? rd_kafka_DescribeConfigs_result_resources(res, &rs_n) : NULL;
	if (rs == NULL || rs_n != 1) {
		LVC_ERRF("describing topic %s: no result", topic);
		goto out;
	}
	if (rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("describing topic %s: %s", topic,
		         rd_kafka_ConfigResource_error_string(rs[0]));
		ret =
		    rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
		        ? LVC_ERR_NOT_FOUND
		        : LVC_ERR_KAFKA;
		goto out;
	}
	entries = rd_kafka_ConfigResource_configs(rs[0], &entries_n);
	for (size_t e = 0; e < entries_n; e++) {
		const char *name = rd_kafka_ConfigEntry_name(entries[e]);
		const char *value = rd_kafka_ConfigEntry_value(entries[e]);

		for (size_t i = 0; i < n; i++) {
			if (name != NULL && strcmp(name, keys[i]) == 0) {
				snprintf(values[i], value_size, "%s", value != NULL ? value : "");
			}
		}
	}
	ret = LVC_OK;
out:
	if (ev != NULL) {
		rd_kafka_event_destroy(ev);
	}
	if (cr != NULL) {
		rd_kafka_ConfigResource_destroy(cr);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return ret;
}

lvc_err_t lvc_kafka_topic_create(lvc_kafka_t *k, const char *topic, int partitions,
                                 const lvc_kv_t *configs, size_t n, int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
	rd_kafka_AdminOptions_t *o =
	    rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_NewTopic_t *nt = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	size_t tr_n = 0;
	char why[512];
	lvc_err_t ret = LVC_ERR_KAFKA;

	if (rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, why, sizeof(why)) !=
	        RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, why, sizeof(why)) !=
	        RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("creating topic %s: %s", topic, why);
		goto out;
	}
	if ((nt = rd_kafka_NewTopic_new(topic, partitions, -1, why, sizeof(why))) == NULL) {
		LVC_ERRF("creating topic %s: %s", topic, why);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (rd_kafka_NewTopic_set_config(nt, configs[i].key, configs[i].value) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			LVC_ERRF("creating topic %s: config %s=%s refused", topic, configs[i].key,
			         configs[i].value);
			goto out;
		}
	}
	rd_kafka_CreateTopics(k->rk, &nt, 1, o, q);
	if ((ev = admin_wait(q, timeout_ms)) == NULL) {
		LVC_ERRF("creating topic %s: no answer within %d ms", topic, timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		LVC_ERRF("creating topic %s: %s", topic, rd_kafka_event_error_string(ev));
		goto out;
	}
	res = rd_kafka_event_CreateTopics_result(ev);
	tr = res != NULL ? rd_kafka_CreateTopics_result_topics(res, &tr_n) : NULL;
	if (tr == NULL || tr_n != 1) {
		LVC_ERRF("creating topic %s: no result", topic);
		goto out;
	}
	if (rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		LVC_ERRF("creating topic %s: %s", topic, rd_kafka_topic_result_error_string(tr[0]));
		goto out;
	}
	ret = LVC_OK;
out:
	if (ev != NULL) {
		rd_kafka_event_destroy(ev);
	}
	if (nt != NULL) {
		rd_kafka_NewTopic_destroy(nt);
	}
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	return ret;
}

/* Classifies a transactional API error as levcal's codes (see kafka.h). */
static lvc_err_t txn_fail(rd_kafka_error_t *error, const char *what, char *errstr,
                          size_t errstr_size)
{
	lvc_err_t ret;

	if (rd_kafka_error_is_fatal(error)) {
		ret = LVC_ERR_FATAL;
	} else if (rd_kafka_error_txn_requires_abort(error)) {
		ret = LVC_ERR_STATE;
	} else if (rd_kafka_error_is_retriable(error)) {
		ret = LVC_ERR_KAFKA;
	} else {
		/* Neither retriable nor abortable: an illegal state, which
		 * retrying cannot mend. */
		ret = LVC_ERR_FATAL;
	}
	LVC_ERRF("%s: %s: %s (%s)", what, rd_kafka_error_name(error), rd_kafka_error_string(error),
	         ret == LVC_ERR_FATAL   ? "fatal"
	         : ret == LVC_ERR_STATE ? "the transaction must be aborted"
	                                : "retriable");
	rd_kafka_error_destroy(error);
	return ret;
}

lvc_err_t lvc_txn_init(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_error_t *error = rd_kafka_init_transactions(p->rk, timeout_ms);

	return error == NULL ? LVC_OK
	                     : txn_fail(error, "initializing transactions", errstr, errstr_size);
}

lvc_err_t lvc_txn_begin(lvc_kafka_t *p, char *errstr, size_t errstr_size)
{
	rd_kafka_error_t *error = rd_kafka_begin_transaction(p->rk);

	return error == NULL ? LVC_OK
	                     : txn_fail(error, "beginning a transaction", errstr, errstr_size);
}

lvc_err_t lvc_txn_send_offsets(lvc_kafka_t *p, lvc_kafka_t *consumer, const lvc_tpo_t *offs,
                               size_t n, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(consumer->rk);
	rd_kafka_topic_partition_list_t *l = tpo_list(offs, n);
	rd_kafka_error_t *error;

	if (cgmd == NULL) {
		rd_kafka_topic_partition_list_destroy(l);
		LVC_ERRF("sending offsets to the transaction: the consumer has no group metadata");
		return LVC_ERR_STATE;
	}
	error = rd_kafka_send_offsets_to_transaction(p->rk, l, cgmd, timeout_ms);
	rd_kafka_consumer_group_metadata_destroy(cgmd);
	rd_kafka_topic_partition_list_destroy(l);
	return error == NULL
	           ? LVC_OK
	           : txn_fail(error, "sending offsets to the transaction", errstr, errstr_size);
}

lvc_err_t lvc_txn_commit(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_error_t *error = rd_kafka_commit_transaction(p->rk, timeout_ms);

	return error == NULL ? LVC_OK
	                     : txn_fail(error, "committing the transaction", errstr, errstr_size);
}

lvc_err_t lvc_txn_abort(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_error_t *error = rd_kafka_abort_transaction(p->rk, timeout_ms);

	return error == NULL ? LVC_OK
	                     : txn_fail(error, "aborting the transaction", errstr, errstr_size);
}

int lvc_kafka_fatal(lvc_kafka_t *k)
{
	return atomic_load(&k->fatal) || rd_kafka_fatal_error(k->rk, NULL, 0) != 0;
}
