/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal replay`: the deterministic backtest path. Avro container files of
 * Trade, PriceTick, Position and AccountBalance records (the record name in
 * each file's schema tells which) are merged in event time with SPEC §6's
 * tie order (ts_us, then balances, positions, prices, trades, then the
 * order of --input, then the position in the file) and fed through the same
 * pipeline step as the live stage (inputs.c does the merge). Output goes to
 * JSON Lines (--out) in production order, or to the output topics with
 * topics.replay_prefix.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "app/inputs.h"
#include "app/jsonl.h"
#include "app/pipeline.h"
#include "app/stage.h"
#include "core/merge.h"
#include "io/codec.h"
#include "io/kafka.h"
#include "io/log.h"

typedef struct replay_s {
	FILE *out;
	lvc_codec_t *codec; /* for JSON conversion */
	lvc_kafka_t *producer;
	int failed;
	uint64_t written;
} replay_t;

/* Delivers what the replay produced and flushes --out; 0, or -1 logged. */
static int finish_outputs(replay_t *r, const char *out_path)
{
	char why[512];

	if (r->producer != NULL &&
	    (lvc_producer_flush(r->producer, 60000, why, sizeof(why)) != LVC_OK || r->failed)) {
		lvc_error("%s", r->failed ? "a delivery failed" : why);
		return -1;
	}
	if (r->out != NULL && fflush(r->out) != 0) {
		lvc_error("--out %s: write failed", out_path);
		return -1;
	}
	return 0;
}

static json_t *json_bytes_text(const void *p, size_t n)
{
	return p == NULL ? json_null() : json_stringn_nocheck(p, n);
}

/* One produced record as a JSON Lines line (SPEC §7). */
static int write_jsonl(replay_t *r, const lvc_outrec_t *out)
{
	json_t *line = json_object(), *headers = json_object(), *value = NULL;
	char why[512];
	int rc = -1;

	if (out->kind == LVC_OUT_DEAD_LETTER) {
		/* The original bytes, which are not a valid record: base64. */
		value = lvc_json_base64(out->value, out->value_len);
	} else if (lvc_codec_to_json(r->codec, out->type, out->value, out->value_len, &value, why,
	                             sizeof(why)) != LVC_OK) {
		lvc_error("converting an output to JSON: %s", why);
		value = NULL;
	}
	if (line == NULL || headers == NULL || value == NULL) {
		json_decref(value);
		goto done;
	}
	json_object_set_new(line, "topic", json_string(out->topic));
	json_object_set_new(line, "key", json_bytes_text(out->key, out->key_len));
	json_object_set_new(line, "value", value);
	json_object_set_new(headers, "levcal-source", json_string(out->source));
	if (out->error != NULL) {
		json_object_set_new(headers, "levcal-error", json_string(out->error));
	}
	json_object_set(line, "headers", headers);
	if (lvc_json_write(r->out, line) == 0 && fputc('\n', r->out) != EOF) {
		rc = 0;
	}
done:
	json_decref(headers);
	json_decref(line);
	return rc;
}

static void on_delivery(void *opaque, void *msg_opaque, lvc_err_t err, const char *reason)
{
	replay_t *r = opaque;

	(void)msg_opaque;
	if (err != LVC_OK) {
		lvc_error("delivery failed: %s", reason);
		r->failed = 1;
	}
}

static int sink(void *opaque, const lvc_outrec_t *out)
{
	replay_t *r = opaque;
	char why[512];
	lvc_header_t h[2] = { { "levcal-source", out->source }, { "levcal-error", out->error } };

	r->written++;
	if (r->out != NULL) {
		return write_jsonl(r, out);
	}
	if (lvc_produce(r->producer, out->topic, -1, out->key, out->key_len, out->value,
	                out->value_len, h, out->error != NULL ? 2 : 1, NULL, why,
	                sizeof(why)) != LVC_OK) {
		lvc_error("%s", why);
		return -1;
	}
	return r->failed ? -1 : 0;
}

/*
 * Topic replay (--from/--to): the historic topics read by timestamp, never
 * joining or committing for the live group. Every partition of the trades,
 * prices, positions and balances topics is a lane of one event-time merge
 * (core/merge.h) with SPEC §6's classes, so each input partition's records
 * meet the engine in the order the live stage gives them (ties across
 * partitions of a topic go by partition number). A lane starts at the
 * first offset whose record timestamp is >= --from (the tables from their
 * start: a position opened before --from is still open) and ends at the
 * first offset >= --to, or at the end offset (last stable offset) as of
 * the start; the replay ends when every lane ended and drained. --from and
 * --to select by the records' Kafka timestamps (offsets_for_times), which
 * market-data producers set to the event time or close to it; the merge
 * itself orders by ts_us.
 */

#define REPLAY_LANE_HIGH 10000
#define REPLAY_LANE_LOW  5000

typedef struct tlane_s {
	const char *topic;
	int32_t partition;
	lvc_input_t input;
	int64_t start;
	int64_t end;
	int lane; /* merge lane */
	int paused;
	int ended;
} tlane_t;

static int64_t replay_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tlane_end(lvc_merge_t *m, lvc_kafka_t *c, tlane_t *l)
{
	char why[512];

	if (l->ended) {
		return;
	}
	l->ended = 1;
	lvc_merge_lane_set(m, l->lane, LVC_LANE_ENDED, replay_mono_us());
	/* Nothing more is wanted from it. */
	if (!l->paused &&
	    lvc_consumer_pause(c, l->topic, l->partition, 1, why, sizeof(why)) == LVC_OK) {
		l->paused = 1;
	}
}

static void drop_msg(void *opaque, void *item)
{
	(void)opaque;
	lvc_msg_release(item);
	free(item);
}

/* The lanes of every partition of the four input topics with their start
 * and end offsets. */
static int plan_lanes(const lvc_config_t *cfg, const lvc_replay_opts_t *opts, lvc_kafka_t *c,
                      tlane_t **out, size_t *out_n)
{
	const char *topics[4] = { cfg->topics.balances, cfg->topics.positions, cfg->topics.prices,
		                  cfg->topics.trades };
	const lvc_input_t inputs[4] = { LVC_IN_BALANCES, LVC_IN_POSITIONS, LVC_IN_PRICES,
		                        LVC_IN_TRADES };
	int counts[4];
	tlane_t *lanes = NULL;
	lvc_tpo_t *tps = NULL;
	size_t n = 0;
	char why[512];
	int rc = -1;

	for (int t = 0; t < 4; t++) {
		if (lvc_kafka_partition_count(c, topics[t], 15000, &counts[t], why, sizeof(why)) !=
		    LVC_OK) {
			lvc_error("replay input topic %s: %s", topics[t], why);
			return -1;
		}
		n += (size_t)counts[t];
	}
	if (counts[2] != counts[3]) {
		lvc_error(
		    "topics %s (%d partitions) and %s (%d partitions) must be co-partitioned: "
		    "give them the same partition count",
		    topics[3], counts[3], topics[2], counts[2]);
		return -1;
	}
	lanes = calloc(n, sizeof(*lanes));
	tps = calloc(n, sizeof(*tps));
	if (lanes == NULL || tps == NULL) {
		lvc_error("out of memory");
		goto out;
	}
	n = 0;
	for (int t = 0; t < 4; t++) {
		for (int p = 0; p < counts[t]; p++) {
			int64_t lo = 0, hi = 0;

			if (lvc_kafka_watermarks(c, topics[t], p, 15000, &lo, &hi, why,
			                         sizeof(why)) != LVC_OK) {
				lvc_error("%s", why);
				goto out;
			}
			lanes[n].topic = topics[t];
			lanes[n].partition = p;
			lanes[n].input = inputs[t];
			lanes[n].start = lo;
			lanes[n].end = hi;
			n++;
		}
	}
	/* Ticks from --from on; everything up to --to. */
	for (int bound = 0; bound < 2; bound++) {
		int64_t ms = bound == 0 ? opts->from_us / 1000 : opts->to_us / 1000;

		if ((bound == 0 ? opts->from_us : opts->to_us) == INT64_MIN) {
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			tps[i].topic = lanes[i].topic;
			tps[i].partition = lanes[i].partition;
			tps[i].offset = ms < 0 ? 0 : ms;
		}
		if (lvc_kafka_offsets_for_times(c, tps, n, 15000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			int64_t off = tps[i].offset < 0 ? lanes[i].end : tps[i].offset;

			if (bound == 0 &&
			    (lanes[i].input == LVC_IN_PRICES || lanes[i].input == LVC_IN_TRADES)) {
				lanes[i].start = off > lanes[i].start ? off : lanes[i].start;
			} else if (bound == 1) {
				lanes[i].end = off < lanes[i].end ? off : lanes[i].end;
			}
		}
	}
	*out = lanes;
	*out_n = n;
	lanes = NULL;
	rc = 0;
out:
	free(lanes);
	free(tps);
	return rc;
}

static int replay_topics(const lvc_config_t *cfg, const lvc_replay_opts_t *opts)
{
	replay_t r = { 0 };
	lvc_pipeline_t *pl = NULL;
	lvc_kafka_t *c = NULL;
	lvc_merge_t *m = NULL;
	tlane_t *lanes = NULL;
	lvc_tpo_t *tps = NULL;
	size_t n = 0, ended = 0, assigned = 0;
	uint64_t records = 0;
	char why[512];
	int rc = 1;
	lvc_kv_t forced[] = {
		/* Never the live group's: nothing is joined or committed. */
		{ "group.id", "levcal-replay", 0 },         { "enable.auto.commit", "false", 0 },
		{ "enable.auto.offset.store", "false", 0 }, { "enable.partition.eof", "true", 0 },
		{ "isolation.level", "read_committed", 0 },
	};

	if (opts->from_us == INT64_MIN) {
		lvc_error("replay from topics needs --from");
		return 2;
	}
	if (opts->to_us != INT64_MIN && opts->to_us <= opts->from_us) {
		lvc_error("replay: --to must be after --from");
		return 2;
	}
	if ((r.codec = lvc_codec_new(why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	c = lvc_consumer_new(cfg, NULL, 0, forced, sizeof(forced) / sizeof(forced[0]), NULL, 0,
	                     NULL, NULL, why, sizeof(why));
	if (c == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	lvc_consumer_report_eof(c, 1);
	if (plan_lanes(cfg, opts, c, &lanes, &n) != 0) {
		goto out;
	}
	if (opts->out_path != NULL) {
		r.out = strcmp(opts->out_path, "-") == 0 ? stdout : fopen(opts->out_path, "w");
		if (r.out == NULL) {
			lvc_error("--out %s: cannot open for writing", opts->out_path);
			goto out;
		}
	} else {
		lvc_kv_t pforced[] = { { "enable.idempotence", "true", 0 } };

		r.producer =
		    lvc_producer_new(cfg, NULL, 0, pforced, 1, on_delivery, &r, why, sizeof(why));
		if (r.producer == NULL) {
			lvc_error("%s", why);
			goto out;
		}
	}
	/* Inputs come in the configured wire format; JSON Lines need plain
	 * values, the bus gets what the live stage would produce. */
	pl = lvc_pipeline_new_wire(
	    cfg, r.out != NULL ? "" : cfg->topics.replay_prefix, cfg->schema.wire_format,
	    r.out != NULL ? LVC_WIRE_PLAIN : cfg->schema.wire_format, sink, &r, why, sizeof(why));
	if (pl == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	if ((m = lvc_merge_new(0, 0)) == NULL || (tps = calloc(n, sizeof(*tps))) == NULL) {
		lvc_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (lvc_merge_lane_add(m, 0, (uint32_t)lanes[i].input, (uint32_t)lanes[i].partition,
		                       replay_mono_us(), &lanes[i].lane) != LVC_OK) {
			lvc_error("out of memory");
			goto out;
		}
		if (lanes[i].start >= lanes[i].end) {
			lanes[i].ended = 1;
			lvc_merge_lane_set(m, lanes[i].lane, LVC_LANE_ENDED, replay_mono_us());
			ended++;
			continue;
		}
		tps[assigned].topic = lanes[i].topic;
		tps[assigned].partition = lanes[i].partition;
		tps[assigned].offset = lanes[i].start;
		assigned++;
	}
	lvc_info("replaying %zu partition(s) of %s, %s, %s and %s (%zu with records in the "
	         "window)",
	         n, cfg->topics.trades, cfg->topics.prices, cfg->topics.positions,
	         cfg->topics.balances, assigned);
	if (assigned > 0 && lvc_consumer_assign(c, tps, assigned, why, sizeof(why)) != LVC_OK) {
		lvc_error("%s", why);
		goto out;
	}
	while (ended < n || lvc_merge_len(m) > 0) {
		lvc_merge_item_t it;
		lvc_msg_t msg;
		lvc_err_t err;
		size_t i;

		if (opts->stop != NULL && atomic_load(opts->stop)) {
			lvc_warn("interrupted after %" PRIu64 " record(s)", records);
			goto out;
		}
		/* Fill the lanes, then release what the merge allows. */
		for (int k = 0; k < 4096 && ended < n; k++) {
			err = lvc_consumer_poll(c, k == 0 && lvc_merge_len(m) == 0 ? 100 : 0, &msg,
			                        why, sizeof(why));
			if (err == LVC_ERR_NOT_FOUND) {
				break;
			}
			if (err == LVC_ERR_KAFKA) {
				lvc_warn("%s", why);
				break;
			}
			if (err != LVC_OK) {
				lvc_error("%s", why);
				goto out;
			}
			for (i = 0; i < n && !(lanes[i].partition == msg.partition &&
			                       strcmp(lanes[i].topic, msg.topic) == 0);
			     i++) {
			}
			if (i == n || lanes[i].ended || msg.offset >= lanes[i].end) {
				if (i < n && !lanes[i].ended && msg.offset >= lanes[i].end) {
					tlane_end(m, c, &lanes[i]);
					ended++;
				}
				lvc_msg_release(&msg);
				continue;
			}
			if (!msg.eof) {
				lvc_msg_t *q = malloc(sizeof(*q));
				lvc_inrec_t in = { 0 };
				int64_t ts;

				if (q == NULL) {
					lvc_error("out of memory");
					lvc_msg_release(&msg);
					goto out;
				}
				in.input = lanes[i].input;
				in.value = msg.value;
				in.value_len = msg.value_len;
				if (lvc_pipeline_peek_ts(pl, &in, &ts) != LVC_OK) {
					ts = INT64_MIN;
				}
				*q = msg;
				if (lvc_merge_push(m, lanes[i].lane, ts, q, replay_mono_us()) !=
				    LVC_OK) {
					lvc_error("out of memory");
					drop_msg(NULL, q);
					goto out;
				}
				if (lvc_merge_lane_len(m, lanes[i].lane) >= REPLAY_LANE_HIGH &&
				    !lanes[i].paused &&
				    lvc_consumer_pause(c, lanes[i].topic, lanes[i].partition, 1,
				                       why, sizeof(why)) == LVC_OK) {
					lanes[i].paused = 1;
				}
				if (q->offset + 1 >= lanes[i].end) {
					tlane_end(m, c, &lanes[i]);
					ended++;
				}
			} else {
				lvc_msg_release(&msg);
			}
		}
		while (lvc_merge_pop(m, replay_mono_us(), &it)) {
			lvc_msg_t *q = it.item;
			lvc_inrec_t in = { 0 };

			for (i = 0; i < n && lanes[i].lane != it.lane; i++) {
			}
			in.input = lanes[i].input;
			in.topic = q->topic;
			in.partition = q->partition;
			in.offset = q->offset;
			in.key = q->key;
			in.key_len = q->key_len;
			in.value = q->value;
			in.value_len = q->value_len;
			err = lvc_pipeline_process(pl, &in, why, sizeof(why));
			drop_msg(NULL, q);
			records++;
			if (err != LVC_OK) {
				lvc_error("%s", why);
				goto out;
			}
			if (lanes[i].paused && !lanes[i].ended &&
			    lvc_merge_lane_len(m, it.lane) <= REPLAY_LANE_LOW &&
			    lvc_consumer_pause(c, lanes[i].topic, lanes[i].partition, 0, why,
			                       sizeof(why)) == LVC_OK) {
				lanes[i].paused = 0;
			}
		}
	}
	if (finish_outputs(&r, opts->out_path) != 0) {
		goto out;
	}
	lvc_info("replayed %" PRIu64 " record(s) from %zu topic partition(s): %" PRIu64
	         " output record(s)",
	         records, n, r.written);
	rc = 0;
out:
	if (m != NULL) {
		for (size_t i = 0; i < n; i++) {
			lvc_merge_lane_remove(m, lanes[i].lane, drop_msg, NULL);
		}
	}
	lvc_merge_destroy(m);
	lvc_consumer_close(c);
	lvc_pipeline_destroy(pl);
	if (r.out != NULL && r.out != stdout) {
		fclose(r.out);
	}
	lvc_producer_close(r.producer, 0);
	lvc_codec_destroy(r.codec);
	free(lanes);
	free(tps);
	return rc;
}

int lvc_replay(const lvc_config_t *cfg, const lvc_replay_opts_t *opts)
{
	replay_t r = { 0 };
	lvc_pipeline_t *pl = NULL;
	lvc_inputs_t *inp = NULL;
	char why[512];
	int rc = 1;
	lvc_err_t err;

	if (opts->inputs_n == 0) {
		return replay_topics(cfg, opts);
	}
	if ((inp = lvc_inputs_open(opts->inputs, opts->inputs_n, why, sizeof(why))) == NULL) {
		lvc_error("--input %s", why);
		return 2;
	}
	if ((r.codec = lvc_codec_new(why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	if (opts->out_path != NULL) {
		r.out = strcmp(opts->out_path, "-") == 0 ? stdout : fopen(opts->out_path, "w");
		if (r.out == NULL) {
			lvc_error("--out %s: cannot open for writing", opts->out_path);
			goto out;
		}
	} else {
		lvc_kv_t forced[] = { { "enable.idempotence", "true", 0 } };

		r.producer =
		    lvc_producer_new(cfg, NULL, 0, forced, 1, on_delivery, &r, why, sizeof(why));
		if (r.producer == NULL) {
			lvc_error("%s", why);
			goto out;
		}
	}
	/* --out names the topics the live stage would produce to; producing to
	 * the bus uses the replay prefix so a backtest never mixes with live
	 * output. File records are plain Avro (the container file's schema is
	 * resolved when it is read); what goes to the bus is framed as the live
	 * stage frames it, JSON Lines need plain values. */
	pl = lvc_pipeline_new_wire(
	    cfg, r.out != NULL ? "" : cfg->topics.replay_prefix, LVC_WIRE_PLAIN,
	    r.out != NULL ? LVC_WIRE_PLAIN : cfg->schema.wire_format, sink, &r, why, sizeof(why));
	if (pl == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	for (;;) {
		lvc_inrec_t in;
		int64_t ts_us;

		err = lvc_inputs_next(inp, &in, &ts_us, why, sizeof(why));
		if (err == LVC_ERR_NOT_FOUND) {
			break;
		}
		if (err != LVC_OK) {
			lvc_error("--input %s", why);
			goto out;
		}
		if (opts->stop != NULL && atomic_load(opts->stop)) {
			lvc_warn("interrupted after %" PRIu64 " record(s)", lvc_inputs_count(inp));
			goto out;
		}
		if (lvc_pipeline_process(pl, &in, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
	}
	if (finish_outputs(&r, opts->out_path) != 0) {
		goto out;
	}
	lvc_info("replayed %" PRIu64 " record(s) from %zu file(s): %" PRIu64 " output record(s)",
	         lvc_inputs_count(inp), opts->inputs_n, r.written);
	rc = 0;
out:
	lvc_pipeline_destroy(pl);
	if (r.out != NULL && r.out != stdout) {
		fclose(r.out);
	}
	lvc_producer_close(r.producer, 0);
	lvc_codec_destroy(r.codec);
	lvc_inputs_close(inp);
	return rc;
}
