/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's decode-once path for ticks (lvc_pipeline_peek_tick() and
 * lvc_pipeline_process_tick(), which `levcal run` uses while its
 * event-time merge holds records) against the ordinary path
 * (lvc_pipeline_process()): over one stream of trades, marks and other
 * price ticks on three instruments with positions, plus poison records,
 * names and trade ids too long to be kept in a tick, the two give the same
 * outputs, byte for byte and in the same order. The tick path peeks a
 * whole chunk before it processes any of it, as the merge does, so that a
 * kept tick must survive the codec decoding other records meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../unit/test_rng.h"
#include "app/pipeline.h"
#include "io/codec.h"
#include "io/config.h"

/* Events come often with this config: one-step leverage changes on a noisy
 * 2 s EWMA, warm after 5 samples. */
static const char *cfg_yaml = "volatility: {estimator: ewma, sample_interval: 100ms, "
                              "half_life: 2s}\n"
                              "leverage:\n"
                              "  warmup_samples: 5\n"
                              "  relax_after: 1s\n"
                              "  im_multiplier: 2.0\n"
                              "  max_leverage_cap: 50\n"
                              "  steps: [1, 2, 3, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, "
                              "20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 35, 40, 50]\n";

typedef struct out_s {
	lvc_out_kind_t kind;
	char topic[64];
	char source[128];
	char error[256];
	size_t key_len, value_len;
	uint8_t key[128];
	uint8_t value[1024];
} out_t;

typedef struct outs_s {
	out_t *v;
	size_t n, cap;
} outs_t;

static int sink(void *opaque, const lvc_outrec_t *out)
{
	outs_t *o = opaque;
	out_t *r;

	if (o->n == o->cap) {
		o->cap = o->cap == 0 ? 1024 : 2 * o->cap;
		o->v = realloc(o->v, o->cap * sizeof(*o->v));
		cr_assert_not_null(o->v);
	}
	r = &o->v[o->n++];
	memset(r, 0, sizeof(*r));
	r->kind = out->kind;
	snprintf(r->topic, sizeof(r->topic), "%s", out->topic);
	snprintf(r->source, sizeof(r->source), "%s", out->source);
	snprintf(r->error, sizeof(r->error), "%s", out->error != NULL ? out->error : "");
	cr_assert_leq(out->key_len, sizeof(r->key));
	cr_assert_leq(out->value_len, sizeof(r->value));
	r->key_len = out->key_len;
	r->value_len = out->value_len;
	if (out->key_len > 0) {
		memcpy(r->key, out->key, out->key_len);
	}
	memcpy(r->value, out->value, out->value_len);
	return 0;
}

/* One input record, bytes owned here. */
typedef struct rec_s {
	lvc_input_t input;
	int32_t partition;
	char key[96];
	uint8_t value[256];
	size_t value_len;
} rec_t;

#define N_RECS 12000

static size_t make_stream(lvc_codec_t *codec, rec_t *recs)
{
	static const char *const names[] = {
		"BTC-PERP", "ETH-PERP",
		"A-NAME-OF-SEVENTY-BYTES-THAT-NO-TICK-KEEPS-0123456789-0123456789-0123456789"
	};
	static const char long_id[] = "a-trade-id-longer-than-the-sixty-four-bytes-a-tick-keeps-"
	                              "0123456789abcdef";
	double mid[3] = { 60000, 3000, 2.5 };
	rng_t g = { 42 };
	int64_t t = 1700000000000000;
	size_t n = 0;
	char id[32];

	for (int i = 0; n < N_RECS; i++) {
		int k = (int)(rng_unit(&g) * 3);
		rec_t *r = &recs[n++];
		const void *buf;
		size_t len;

		t += 500 + (int64_t)(rng_unit(&g) * 2000);
		mid[k] *= exp(1.5e-5 * rng_normal(&g)); /* ~100% a year */
		r->partition = k == 1 ? 1 : 0;
		snprintf(r->key, sizeof(r->key), "%s", names[k]);
		if (i % 7 == 0) {
			lvc_price_t p = { names[k], t,
				          i % 21 == 0 ? LVC_PRICE_LAST : LVC_PRICE_MARK, mid[k] };

			r->input = LVC_IN_PRICES;
			cr_assert_eq(lvc_codec_encode_price(codec, &p, &buf, &len), LVC_OK);
		} else {
			lvc_trade_t tr = { names[k],
				           t,
				           mid[k] * (1 + 1e-4 * rng_normal(&g)),
				           1.5,
				           i % 2 ? LVC_SIDE_BUY : LVC_SIDE_SELL,
				           NULL };

			snprintf(id, sizeof(id), "t%d", i);
			tr.trade_id = i % 50 == 0 ? long_id : i % 3 == 0 ? NULL : id;
			r->input = LVC_IN_TRADES;
			cr_assert_eq(lvc_codec_encode_trade(codec, &tr, &buf, &len), LVC_OK);
		}
		cr_assert_leq(len, sizeof(r->value));
		memcpy(r->value, buf, len);
		r->value_len = len;
		if (i % 997 == 0) {
			r->value_len = len / 2; /* poison: truncated */
		}
	}
	return n;
}

