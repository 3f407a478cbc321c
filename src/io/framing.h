/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Confluent wire format (SPEC §2, `schema.wire_format: confluent`):
 * magic byte 0, the writer schema's registry id as 4 big-endian bytes, then
 * the Avro binary of the value in that schema.
 *
 * Two layers:
 *   - lvc_framing_parse()/lvc_framing_header(): the 5-byte header alone,
 *     bounds-checked, no allocation.
 *   - lvc_wire_t: a value of one of our record types in, plain Avro binary
 *     of our schema out (and back). It keeps, for the process lifetime, one
 *     entry per writer schema id seen: the schema fetched from the registry
 *     (io/registry.h) resolved against ours once (io/codec_resolve.h), or
 *     the reason why it cannot be used (404, incompatible). Our output
 *     schemas are registered (or looked up, or taken from static ids) when
 *     the wire is created, under the configured subject naming strategy.
 *
 * Outage rule: a new id that cannot be fetched because the registry is
 * unreachable (connection refused, timeout, 5xx) is LVC_ERR_IO, never a
 * dead letter: the caller keeps the record and asks again later. Fetches of
 * a failing id are spaced by an exponential backoff (100 ms doubling to
 * 5 s), so asking again per record costs nothing while the registry is
 * down; ids already cached never touch the network again. Fetches run on
 * a background thread; a decode waits for one at most 250 ms (a registry
 * that hangs costs that, not schema.registry.timeout), then the record is
 * LVC_ERR_IO and a later call takes the answer.
 *
 * Thread rules: a wire is used by one thread at a time.
 */
#ifndef LVC_IO_FRAMING_H
#define LVC_IO_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/codec.h"
#include "io/config.h"

#define LVC_FRAMING_HEADER_SIZE 5
#define LVC_FRAMING_MAGIC       0x00

/* Splits a framed value: *schema_id and the Avro payload (pointing into
 * buf). LVC_ERR_DECODE with a reason such as "confluent framing: magic byte
 * 0x07, expected 0x00" or "confluent framing: 3 bytes, shorter than the
 * 5-byte header" in errstr. Allocates nothing. */
lvc_err_t lvc_framing_parse(const void *buf, size_t len, int32_t *schema_id, const void **payload,
                            size_t *payload_len, char *errstr, size_t errstr_size);

/* Writes the 5-byte header of schema_id into out. */
void lvc_framing_header(int32_t schema_id, uint8_t out[LVC_FRAMING_HEADER_SIZE]);

/* Counters of a wire, for logs and metrics. */
typedef struct lvc_wire_stats_s {
	uint64_t fetches;      /* schemas fetched from the registry */
	uint64_t fetch_errors; /* fetch attempts that failed (unreachable or 5xx) */
	uint64_t resolved;     /* writer schemas resolved against ours */
	uint64_t passthrough;  /* records whose writer schema is ours exactly */
	uint64_t transcoded;   /* records re-encoded from an evolved writer schema */
	int registry_down;     /* 1 while the last fetch failed for want of the registry */
	int64_t down_since_us; /* monotonic time of the first failure of this outage */
	int64_t retry_in_us;   /* time until a new id may be fetched again (0: now) */
	int fetch_in_flight;   /* a fetch is still waiting for the registry's answer */
} lvc_wire_stats_t;

typedef struct lvc_wire_s lvc_wire_t;

/* Creates a wire for cfg's schema section (cfg borrowed for the wire's
 * life): connects nothing for the inputs, but registers or looks up the ids
 * of our output schemas (LeverageLimit, LiquidationWarning) at once, unless
 * static ids are configured for them. topic_prefix is put in front of the
 * output topic names for the topic-name subject strategy. Returns NULL with
 * the reason in errstr (a registry that cannot be reached at start is such
 * a reason). */
lvc_wire_t *lvc_wire_new(const lvc_config_t *cfg, const char *topic_prefix, char *errstr,
                         size_t errstr_size);

/* Frees w; accepts NULL. */
void lvc_wire_destroy(lvc_wire_t *w);

/*
 * Unframes a value of record type `type` and returns it as plain Avro binary
 * of our schema in *out (pointing into buf when the writer schema is ours
 * exactly, else into a buffer owned by w, valid until the next call).
 * Returns LVC_OK; LVC_ERR_DECODE or LVC_ERR_INVALID for a record that is a
 * dead letter (bad header, unknown id, incompatible writer schema, bytes
 * that do not match the writer schema), with the reason in errstr;
 * LVC_ERR_IO when the id is new and the registry cannot be reached now (ask
 * again later; errstr says why); LVC_ERR_NOMEM.
 */
lvc_err_t lvc_wire_decode(lvc_wire_t *w, lvc_rec_type_t type, const void *buf, size_t len,
                          const void **out, size_t *out_len, char *errstr, size_t errstr_size);

/* Frames plain Avro binary of our schema of `type` (LVC_REC_LIMIT or
 * LVC_REC_WARNING) with the id registered at start, into a buffer owned by
 * w (valid until the next call for the same type). */
lvc_err_t lvc_wire_encode(lvc_wire_t *w, lvc_rec_type_t type, const void *buf, size_t len,
                          const void **out, size_t *out_len);

/* The id our output schema of `type` is framed with; -1 if none. */
int32_t lvc_wire_output_id(const lvc_wire_t *w, lvc_rec_type_t type);

/* Whether a fetch of a new id may be tried now (the backoff has elapsed or
 * the registry is up). */
int lvc_wire_may_retry(const lvc_wire_t *w);

/* Counters since creation. */
void lvc_wire_stats(const lvc_wire_t *w, lvc_wire_stats_t *out);

/*
 * Held records: per lane (an input and a partition) a FIFO of copied
 * records waiting for the registry, so that a partition whose next record
 * has a schema id that cannot be fetched now stops there (its order kept)
 * while other lanes go on. Bounded in bytes for the whole queue.
 */
typedef struct lvc_held_s {
	int input;
	char *topic;
	int32_t partition;
	int64_t offset;
	void *key; /* NULL when the record had none */
	size_t key_len;
	void *value; /* NULL for a tombstone */
	size_t value_len;
	struct lvc_held_s *next;
} lvc_held_t;

typedef struct lvc_holdq_s lvc_holdq_t;

/* A queue holding at most max_bytes of records (keys, values, topics).
 * NULL on allocation failure. */
lvc_holdq_t *lvc_holdq_new(size_t max_bytes);

/* Frees q and what it holds; accepts NULL. */
void lvc_holdq_destroy(lvc_holdq_t *q);

/* Appends a copy of the record to its lane. LVC_ERR_RANGE when the queue
 * would exceed its bytes, LVC_ERR_NOMEM. */
lvc_err_t lvc_holdq_push(lvc_holdq_t *q, int input, const char *topic, int32_t partition,
                         int64_t offset, const void *key, size_t key_len, const void *value,
                         size_t value_len);

/* The oldest record of a lane, or NULL when the lane holds none. */
const lvc_held_t *lvc_holdq_front(const lvc_holdq_t *q, int input, int32_t partition);

/* Drops the oldest record of a lane. */
void lvc_holdq_pop(lvc_holdq_t *q, int input, int32_t partition);

/* The number of lanes (some may be empty), and the input and partition of
 * lane i < that number. */
size_t lvc_holdq_lanes(const lvc_holdq_t *q);
void lvc_holdq_lane(const lvc_holdq_t *q, size_t i, int *input, int32_t *partition);

/* Records held over all lanes, and their bytes. */
size_t lvc_holdq_count(const lvc_holdq_t *q);
size_t lvc_holdq_bytes(const lvc_holdq_t *q);

#endif
