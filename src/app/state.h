/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The levcal.state topic (SPEC §1, §6): a compacted topic co-partitioned
 * with the inputs that holds the engine's state snapshots, so that an
 * instance that is given a partition (after a crash, a rebalance or an
 * aborted transaction) continues exactly where the last committed
 * transaction left it.
 *
 * Records (values: StateSnapshot, io/state_codec.h), always written to the
 * partition of the input partition they belong to, explicitly (librdkafka's
 * default partitioner is not Java's, and a key hash could not be relied on
 * anyway):
 *   key INSTRUMENT        kind INSTRUMENT: lvc_engine_snapshot_instrument()
 *   key "pos:" ACCOUNT "|" INSTRUMENT
 *                         kind POSITION: the position's warning level and seq,
 *                         in the partition of its instrument
 *   key "partition:" N    kind PARTITION: the partition's event-time clock
 * An instrument literally named "pos:..." or "partition:..." would share a
 * key with a state of the other kind; the kind in the value keeps the
 * restore right, only compaction could then drop one of the two.
 *
 * The stage writes the states that changed inside the transaction that
 * commits the inputs that changed them, and reads a partition whole
 * (read_committed, latest value per key) before the partition's first
 * record. A restore first waits until the partition has no open
 * transaction (its last stable offset equals its high watermark): the
 * previous owner's last transaction, if it died inside one, is aborted by
 * the broker after transaction.timeout.ms or at once when the same
 * transactional.id starts again.
 *
 * Thread rules: one thread.
 */
#ifndef LVC_APP_STATE_H
#define LVC_APP_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "app/pipeline.h"
#include "core/engine.h"
#include "core/err.h"
#include "io/config.h"
#include "io/http.h"
#include "io/kafka.h"

typedef struct lvc_state_s lvc_state_t;

/* Creates the state reader (two clients: a read_committed consumer and a
 * read_uncommitted one for high watermarks) and codec. NULL with errstr. */
lvc_state_t *lvc_state_new(const lvc_config_t *cfg, char *errstr, size_t errstr_size);

/* Frees st; accepts NULL. */
void lvc_state_destroy(lvc_state_t *st);

/* Makes sure topics.state exists with `partitions` partitions and
 * cleanup.policy compact: creates it (compact, 64 MiB / 10 min segments,
 * min.cleanable.dirty.ratio 0.1, the broker's replication) when missing;
 * an existing topic with another partition count or without compaction is
 * an error that says what is wrong and how to fix it. admin is any client
 * (the producer). */
lvc_err_t lvc_state_ensure_topic(lvc_state_t *st, lvc_kafka_t *admin, int partitions, char *errstr,
                                 size_t errstr_size);

/* Says whether the stage owns an input partition now (only the owner may
 * write a partition's state). */
typedef int(lvc_state_owned_fn)(void *opaque, int32_t partition);

/* The levcal-source text of the last input applied on partition ("" if
 * none), written in each snapshot's source field. */
typedef const char *(lvc_state_source_fn)(void *opaque, int32_t partition);

typedef struct lvc_state_write_stats_s {
	size_t instruments;
	size_t positions;
	size_t partitions;
	size_t skipped; /* changes of partitions not owned */
	size_t bytes;
} lvc_state_write_stats_t;

/* Produces the states that changed in eng (lvc_engine_changes) for owned
 * partitions through producer (inside its open transaction). Does not
 * clear the changes: call lvc_engine_changes_clear() once the transaction
 * committed. Returns LVC_OK or the produce error (errstr). */
lvc_err_t lvc_state_write_changes(lvc_state_t *st, lvc_kafka_t *producer, const lvc_engine_t *eng,
                                  lvc_state_owned_fn *owned, lvc_state_source_fn *source,
                                  void *opaque, lvc_state_write_stats_t *stats, char *errstr,
                                  size_t errstr_size);

typedef struct lvc_state_restore_stats_s {
	uint64_t records;   /* state records read */
	uint64_t bytes;     /* their value bytes */
	size_t instruments; /* restored */
	size_t positions;
	size_t partitions;
	size_t stale_config; /* written under another config_id */
	size_t vol_reset;    /* estimators that did not fit the params and start afresh */
	double wait_s;       /* waiting for open transactions to end */
	double read_s;
} lvc_state_restore_stats_t;

/* Reads the state partitions parts[0..n) whole and restores them into the
 * pipeline's engine (see lvc_engine_restore_finish(): outputs it causes go
 * to the pipeline's sink). waits at most wait_ms for the partitions' open
 * transactions to end; *stop (may be NULL) ends the wait early; health
 * (may be NULL) gets a heartbeat while it waits and reads. Returns
 * LVC_OK, LVC_ERR_KAFKA (errstr names the partition), LVC_ERR_DECODE for a
 * state record that cannot be restored, or LVC_ERR_FATAL. */
lvc_err_t lvc_state_restore(lvc_state_t *st, lvc_pipeline_t *pl, const int32_t *parts, size_t n,
                            int wait_ms, atomic_int *stop, lvc_health_t *health,
                            lvc_state_restore_stats_t *stats, char *errstr, size_t errstr_size);

#endif