static void positions(lvc_pipeline_t *pl, lvc_codec_t *codec)
{
	static const char *const names[] = { "BTC-PERP", "ETH-PERP" };
	char account[32], key[64], err[256];

	for (int j = 0; j < 40; j++) {
		lvc_position_t pos = {
			account, names[j % 2], 1700000000000000 - 1, 0, 0, LVC_MARGIN_ISOLATED, 0
		};
		const void *buf;
		size_t len;
		lvc_inrec_t in = { 0 };

		snprintf(account, sizeof(account), "acct-%d", j);
		snprintf(key, sizeof(key), "%s|%s", account, pos.instrument);
		pos.entry_price = j % 2 ? 3000 : 60000;
		pos.size = (j % 4 < 2 ? 1 : -1) * 10000.0 / pos.entry_price;
		/* Leverage 10x .. 49x: some near liquidation as prices move. */
		pos.collateral = 10000.0 / (10 + j);
		cr_assert_eq(lvc_codec_encode_position(codec, &pos, &buf, &len), LVC_OK);
		in.input = LVC_IN_POSITIONS;
		in.topic = "risk.positions";
		in.offset = j;
		in.key = key;
		in.key_len = strlen(key);
		in.value = buf;
		in.value_len = len;
		cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
	}
}

static lvc_inrec_t inrec(const rec_t *r, size_t i)
{
	lvc_inrec_t in = { 0 };

	in.input = r->input;
	in.topic = r->input == LVC_IN_PRICES ? "market.prices" : "market.trades";
	in.partition = r->partition;
	in.offset = (int64_t)i;
	in.key = r->key;
	in.key_len = strlen(r->key);
	in.value = r->value;
	in.value_len = r->value_len;
	return in;
}

Test(pipeline_tick, gives_the_outputs_of_the_ordinary_path_byte_for_byte)
{
	char err[512];
	lvc_config_t *cfg = lvc_config_load_string(cfg_yaml, "t.yaml", err, sizeof(err));
	lvc_codec_t *codec = lvc_codec_new(err, sizeof(err));
	rec_t *recs = calloc(N_RECS, sizeof(*recs));
	lvc_tick_t *ticks = calloc(64, sizeof(*ticks));
	outs_t a = { 0 }, b = { 0 };
	lvc_pipeline_t *pa, *pb;
	size_t n, kept = 0, not_kept = 0, limits = 0, warnings = 0, dead = 0;

	cr_assert_not_null(cfg, "%s", err);
	cr_assert_not_null(codec, "%s", err);
	cr_assert_not_null(recs);
	cr_assert_not_null(ticks);
	n = make_stream(codec, recs);
	pa = lvc_pipeline_new(cfg, "", sink, &a, err, sizeof(err));
	pb = lvc_pipeline_new(cfg, "", sink, &b, err, sizeof(err));
	cr_assert_not_null(pa, "%s", err);
	cr_assert_not_null(pb, "%s", err);
	positions(pa, codec);
	positions(pb, codec);
	a.n = b.n = 0;

	for (size_t i = 0; i < n; i++) {
		lvc_inrec_t in = inrec(&recs[i], i);

		cr_assert_eq(lvc_pipeline_process(pa, &in, err, sizeof(err)), LVC_OK, "%s", err);
	}
	/* Chunks of 64: every tick peeked before the first is processed. */
	for (size_t c = 0; c < n; c += 64) {
		size_t m = n - c < 64 ? n - c : 64;

		for (size_t j = 0; j < m; j++) {
			lvc_inrec_t in = inrec(&recs[c + j], c + j);
			int64_t ts;

			if (lvc_pipeline_peek_tick(pb, &in, &ticks[j], &ts) == LVC_OK &&
			    ticks[j].ok) {
				cr_assert_eq(ts, ticks[j].input == LVC_IN_TRADES
				                     ? ticks[j].u.trade.ts_us
				                     : ticks[j].u.price.ts_us);
			}
			kept += ticks[j].ok != 0;
			not_kept += ticks[j].ok == 0;
		}
		for (size_t j = 0; j < m; j++) {
			lvc_inrec_t in = inrec(&recs[c + j], c + j);

			cr_assert_eq(
			    lvc_pipeline_process_tick(pb, &in, &ticks[j], err, sizeof(err)), LVC_OK,
			    "%s", err);
		}
	}

	cr_assert_eq(b.n, a.n, "%zu outputs through ticks, %zu through the ordinary path", b.n,
	             a.n);
	for (size_t i = 0; i < a.n; i++) {
		const out_t *x = &a.v[i], *y = &b.v[i];

		cr_assert_eq(y->kind, x->kind, "output %zu", i);
		cr_assert_str_eq(y->topic, x->topic, "output %zu", i);
		cr_assert_str_eq(y->source, x->source, "output %zu", i);
		cr_assert_str_eq(y->error, x->error, "output %zu", i);
		cr_assert_eq(y->key_len, x->key_len, "output %zu", i);
		cr_assert_eq(memcmp(y->key, x->key, x->key_len), 0, "output %zu", i);
		cr_assert_eq(y->value_len, x->value_len, "output %zu", i);
		cr_assert_eq(memcmp(y->value, x->value, x->value_len), 0, "output %zu", i);
		limits += x->kind == LVC_OUT_LIMIT;
		warnings += x->kind == LVC_OUT_WARNING;
		dead += x->kind == LVC_OUT_DEAD_LETTER;
	}
	/* The stream exercised what it is meant to. */
	cr_assert_gt(kept, n / 2);
	cr_assert_gt(not_kept, 100, "long names, long ids and poison take the ordinary path");
	cr_assert_gt(limits, 10, "%zu limits", limits);
	cr_assert_gt(warnings, 0);
	cr_assert_geq(dead, 12, "%zu dead letters", dead);

	lvc_pipeline_destroy(pa);
	lvc_pipeline_destroy(pb);
	lvc_codec_destroy(codec);
	lvc_config_destroy(cfg);
	free(a.v);
	free(b.v);
	free(recs);
	free(ticks);
}
