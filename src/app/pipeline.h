/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline step: one input record in -> decode -> core -> encode -> the
 * sink, which produces to Kafka (`levcal run`, replay to topics) or writes
 * JSON Lines (`levcal replay --out`). Every subcommand drives this same
 * function, so tests of replay run production code.
 *
 * A record that cannot be decoded or is refused by the core becomes a dead
 * letter (original key and bytes, with the reason); processing goes on.
 *
 * Thread rules: one thread at a time.
 */
#ifndef LVC_APP_PIPELINE_H
#define LVC_APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/engine.h"
#include "core/err.h"
#include "io/codec.h"
#include "io/config.h"

typedef enum lvc_input_e {
	LVC_IN_BALANCES, /* the order is the event-time tie order of SPEC §6 */
	LVC_IN_POSITIONS,
	LVC_IN_PRICES,
	LVC_IN_TRADES,
	LVC_IN__COUNT
} lvc_input_t;

/* One input record, borrowed for the duration of the call. */
typedef struct lvc_inrec_s {
	lvc_input_t input;
	const char *topic; /* names the source: topic, or file for replays */
	int32_t partition;
	int64_t offset;
	const void *key; /* may be NULL */
	size_t key_len;
	const void *value; /* NULL for a tombstone */
	size_t value_len;
} lvc_inrec_t;

typedef enum lvc_out_kind_e {
	LVC_OUT_LIMIT,
	LVC_OUT_WARNING,
	LVC_OUT_DEAD_LETTER,
} lvc_out_kind_t;

/* One output record, valid for the duration of the sink call. */
typedef struct lvc_outrec_s {
	lvc_out_kind_t kind;
	lvc_rec_type_t type; /* value's record type; for dead letters the input's */
	const char *topic;   /* with the replay prefix applied */
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	const char *source;    /* levcal-source header: topic:partition:offset */
	const char *error;     /* levcal-error header (dead letters), else NULL */
	const lvc_inrec_t *in; /* the input that caused it */
	int64_t event_ts_us;   /* ts_us of the event (the tick's event time); 0 for dead letters */
	lvc_err_t err;         /* dead letters: why (LVC_ERR_DECODE, LVC_ERR_INVALID, ...) */
	int32_t partition;     /* events: the engine's input partition of the instrument
	                        * (lvc_event_t.partition); dead letters: -1 */
} lvc_outrec_t;

/* Takes one output record; non-zero stops the pipeline (a fatal sink
 * error). */
typedef int(lvc_sink_fn)(void *opaque, const lvc_outrec_t *out);

typedef struct lvc_pipeline_s lvc_pipeline_t;

typedef struct lvc_pipeline_stats_s {
	uint64_t in[LVC_IN__COUNT];
	uint64_t dead_letters;
	uint64_t out_limits;
	uint64_t out_warnings;
	/* schema.wire_format confluent: records held because their schema id
	 * could not be fetched (registry unreachable), in all and now, and
	 * whether the registry is down now. */
	uint64_t held;
	uint64_t held_now;
	int registry_down;
	int64_t retry_in_us; /* until a new schema id may be fetched again (0: now) */
	int fetching;        /* a schema fetch is still waiting for the registry */
} lvc_pipeline_stats_t;

/* Creates a pipeline for cfg (borrowed for the pipeline's life). Output
 * topics get topic_prefix ("" or NULL for none) in front. NULL with errstr.
 * With schema.wire_format confluent, input values are unframed and resolved
 * against our schemas (io/framing.h) and outputs framed with the ids of our
 * schemas, which this call registers or looks up (so a registry that cannot
 * be reached at start is an error here). */
lvc_pipeline_t *lvc_pipeline_new(const lvc_config_t *cfg, const char *topic_prefix,
                                 lvc_sink_fn *sink, void *opaque, char *errstr, size_t errstr_size);

/* Frees pl; accepts NULL. */
void lvc_pipeline_destroy(lvc_pipeline_t *pl);

/* Like lvc_pipeline_new(), with the wire formats of the inputs and of the
 * outputs given instead of both taken from cfg. File-fed subcommands read
 * plain container records: replay --out and calibrate pass (LVC_WIRE_PLAIN,
 * LVC_WIRE_PLAIN), replay to topics (LVC_WIRE_PLAIN,
 * cfg->schema.wire_format). */
lvc_pipeline_t *lvc_pipeline_new_wire(const lvc_config_t *cfg, const char *topic_prefix,
                                      lvc_wire_format_t in_wire, lvc_wire_format_t out_wire,
                                      lvc_sink_fn *sink, void *opaque, char *errstr,
                                      size_t errstr_size);

