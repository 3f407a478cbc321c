/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline step (decode -> core -> encode -> sink) shared by every
 * subcommand. The codec and engine live for the pipeline's life; the only
 * per-record work is the decode, the core update and, when the core emits,
 * one encode and one sink call. The source header text is formatted only
 * when the record causes an output.
 *
 * With schema.wire_format confluent the decode goes through io/framing.h
 * first (unframe, resolve the writer schema by id, re-encode as our plain
 * binary) and every output is framed with our schema's id. A record whose
 * id cannot be fetched now is held in its lane (see pipeline.h); the lane
 * is drained, in order, by the next calls for that lane.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/pipeline.h"
#include "io/framing.h"
#include "io/log.h"
#include "core/errfmt.h"

/* The most bytes of records held while the registry is unreachable. */
#define LVC__HOLD_MAX_BYTES ((size_t)64 * 1024 * 1024)

struct lvc_pipeline_s {
	const lvc_config_t *cfg;
	lvc_codec_t *codec;
	lvc_engine_t *eng;
	lvc_sink_fn *sink;
	void *opaque;
	lvc_wire_t *wire;  /* schema.wire_format confluent, else NULL */
	int frame_in;      /* with wire: input values are framed */
	int frame_out;     /* with wire: outputs are framed */
	lvc_holdq_t *held; /* with wire: records waiting for the registry */

	char *topic_limits;
	char *topic_warnings;
	char *topic_dead_letter;

	const lvc_inrec_t *cur; /* the record being processed */
	char source[512];
	int source_ok; /* source[] holds cur's text */
	int sink_failed;

	lvc_pipeline_stats_t stats;
};

static const lvc_rec_type_t input_types[LVC_IN__COUNT] = {
	[LVC_IN_BALANCES] = LVC_REC_BALANCE,
	[LVC_IN_POSITIONS] = LVC_REC_POSITION,
	[LVC_IN_PRICES] = LVC_REC_PRICE,
	[LVC_IN_TRADES] = LVC_REC_TRADE,
};

void lvc_source_format(const lvc_inrec_t *in, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%" PRId32 ":%" PRId64, in->topic, in->partition, in->offset);
}

static const char *cur_source(lvc_pipeline_t *pl)
{
	if (!pl->source_ok && pl->cur != NULL) {
		lvc_source_format(pl->cur, pl->source, sizeof(pl->source));
		pl->source_ok = 1;
	}
	return pl->source;
}

static char *prefixed(const char *prefix, const char *topic)
{
	size_t a = prefix != NULL ? strlen(prefix) : 0, b = strlen(topic);
	char *s = malloc(a + b + 1);

	if (s != NULL) {
		memcpy(s, prefix, a);
		memcpy(s + a, topic, b + 1);
	}
	return s;
}

static int on_event(void *opaque, const lvc_event_t *ev)
{
	lvc_pipeline_t *pl = opaque;
	lvc_outrec_t out = { 0 };
	lvc_err_t err;

	if (ev->type == LVC_EV_LIMIT) {
		const lvc_limit_t *lim = ev->u.limit;

		err = lvc_codec_encode_limit(pl->codec, lim, &out.value, &out.value_len);
		out.kind = LVC_OUT_LIMIT;
		out.type = LVC_REC_LIMIT;
		out.topic = pl->topic_limits;
		out.key = lim->instrument;
		out.key_len = strlen(lim->instrument);
		out.event_ts_us = lim->ts_us;
		out.partition = ev->partition;
		pl->stats.out_limits++;
	} else {
		const lvc_warning_t *w = ev->u.warning;

		err = lvc_codec_encode_warning(pl->codec, w, &out.value, &out.value_len);
		out.kind = LVC_OUT_WARNING;
		out.type = LVC_REC_WARNING;
		out.topic = pl->topic_warnings;
		out.key = w->account;
		out.key_len = strlen(w->account);
		out.event_ts_us = w->ts_us;
		out.partition = ev->partition;
		pl->stats.out_warnings++;
	}
	if (err == LVC_OK && pl->frame_out) {
		err = lvc_wire_encode(pl->wire, out.type, out.value, out.value_len, &out.value,
		                      &out.value_len);
	}
	if (err != LVC_OK) {
		/* Our own events always encode; failing here is a bug or memory
		 * exhaustion, and either must stop the stage. */
		pl->sink_failed = 1;
		return -1;
	}
	out.source = cur_source(pl);
	out.in = pl->cur;
	if (pl->sink(pl->opaque, &out) != 0) {
		pl->sink_failed = 1;
		return -1;
	}
	return 0;
}

