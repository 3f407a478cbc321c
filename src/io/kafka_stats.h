/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka's statistics JSON (statistics.interval.ms > 0 and a stats_cb;
 * see librdkafka's STATISTICS.md) read with jansson into what the stage's
 * metrics need: per-broker round-trip time (avg and p99 of the last
 * interval, in seconds) and, for a consumer, per-partition offsets. And
 * consumer lag, computed from a position and an end offset.
 *
 * Why the stage computes lag itself: librdkafka's own "consumer_lag" is
 * (ls_offset or hi_offset) - committed_offset, where committed_offset is
 * the offset this consumer committed or fetched at assignment. In
 * exactly-once mode the offsets are committed by the transactional
 * producer (send_offsets_to_transaction), which the consumer never learns
 * of: its committed_offset stays at the value of the assignment (or -1001),
 * so consumer_lag stays at -1 or grows for ever while the stage keeps up
 * (captured in tests/data/kafka_stats/consumer.json: consumer_lag -1 on
 * every partition after four committed transactions). The lag that means
 * something is end offset - position: the position (app_offset, or
 * rd_kafka_position()) is what the stage has read, and the end offset is
 * the last stable offset under read_committed (the stage's isolation level:
 * records of open transactions cannot be read yet) or the high watermark
 * under read_uncommitted (rd_kafka_get_watermark_offsets() returns the high
 * watermark cached from the last fetch response, without a request).
 *
 * Thread rules: a lvc_kafka_stats_t is used by one thread at a time (the
 * stats callback runs on the thread that polls the client).
 */
#ifndef LVC_IO_KAFKA_STATS_H
#define LVC_IO_KAFKA_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/metrics.h"

/* librdkafka's "no offset" (RD_KAFKA_OFFSET_INVALID). */
#define LVC_OFFSET_INVALID INT64_C(-1001)

/* One broker's round-trip time over the last statistics interval. */
typedef struct lvc_broker_rtt_s {
	const char *name; /* librdkafka's broker name, "host:port/nodeid" */
	int32_t nodeid;
	const char *state; /* "UP", "INIT", "DOWN", ... */
	int64_t samples;   /* rtt.cnt: round trips measured in the interval */
	double avg_s;      /* rtt.avg in seconds; meaningful only when samples > 0 */
	double p99_s;      /* rtt.p99 in seconds */
} lvc_broker_rtt_t;

/* One partition of a topic as a consumer (or producer) sees it. Offsets are
 * LVC_OFFSET_INVALID when unknown. */
typedef struct lvc_partition_stats_s {
	const char *topic;
	int32_t partition;
	const char *fetch_state; /* "active", "none", ... */
	int64_t app_offset;      /* the position: offset of the next record for the app */
	int64_t committed_offset;
	int64_t lo_offset;
	int64_t hi_offset;    /* high watermark */
	int64_t ls_offset;    /* last stable offset */
	int64_t consumer_lag; /* librdkafka's: stale under transactions (see above) */
} lvc_partition_stats_t;

/* A parsed statistics object. Strings point into it and stay valid until
 * the next lvc_kafka_stats_parse() on it or its destruction. */
typedef struct lvc_kafka_stats_s {
	const char *name;          /* the client's name, e.g. "rdkafka#consumer-1" */
	const char *type;          /* "producer" or "consumer" */
	lvc_broker_rtt_t *brokers; /* real brokers only: the logical coordinator
	                              entries (source "logical") and the internal
	                              broker are left out */
	size_t brokers_n;
	lvc_partition_stats_t *partitions; /* partition >= 0 only (no UA partition) */
	size_t partitions_n;
	void *json_; /* the jansson document the strings point into */
	size_t brokers_cap_, partitions_cap_;
} lvc_kafka_stats_t;

/* Creates an empty statistics object, owned by the caller; NULL when out of
 * memory. The arrays in it grow as needed and are reused by every parse. */
lvc_kafka_stats_t *lvc_kafka_stats_new(void);

/* Frees st; accepts NULL. */
void lvc_kafka_stats_destroy(lvc_kafka_stats_t *st);

/* Parses one statistics JSON text (json[0 .. len), as given to the stats
 * callback) into st, replacing what st held. Returns LVC_OK, LVC_ERR_DECODE
 * with "kafka statistics: line L column C: message" when the text is not
 * JSON or not an object with the expected members of the expected types, or
 * LVC_ERR_NOMEM. Unknown members are ignored (librdkafka adds some in
 * every release); a missing optional member reads as unknown. */
lvc_err_t lvc_kafka_stats_parse(lvc_kafka_stats_t *st, const char *json, size_t len, char *errstr,
                                size_t errstr_size);

/* Consumer lag of one partition in records: end_offset - position, 0 when
 * the position is past the end (a watermark older than the position), -1
 * when either offset is unknown (negative: nothing read since the
 * assignment, or no fetch response yet). */
int64_t lvc_consumer_lag(int64_t position, int64_t end_offset);

/* The lag of a partition from its statistics: lvc_consumer_lag(app_offset,
 * read_committed ? ls_offset : hi_offset). */
int64_t lvc_partition_lag(const lvc_partition_stats_t *p, int read_committed);

/* Copies st into the stage metrics. From a producer's statistics:
 * levcal_broker_rtt_seconds{broker} and levcal_broker_rtt_p99_seconds{broker}
 * for each broker with round trips in the interval (a broker without keeps
 * its last value). From a consumer's: levcal_consumer_lag{topic,partition}
 * for each partition whose fetch_state is "active" and whose lag is known
 * (lvc_partition_lag()). Broker rtt is taken from the producer only because
 * a consumer's fetch requests wait up to fetch.wait.max.ms at the end of the
 * log and librdkafka counts that wait as round-trip time (0.51 s in
 * tests/data/kafka_stats/consumer_busy.json against a 5-9 ms network).
 * Takes the registry mutex: call it from the stats callback, not per
 * record. */
void lvc_kafka_stats_apply(const lvc_kafka_stats_t *st, lvc_stage_metrics_t *sm,
                           int read_committed);

#endif
