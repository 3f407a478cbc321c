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
} lvc_pipeline_stats_t;

/* Creates a pipeline for cfg (borrowed for the pipeline's life). Output
 * topics get topic_prefix ("" or NULL for none) in front. NULL with errstr. */
lvc_pipeline_t *lvc_pipeline_new(const lvc_config_t *cfg, const char *topic_prefix,
                                 lvc_sink_fn *sink, void *opaque, char *errstr, size_t errstr_size);

/* Frees pl; accepts NULL. */
void lvc_pipeline_destroy(lvc_pipeline_t *pl);

/* Processes one record. Returns LVC_OK (also when the record became a dead
 * letter) or LVC_ERR_FATAL when the sink failed (errstr says why). */
lvc_err_t lvc_pipeline_process(lvc_pipeline_t *pl, const lvc_inrec_t *in, char *errstr,
                               size_t errstr_size);

/* The event time of a record without applying it, for merging inputs in
 * event time. Returns LVC_OK, or an error when the record cannot be decoded
 * (the caller then processes it at once; it will become a dead letter). */
lvc_err_t lvc_pipeline_peek_ts(lvc_pipeline_t *pl, const lvc_inrec_t *in, int64_t *ts_us);

/* Advances a partition's event-time clock from a wall-clock timer (live
 * mode staleness). */
lvc_err_t lvc_pipeline_on_clock(lvc_pipeline_t *pl, int32_t partition, int64_t now_us, char *errstr,
                                size_t errstr_size);

/* Counters since creation. */
void lvc_pipeline_stats(const lvc_pipeline_t *pl, lvc_pipeline_stats_t *out);

/* The engine (for its counters). */
const lvc_engine_t *lvc_pipeline_engine(const lvc_pipeline_t *pl);

/* Formats the levcal-source header value "topic:partition:offset". */
void lvc_source_format(const lvc_inrec_t *in, char *buf, size_t size);

#endif