lvc_pipeline_t *lvc_pipeline_new(const lvc_config_t *cfg, const char *topic_prefix,
                                 lvc_sink_fn *sink, void *opaque, char *errstr, size_t errstr_size)
{
	return lvc_pipeline_new_wire(cfg, topic_prefix, cfg->schema.wire_format,
	                             cfg->schema.wire_format, sink, opaque, errstr, errstr_size);
}

lvc_pipeline_t *lvc_pipeline_new_wire(const lvc_config_t *cfg, const char *topic_prefix,
                                      lvc_wire_format_t in_wire, lvc_wire_format_t out_wire,
                                      lvc_sink_fn *sink, void *opaque, char *errstr,
                                      size_t errstr_size)
{
	lvc_pipeline_t *pl = calloc(1, sizeof(*pl));
	lvc_engine_conf_t ec = { 0 };

	if (pl == NULL) {
		LVC_ERRF("out of memory creating the pipeline");
		return NULL;
	}
	pl->cfg = cfg;
	pl->sink = sink;
	pl->opaque = opaque;
	pl->topic_limits = prefixed(topic_prefix, cfg->topics.leverage_limits);
	pl->topic_warnings = prefixed(topic_prefix, cfg->topics.liquidation_warnings);
	pl->topic_dead_letter = prefixed(topic_prefix, cfg->topics.dead_letter);
	if (pl->topic_limits == NULL || pl->topic_warnings == NULL ||
	    pl->topic_dead_letter == NULL) {
		LVC_ERRF("out of memory creating the pipeline");
		goto fail;
	}
	if ((pl->codec = lvc_codec_new(errstr, errstr_size)) == NULL) {
		goto fail;
	}
	pl->frame_in = in_wire == LVC_WIRE_CONFLUENT;
	pl->frame_out = out_wire == LVC_WIRE_CONFLUENT;
	if (pl->frame_in || pl->frame_out) {
		if ((pl->wire = lvc_wire_new(cfg, topic_prefix, errstr, errstr_size)) == NULL) {
			goto fail;
		}
	}
	if (pl->frame_in) {
		if ((pl->held = lvc_holdq_new(LVC__HOLD_MAX_BYTES)) == NULL) {
			LVC_ERRF("out of memory creating the pipeline");
			goto fail;
		}
	}
	ec.defaults = cfg->defaults;
	ec.overrides = cfg->instruments;
	ec.overrides_n = cfg->instruments_n;
	ec.config_id = cfg->config_id;
	ec.emit = on_event;
	ec.opaque = pl;
	ec.instruments_hint = 1024;
	if ((pl->eng = lvc_engine_new(&ec, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	return pl;
fail:
	lvc_pipeline_destroy(pl);
	return NULL;
}

void lvc_pipeline_destroy(lvc_pipeline_t *pl)
{
	if (pl == NULL) {
		return;
	}
	lvc_engine_destroy(pl->eng);
	lvc_holdq_destroy(pl->held);
	lvc_wire_destroy(pl->wire);
	lvc_codec_destroy(pl->codec);
	free(pl->topic_limits);
	free(pl->topic_warnings);
	free(pl->topic_dead_letter);
	free(pl);
}

static lvc_err_t dead_letter(lvc_pipeline_t *pl, const lvc_inrec_t *in, lvc_err_t why_err,
                             const char *why, char *errstr, size_t errstr_size)
{
	lvc_outrec_t out = { 0 };

	out.kind = LVC_OUT_DEAD_LETTER;
	out.partition = -1;
	out.type = input_types[in->input];
	out.topic = pl->topic_dead_letter;
	out.key = in->key;
	out.key_len = in->key_len;
	out.value = in->value;
	out.value_len = in->value_len;
	out.source = cur_source(pl);
	out.error = why;
	out.err = why_err;
	out.in = in;
	pl->stats.dead_letters++;
	if (pl->sink(pl->opaque, &out) != 0) {
		LVC_ERRF("writing a dead letter for %s failed", out.source);
		return LVC_ERR_FATAL;
	}
	return LVC_OK;
}

/* A null value: closes a position (key account|instrument) or empties a
 * balance (key account); on the tick topics it is a dead letter. A
 * tombstone carries no event time: it takes the engine's newest. */
static lvc_err_t tombstone(lvc_pipeline_t *pl, const lvc_inrec_t *in, char *why, size_t why_size)
{
	char key[1024], *bar;
	lvc_balance_t bal;

	if (in->input != LVC_IN_POSITIONS && in->input != LVC_IN_BALANCES) {
		snprintf(why, why_size, "a null value (tombstone) is not a %s",
		         lvc_rec_type_names[input_types[in->input]]);
		return LVC_ERR_NOT_FOUND;
	}
	if (in->key == NULL || in->key_len == 0 || in->key_len >= sizeof(key) ||
	    memchr(in->key, '\0', in->key_len) != NULL) {
		snprintf(why, why_size,
		         "a tombstone on the %s topic needs a key of 1 to %zu bytes "
		         "without NUL bytes",
		         in->input == LVC_IN_POSITIONS ? "positions" : "balances", sizeof(key) - 1);
		return LVC_ERR_INVALID;
	}
	memcpy(key, in->key, in->key_len);
	key[in->key_len] = '\0';
	if (in->input == LVC_IN_BALANCES) {
		bal.account = key;
		bal.ts_us = lvc_engine_now_us(pl->eng);
		bal.collateral = 0;
		return lvc_engine_on_balance(pl->eng, &bal, why, why_size);
	}
	/* The instrument is after the last '|': account names may hold one. */
	if ((bar = strrchr(key, '|')) == NULL || bar == key || bar[1] == '\0') {
		snprintf(why, why_size,
		         "positions tombstone key \"%.200s\" is not ACCOUNT|INSTRUMENT", key);
		return LVC_ERR_INVALID;
	}
	*bar = '\0';
	return lvc_engine_on_position_close(pl->eng, key, bar + 1, lvc_engine_now_us(pl->eng), why,
	                                    why_size);
}

/* Applies a tick decoded by lvc_pipeline_peek_tick() (its strings are
 * pointed at again here: the tick may have been copied since). */
static lvc_err_t apply_tick(lvc_pipeline_t *pl, const lvc_inrec_t *in, const lvc_tick_t *tick,
                            char *why, size_t why_size)
{
	if (tick->input == LVC_IN_TRADES) {
		lvc_trade_t t = tick->u.trade;

		t.instrument = tick->instrument;
		t.trade_id = tick->has_trade_id ? tick->trade_id : NULL;
		return lvc_engine_on_trade(pl->eng, in->partition, &t, why, why_size);
	}
	{
		lvc_price_t p = tick->u.price;

		p.instrument = tick->instrument;
		return lvc_engine_on_price(pl->eng, in->partition, &p, why, why_size);
	}
}

/* Decodes a record and applies it to the engine; with tick (decoded
 * already), applies that. */
static lvc_err_t apply(lvc_pipeline_t *pl, const lvc_inrec_t *in, const lvc_tick_t *tick, char *why,
                       size_t why_size)
{
	lvc_err_t err;
	lvc_inrec_t plain;

	if (tick != NULL) {
		return apply_tick(pl, in, tick, why, why_size);
	}
	if (pl->frame_in && (unsigned)in->input < LVC_IN__COUNT) {
		/* LVC_ERR_IO (registry unreachable) goes back to the caller,
		 * which holds the record. */
		plain = *in;
		if ((err = lvc_wire_decode(pl->wire, input_types[in->input], in->value,
		                           in->value_len, &plain.value, &plain.value_len, why,
		                           why_size)) != LVC_OK) {
			return err;
		}
		in = &plain;
	}
	switch (in->input) {
	case LVC_IN_TRADES: {
		lvc_trade_t t;

		if ((err = lvc_codec_decode_trade(pl->codec, in->value, in->value_len, &t, why,
		                                  why_size)) != LVC_OK) {
			return err;
		}
		return lvc_engine_on_trade(pl->eng, in->partition, &t, why, why_size);
	}
	case LVC_IN_PRICES: {
		lvc_price_t p;

		if ((err = lvc_codec_decode_price(pl->codec, in->value, in->value_len, &p, why,
		                                  why_size)) != LVC_OK) {
			return err;
		}
		return lvc_engine_on_price(pl->eng, in->partition, &p, why, why_size);
	}
	case LVC_IN_POSITIONS: {
		lvc_position_t p;

		if ((err = lvc_codec_decode_position(pl->codec, in->value, in->value_len, &p, why,
		                                     why_size)) != LVC_OK) {
			return err;
		}
		return lvc_engine_on_position(pl->eng, &p, why, why_size);
	}
	case LVC_IN_BALANCES: {
		lvc_balance_t b;

		if ((err = lvc_codec_decode_balance(pl->codec, in->value, in->value_len, &b, why,
		                                    why_size)) != LVC_OK) {
			return err;
		}
		return lvc_engine_on_balance(pl->eng, &b, why, why_size);
	}
	default:
		snprintf(why, why_size, "input %d is not known", (int)in->input);
		return LVC_ERR_INVALID;
	}
}

/* Holds in at the end of its lane. */
static lvc_err_t hold(lvc_pipeline_t *pl, const lvc_inrec_t *in, const char *why, char *errstr,
                      size_t errstr_size)
{
	lvc_err_t err = lvc_holdq_push(pl->held, (int)in->input, in->topic, in->partition,
	                               in->offset, in->key, in->key_len, in->value, in->value_len);

	if (err != LVC_OK) {
		LVC_ERRF("%s: cannot hold more records (%zu held, %zu bytes; %s): stopping so that "
		         "a restart reads them again",
		         cur_source(pl), lvc_holdq_count(pl->held), lvc_holdq_bytes(pl->held), why);
		return LVC_ERR_FATAL;
	}
	if (lvc_holdq_count(pl->held) == 1 || (lvc_holdq_count(pl->held) & 1023) == 0) {
		lvc_warn("%s held (%zu record(s) held in all): %s", cur_source(pl),
		         lvc_holdq_count(pl->held), why);
	}
	pl->stats.held++;
	return LVC_OK;
}

/* One record through decode -> core -> sink (tick: decoded already, or
 * NULL); *held set when it could not be decoded for want of the registry
 * (nothing else happened then). */
static lvc_err_t process_one(lvc_pipeline_t *pl, const lvc_inrec_t *in, const lvc_tick_t *tick,
                             int *held, char *errstr, size_t errstr_size)
{
	char why[512];
	lvc_err_t err;

	*held = 0;
	pl->cur = in;
	pl->source_ok = 0;
	if (in->value == NULL) {
		err = tombstone(pl, in, why, sizeof(why));
	} else {
		err = apply(pl, in, tick, why, sizeof(why));
	}
	if (pl->sink_failed) {
		LVC_ERRF("producing the output of %s failed", cur_source(pl));
		return LVC_ERR_FATAL;
	}
	if (err == LVC_ERR_NOMEM) {
		LVC_ERRF("%s: %s", cur_source(pl), why);
		return LVC_ERR_FATAL;
	}
	if (err == LVC_ERR_IO && pl->frame_in) {
		*held = 1;
		snprintf(errstr, errstr_size, "%s", why);
		return LVC_OK;
	}
	if (err != LVC_OK) {
		return dead_letter(pl, in, err, why, errstr, errstr_size);
	}
	return LVC_OK;
}

/* Processes what in's lane holds, in order, while the registry answers.
 * *empty is set when the lane holds nothing after. */
static lvc_err_t drain(lvc_pipeline_t *pl, lvc_input_t input, int32_t partition, int *empty,
                       char *errstr, size_t errstr_size)
{
	const lvc_held_t *h;
	lvc_err_t err;
	int held;

	while ((h = lvc_holdq_front(pl->held, (int)input, partition)) != NULL) {
		lvc_inrec_t r = { 0 };

		if (!lvc_wire_may_retry(pl->wire)) {
			break;
		}
		r.input = (lvc_input_t)h->input;
		r.topic = h->topic;
		r.partition = h->partition;
		r.offset = h->offset;
		r.key = h->key;
		r.key_len = h->key_len;
		r.value = h->value;
		r.value_len = h->value_len;
		err = process_one(pl, &r, NULL, &held, errstr, errstr_size);
		pl->cur = NULL;
		if (err != LVC_OK) {
			return err;
		}
		if (held) {
			break;
		}
		lvc_holdq_pop(pl->held, (int)input, partition);
		if (lvc_holdq_count(pl->held) == 0) {
			lvc_info("all held records processed");
		}
	}
	*empty = lvc_holdq_front(pl->held, (int)input, partition) == NULL;
	return LVC_OK;
}

lvc_err_t lvc_pipeline_process(lvc_pipeline_t *pl, const lvc_inrec_t *in, char *errstr,
                               size_t errstr_size)
{
	char why[512];
	lvc_err_t err;
	int held = 0, empty = 1;

	pl->stats.in[in->input]++;
	if (pl->held == NULL) {
		return process_one(pl, in, NULL, &held, errstr, errstr_size);
	}
	if (lvc_holdq_count(pl->held) > 0) {
		if ((err = lvc_pipeline_retry_held(pl, errstr, errstr_size)) != LVC_OK) {
			return err;
		}
		empty = lvc_holdq_front(pl->held, (int)in->input, in->partition) == NULL;
		if (!empty) {
			/* The lane still waits: in goes behind what it holds. */
			pl->cur = in;
			pl->source_ok = 0;
			err = hold(pl, in, "behind a held record of the same partition", errstr,
			           errstr_size);
			pl->cur = NULL;
			return err;
		}
	}
	err = process_one(pl, in, NULL, &held, why, sizeof(why));
	if (err != LVC_OK) {
		snprintf(errstr, errstr_size, "%s", why);
		return err;
	}
	if (held) {
		err = hold(pl, in, why, errstr, errstr_size);
	}
	pl->cur = NULL;
	return err;
}

lvc_err_t lvc_pipeline_retry_held(lvc_pipeline_t *pl, char *errstr, size_t errstr_size)
{
	lvc_err_t err;
	int empty;

	if (pl->held == NULL || lvc_holdq_count(pl->held) == 0 || !lvc_wire_may_retry(pl->wire)) {
		return LVC_OK;
	}
	for (size_t i = 0; i < lvc_holdq_lanes(pl->held); i++) {
		int input;
		int32_t partition;

		lvc_holdq_lane(pl->held, i, &input, &partition);
		if ((err = drain(pl, (lvc_input_t)input, partition, &empty, errstr, errstr_size)) !=
		    LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

int lvc_pipeline_hold_offset(const lvc_pipeline_t *pl, lvc_input_t input, int32_t partition,
                             int64_t *offset)
{
	const lvc_held_t *h =
	    pl->held != NULL ? lvc_holdq_front(pl->held, (int)input, partition) : NULL;

	if (h == NULL) {
		return 0;
	}
	*offset = h->offset;
	return 1;
}

lvc_err_t lvc_pipeline_peek_ts(lvc_pipeline_t *pl, const lvc_inrec_t *in, int64_t *ts_us)
{
	const void *v;
	size_t vlen;
	char why[256];
	lvc_err_t err;

	if (in->value == NULL) {
		return LVC_ERR_DECODE;
	}
	v = in->value;
	vlen = in->value_len;
	if (pl->frame_in &&
	    (err = lvc_wire_decode(pl->wire, input_types[in->input], in->value, in->value_len, &v,
	                           &vlen, why, sizeof(why))) != LVC_OK) {
		return err;
	}
	return lvc_codec_peek_ts(pl->codec, input_types[in->input], v, vlen, ts_us);
}

/* Copies s into dst[size]; 0 when it does not fit. */
static int copy_str(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		return 0;
	}
	memcpy(dst, s, n + 1);
	return 1;
}

lvc_err_t lvc_pipeline_peek_tick(lvc_pipeline_t *pl, const lvc_inrec_t *in, lvc_tick_t *tick,
                                 int64_t *ts_us)
{
	char why[256];
	lvc_err_t err;

	tick->ok = 0;
	if (pl->frame_in || in->value == NULL ||
	    (in->input != LVC_IN_TRADES && in->input != LVC_IN_PRICES)) {
		return lvc_pipeline_peek_ts(pl, in, ts_us);
	}
	tick->input = in->input;
	if (in->input == LVC_IN_TRADES) {
		lvc_trade_t *t = &tick->u.trade;

		if ((err = lvc_codec_decode_trade(pl->codec, in->value, in->value_len, t, why,
		                                  sizeof(why))) != LVC_OK) {
			return err;
		}
		*ts_us = t->ts_us;
		tick->has_trade_id = t->trade_id != NULL;
		tick->ok = copy_str(tick->instrument, sizeof(tick->instrument), t->instrument) &&
		           (t->trade_id == NULL ||
		            copy_str(tick->trade_id, sizeof(tick->trade_id), t->trade_id));
	} else {
		lvc_price_t *p = &tick->u.price;

		if ((err = lvc_codec_decode_price(pl->codec, in->value, in->value_len, p, why,
		                                  sizeof(why))) != LVC_OK) {
			return err;
		}
		*ts_us = p->ts_us;
		tick->ok = copy_str(tick->instrument, sizeof(tick->instrument), p->instrument);
	}
	return LVC_OK;
}

lvc_err_t lvc_pipeline_process_tick(lvc_pipeline_t *pl, const lvc_inrec_t *in,
                                    const lvc_tick_t *tick, char *errstr, size_t errstr_size)
{
	lvc_err_t err;
	int held = 0;

	if (tick == NULL || !tick->ok || pl->held != NULL || tick->input != in->input) {
		return lvc_pipeline_process(pl, in, errstr, errstr_size);
	}
	pl->stats.in[in->input]++;
	err = process_one(pl, in, tick, &held, errstr, errstr_size);
	pl->cur = NULL;
	return err;
}

lvc_err_t lvc_pipeline_on_clock(lvc_pipeline_t *pl, int32_t partition, int64_t now_us, char *errstr,
                                size_t errstr_size)
{
	lvc_inrec_t clock = { 0 };

	clock.topic = "wallclock";
	clock.partition = partition;
	clock.offset = now_us;
	pl->cur = &clock;
	pl->source_ok = 0;
	if (lvc_engine_on_clock(pl->eng, partition, now_us) != LVC_OK || pl->sink_failed) {
		pl->cur = NULL;
		LVC_ERRF("producing a stale limit failed");
		return LVC_ERR_FATAL;
	}
	pl->cur = NULL;
	return LVC_OK;
}

void lvc_pipeline_stats(const lvc_pipeline_t *pl, lvc_pipeline_stats_t *out)
{
	*out = pl->stats;
	if (pl->frame_in) {
		lvc_wire_stats_t ws;

		lvc_wire_stats(pl->wire, &ws);
		out->held_now = lvc_holdq_count(pl->held);
		out->registry_down = ws.registry_down;
		out->retry_in_us = ws.retry_in_us;
		out->fetching = ws.fetch_in_flight;
	}
}

const lvc_engine_t *lvc_pipeline_engine(const lvc_pipeline_t *pl)
{
	return pl->eng;
}

lvc_err_t lvc_pipeline_engine_work(lvc_pipeline_t *pl, const char *topic, int32_t partition,
                                   int64_t offset, lvc_engine_work_fn *fn, void *opaque,
                                   char *errstr, size_t errstr_size)
{
	lvc_inrec_t at = { 0 };
	lvc_err_t err;

	at.topic = topic;
	at.partition = partition;
	at.offset = offset;
	pl->cur = &at;
	pl->source_ok = 0;
	err = fn(pl->eng, opaque, errstr, errstr_size);
	pl->cur = NULL;
	if (pl->sink_failed) {
		LVC_ERRF("producing an output of %s:%" PRId32 ":%" PRId64 " failed", topic,
		         partition, offset);
		return LVC_ERR_FATAL;
	}
	return err;
}
