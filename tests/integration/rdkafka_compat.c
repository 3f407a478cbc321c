/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdkafka_compat: does the system librdkafka (levcal's client, 2.0.2 on
 * bookworm) get from the test broker everything levcal relies on? The Python
 * kit's confluent-kafka bundles a newer librdkafka, so only this program
 * proves the pairing that production uses, for each broker version CI runs
 * (Kafka 4.0 removed old protocol versions, KIP-896, and early 4.0 builds
 * made librdkafka drop compression silently).
 *
 *     rdkafka_compat BOOTSTRAP_FILE
 *
 * Against the broker named in BOOTSTRAP_FILE it: creates a 3-partition topic
 * (Admin API); produces with each compression codec from an idempotent
 * producer and fails on librdkafka's "does not support compression" notice;
 * runs a transactional producer that commits one transaction, aborts a
 * second, and commits a third with consumer offsets
 * (send_offsets_to_transaction); then a read_committed group consumer must
 * read exactly the committed records, and the group's committed offsets must
 * be the ones sent in the transaction. Exit 0 when all hold, 1 otherwise,
 * with the reason on stderr.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define N_PARTITIONS 3
#define TIMEOUT_MS   30000

static const char *const codecs[] = { "gzip", "snappy", "lz4", "zstd" };

typedef struct compat {
	char bootstrap[256];
	char topic[128];
	char group[160];
	int compression_refused; /* librdkafka logged a compression fallback */
	int delivery_errors;
	int delivered;
} compat_t;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("rdkafka_compat: FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	compat_t *c = rd_kafka_opaque(rk);

	if (strstr(buf, "does not support compression") != NULL) {
		c->compression_refused++;
	}
	if (level <= 4) {
		fprintf(stderr, "rdkafka_compat: librdkafka %d %s: %s\n", level, fac, buf);
	}
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	compat_t *c = opaque;

	(void)rk;
	if (rkm->err) {
		fprintf(stderr, "rdkafka_compat: delivery failed: %s\n",
		        rd_kafka_err2str(rkm->err));
		c->delivery_errors++;
	} else {
		c->delivered++;
	}
}

static rd_kafka_conf_t *new_conf(compat_t *c, const char *const *kv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	size_t i;

	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		fail("bootstrap.servers: %s", errstr);
		goto exit_fail;
	}
	for (i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK) {
			fail("%s=%s: %s", kv[i], kv[i + 1], errstr);
			goto exit_fail;
		}
	}
	return conf;
