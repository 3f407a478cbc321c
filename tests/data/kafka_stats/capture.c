/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Captures librdkafka statistics JSON (statistics.interval.ms) from a real
 * client against librdkafka's in-process mock cluster, for the fixtures in
 * this directory. Not part of the build; run by hand:
 *
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -o /tmp/capture capture.c \
 *      $(pkg-config --cflags --libs rdkafka) && /tmp/capture .
 *
 * What it does, so that the fixtures show what levcal's stage sees: a plain
 * producer writes 300 records to market.trades (3 partitions, 3 mock
 * brokers); a read_committed consumer in group levcal reads 200 of them and
 * a transactional producer commits their offsets with
 * send_offsets_to_transaction() (as the exactly-once stage does), producing
 * one output per input in the same transactions. The last statistics JSON of
 * the consumer and of the transactional producer, emitted after the last
 * commit, are written as consumer.json and producer.json, exactly as
 * librdkafka emitted them (one line, no pretty-printing). The consumer's
 * positions and cached watermarks are printed to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static char *last_json[2]; /* 0 consumer, 1 transactional producer */
static char *busy_json[2]; /* the last one with broker rtt samples */
static int emitted[2];

static void keep(char **slot, const char *json, size_t len)
{
	free(*slot);
	*slot = malloc(len + 1);
	memcpy(*slot, json, len);
	(*slot)[len] = '\0';
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	int i = (int)(size_t)opaque;

	(void)rk;
	keep(&last_json[i], json, len);
	/* Window stats reset at each emit: an interval without requests to a
	 * broker shows "cnt":0 in its rtt object. */
	for (const char *p = strstr(last_json[i], "\"rtt\":"); p != NULL;
	     p = strstr(p + 6, "\"rtt\":")) {
		const char *c = strstr(p, "\"cnt\":");

		if (c != NULL && strncmp(c, "\"cnt\":0 ", 8) != 0) {
			keep(&busy_json[i], json, len);
			break;
		}
	}
	emitted[i]++;
	return 0;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "capture: %s: %s\n", what, why);
	exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char why[512];

	if (rd_kafka_conf_set(conf, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		die(k, why);
	}
}

static void check(rd_kafka_error_t *e, const char *what)
{
	if (e != NULL) {
		die(what, rd_kafka_error_string(e));
	}
}