/* Processes one record. Returns LVC_OK (also when the record became a dead
 * letter, and when it was held) or LVC_ERR_FATAL when the sink failed
 * (errstr says why).
 *
 * Held records (schema.wire_format confluent): a record whose schema id is
 * new while the registry cannot be reached is neither dropped nor
 * dead-lettered: it is copied and held in its lane (input and partition),
 * and so is every later record of that lane, to keep the lane's order;
 * other lanes go on. Each later call first processes what the lanes hold,
 * in order per lane, once a fetch may be retried (backoff up to 5 s), and
 * the outputs of a held record carry its own levcal-source. When the
 * held records would pass 64 MiB this returns LVC_ERR_FATAL, so that a
 * restart reads them again. A stage that commits input offsets must not
 * commit past lvc_pipeline_hold_offset() of a lane. */
lvc_err_t lvc_pipeline_process(lvc_pipeline_t *pl, const lvc_inrec_t *in, char *errstr,
                               size_t errstr_size);

/* The event time of a record without applying it, for merging inputs in
 * event time. Returns LVC_OK, or an error when the record cannot be decoded
 * (the caller then processes it at once; it will become a dead letter). */
lvc_err_t lvc_pipeline_peek_ts(lvc_pipeline_t *pl, const lvc_inrec_t *in, int64_t *ts_us);

/* A trade or price tick decoded once, for a stage that holds records in an
 * event-time merge before it applies them: lvc_pipeline_peek_tick() decodes
 * it to learn its event time and keeps the decoded record (strings copied
 * in), lvc_pipeline_process_tick() applies that without decoding again.
 * ok is 0 when the tick could not be kept (a string longer than the room
 * here, framed inputs, not a trade or price): the record then takes the
 * ordinary path. A plain struct: it may be copied. */
#define LVC_TICK_STR_SIZE 64
typedef struct lvc_tick_s {
	int ok;
	lvc_input_t input; /* LVC_IN_TRADES or LVC_IN_PRICES */
	union {
		lvc_trade_t trade;
		lvc_price_t price;
	} u; /* string members are set again from the arrays below when applied */
	int has_trade_id;
	char instrument[LVC_TICK_STR_SIZE];
	char trade_id[LVC_TICK_STR_SIZE];
} lvc_tick_t;

/* As lvc_pipeline_peek_ts(), and fills *tick (see lvc_tick_t). */
lvc_err_t lvc_pipeline_peek_tick(lvc_pipeline_t *pl, const lvc_inrec_t *in, lvc_tick_t *tick,
                                 int64_t *ts_us);

/* As lvc_pipeline_process() for in, whose tick lvc_pipeline_peek_tick()
 * filled (and may not have kept: then this is lvc_pipeline_process()):
 * the same outputs, dead letters and errors, one decode fewer. */
lvc_err_t lvc_pipeline_process_tick(lvc_pipeline_t *pl, const lvc_inrec_t *in,
                                    const lvc_tick_t *tick, char *errstr, size_t errstr_size);

/* Advances a partition's event-time clock from a wall-clock timer (live
 * mode staleness). */
lvc_err_t lvc_pipeline_on_clock(lvc_pipeline_t *pl, int32_t partition, int64_t now_us, char *errstr,
                                size_t errstr_size);

/* Processes held records of every lane, in order per lane, when the
 * registry may be asked again (lvc_pipeline_process does this too); for a
 * stage loop to call when it is idle, so that held records do not wait for
 * their lane's next record. LVC_OK or LVC_ERR_FATAL. */
lvc_err_t lvc_pipeline_retry_held(lvc_pipeline_t *pl, char *errstr, size_t errstr_size);

/* 1 and the offset of the oldest record a lane holds (see
 * lvc_pipeline_process), or 0 when the lane holds none: input offsets at
 * or past it must not be committed yet. */
int lvc_pipeline_hold_offset(const lvc_pipeline_t *pl, lvc_input_t input, int32_t partition,
                             int64_t *offset);

/* Counters since creation. */
void lvc_pipeline_stats(const lvc_pipeline_t *pl, lvc_pipeline_stats_t *out);

/* The engine (for its counters). */
const lvc_engine_t *lvc_pipeline_engine(const lvc_pipeline_t *pl);

/* Formats the levcal-source header value "topic:partition:offset". */
void lvc_source_format(const lvc_inrec_t *in, char *buf, size_t size);

/* Work on the engine outside an input record (restoring state snapshots):
 * fn gets the engine; outputs it causes carry "topic:partition:offset" as
 * their levcal-source header. */
typedef lvc_err_t(lvc_engine_work_fn)(lvc_engine_t *eng, void *opaque, char *errstr,
                                      size_t errstr_size);

/* Calls fn. Returns fn's result, or LVC_ERR_FATAL when the sink failed. */
lvc_err_t lvc_pipeline_engine_work(lvc_pipeline_t *pl, const char *topic, int32_t partition,
                                   int64_t offset, lvc_engine_work_fn *fn, void *opaque,
                                   char *errstr, size_t errstr_size);

#endif
