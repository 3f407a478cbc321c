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

#include <jansson.h>

#include "app/inputs.h"
#include "app/jsonl.h"
#include "app/pipeline.h"
#include "app/stage.h"
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

static char *base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc((n + 2) / 3 * 4 + 1), *o = s;

	if (s == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		v |= i + 1 < n ? (unsigned)p[i + 1] << 8 : 0;
		v |= i + 2 < n ? p[i + 2] : 0;
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return s;
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
		char *b = base64(out->value, out->value_len);

		value = b != NULL ? json_string(b) : NULL;
		free(b);
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

int lvc_replay(const lvc_config_t *cfg, const lvc_replay_opts_t *opts)
{
	replay_t r = { 0 };
	lvc_pipeline_t *pl = NULL;
	lvc_inputs_t *inp = NULL;
	char why[512];
	int rc = 1;
	lvc_err_t err;

	if (opts->inputs_n == 0) {
		lvc_error("replay from topics (--from/--to) is not available in this version; "
		          "give --input files");
		return 2;
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
	 * output. */
	pl = lvc_pipeline_new(cfg, r.out != NULL ? "" : cfg->topics.replay_prefix, sink, &r, why,
	                      sizeof(why));
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
	if (r.producer != NULL &&
	    (lvc_producer_flush(r.producer, 60000, why, sizeof(why)) != LVC_OK || r.failed)) {
		lvc_error("%s", r.failed ? "a delivery failed" : why);
		goto out;
	}
	if (r.out != NULL && fflush(r.out) != 0) {
		lvc_error("--out %s: write failed", opts->out_path);
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
