/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The passthrough baseline of the end-to-end benchmarks: a consumer in a
 * group reads the stage's input topics (trades and prices) and produces
 * every record unchanged (key, value, same partition number) to one output
 * topic, on the librdkafka settings `levcal run` uses, with the least work
 * per record librdkafka allows: the value is not copied (the consumed
 * message is kept until its delivery report and freed there), no decode, no
 * headers. It is the physical limit of any stage on this broker and machine.
 *
 *   at_least_once  idempotent producer; a record's offset is stored for
 *                  commit when its delivery is reported (deliveries of one
 *                  output partition come in order, and input partition p
 *                  goes to output partition p), auto-commit every
 *                  commit interval, a synchronous commit at the end;
 *   exactly_once   transactional producer: a transaction holds the
 *                  produced records and the consumer's positions
 *                  (send_offsets_to_transaction) and is committed every
 *                  commit interval, as the stage's exactly_once does;
 *                  inputs read read_committed.
 *
 * Settings: the config file's kafka section over the stage's defaults
 * (its tuning defaults from lvc_run_kafka_tuning(), and as in
 * src/app/run.c read_committed, transaction.timeout.ms 10 s, ...; the range
 * assignor and partition EOF events forced),
 * the guarantee-bound settings forced last, exactly as the stage layers
 * them. The guarantee and the commit interval come from the config's
 * processing section unless given here.
 *
 *   passthrough -c levcal.yaml --group G --out TOPIC [--topics T1,T2]
 *               [--guarantee at_least_once|exactly_once]
 *               [--commit-interval-ms MS] [--expect N] [--idle-exit S]
 *
 * It ends after --expect N records are consumed, delivered and committed,
 * after --idle-exit seconds without a record (once one came), or on
 * SIGINT/SIGTERM (the open transaction is committed), and prints one JSON
 * line: records, seconds from the first record to the last commit, records
 * per second, CPU seconds (getrusage) and per million records, peak RSS,
 * transactions.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "app/stage.h"
#include "io/config.h"

#define MAX_TOPICS 4
#define MAX_PARTS  1024

typedef struct kv_s {
	const char *key;
	const char *value;
} kv_t;

