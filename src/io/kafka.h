/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka adapter: the one module that includes librdkafka. It builds client
 * configurations from levcal's (user properties win over our defaults; the
 * few settings levcal's guarantees depend on are forced and say so), routes
 * librdkafka's logs and errors through io/log, and exposes the consumer,
 * producer, admin and mock-cluster operations the stage needs in levcal's
 * terms (lvc_err_t, errstr buffers, plain structs).
 *
 * Thread rules: a client is used by one thread at a time, except that
 * librdkafka calls the delivery callback from lvc_producer_poll() /
 * lvc_producer_flush() on the calling thread.
 */
#ifndef LVC_IO_KAFKA_H
#define LVC_IO_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/config.h"

typedef struct lvc_kafka_s lvc_kafka_t;

/* A consumed message. Pointers stay valid until lvc_msg_release(). */
typedef struct lvc_msg_s {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key; /* NULL when the record has no key */
	size_t key_len;
	const void *value; /* NULL for a tombstone */
	size_t value_len;
	int64_t timestamp_ms; /* record timestamp, -1 when not available */
	void *rkm_;           /* the librdkafka message */
	int eof; /* 1: not a record but "partition at its end" (lvc_consumer_report_eof) */
} lvc_msg_t;

typedef struct lvc_header_s {
	const char *name;
	const char *value; /* NUL-terminated text */
} lvc_header_t;

typedef struct lvc_tp_s {
	const char *topic;
	int32_t partition;
} lvc_tp_t;

/* Rebalance notification: assigned 1 for an assignment, 0 for a revocation
 * (called before the partitions are given up, so the stage can flush and
 * commit). Runs on the thread that calls lvc_consumer_poll(). */
typedef void(lvc_rebalance_fn)(void *opaque, int assigned, const lvc_tp_t *tps, size_t n);

/* Delivery report for a produced message: err is LVC_OK or the failure with
 * librdkafka's reason. msg_opaque is what lvc_produce() was given. */
typedef void(lvc_delivery_fn)(void *opaque, void *msg_opaque, lvc_err_t err, const char *reason);

/* Creates a consumer in cfg's group (kafka properties of cfg, over
 * `defaults`, with `forced` applied last) subscribed to topics[0..n).
 * With no topics (a consumer that assigns) group.instance.id is unset
 * whatever the config says: only a group member is a static one.
 * Returns NULL with the reason in errstr. */
lvc_kafka_t *lvc_consumer_new(const lvc_config_t *cfg, const lvc_kv_t *defaults, size_t defaults_n,
                              const lvc_kv_t *forced, size_t forced_n, const char *const *topics,
                              size_t topics_n, lvc_rebalance_fn *rebalance, void *opaque,
                              char *errstr, size_t errstr_size);

/* Waits up to timeout_ms for a message. LVC_OK fills *out (release it with
 * lvc_msg_release); LVC_ERR_NOT_FOUND on timeout; LVC_ERR_KAFKA for a
 * consumer error that the caller should log and go on from (errstr says
 * which); LVC_ERR_FATAL when the client cannot go on. */
lvc_err_t lvc_consumer_poll(lvc_kafka_t *c, int timeout_ms, lvc_msg_t *out, char *errstr,
                            size_t errstr_size);

/* Releases a polled message; accepts a zeroed one. */
void lvc_msg_release(lvc_msg_t *m);

/* Stores next_offset (the offset of the next record to read) for commit. */
lvc_err_t lvc_consumer_store(lvc_kafka_t *c, const char *topic, int32_t partition,
                             int64_t next_offset, char *errstr, size_t errstr_size);

/* Commits the stored offsets synchronously. LVC_OK also when nothing was
 * stored. */
lvc_err_t lvc_consumer_commit(lvc_kafka_t *c, char *errstr, size_t errstr_size);

/* Assigns every partition of topics[0..n) to c from their first offsets,
 * outside any group (a global table that every instance reads whole). The
 * end offsets as of this call are remembered for lvc_consumer_caught_up().
 * Returns LVC_OK, or an error naming the topic. */
lvc_err_t lvc_consumer_assign_tables(lvc_kafka_t *c, const char *const *topics, size_t n,
                                     int timeout_ms, char *errstr, size_t errstr_size);

/* 1 once c's position on every partition assigned by
 * lvc_consumer_assign_tables() has reached the end offset of that call. */
int lvc_consumer_caught_up(lvc_kafka_t *c);