exit_fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static int create_topic(compat_t *c)
{
	rd_kafka_conf_t *conf = new_conf(c, NULL);
	rd_kafka_t *rk = NULL;
	rd_kafka_NewTopic_t *nt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **res;
	char errstr[512];
	size_t n = 0;
	int rc = -1;

	if (conf == NULL) {
		goto exit;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		fail("rd_kafka_new: %s", errstr);
		goto exit;
	}
	nt = rd_kafka_NewTopic_new(c->topic, N_PARTITIONS, 1, errstr, sizeof(errstr));
	if (nt == NULL) {
		fail("NewTopic: %s", errstr);
		goto exit;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
	if (ev == NULL || rd_kafka_event_error(ev)) {
		fail("CreateTopics: %s", ev ? rd_kafka_event_error_string(ev) : "timed out");
		goto exit;
	}
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	if (n != 1 || rd_kafka_topic_result_error(res[0])) {
		fail("CreateTopics %s: %s", c->topic,
		     n == 1 ? rd_kafka_topic_result_error_string(res[0]) : "no result");
		goto exit;
	}
	rc = 0;
exit:
	if (ev != NULL) {
		rd_kafka_event_destroy(ev);
	}
	if (q != NULL) {
		rd_kafka_queue_destroy(q);
	}
	if (nt != NULL) {
		rd_kafka_NewTopic_destroy(nt);
	}
	if (rk != NULL) {
		rd_kafka_destroy(rk);
	}
	return rc;
}

static int produce_one(rd_kafka_t *rk, compat_t *c, int partition, const char *key,
                       const char *value)
{
	rd_kafka_resp_err_t err;

	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(c->topic), RD_KAFKA_V_PARTITION(partition),
	                        RD_KAFKA_V_KEY(key, strlen(key)),
	                        RD_KAFKA_V_VALUE((void *)value, strlen(value)),
	                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (err) {
		fail("produce %s: %s", key, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* Idempotent producers, one per codec; values long enough to compress. */
static int produce_compressed(compat_t *c)
{
	char value[1024];
	char key[64];
	size_t i;
	int rc = -1;

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		const char *kv[] = { "enable.idempotence",
			             "true",
			             "compression.codec",
			             codecs[i],
			             "linger.ms",
			             "5",
			             NULL };
		rd_kafka_conf_t *conf = new_conf(c, kv);
		rd_kafka_t *rk;
		char errstr[512];
		int j;

		if (conf == NULL) {
			goto exit;
		}
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
		rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
		if (rk == NULL) {
			rd_kafka_conf_destroy(conf);
			fail("rd_kafka_new: %s", errstr);
			goto exit;
		}
		for (j = 0; j < 10; j++) {
			snprintf(key, sizeof(key), "plain-%s-%d", codecs[i], j);
			if (produce_one(rk, c, j % N_PARTITIONS, key, value) != 0) {
				rd_kafka_destroy(rk);
				goto exit;
			}
		}
		if (rd_kafka_flush(rk, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_destroy(rk);
			fail("flush (%s) timed out", codecs[i]);
			goto exit;
		}
		rd_kafka_destroy(rk);
	}
	if (c->delivery_errors != 0 || c->delivered != 40) {
		fail("%d of 40 compressed records delivered, %d errors", c->delivered,
		     c->delivery_errors);
		goto exit;
	}
	if (c->compression_refused != 0) {
		fail("librdkafka fell back to uncompressed batches %d times",
		     c->compression_refused);
		goto exit;
	}
	rc = 0;
exit:
	return rc;
}

static int txn_check(rd_kafka_error_t *error, const char *what)
{
	if (error == NULL) {
		return 0;
	}
	fail("%s: %s", what, rd_kafka_error_string(error));
	rd_kafka_error_destroy(error);
	return -1;
}

/*
 * Transaction 1 commits t1-0..2, transaction 2 aborts a1-0..1, transaction 3
 * commits t3-0 together with offsets (partition p -> 100 + p) for c->group.
 */
static int produce_transactional(compat_t *c)
{
	const char *kv[] = { "transactional.id", c->topic, "compression.codec", "lz4", NULL };
	rd_kafka_conf_t *conf = new_conf(c, kv);
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_partition_list_t *offsets = NULL;
	rd_kafka_consumer_group_metadata_t *cgmd = NULL;
	char errstr[512];
	char key[32];
	int p;
	int rc = -1;

	if (conf == NULL) {
		goto exit;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		fail("rd_kafka_new: %s", errstr);
		goto exit;
	}
	if (txn_check(rd_kafka_init_transactions(rk, TIMEOUT_MS), "init_transactions") != 0 ||
	    txn_check(rd_kafka_begin_transaction(rk), "begin 1") != 0) {
		goto exit;
	}
	for (p = 0; p < 3; p++) {
		snprintf(key, sizeof(key), "t1-%d", p);
		if (produce_one(rk, c, p, key, "committed") != 0) {
			goto exit;
		}
	}
	if (txn_check(rd_kafka_commit_transaction(rk, TIMEOUT_MS), "commit 1") != 0 ||
	    txn_check(rd_kafka_begin_transaction(rk), "begin 2") != 0) {
		goto exit;
	}
	for (p = 0; p < 2; p++) {
		snprintf(key, sizeof(key), "a2-%d", p);
		if (produce_one(rk, c, p, key, "aborted") != 0) {
			goto exit;
		}
	}
	if (rd_kafka_flush(rk, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fail("flush before abort timed out");
		goto exit;
	}
	if (txn_check(rd_kafka_abort_transaction(rk, TIMEOUT_MS), "abort 2") != 0 ||
	    txn_check(rd_kafka_begin_transaction(rk), "begin 3") != 0 ||
	    produce_one(rk, c, 2, "t3-0", "committed") != 0) {
		goto exit;
	}
	cgmd = rd_kafka_consumer_group_metadata_new(c->group);
	offsets = rd_kafka_topic_partition_list_new(N_PARTITIONS);
	for (p = 0; p < N_PARTITIONS; p++) {
		rd_kafka_topic_partition_list_add(offsets, c->topic, p)->offset = 1;
	}
	if (txn_check(rd_kafka_send_offsets_to_transaction(rk, offsets, cgmd, TIMEOUT_MS),
	              "send_offsets_to_transaction") != 0 ||
	    txn_check(rd_kafka_commit_transaction(rk, TIMEOUT_MS), "commit 3") != 0) {
		goto exit;
	}
	rc = 0;
exit:
	if (offsets != NULL) {
		rd_kafka_topic_partition_list_destroy(offsets);
	}
	if (cgmd != NULL) {
		rd_kafka_consumer_group_metadata_destroy(cgmd);
	}
	if (rk != NULL) {
		rd_kafka_destroy(rk);
	}
	return rc;
}

/* read_committed: all 40 plain records, t1-0..2 and t3-0, never a2-*. */
static int consume_committed(compat_t *c)
{
	const char *kv[] = { "group.id",
		             c->group,
		             "isolation.level",
		             "read_committed",
		             "auto.offset.reset",
		             "earliest",
		             "enable.auto.commit",
		             "false",
		             NULL };
	rd_kafka_conf_t *conf = new_conf(c, kv);
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_partition_list_t *assign = NULL;
	rd_kafka_topic_partition_list_t *committed = NULL;
	char errstr[512];
	int plain = 0, txn = 0, aborted = 0;
	int p, rc = -1;
	time_t deadline = time(NULL) + TIMEOUT_MS / 1000;

	if (conf == NULL) {
		goto exit;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		fail("rd_kafka_new consumer: %s", errstr);
		goto exit;
	}
	/* The transaction committed offsets for the group: check them first. */
	committed = rd_kafka_topic_partition_list_new(N_PARTITIONS);
	for (p = 0; p < N_PARTITIONS; p++) {
		rd_kafka_topic_partition_list_add(committed, c->topic, p);
	}
	if (rd_kafka_committed(rk, committed, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fail("committed() failed");
		goto exit;
	}
	for (p = 0; p < N_PARTITIONS; p++) {
		if (committed->elems[p].offset != 1) {
			fail("group offset of partition %d is %" PRId64 ", want 1 (sent in the "
			     "transaction)",
			     p, committed->elems[p].offset);
			goto exit;
		}
	}
	/* Read everything from the start, by assignment. */
	assign = rd_kafka_topic_partition_list_new(N_PARTITIONS);
	for (p = 0; p < N_PARTITIONS; p++) {
		rd_kafka_topic_partition_list_add(assign, c->topic, p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	}
	if (rd_kafka_assign(rk, assign) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fail("assign failed");
		goto exit;
	}
	while ((plain < 40 || txn < 4) && time(NULL) < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 200);

		if (rkm == NULL) {
			continue;
		}
		if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			const char *k = rkm->key;

			if (rkm->key_len > 6 && strncmp(k, "plain-", 6) == 0) {
				plain++;
			} else if (rkm->key_len > 3 && k[0] == 't') {
				txn++;
			} else {
				aborted++;
			}
		} else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			fprintf(stderr, "rdkafka_compat: consume: %s\n",
			        rd_kafka_message_errstr(rkm));
		}
		rd_kafka_message_destroy(rkm);
	}
	if (plain != 40 || txn != 4 || aborted != 0) {
		fail("read_committed saw %d plain (want 40), %d committed (want 4), %d aborted "
		     "(want 0)",
		     plain, txn, aborted);
		goto exit;
	}
	rc = 0;
exit:
	if (committed != NULL) {
		rd_kafka_topic_partition_list_destroy(committed);
	}
	if (assign != NULL) {
		rd_kafka_topic_partition_list_destroy(assign);
	}
	if (rk != NULL) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc;
}

static int read_bootstrap(const char *path, char *out, size_t out_size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fail("cannot open bootstrap file %s (is the kafka fixture up?)", path);
		return -1;
	}
	if (fgets(out, (int)out_size, f) == NULL) {
		fclose(f);
		fail("bootstrap file %s is empty", path);
		return -1;
	}
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	compat_t c;
	struct timespec ts;

	memset(&c, 0, sizeof(c));
	if (argc != 2) {
		fprintf(stderr, "usage: rdkafka_compat BOOTSTRAP_FILE\n");
		return 2;
	}
	if (read_bootstrap(argv[1], c.bootstrap, sizeof(c.bootstrap)) != 0) {
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(c.topic, sizeof(c.topic), "rdkafka-compat-%ld-%ld", (long)ts.tv_sec,
	         ts.tv_nsec / 1000);
	snprintf(c.group, sizeof(c.group), "%s-group", c.topic);
	printf("rdkafka_compat: librdkafka %s against %s, topic %s\n", rd_kafka_version_str(),
	       c.bootstrap, c.topic);
	if (create_topic(&c) != 0 || produce_compressed(&c) != 0 ||
	    produce_transactional(&c) != 0 || consume_committed(&c) != 0) {
		return 1;
	}
	printf("rdkafka_compat: ok: 4 codecs, idempotence, commit/abort/offsets in transactions, "
	       "read_committed\n");
	return 0;
}