typedef struct pt_s {
	rd_kafka_t *cons;
	rd_kafka_t *prod;
	rd_kafka_topic_t *out;
	const char *topics[MAX_TOPICS];
	size_t topics_n;
	int eos;
	/* at_least_once: next offset to store per input topic and partition,
	 * and whether it changed since the last store. */
	int64_t next[MAX_TOPICS][MAX_PARTS];
	unsigned char dirty[MAX_TOPICS][MAX_PARTS];
	int any_dirty;
	uint64_t consumed, delivered, failed, txns;
	char first_failure[256];
} pt_t;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int topic_index(const pt_t *pt, const char *name)
{
	for (size_t i = 0; i < pt->topics_n; i++) {
		if (strcmp(pt->topics[i], name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

/* Delivery report: the consumed message rode along as the opaque; its
 * offset may be stored now, and it may be freed. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	pt_t *pt = opaque;
	rd_kafka_message_t *in = rkm->_private;

	(void)rk;
	if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (pt->failed++ == 0) {
			snprintf(pt->first_failure, sizeof(pt->first_failure), "%s [%d]: %s",
			         rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			         rd_kafka_err2str(rkm->err));
		}
	} else {
		pt->delivered++;
		if (!pt->eos && in != NULL && in->partition >= 0 && in->partition < MAX_PARTS) {
			int t = topic_index(pt, rd_kafka_topic_name(in->rkt));

			if (t >= 0) {
				pt->next[t][in->partition] = in->offset + 1;
				pt->dirty[t][in->partition] = 1;
				pt->any_dirty = 1;
			}
		}
	}
	if (in != NULL) {
		rd_kafka_message_destroy(in);
	}
}

/* at_least_once: hands the delivered offsets to the consumer for its next
 * (auto-)commit. */
static void store_delivered(pt_t *pt)
{
	rd_kafka_topic_partition_list_t *l;

	if (!pt->any_dirty) {
		return;
	}
	l = rd_kafka_topic_partition_list_new(16);
	for (size_t t = 0; t < pt->topics_n; t++) {
		for (int p = 0; p < MAX_PARTS; p++) {
			if (pt->dirty[t][p]) {
				rd_kafka_topic_partition_list_add(l, pt->topics[t], p)->offset =
				    pt->next[t][p];
				pt->dirty[t][p] = 0;
			}
		}
	}
	pt->any_dirty = 0;
	/* A partition revoked meanwhile refuses its store: its next owner
	 * reads the records again, which is at-least-once. */
	(void)rd_kafka_offsets_store(pt->cons, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* The stage's tuning defaults for the role (lvc_run_kafka_tuning), then
 * kv[0..n), then the config's kafka section, then forced[0..forced_n). */
static int conf_set_all(rd_kafka_conf_t *conf, int consumer, const kv_t *kv, size_t n,
                        const lvc_config_t *cfg, const kv_t *forced, size_t forced_n)
{
	char why[512];
	size_t tn;
	const lvc_kv_t *t = lvc_run_kafka_tuning(consumer, &tn);

	for (size_t i = 0; i < tn; i++) {
		if (rd_kafka_conf_set(conf, t[i].key, t[i].value, why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "passthrough: %s: %s\n", t[i].key, why);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (rd_kafka_conf_set(conf, kv[i].key, kv[i].value, why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "passthrough: %s: %s\n", kv[i].key, why);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->kafka_n; i++) {
		if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, why,
		                      sizeof(why)) == RD_KAFKA_CONF_INVALID) {
			fprintf(stderr, "passthrough: kafka.%s: %s\n", cfg->kafka[i].key, why);
			return -1;
		}
	}
	for (size_t i = 0; i < forced_n; i++) {
		if (rd_kafka_conf_set(conf, forced[i].key, forced[i].value, why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "passthrough: %s: %s\n", forced[i].key, why);
			return -1;
		}
	}
	return 0;
}

static rd_kafka_t *consumer_new(pt_t *pt, const lvc_config_t *cfg, const char *group,
                                int64_t commit_ms)
{
	char ms[32];
	kv_t defaults[] = {
		{ "group.id", "levcal" },
		{ "auto.offset.reset", "earliest" },
		{ "enable.auto.commit", "true" },
		{ "auto.commit.interval.ms", ms },
		{ "isolation.level", "read_committed" },
	};
	kv_t forced_alo[] = { { "enable.auto.offset.store", "false" },
		              { "partition.assignment.strategy", "range" },
		              { "enable.partition.eof", "true" },
		              { "group.id", group } };
	kv_t forced_eos[] = { { "enable.auto.commit", "false" },
		              { "isolation.level", "read_committed" },
		              { "partition.assignment.strategy", "range" },
		              { "enable.partition.eof", "true" },
		              { "group.id", group } };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *subs;
	rd_kafka_t *rk;
	char why[512];

	snprintf(ms, sizeof(ms), "%" PRId64, commit_ms);
	if (conf_set_all(conf, 1, defaults, sizeof(defaults) / sizeof(defaults[0]), cfg,
	                 pt->eos ? forced_eos : forced_alo,
	                 pt->eos ? sizeof(forced_eos) / sizeof(forced_eos[0])
	                         : sizeof(forced_alo) / sizeof(forced_alo[0])) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL) {
		fprintf(stderr, "passthrough: consumer: %s\n", why);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	subs = rd_kafka_topic_partition_list_new((int)pt->topics_n);
	for (size_t i = 0; i < pt->topics_n; i++) {
		rd_kafka_topic_partition_list_add(subs, pt->topics[i], RD_KAFKA_PARTITION_UA);
	}
	if (rd_kafka_subscribe(rk, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "passthrough: subscribing failed\n");
		rd_kafka_topic_partition_list_destroy(subs);
		rd_kafka_destroy(rk);
		return NULL;
	}
	rd_kafka_topic_partition_list_destroy(subs);
	return rk;
}

static rd_kafka_t *producer_new(pt_t *pt, const lvc_config_t *cfg, const char *group)
{
	char txid[256];
	kv_t defaults[] = {
		{ "transaction.timeout.ms", "10000" },
	};
	kv_t forced_alo[] = { { "enable.idempotence", "true" } };
	kv_t forced_eos[] = { { "enable.idempotence", "true" }, { "transactional.id", txid } };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char why[512];

	snprintf(txid, sizeof(txid), "passthrough-%s", group);
	/* transaction.timeout.ms only for a transactional producer, as the
	 * stage does. */
	if (conf_set_all(conf, 0, defaults, pt->eos ? 1 : 0, cfg, pt->eos ? forced_eos : forced_alo,
	                 pt->eos ? 2 : 1) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, pt);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		fprintf(stderr, "passthrough: producer: %s\n", why);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return rk;
}

/* Reports a transaction API error; returns -1. */
static int txn_fail(const char *what, rd_kafka_error_t *error)
{
	fprintf(stderr, "passthrough: %s: %s: %s\n", what, rd_kafka_error_name(error),
	        rd_kafka_error_string(error));
	rd_kafka_error_destroy(error);
	return -1;
}

/* exactly_once: the consumer's positions and the produced records in one
 * transaction, committed; then the next one begun. */
static int txn_commit(pt_t *pt, int begin_next)
{
	rd_kafka_topic_partition_list_t *pos = NULL;
	rd_kafka_consumer_group_metadata_t *gm = NULL;
	rd_kafka_error_t *error;
	int rc = -1;

	if (rd_kafka_assignment(pt->cons, &pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "passthrough: reading the assignment failed\n");
		goto out;
	}
	if (pos->cnt > 0 && rd_kafka_position(pt->cons, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		gm = rd_kafka_consumer_group_metadata(pt->cons);
		if ((error = rd_kafka_send_offsets_to_transaction(pt->prod, pos, gm, -1)) != NULL) {
			rc = txn_fail("send_offsets_to_transaction", error);
			goto out;
		}
	}
	if ((error = rd_kafka_commit_transaction(pt->prod, -1)) != NULL) {
		rc = txn_fail("commit_transaction", error);
		goto out;
	}
	pt->txns++;
	if (begin_next && (error = rd_kafka_begin_transaction(pt->prod)) != NULL) {
		rc = txn_fail("begin_transaction", error);
		goto out;
	}
	rc = 0;
out:
	if (gm != NULL) {
		rd_kafka_consumer_group_metadata_destroy(gm);
	}
	if (pos != NULL) {
		rd_kafka_topic_partition_list_destroy(pos);
	}
	return rc;
}

static int produce(pt_t *pt, rd_kafka_message_t *in)
{
	for (;;) {
		/* No RD_KAFKA_MSG_F_COPY: the payload stays in the consumed
		 * message, which dr_cb frees. */
		if (rd_kafka_produce(pt->out, in->partition, 0, in->payload, in->len, in->key,
		                     in->key_len, in) == 0) {
			return 0;
		}
		if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "passthrough: producing: %s\n",
			        rd_kafka_err2str(rd_kafka_last_error()));
			return -1;
		}
		rd_kafka_poll(pt->prod, 10);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: passthrough -c levcal.yaml --group G --out TOPIC [--topics T1,T2] "
	                "[--guarantee at_least_once|exactly_once] [--commit-interval-ms MS] "
	                "[--expect N] [--idle-exit SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static pt_t pt;
	const char *path = NULL, *group = NULL, *out_topic = NULL, *guarantee = NULL;
	char *topic_list = NULL;
	int64_t commit_ms = -1;
	long long expect = -1;
	double idle_exit = 0, t_first = 0, t_last_msg = 0, t_txn = 0, cpu0 = 0, secs, cpu;
	lvc_config_t *cfg = NULL;
	rd_kafka_error_t *error;
	struct rusage ru;
	char why[512];
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			return usage();
		}
		if (strcmp(a, "-c") == 0) {
			path = v;
		} else if (strcmp(a, "--group") == 0) {
			group = v;
		} else if (strcmp(a, "--out") == 0) {
			out_topic = v;
		} else if (strcmp(a, "--topics") == 0) {
			topic_list = strdup(v);
		} else if (strcmp(a, "--guarantee") == 0) {
			guarantee = v;
		} else if (strcmp(a, "--commit-interval-ms") == 0) {
			commit_ms = strtoll(v, NULL, 10);
		} else if (strcmp(a, "--expect") == 0) {
			expect = strtoll(v, NULL, 10);
		} else if (strcmp(a, "--idle-exit") == 0) {
			idle_exit = strtod(v, NULL);
		} else {
			return usage();
		}
		i++;
	}
	if (path == NULL || group == NULL || out_topic == NULL) {
		free(topic_list);
		return usage();
	}
	if ((cfg = lvc_config_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "passthrough: %s\n", why);
		free(topic_list);
		return 2;
	}
	if (guarantee != NULL) {
		pt.eos = strcmp(guarantee, "exactly_once") == 0;
		if (!pt.eos && strcmp(guarantee, "at_least_once") != 0) {
			rc = usage();
			goto out;
		}
	} else {
		pt.eos = cfg->processing.guarantee == LVC_EXACTLY_ONCE;
	}
	if (commit_ms < 0) {
		commit_ms = cfg->processing.commit_interval_us / 1000;
	}
	if (topic_list != NULL) {
		for (char *s = strtok(topic_list, ","); s != NULL && pt.topics_n < MAX_TOPICS;
		     s = strtok(NULL, ",")) {
			pt.topics[pt.topics_n++] = s;
		}
	} else {
		pt.topics[pt.topics_n++] = cfg->topics.trades;
		pt.topics[pt.topics_n++] = cfg->topics.prices;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((pt.prod = producer_new(&pt, cfg, group)) == NULL ||
	    (pt.out = rd_kafka_topic_new(pt.prod, out_topic, NULL)) == NULL) {
		goto out;
	}
	if (pt.eos) {
		if ((error = rd_kafka_init_transactions(pt.prod, 30000)) != NULL) {
			txn_fail("init_transactions", error);
			goto out;
		}
		if ((error = rd_kafka_begin_transaction(pt.prod)) != NULL) {
			txn_fail("begin_transaction", error);
			goto out;
		}
	}
	if ((pt.cons = consumer_new(&pt, cfg, group, commit_ms)) == NULL) {
		goto out;
	}
	while (!stop_flag && pt.failed == 0) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(pt.cons, 10);
		double now;

		if (m != NULL && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				fprintf(stderr, "passthrough: %s\n", rd_kafka_message_errstr(m));
			}
			rd_kafka_message_destroy(m);
			m = NULL;
		}
		if (m != NULL) {
			if (pt.consumed == 0) {
				t_first = t_txn = mono_s();
				cpu0 = cpu_s();
			}
			pt.consumed++;
			if (produce(&pt, m) != 0) {
				rd_kafka_message_destroy(m);
				goto out;
			}
		}
		/* Delivery reports (and the offsets they complete) in batches:
		 * serving them per record would cost more than the record. */
		if (m == NULL || (pt.consumed & 255) == 0) {
			rd_kafka_poll(pt.prod, 0);
			store_delivered(&pt);
		}
		if (m == NULL || (pt.consumed & 63) == 0) {
			now = mono_s();
			if (m != NULL) {
				t_last_msg = now;
			}
			if (pt.eos && pt.consumed > 0 && now - t_txn >= (double)commit_ms / 1e3) {
				if (txn_commit(&pt, 1) != 0) {
					goto out;
				}
				t_txn = mono_s();
			}
			if (expect >= 0 && (long long)pt.consumed >= expect) {
				break;
			}
			if (idle_exit > 0 && pt.consumed > 0 && m == NULL &&
			    now - t_last_msg >= idle_exit) {
				break;
			}
		}
	}
	if (pt.failed > 0) {
		fprintf(stderr, "passthrough: delivery failed: %s\n", pt.first_failure);
		goto out;
	}
	/* Deliver what is in flight and commit it. */
	if (pt.eos) {
		if (txn_commit(&pt, 0) != 0) {
			goto out;
		}
	} else {
		if (rd_kafka_flush(pt.prod, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "passthrough: flush timed out\n");
			goto out;
		}
		store_delivered(&pt);
		if (pt.failed > 0) {
			fprintf(stderr, "passthrough: delivery failed: %s\n", pt.first_failure);
			goto out;
		}
		rd_kafka_commit(pt.cons, NULL, 0);
	}
	secs = pt.consumed > 0 ? mono_s() - t_first : 0;
	cpu = cpu_s() - cpu0;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"guarantee\": \"%s\", \"commit_interval_ms\": %" PRId64 ", \"records\": %" PRIu64
	       ", \"seconds\": %.3f, \"records_per_s\": %.0f, \"cpu_s\": %.3f, "
	       "\"cpu_s_per_million\": %.3f, \"max_rss_kb\": %ld, \"transactions\": %" PRIu64 "}\n",
	       pt.eos ? "exactly_once" : "at_least_once", commit_ms, pt.consumed, secs,
	       secs > 0 ? (double)pt.consumed / secs : 0.0, cpu,
	       pt.consumed > 0 ? cpu / ((double)pt.consumed / 1e6) : 0.0, ru.ru_maxrss, pt.txns);
	fflush(stdout);
	rc = 0;
out:
	/* The producer first: records still queued hold consumed messages,
	 * which their (purged) delivery reports free before the consumer goes. */
	if (pt.out != NULL) {
		rd_kafka_topic_destroy(pt.out);
	}
	if (pt.prod != NULL) {
		if (rc != 0) {
			rd_kafka_purge(pt.prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		}
		rd_kafka_flush(pt.prod, 10000);
		rd_kafka_destroy(pt.prod);
	}
	if (pt.cons != NULL) {
		rd_kafka_consumer_close(pt.cons);
		rd_kafka_destroy(pt.cons);
	}
	lvc_config_destroy(cfg);
	free(topic_list);
	return rc;
}