/* Leaves the group (revoking partitions through the rebalance callback) and
 * frees c; accepts NULL. */
void lvc_consumer_close(lvc_kafka_t *c);

/* Creates a producer (idempotent by default). Returns NULL with errstr. */
lvc_kafka_t *lvc_producer_new(const lvc_config_t *cfg, const lvc_kv_t *defaults, size_t defaults_n,
                              const lvc_kv_t *forced, size_t forced_n, lvc_delivery_fn *delivery,
                              void *opaque, char *errstr, size_t errstr_size);

/* Enqueues a copy of key/value with headers to topic (partition -1: the
 * default partitioner, by key). Waits for queue space when the local queue
 * is full (serving delivery reports meanwhile). */
lvc_err_t lvc_produce(lvc_kafka_t *p, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *value, size_t value_len,
                      const lvc_header_t *headers, size_t headers_n, void *msg_opaque, char *errstr,
                      size_t errstr_size);

/* Serves delivery reports; returns how many were served. */
int lvc_producer_poll(lvc_kafka_t *p, int timeout_ms);

/* Waits until every enqueued message is delivered or failed. */
lvc_err_t lvc_producer_flush(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size);

/* Messages enqueued and not yet delivered or failed. */
int lvc_producer_outq_len(lvc_kafka_t *p);

/* Frees p after a flush of up to timeout_ms; accepts NULL. */
void lvc_producer_close(lvc_kafka_t *p, int timeout_ms);

/* Receives librdkafka's statistics JSON (statistics.interval.ms > 0) of a
 * client; consumer is 1 for a consumer. Called on the thread that polls. */
typedef void(lvc_stats_fn)(void *opaque, const char *json, size_t len, int consumer);

/* Clients created after this call deliver their statistics to fn (NULL
 * stops it). Process-wide, like the metrics it feeds. */
void lvc_kafka_set_stats_hook(lvc_stats_fn *fn, void *opaque);

/* Called per assigned partition with its lag in records. */
typedef void(lvc_lag_fn)(void *opaque, const char *topic, int32_t partition, int64_t lag);

/* Computes the lag of every assigned partition from the consumer's position
 * and the high watermark librdkafka last saw (no broker request), and calls
 * fn for each; partitions without a position yet are skipped. librdkafka's
 * own consumer_lag statistic goes stale when a transaction commits the
 * offsets, which is why this does not use it. */
lvc_err_t lvc_consumer_lags(lvc_kafka_t *c, lvc_lag_fn *fn, void *opaque);

/* Number of partitions of topic (metadata request on client k). Returns
 * LVC_OK, or LVC_ERR_NOT_FOUND when the topic does not exist, or
 * LVC_ERR_FATAL as soon as a broker refused the SASL credentials (errstr
 * names the user, mechanism and listener, never the password). */
lvc_err_t lvc_kafka_partition_count(lvc_kafka_t *k, const char *topic, int timeout_ms, int *out,
                                    char *errstr, size_t errstr_size);

/* An in-process mock cluster (librdkafka's), for the demo and fault tests. */
typedef struct lvc_mock_s lvc_mock_t;

/* Starts a mock cluster of `brokers` brokers. NULL with errstr. */
lvc_mock_t *lvc_mock_new(int brokers, char *errstr, size_t errstr_size);

/* The cluster's bootstrap.servers list (static for the cluster's life). */
const char *lvc_mock_bootstraps(const lvc_mock_t *m);

/* Creates topic with partitions. */
lvc_err_t lvc_mock_topic_create(lvc_mock_t *m, const char *topic, int partitions);

/* Stops the cluster; accepts NULL. */
void lvc_mock_destroy(lvc_mock_t *m);

/*
 * Exactly-once processing, replays and the state topic (additions for
 * SPEC §6; see src/app/run.c, state.c, replay.c).
 */

/* A topic partition with an offset (or a timestamp, for
 * lvc_kafka_offsets_for_times()). */
typedef struct lvc_tpo_s {
	const char *topic;
	int32_t partition;
	int64_t offset;
} lvc_tpo_t;

/* LVC_TPO_BEGINNING as an offset: the partition's first offset. */
#define LVC_TPO_BEGINNING (-2)

/* With on, lvc_consumer_poll() also returns the end of a partition
 * (enable.partition.eof=true): LVC_OK with out->eof = 1, out->topic,
 * partition and offset (the end offset) set and no key or value. */
void lvc_consumer_report_eof(lvc_kafka_t *c, int on);

