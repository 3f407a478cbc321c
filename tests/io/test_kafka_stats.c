/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the librdkafka statistics reader (src/io/kafka_stats.c) on JSON
 * captured from librdkafka 2.0.2 (tests/data/kafka_stats/, see its
 * README.md for the scenario and what each file shows): broker rtt in
 * seconds with the logical coordinator entries left out, partition offsets,
 * lag from position and end offset against librdkafka's stale consumer_lag,
 * the metrics the stage gets from it (through the strict parser), and the
 * errors for text that is not statistics JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "io/config.h"
#include "io/kafka_stats.h"
#include "io/metrics.h"
#include "test_metrics_parser.h"

static char errstr[512];

static char *slurp(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/kafka_stats/%s", LVC_DATA_DIR, name);
	cr_assert_not_null(f = fopen(path, "rb"), "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static lvc_kafka_stats_t *parse_file(const char *name)
{
	lvc_kafka_stats_t *st = lvc_kafka_stats_new();
	size_t len;
	char *json = slurp(name, &len);

	cr_assert_not_null(st);
	cr_assert_eq(lvc_kafka_stats_parse(st, json, len, errstr, sizeof(errstr)), LVC_OK, "%s: %s",
	             name, errstr);
	free(json);
	return st;
}

static const lvc_broker_rtt_t *broker(const lvc_kafka_stats_t *st, int32_t nodeid)
{
	for (size_t i = 0; i < st->brokers_n; i++) {
		if (st->brokers[i].nodeid == nodeid) {
			return &st->brokers[i];
		}
	}
	cr_assert_fail("no broker %d", (int)nodeid);
	return NULL;
}

static const lvc_partition_stats_t *partition(const lvc_kafka_stats_t *st, const char *topic,
                                              int32_t p)
{
	for (size_t i = 0; i < st->partitions_n; i++) {
		if (strcmp(st->partitions[i].topic, topic) == 0 &&
		    st->partitions[i].partition == p) {
			return &st->partitions[i];
		}
	}
	cr_assert_fail("no partition %s [%d]", topic, (int)p);
	return NULL;
}

Test(kafka_stats, reads_broker_rtt_in_seconds_without_the_logical_coordinators)
{
	lvc_kafka_stats_t *st = parse_file("producer_busy.json");
	const lvc_broker_rtt_t *b;

	cr_expect_str_eq(st->type, "producer");
	cr_expect_str_eq(st->name, "levcal-capture#producer-4");
	/* Three real brokers; the TxnCoordinator alias of broker 1 is left out. */
	cr_expect_eq(st->brokers_n, 3);
	b = broker(st, 3);
	cr_expect_str_eq(b->name, "127.0.0.1:38781/3");
	cr_expect_str_eq(b->state, "UP");
	cr_expect_eq(b->samples, 4);
	cr_expect_float_eq(b->avg_s, 0.009249, 1e-12);
	cr_expect_float_eq(b->p99_s, 0.009343, 1e-12);
	b = broker(st, 1);
	cr_expect_eq(b->samples, 5);
	cr_expect_float_eq(b->avg_s, 0.002339, 1e-12);
	cr_expect_float_eq(b->p99_s, 0.002527, 1e-12);
	/* A producer's partitions carry no consumer offsets; -1 is left out. */
	cr_expect_eq(st->partitions_n, 3);
	for (size_t i = 0; i < st->partitions_n; i++) {
		cr_expect_str_eq(st->partitions[i].topic, "risk.leverage-limits");
		cr_expect_geq(st->partitions[i].partition, 0);
		cr_expect_eq(st->partitions[i].app_offset, LVC_OFFSET_INVALID);
	}
	lvc_kafka_stats_destroy(st);
}

Test(kafka_stats, lag_from_position_differs_from_librdkafkas_stale_consumer_lag)
{
	lvc_kafka_stats_t *st = parse_file("consumer.json");
	const lvc_partition_stats_t *p0, *p1, *p2;

	cr_expect_str_eq(st->type, "consumer");
	cr_expect_eq(st->partitions_n, 3);
	p0 = partition(st, "market.trades", 0);
	p1 = partition(st, "market.trades", 1);
	p2 = partition(st, "market.trades", 2);
	/* Four transactions committed offsets through the producer; the
	 * consumer's own view of them never moved. */
	cr_expect_eq(p1->consumer_lag, -1);
	cr_expect_eq(p2->consumer_lag, -1);
	cr_expect_eq(p2->committed_offset, LVC_OFFSET_INVALID);
	/* Position and end offsets tell the real story. */
	cr_expect_eq(p1->app_offset, 75);
	cr_expect_eq(p1->hi_offset, 75);
	cr_expect_eq(p2->app_offset, 125);
	cr_expect_eq(p2->hi_offset, 150);
	cr_expect_eq(p2->ls_offset, 150);
	cr_expect_str_eq(p2->fetch_state, "active");
	cr_expect_eq(lvc_partition_lag(p1, 1), 0);
	cr_expect_eq(lvc_partition_lag(p2, 1), 25);
	cr_expect_eq(lvc_partition_lag(p2, 0), 25);
	/* p0's prefetched records were dropped by the pause: no position. */
	cr_expect_eq(p0->app_offset, LVC_OFFSET_INVALID);
	cr_expect_eq(lvc_partition_lag(p0, 1), -1);
	lvc_kafka_stats_destroy(st);
}

Test(kafka_stats, consumer_lag_helper_handles_unknown_and_stale_offsets)
{
	cr_expect_eq(lvc_consumer_lag(10, 15), 5);
	cr_expect_eq(lvc_consumer_lag(15, 15), 0);
	cr_expect_eq(lvc_consumer_lag(16, 15), 0, "a watermark older than the position");
	cr_expect_eq(lvc_consumer_lag(LVC_OFFSET_INVALID, 15), -1);
	cr_expect_eq(lvc_consumer_lag(10, LVC_OFFSET_INVALID), -1);
	cr_expect_eq(lvc_consumer_lag(0, 0), 0);
}

Test(kafka_stats, apply_sets_rtt_from_the_producer_and_lag_from_the_consumer)
{
	lvc_config_t *cfg = lvc_config_new_default();
	lvc_stage_metrics_t *sm = lvc_stage_metrics_new(cfg, "x", errstr, sizeof(errstr));
	lvc_kafka_stats_t *prod = parse_file("producer_busy.json");
	lvc_kafka_stats_t *cons = parse_file("consumer_busy.json");
	lvc_kafka_stats_t *idle = parse_file("producer.json");
	prom_doc_t d;
	char *text;
	size_t len;
	double v;

	cr_assert_not_null(sm, "%s", errstr);
	lvc_kafka_stats_apply(prod, sm, 1);
	/* The consumer's rtt (fetch long-polls of ~0.5 s) must not override
	 * the producer's; an idle interval (cnt 0) keeps the last values. */
	lvc_kafka_stats_apply(cons, sm, 1);
	lvc_kafka_stats_apply(idle, sm, 1);
	cr_assert_eq(lvc_metrics_render(sm->reg, &text, &len), LVC_OK);
	cr_assert_eq(prom_parse(text, &d), 0, "%s", d.err);
	cr_assert(prom_find(&d, "levcal_broker_rtt_seconds", "broker=127.0.0.1:38781/3", &v));
	cr_expect_float_eq(v, 0.009249, 1e-12);
	cr_assert(prom_find(&d, "levcal_broker_rtt_p99_seconds", "broker=127.0.0.1:45527/2", &v));
	cr_expect_float_eq(v, 0.005919, 1e-12);
	cr_assert(prom_find(&d, "levcal_broker_rtt_seconds", "broker=127.0.0.1:37871/1", &v));
	cr_expect_float_eq(v, 0.002339, 1e-12);
	cr_expect_not(prom_find(&d, "levcal_broker_rtt_seconds", "broker=TxnCoordinator", &v));
	cr_assert(prom_find(&d, "levcal_consumer_lag", "topic=market.trades,partition=2", &v));
	cr_expect_eq(v, 25);
	cr_assert(prom_find(&d, "levcal_consumer_lag", "topic=market.trades,partition=1", &v));
	cr_expect_eq(v, 0);
	cr_expect_not(prom_find(&d, "levcal_consumer_lag", "topic=market.trades,partition=0", &v),
	              "unknown lag is not reported as a number");
	cr_expect_not(
	    prom_find(&d, "levcal_consumer_lag", "topic=risk.leverage-limits,partition=0", &v),
	    "a producer's partitions are not consumer lag");
	prom_free(&d);
	free(text);
	lvc_kafka_stats_destroy(prod);
	lvc_kafka_stats_destroy(cons);
	lvc_kafka_stats_destroy(idle);
	lvc_stage_metrics_destroy(sm);
	lvc_config_destroy(cfg);
}

Test(kafka_stats, reparsing_replaces_the_previous_contents)
{
	lvc_kafka_stats_t *st = parse_file("consumer.json");
	size_t len;
	char *json = slurp("producer.json", &len);

	cr_assert_eq(lvc_kafka_stats_parse(st, json, len, errstr, sizeof(errstr)), LVC_OK, "%s",
	             errstr);
	cr_expect_str_eq(st->type, "producer");
	cr_expect_eq(st->brokers_n, 3);
	cr_expect_eq(st->partitions_n, 3);
	cr_expect_str_eq(st->partitions[0].topic, "risk.leverage-limits");
	free(json);
	lvc_kafka_stats_destroy(st);
}

static void expect_error(const char *json, const char *msg)
{
	lvc_kafka_stats_t *st = lvc_kafka_stats_new();

	cr_expect_eq(lvc_kafka_stats_parse(st, json, strlen(json), errstr, sizeof(errstr)),
	             LVC_ERR_DECODE, "%s", json);
	cr_expect_str_eq(errstr, msg);
	cr_expect_eq(st->brokers_n, 0);
	cr_expect_eq(st->partitions_n, 0);
	lvc_kafka_stats_destroy(st);
}

Test(kafka_stats, refuses_text_that_is_not_statistics_json_naming_where)
{
	expect_error("{\"name\": \"x\",", "kafka statistics: line 1 column 13: string or '}' "
	                                  "expected near end of file");
	expect_error("[1, 2]", "kafka statistics: expected an object at the top level");
	expect_error("{\"brokers\": []}", "kafka statistics: $.brokers: expected an object");
	expect_error("{\"brokers\": {\"b:1/1\": {\"nodeid\": 1, \"rtt\": {\"avg\": \"fast\"}}}}",
	             "kafka statistics: brokers[\"b:1/1\"].rtt.avg: expected an integer");
	expect_error("{\"topics\": {\"t\": {\"partitions\": {\"0\": {\"partition\": 0, "
	             "\"app_offset\": 1.5}}}}}",
	             "kafka statistics: topics[\"t\"].partitions[\"0\"].app_offset: expected an "
	             "integer");
	expect_error("{\"type\": 1}", "kafka statistics: $.type: expected a string");
}

Test(kafka_stats, a_document_without_optional_members_reads_as_unknown)
{
	static const char json[] = "{\"type\": \"consumer\", \"brokers\": {\"b:1/1\": "
	                           "{\"nodeid\": 1}}, \"topics\": {\"t\": {\"partitions\": "
	                           "{\"4\": {\"partition\": 4}}}}}";
	lvc_kafka_stats_t *st = lvc_kafka_stats_new();

	cr_assert_eq(lvc_kafka_stats_parse(st, json, strlen(json), errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_expect_eq(st->brokers_n, 1);
	cr_expect_str_eq(st->brokers[0].name, "b:1/1", "the key stands in for a missing name");
	cr_expect_eq(st->brokers[0].samples, 0);
	cr_expect_eq(st->partitions_n, 1);
	cr_expect_str_eq(st->partitions[0].topic, "t");
	cr_expect_eq(st->partitions[0].partition, 4);
	cr_expect_eq(st->partitions[0].hi_offset, LVC_OFFSET_INVALID);
	cr_expect_eq(st->partitions[0].ls_offset, LVC_OFFSET_INVALID);
	cr_expect_eq(lvc_partition_lag(&st->partitions[0], 1), -1);
	lvc_kafka_stats_destroy(st);
}