static void save(const char *dir, const char *name, const char *json)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		die(path, "cannot write");
	}
	fputs(json, f);
	fputc('\n', f);
	fclose(f);
	fprintf(stderr, "capture: wrote %s (%zu bytes)\n", path, strlen(json));
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	rd_kafka_conf_t *conf;
	rd_kafka_t *mrk, *prod, *txp, *cons;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_topic_partition_list_t *subs;
	char why[512];
	const char *bs;
	int consumed = 0;

	conf = rd_kafka_conf_new();
	if ((mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		die("mock handle", why);
	}
	if ((mc = rd_kafka_mock_cluster_new(mrk, 3)) == NULL) {
		die("mock cluster", "failed");
	}
	bs = rd_kafka_mock_cluster_bootstraps(mc);
	/* Round-trip times as on a real network, so that the rtt window
	 * stats hold values and differ by broker. */
	rd_kafka_mock_broker_set_rtt(mc, 1, 2);
	rd_kafka_mock_broker_set_rtt(mc, 2, 5);
	rd_kafka_mock_broker_set_rtt(mc, 3, 9);
	rd_kafka_mock_topic_create(mc, "market.trades", 3, 1);
	rd_kafka_mock_topic_create(mc, "risk.leverage-limits", 3, 1);

	/* The input: 300 records, keyed by instrument. */
	conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bs);
	if ((prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		die("producer", why);
	}
	for (int i = 0; i < 300; i++) {
		static const char *keys[] = { "BTC-PERP", "ETH-PERP", "SOL-PERP", "DOGE-PERP" };
		const char *k = keys[i % 4];
		char v[32];

		snprintf(v, sizeof(v), "trade-%d", i);
		rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("market.trades"),
		                  RD_KAFKA_V_KEY(k, strlen(k)), RD_KAFKA_V_VALUE(v, strlen(v)),
		                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	}
	rd_kafka_flush(prod, 10000);
	rd_kafka_destroy(prod);

	conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bs);
	set(conf, "client.id", "levcal-capture");
	set(conf, "group.id", "levcal");
	set(conf, "isolation.level", "read_committed");
	set(conf, "enable.auto.commit", "false");
	set(conf, "auto.offset.reset", "earliest");
	set(conf, "statistics.interval.ms", "500");
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_opaque(conf, (void *)0);
	if ((cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL) {
		die("consumer", why);
	}
	rd_kafka_poll_set_consumer(cons);
	subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, "market.trades", RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(cons, subs);
	rd_kafka_topic_partition_list_destroy(subs);

	conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", bs);
	set(conf, "client.id", "levcal-capture");
	set(conf, "transactional.id", "levcal-capture-0");
	set(conf, "statistics.interval.ms", "500");
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_opaque(conf, (void *)1);
	if ((txp = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		die("transactional producer", why);
	}
	check(rd_kafka_init_transactions(txp, 10000), "init_transactions");

	/* 200 records, in transactions of 50 that carry the consumer offsets. */
	while (consumed < 200) {
		int in_txn = 0;

		check(rd_kafka_begin_transaction(txp), "begin_transaction");
		while (in_txn < 50) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 1000);

			if (m == NULL) {
				continue;
			}
			if (m->err) {
				rd_kafka_message_destroy(m);
				continue;
			}
			rd_kafka_producev(txp, RD_KAFKA_V_TOPIC("risk.leverage-limits"),
			                  RD_KAFKA_V_KEY(m->key, m->key_len),
			                  RD_KAFKA_V_VALUE(m->payload, m->len),
			                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			rd_kafka_message_destroy(m);
			in_txn++;
			consumed++;
		}
		{
			rd_kafka_topic_partition_list_t *pos;
			rd_kafka_consumer_group_metadata_t *gm;

			rd_kafka_assignment(cons, &pos);
			rd_kafka_position(cons, pos);
			gm = rd_kafka_consumer_group_metadata(cons);
			check(rd_kafka_send_offsets_to_transaction(txp, pos, gm, 10000),
			      "send_offsets_to_transaction");
			rd_kafka_consumer_group_metadata_destroy(gm);
			rd_kafka_topic_partition_list_destroy(pos);
		}
		check(rd_kafka_commit_transaction(txp, 10000), "commit_transaction");
	}

	/* Stop fetching (pause: what was prefetched is dropped) and keep both
	 * clients polled for a few statistics intervals after the last commit,
	 * so that the saved JSON reflects it and 100 records stay unread. */
	{
		int base[2] = { emitted[0], emitted[1] };
		rd_kafka_topic_partition_list_t *asg;

		rd_kafka_assignment(cons, &asg);
		rd_kafka_pause_partitions(cons, asg);
		rd_kafka_topic_partition_list_destroy(asg);

		while (emitted[0] < base[0] + 4 || emitted[1] < base[1] + 4) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);

			if (m != NULL) {
				if (!m->err) {
					die("after pause", "a record was delivered");
				}
				rd_kafka_message_destroy(m);
			}
			rd_kafka_poll(txp, 0);
		}
	}
	{
		rd_kafka_topic_partition_list_t *pos;

		rd_kafka_assignment(cons, &pos);
		rd_kafka_position(cons, pos);
		for (int i = 0; i < pos->cnt; i++) {
			int64_t lo, hi;

			rd_kafka_get_watermark_offsets(cons, pos->elems[i].topic,
			                               pos->elems[i].partition, &lo, &hi);
			fprintf(stderr, "capture: %s [%d] position %lld watermarks %lld..%lld\n",
			        pos->elems[i].topic, (int)pos->elems[i].partition,
			        (long long)pos->elems[i].offset, (long long)lo, (long long)hi);
		}
		rd_kafka_topic_partition_list_destroy(pos);
	}
	save(dir, "consumer.json", last_json[0]);
	save(dir, "producer.json", last_json[1]);
	if (busy_json[0] != NULL) {
		save(dir, "consumer_busy.json", busy_json[0]);
	}
	if (busy_json[1] != NULL) {
		save(dir, "producer_busy.json", busy_json[1]);
	}

	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	rd_kafka_destroy(txp);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	for (int i = 0; i < 2; i++) {
		free(last_json[i]);
		free(busy_json[i]);
	}
	return 0;
}