/* Assigns exactly tps[0..n) (offsets, or LVC_TPO_BEGINNING) outside any
 * group, replacing the assignment; n = 0 unassigns. */
lvc_err_t lvc_consumer_assign(lvc_kafka_t *c, const lvc_tpo_t *tps, size_t n, char *errstr,
                              size_t errstr_size);

/* Pauses (pause 1) or resumes (0) fetching of one assigned partition.
 * Pausing drops what librdkafka prefetched; resuming fetches from the
 * offset after the last record polled. */
lvc_err_t lvc_consumer_pause(lvc_kafka_t *c, const char *topic, int32_t partition, int pause,
                             char *errstr, size_t errstr_size);

/* The group's committed offsets of tps[0..n) into their offset fields (-1:
 * none committed). With read_committed this waits for offsets a
 * transaction has pending. */
lvc_err_t lvc_consumer_committed(lvc_kafka_t *c, lvc_tpo_t *tps, size_t n, int timeout_ms,
                                 char *errstr, size_t errstr_size);

/* Seeks assigned partitions to their offsets (negative: the beginning). */
lvc_err_t lvc_consumer_seek(lvc_kafka_t *c, const lvc_tpo_t *tps, size_t n, int timeout_ms,
                            char *errstr, size_t errstr_size);

/* The offset after the last record polled from a partition (-1: none). */
int64_t lvc_consumer_position(lvc_kafka_t *c, const char *topic, int32_t partition);

/* 1 when called from a revocation whose partitions were lost (the group
 * moved on without this member: session or poll timeout), else 0. */
int lvc_consumer_assignment_lost(lvc_kafka_t *c);

/* Low and high offsets of a partition, asked of its leader. The high one is
 * the high watermark for a client with isolation.level=read_uncommitted
 * and the last stable offset for read_committed (librdkafka >= 1.7.1). */
lvc_err_t lvc_kafka_watermarks(lvc_kafka_t *k, const char *topic, int32_t partition, int timeout_ms,
                               int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size);

/* For each tps[i] whose offset holds a timestamp (ms since the epoch), the
 * first offset whose record timestamp is >= it, or -1 when there is none
 * (past the end). */
lvc_err_t lvc_kafka_offsets_for_times(lvc_kafka_t *k, lvc_tpo_t *tps, size_t n, int timeout_ms,
                                      char *errstr, size_t errstr_size);

/* A topic's partition count and the configs named in keys[0..n) (values
 * into values[i], "" when the broker did not report one), through the
 * Admin API. LVC_ERR_NOT_FOUND when the topic does not exist. */
lvc_err_t lvc_kafka_topic_describe(lvc_kafka_t *k, const char *topic, int timeout_ms,
                                   int *partitions, const char *const *keys, char **values,
                                   size_t value_size, size_t n, char *errstr, size_t errstr_size);

/* Creates topic with partitions and configs[0..n) (replication: the
 * broker's default). LVC_OK also when another client created it first. */
lvc_err_t lvc_kafka_topic_create(lvc_kafka_t *k, const char *topic, int partitions,
                                 const lvc_kv_t *configs, size_t n, int timeout_ms, char *errstr,
                                 size_t errstr_size);

/*
 * Transactions of a producer made with transactional.id. Each returns
 * LVC_OK; LVC_ERR_KAFKA for a retriable error (call again); LVC_ERR_STATE
 * when the transaction must be aborted (an abortable error); LVC_ERR_FATAL
 * when the producer cannot go on (fenced by a newer instance with the same
 * transactional.id, and the like): the process must exit and be restarted.
 * errstr carries librdkafka's name and text of the error.
 */
lvc_err_t lvc_txn_init(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size);
lvc_err_t lvc_txn_begin(lvc_kafka_t *p, char *errstr, size_t errstr_size);

/* Adds the consumer offsets offs[0..n) (next offsets to read) of
 * consumer's group, with its group metadata (generation and member id, so
 * that a zombie's commit is refused), to the open transaction. */
lvc_err_t lvc_txn_send_offsets(lvc_kafka_t *p, lvc_kafka_t *consumer, const lvc_tpo_t *offs,
                               size_t n, int timeout_ms, char *errstr, size_t errstr_size);
lvc_err_t lvc_txn_commit(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size);
lvc_err_t lvc_txn_abort(lvc_kafka_t *p, int timeout_ms, char *errstr, size_t errstr_size);

/* 1 when the producer hit a fatal error (its next call fails). */
int lvc_kafka_fatal(lvc_kafka_t *k);

#endif
