/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the Avro codec (src/io/codec.c and friends): round trips of every
 * record type, golden bytes made by hand from the Avro specification
 * (tests/data/codec/), every kind of malformed input with its exact error
 * text, memory that stays flat under poison, the JSON form of SPEC §7, and
 * container files including an evolved writer schema.
 *
 * Malformed inputs are built here byte by byte (struct bb), independently of
 * the encoder under test.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "io/avro_alloc.h"
#include "io/codec.h"
#include "io/codec_internal.h"

/* ---- helpers ---------------------------------------------------------- */

static lvc_codec_t *codec;
static char errstr[512];

static void setup(void)
{
	codec = lvc_codec_new(errstr, sizeof(errstr));
	cr_assert_not_null(codec, "lvc_codec_new: %s", errstr);
	errstr[0] = '\0';
}

static void teardown(void)
{
	lvc_codec_destroy(codec);
	codec = NULL;
}

/* A byte builder: the Avro binary encoding written out by hand. */
struct bb {
	uint8_t b[8192];
	size_t n;
};

static void put_raw(struct bb *bb, const void *p, size_t n)
{
	cr_assert_leq(bb->n + n, sizeof(bb->b));
	memcpy(bb->b + bb->n, p, n);
	bb->n += n;
}

static void put_byte(struct bb *bb, uint8_t v)
{
	put_raw(bb, &v, 1);
}

static void put_zz(struct bb *bb, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u >= 0x80) {
		put_byte(bb, (uint8_t)(u | 0x80));
		u >>= 7;
	}
	put_byte(bb, (uint8_t)u);
}

static void put_bytes(struct bb *bb, const void *p, size_t n)
{
	put_zz(bb, (int64_t)n);
	put_raw(bb, p, n);
}

static void put_str(struct bb *bb, const char *s)
{
	put_bytes(bb, s, strlen(s));
}

static void put_double(struct bb *bb, double d)
{
	uint8_t le[8];
	uint64_t u;

	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++) {
		le[i] = (uint8_t)(u >> (8 * i));
	}
	put_raw(bb, le, 8);
}

/* A Trade up to (not including) the side enum. */
static void put_trade_head(struct bb *bb)
{
	put_str(bb, "BTC");
	put_zz(bb, 1);
	put_double(bb, 1.0);
	put_double(bb, 1.0);
}

/* A LeverageLimit up to (not including) the tiers array. */
static void put_limit_head(struct bb *bb)
{
	put_str(bb, "X");
	put_zz(bb, 1);
	put_zz(bb, 1);
	put_zz(bb, 0);
	put_zz(bb, 0);
	put_str(bb, "e");
	for (int i = 0; i < 5; i++) {
		put_double(bb, 0.5);
	}
	put_zz(bb, 0); /* previous_max_leverage: null */
}

static void put_tier(struct bb *bb, double k)
{
	for (int i = 0; i < 5; i++) {
		put_double(bb, k + i);
	}
}

static size_t load_hex(const char *name, uint8_t *out, size_t cap)
{
	char path[1024];
	FILE *f;
	size_t n = 0;
	unsigned v;

	snprintf(path, sizeof(path), "%s/codec/%s", LVC_DATA_DIR, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	while (n < cap && fscanf(f, "%2x", &v) == 1) {
		out[n++] = (uint8_t)v;
	}
	fclose(f);
	return n;
}

static lvc_trade_t sample_trade(void)
{
	lvc_trade_t t = { .instrument = "BTC-PERP",
		          .ts_us = 1700000000000000,
		          .price = 50000.5,
		          .qty = 0.25,
		          .side = LVC_SIDE_SELL,
		          .trade_id = "t-42" };
	return t;
}

static lvc_limit_t sample_limit(void)
{
	lvc_limit_t l;

	memset(&l, 0, sizeof(l));
	l.instrument = "ETH-PERP";
	l.ts_us = 1700000000123456;
	l.seq = 7;
	l.status = LVC_STATUS_ACTIVE;
	l.reason = LVC_REASON_TIGHTEN;
	l.estimator = "max";
	l.sigma_ann = 0.75;
	l.sigma_horizon = 0.0078125;
	l.imr = 0.05;
	l.mmr = 0.025;
	l.max_leverage = 20;
	l.has_previous_max_leverage = 1;
	l.previous_max_leverage = 25;
	l.tiers_n = 2;
	l.tiers[0] = (lvc_tier_t){ 1e6, 20, 0.05, 0.025, 0 };
	l.tiers[1] = (lvc_tier_t){ 1e7, 10, 0.1, 0.05, 25000 };
	l.components_n = 2;
	l.components[0] = (lvc_component_t){ "ewma", 0.75 };
	l.components[1] = (lvc_component_t){ "yang_zhang", 0.5 };
	l.config_id = "cfg-1";
	return l;
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		cr_assert(a == b, "expected both NULL: %s vs %s", a ? a : "NULL", b ? b : "NULL");
	} else {
		cr_assert_str_eq(a, b);
	}
}

static void assert_limit_eq(const lvc_limit_t *a, const lvc_limit_t *b)
{
	cr_assert_str_eq(a->instrument, b->instrument);
	cr_assert_eq(a->ts_us, b->ts_us);
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->status, b->status);
	cr_assert_eq(a->reason, b->reason);
	cr_assert_str_eq(a->estimator, b->estimator);
	cr_assert_eq(a->sigma_ann, b->sigma_ann);
	cr_assert_eq(a->sigma_horizon, b->sigma_horizon);
	cr_assert_eq(a->imr, b->imr);
	cr_assert_eq(a->mmr, b->mmr);
	cr_assert_eq(a->max_leverage, b->max_leverage);
	cr_assert_eq(a->has_previous_max_leverage, b->has_previous_max_leverage);
	if (a->has_previous_max_leverage) {
		cr_assert_eq(a->previous_max_leverage, b->previous_max_leverage);
	}
	cr_assert_eq(a->tiers_n, b->tiers_n);
	for (size_t i = 0; i < a->tiers_n; i++) {
		cr_assert_eq(memcmp(&a->tiers[i], &b->tiers[i], sizeof(lvc_tier_t)), 0, "tier %zu",
		             i);
	}
	cr_assert_eq(a->components_n, b->components_n);
	for (size_t i = 0; i < a->components_n; i++) {
		cr_assert_str_eq(a->components[i].estimator, b->components[i].estimator);
		cr_assert_eq(a->components[i].sigma_ann, b->components[i].sigma_ann);
	}
	cr_assert_str_eq(a->config_id, b->config_id);
}

/* Decodes bb as a Trade and asserts the error code and text. */
static void assert_trade_refused(const struct bb *bb, lvc_err_t code, const char *text)
{
	lvc_trade_t t;
	lvc_err_t err = lvc_codec_decode_trade(codec, bb->b, bb->n, &t, errstr, sizeof(errstr));

	cr_assert_eq(err, code, "got %d (%s), expected %d; errstr: %s", err, lvc_err2str(err), code,
	             errstr);
	cr_assert_str_eq(errstr, text);
}

static void assert_limit_refused(const struct bb *bb, lvc_err_t code, const char *text)
{
	lvc_limit_t l;
	lvc_err_t err = lvc_codec_decode_limit(codec, bb->b, bb->n, &l, errstr, sizeof(errstr));

	cr_assert_eq(err, code, "got %d (%s), expected %d; errstr: %s", err, lvc_err2str(err), code,
	             errstr);
	cr_assert_str_eq(errstr, text);
}

/* ---- round trips ------------------------------------------------------ */

TestSuite(codec, .init = setup, .fini = teardown);

Test(codec, round_trips_a_trade_with_and_without_trade_id)
{
	lvc_trade_t in = sample_trade(), out;
	const void *buf;
	size_t len;

	for (int pass = 0; pass < 2; pass++) {
		in.trade_id = pass == 0 ? "t-42" : NULL;
		in.side = pass == 0 ? LVC_SIDE_SELL : LVC_SIDE_UNKNOWN;
		cr_assert_eq(lvc_codec_encode_trade(codec, &in, &buf, &len), LVC_OK);
		cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &out, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_str_eq(out.instrument, in.instrument);
		cr_assert_eq(out.ts_us, in.ts_us);
		cr_assert_eq(out.price, in.price);
		cr_assert_eq(out.qty, in.qty);
		cr_assert_eq(out.side, in.side);
		assert_str_eq_or_null(out.trade_id, in.trade_id);
	}
}

Test(codec, round_trips_a_price_tick_of_every_kind)
{
	for (int k = 0; k < LVC_PRICE__COUNT; k++) {
		lvc_price_t in = { "ETH-PERP", 1700000000000001 + k, (lvc_price_kind_t)k,
			           1234.5678 + k },
		            out;
		const void *buf;
		size_t len;

		cr_assert_eq(lvc_codec_encode_price(codec, &in, &buf, &len), LVC_OK);
		cr_assert_eq(lvc_codec_decode_price(codec, buf, len, &out, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_str_eq(out.instrument, in.instrument);
		cr_assert_eq(out.ts_us, in.ts_us);
		cr_assert_eq(out.kind, in.kind);
		cr_assert_eq(out.price, in.price);
	}
}

Test(codec, round_trips_a_position_including_a_closed_one)
{
	lvc_position_t cases[] = {
		{ "acct-1", "BTC-PERP", 5, -0.75, 42000.25, LVC_MARGIN_ISOLATED, 1500 },
		{ "acct-2", "ETH-PERP", 6, 0, 0, LVC_MARGIN_CROSS, 0 },
	};

	for (size_t i = 0; i < 2; i++) {
		lvc_position_t out;
		const void *buf;
		size_t len;

		cr_assert_eq(lvc_codec_encode_position(codec, &cases[i], &buf, &len), LVC_OK);
		cr_assert_eq(
		    lvc_codec_decode_position(codec, buf, len, &out, errstr, sizeof(errstr)),
		    LVC_OK, "%s", errstr);
		cr_assert_str_eq(out.account, cases[i].account);
		cr_assert_str_eq(out.instrument, cases[i].instrument);
		cr_assert_eq(out.ts_us, cases[i].ts_us);
		cr_assert_eq(out.size, cases[i].size);
		cr_assert_eq(out.entry_price, cases[i].entry_price);
		cr_assert_eq(out.margin_mode, cases[i].margin_mode);
		cr_assert_eq(out.collateral, cases[i].collateral);
	}
}

Test(codec, round_trips_an_account_balance_with_negative_collateral)
{
	lvc_balance_t in = { "acct-9", 99, -1234.5 }, out;
	const void *buf;
	size_t len;

	cr_assert_eq(lvc_codec_encode_balance(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_balance(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	cr_assert_str_eq(out.account, "acct-9");
	cr_assert_eq(out.ts_us, 99);
	cr_assert_eq(out.collateral, -1234.5);
}

Test(codec, round_trips_a_leverage_limit_with_full_arrays)
{
	static char names[LVC_MAX_COMPONENTS][16];
	lvc_limit_t in = sample_limit(), out;
	const void *buf;
	size_t len;

	in.tiers_n = LVC_MAX_TIERS;
	for (size_t i = 0; i < LVC_MAX_TIERS; i++) {
		in.tiers[i] = (lvc_tier_t){ 1e6 * (double)(i + 1), 100.0 / (double)(i + 1),
			                    0.01 * (double)(i + 1), 0.005 * (double)(i + 1),
			                    10.0 * (double)i };
	}
	in.components_n = LVC_MAX_COMPONENTS;
	for (size_t i = 0; i < LVC_MAX_COMPONENTS; i++) {
		snprintf(names[i], sizeof(names[i]), "est-%zu", i);
		in.components[i] = (lvc_component_t){ names[i], 0.1 * (double)i };
	}
	cr_assert_eq(lvc_codec_encode_limit(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, buf, len, &out, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	assert_limit_eq(&out, &in);
}

Test(codec, round_trips_a_leverage_limit_with_empty_arrays_and_null_previous)
{
	lvc_limit_t in = sample_limit(), out;
	const void *buf;
	size_t len;

	in.tiers_n = 0;
	in.components_n = 0;
	in.has_previous_max_leverage = 0;
	in.status = LVC_STATUS_STALE;
	in.reason = LVC_REASON_RECOVERED;
	cr_assert_eq(lvc_codec_encode_limit(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, buf, len, &out, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	assert_limit_eq(&out, &in);
	/* The same codec encodes a bigger record after a smaller one. */
	in = sample_limit();
	cr_assert_eq(lvc_codec_encode_limit(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, buf, len, &out, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	assert_limit_eq(&out, &in);
}

Test(codec, round_trips_a_liquidation_warning_with_and_without_liquidation_price)
{
	for (int pass = 0; pass < 2; pass++) {
		lvc_warning_t in = { "acct-3",
			             "BTC-PERP",
			             123456789,
			             4,
			             LVC_LEVEL_CRITICAL,
			             LVC_LEVEL_WARNING,
			             30000,
			             pass == 0,
			             pass == 0 ? 29000.5 : 0,
			             pass == 0 ? 0.8 : INFINITY,
			             1200,
			             900,
			             0.75,
			             -2,
			             0.9,
			             pass == 0 ? 0.42 : 0 },
		              out;
		const void *buf;
		size_t len;

		cr_assert_eq(lvc_codec_encode_warning(codec, &in, &buf, &len), LVC_OK);
		cr_assert_eq(
		    lvc_codec_decode_warning(codec, buf, len, &out, errstr, sizeof(errstr)), LVC_OK,
		    "%s", errstr);
		cr_assert_str_eq(out.account, in.account);
		cr_assert_str_eq(out.instrument, in.instrument);
		cr_assert_eq(out.ts_us, in.ts_us);
		cr_assert_eq(out.seq, in.seq);
		cr_assert_eq(out.level, in.level);
		cr_assert_eq(out.previous_level, in.previous_level);
		cr_assert_eq(out.mark_price, in.mark_price);
		cr_assert_eq(out.has_liquidation_price, in.has_liquidation_price);
		cr_assert_eq(out.liquidation_price, in.liquidation_price);
		cr_assert_eq(out.distance_sigma, in.distance_sigma);
		cr_assert_eq(out.equity, in.equity);
		cr_assert_eq(out.maintenance_margin, in.maintenance_margin);
		cr_assert_eq(out.margin_ratio, in.margin_ratio);
		cr_assert_eq(out.size, in.size);
		cr_assert_eq(out.sigma_ann, in.sigma_ann);
		cr_assert_eq(out.hit_probability, in.hit_probability);
	}
}

Test(codec, refuses_to_encode_a_record_without_its_strings_or_with_a_bad_enum)
{
	lvc_trade_t t = sample_trade();
	lvc_limit_t l = sample_limit();
	const void *buf;
	size_t len;

	t.instrument = NULL;
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_ERR_INVALID);
	t = sample_trade();
	t.side = (lvc_side_t)7;
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_ERR_INVALID);
	l.tiers_n = LVC_MAX_TIERS + 1;
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_ERR_INVALID);
	l = sample_limit();
	l.components[1].estimator = NULL;
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_ERR_INVALID);
}

Test(codec, names_record_types_by_full_or_short_name)
{
	lvc_rec_type_t t = LVC_REC__COUNT;

	cr_assert_eq(lvc_rec_type_from_name("levcal.Trade", &t), 0);
	cr_assert_eq(t, LVC_REC_TRADE);
	cr_assert_eq(lvc_rec_type_from_name("AccountBalance", &t), 0);
	cr_assert_eq(t, LVC_REC_BALANCE);
	cr_assert_eq(lvc_rec_type_from_name("levcal.StateSnapshot", &t), 0);
	cr_assert_eq(t, LVC_REC_STATE);
	cr_assert_eq(lvc_rec_type_from_name("other.Trade", &t), -1);
	cr_assert_eq(lvc_rec_type_from_name("trade", &t), -1);
	cr_assert_str_eq(lvc_rec_type_names[LVC_REC_WARNING], "levcal.LiquidationWarning");
	cr_assert_not_null(strstr(lvc_codec_schema_json(LVC_REC_LIMIT), "\"LeverageLimit\""));
}

/* ---- golden bytes ----------------------------------------------------- */

TestSuite(codec_golden, .init = setup, .fini = teardown);

Test(codec_golden, encodes_a_trade_to_the_hand_made_bytes)
{
	uint8_t golden[256];
	size_t n = load_hex("trade.hex", golden, sizeof(golden));
	lvc_trade_t t = sample_trade();
	const void *buf;
	size_t len;

	cr_assert_eq(n, 40);
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(len, n);
	cr_assert_eq(memcmp(buf, golden, n), 0);
}

Test(codec_golden, decodes_the_hand_made_trade_bytes)
{
	uint8_t golden[256];
	size_t n = load_hex("trade.hex", golden, sizeof(golden));
	lvc_trade_t t;

	cr_assert_eq(lvc_codec_decode_trade(codec, golden, n, &t, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_assert_str_eq(t.instrument, "BTC-PERP");
	cr_assert_eq(t.ts_us, 1700000000000000);
	cr_assert_eq(t.price, 50000.5);
	cr_assert_eq(t.qty, 0.25);
	cr_assert_eq(t.side, LVC_SIDE_SELL);
	cr_assert_str_eq(t.trade_id, "t-42");
}

Test(codec_golden, encodes_and_decodes_leverage_limits_as_the_hand_made_bytes)
{
	uint8_t golden[512];
	size_t n = load_hex("limit.hex", golden, sizeof(golden));
	lvc_limit_t in = sample_limit(), out;
	const void *buf;
	size_t len;

	cr_assert_eq(n, 195);
	cr_assert_eq(lvc_codec_encode_limit(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(len, n);
	cr_assert_eq(memcmp(buf, golden, n), 0);
	cr_assert_eq(lvc_codec_decode_limit(codec, golden, n, &out, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	assert_limit_eq(&out, &in);

	n = load_hex("limit_empty.hex", golden, sizeof(golden));
	cr_assert_eq(n, 62);
	memset(&in, 0, sizeof(in));
	in.instrument = "SOL-PERP";
	in.seq = 1;
	in.status = LVC_STATUS_WARMING_UP;
	in.reason = LVC_REASON_INITIAL;
	in.estimator = "ewma";
	in.sigma_ann = 1.0;
	in.sigma_horizon = 0.010682;
	in.imr = 0.5;
	in.mmr = 0.25;
	in.max_leverage = 2;
	in.config_id = "";
	cr_assert_eq(lvc_codec_encode_limit(codec, &in, &buf, &len), LVC_OK);
	cr_assert_eq(len, n);
	cr_assert_eq(memcmp(buf, golden, n), 0);
	cr_assert_eq(lvc_codec_decode_limit(codec, golden, n, &out, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	assert_limit_eq(&out, &in);
}

Test(codec_golden, accepts_array_blocks_with_a_negative_count_and_their_byte_size)
{
	struct bb bb = { .n = 0 };
	lvc_limit_t l;

	/* Avro spec: a negative count is followed by the block's byte size. */
	put_limit_head(&bb);
	put_zz(&bb, -1);
	put_zz(&bb, 40);
	put_tier(&bb, 1);
	put_zz(&bb, -2);
	put_zz(&bb, 80);
	put_tier(&bb, 10);
	put_tier(&bb, 20);
	put_zz(&bb, 0);
	put_zz(&bb, 0); /* components */
	put_str(&bb, "c");
	cr_assert_eq(lvc_codec_decode_limit(codec, bb.b, bb.n, &l, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_assert_eq(l.tiers_n, 3);
	cr_assert_eq(l.tiers[0].notional_cap, 1);
	cr_assert_eq(l.tiers[2].maintenance_deduction, 24);
	cr_assert_str_eq(l.config_id, "c");
}

/* ---- malformed bytes -------------------------------------------------- */

TestSuite(codec_refuse, .init = setup, .fini = teardown);

Test(codec_refuse, refuses_a_string_length_beyond_the_bytes_present)
{
	struct bb bb = { .n = 0 };

	put_zz(&bb, 209715200);
	put_raw(&bb, "xxxxxxxxxxxx", 12);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.instrument: string length 209715200 exceeds the 12 bytes left");
}

Test(codec_refuse, refuses_a_negative_string_length)
{
	struct bb bb = { .n = 0 };

	put_zz(&bb, -3);
	put_raw(&bb, "abcdefgh", 8);
	assert_trade_refused(&bb, LVC_ERR_DECODE, "Trade.instrument: string length -3 is negative");
}

Test(codec_refuse, refuses_a_string_shorter_than_its_length)
{
	struct bb bb = { .n = 0 };

	put_zz(&bb, 10);
	put_raw(&bb, "abc", 3);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.instrument: string length 10 exceeds the 3 bytes left");
}

Test(codec_refuse, refuses_an_out_of_range_enum_index)
{
	struct bb bb = { .n = 0 };

	put_trade_head(&bb);
	put_zz(&bb, 3);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.side: enum index 3 is out of range: Side has 3 symbols");
	bb.n = 0;
	put_trade_head(&bb);
	put_zz(&bb, -1);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.side: enum index -1 is out of range: Side has 3 symbols");
}

Test(codec_refuse, refuses_an_out_of_range_union_branch)
{
	struct bb bb = { .n = 0 };

	put_trade_head(&bb);
	put_zz(&bb, 0);
	put_zz(&bb, 2);
	put_str(&bb, "t");
	assert_trade_refused(
	    &bb, LVC_ERR_DECODE,
	    "Trade.trade_id: union branch 2 is out of range: the union has 2 branches");
}

Test(codec_refuse, refuses_a_truncated_double)
{
	struct bb bb = { .n = 0 };

	put_str(&bb, "BTC");
	put_zz(&bb, 1);
	put_raw(&bb, "\x00\x00\x00", 3);
	assert_trade_refused(&bb, LVC_ERR_DECODE, "Trade.price: double needs 8 bytes, 3 left");
}

Test(codec_refuse, refuses_trailing_bytes)
{
	struct bb bb = { .n = 0 };

	put_trade_head(&bb);
	put_zz(&bb, 0);
	put_zz(&bb, 0);
	put_raw(&bb, "\x00\x01", 2);
	assert_trade_refused(&bb, LVC_ERR_DECODE, "Trade: 2 trailing bytes after the record");
}

Test(codec_refuse, refuses_a_nul_byte_in_a_string)
{
	struct bb bb = { .n = 0 };

	put_bytes(&bb, "BTC\0X", 5);
	put_zz(&bb, 1);
	put_double(&bb, 1);
	put_double(&bb, 1);
	put_zz(&bb, 0);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.instrument: string contains a NUL byte at offset 3");
}

Test(codec_refuse, refuses_invalid_utf8_in_a_string)
{
	struct bb bb = { .n = 0 };

	put_bytes(&bb, "BT\xc3\x28", 4);
	put_zz(&bb, 1);
	put_double(&bb, 1);
	put_double(&bb, 1);
	put_zz(&bb, 0);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.instrument: string is not valid UTF-8 at offset 2");
	/* An overlong encoding of '/', inside the union. */
	bb.n = 0;
	put_trade_head(&bb);
	put_zz(&bb, 0);
	put_zz(&bb, 1);
	put_bytes(&bb, "\xc0\xaf", 2);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.trade_id: string is not valid UTF-8 at offset 0");
}

Test(codec_refuse, refuses_a_varint_longer_than_ten_bytes)
{
	struct bb bb = { .n = 0 };

	put_str(&bb, "BTC");
	for (int i = 0; i < 10; i++) {
		put_byte(&bb, 0xff);
	}
	put_byte(&bb, 0x01);
	put_raw(&bb, "0123456789abcdef0123", 20);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.ts_us: long varint is longer than 10 bytes");
}

Test(codec_refuse, refuses_a_ten_byte_varint_beyond_64_bits)
{
	struct bb bb = { .n = 0 };

	put_str(&bb, "BTC");
	for (int i = 0; i < 9; i++) {
		put_byte(&bb, 0xff);
	}
	put_byte(&bb, 0x02);
	put_raw(&bb, "0123456789abcdef0123", 20);
	assert_trade_refused(&bb, LVC_ERR_DECODE, "Trade.ts_us: long varint overflows 64 bits");
}

Test(codec_refuse, refuses_an_enum_varint_beyond_an_int)
{
	struct bb bb = { .n = 0 };

	put_trade_head(&bb);
	put_raw(&bb, "\x80\x80\x80\x80\x80\x00", 6);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.side: enum index varint is longer than 5 bytes");
	bb.n = 0;
	put_trade_head(&bb);
	put_raw(&bb, "\xff\xff\xff\xff\x1f", 5);
	put_zz(&bb, 0);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.side: enum index varint overflows 32 bits");
}

Test(codec_refuse, refuses_input_that_ends_inside_a_varint_or_is_empty)
{
	struct bb bb = { .n = 0 };

	put_str(&bb, "BTC");
	put_byte(&bb, 0x80);
	assert_trade_refused(&bb, LVC_ERR_DECODE,
	                     "Trade.ts_us: long is truncated: the input ends inside its varint");
	bb.n = 0;
	assert_trade_refused(
	    &bb, LVC_ERR_DECODE,
	    "Trade.instrument: string length is truncated: the input ends inside its varint");
}

Test(codec_refuse, refuses_an_array_block_count_beyond_the_bytes_present)
{
	struct bb bb = { .n = 0 };

	put_limit_head(&bb);
	put_zz(&bb, 1000000);
	put_raw(&bb, "012345678901234567890123456789", 30);
	assert_limit_refused(&bb, LVC_ERR_DECODE,
	                     "LeverageLimit.tiers: array block count 1000000 needs at least "
	                     "40000000 bytes, 30 left");
	bb.n = 0;
	put_limit_head(&bb);
	put_zz(&bb, INT64_MIN);
	put_zz(&bb, 8);
	assert_limit_refused(
	    &bb, LVC_ERR_DECODE,
	    "LeverageLimit.tiers: array block count -9223372036854775808 cannot be "
	    "negated");
}

Test(codec_refuse, refuses_a_block_byte_size_that_is_wrong)
{
	struct bb bb = { .n = 0 };

	put_limit_head(&bb);
	put_zz(&bb, -1);
	put_zz(&bb, 39);
	put_tier(&bb, 1);
	put_zz(&bb, 0);
	put_zz(&bb, 0);
	put_str(&bb, "c");
	assert_limit_refused(&bb, LVC_ERR_DECODE,
	                     "LeverageLimit.tiers: array block byte size 39 does not match the 40 "
	                     "bytes its items take");
	bb.n = 0;
	put_limit_head(&bb);
	put_zz(&bb, -1);
	put_zz(&bb, -40);
	put_tier(&bb, 1);
	assert_limit_refused(&bb, LVC_ERR_DECODE,
	                     "LeverageLimit.tiers: array block byte size -40 is negative");
}

Test(codec_refuse, refuses_more_tiers_or_components_than_supported)
{
	struct bb bb = { .n = 0 };

	put_limit_head(&bb);
	put_zz(&bb, 17);
	for (int i = 0; i < 17; i++) {
		put_tier(&bb, i);
	}
	put_zz(&bb, 0);
	put_zz(&bb, 0);
	put_str(&bb, "c");
	assert_limit_refused(&bb, LVC_ERR_RANGE,
	                     "LeverageLimit.tiers: 17 items exceed the 16 supported");
	/* The limit counts items across blocks. */
	bb.n = 0;
	put_limit_head(&bb);
	put_zz(&bb, 0);
	for (int blk = 0; blk < 2; blk++) {
		put_zz(&bb, 10);
		for (int i = 0; i < 10; i++) {
			put_str(&bb, "ewma");
			put_double(&bb, 0.5);
		}
	}
	put_zz(&bb, 0);
	put_str(&bb, "c");
	assert_limit_refused(&bb, LVC_ERR_RANGE,
	                     "LeverageLimit.components: 20 items exceed the 16 supported");
}

Test(codec_refuse, names_the_item_of_a_bad_field_inside_an_array)
{
	struct bb bb = { .n = 0 };

	put_limit_head(&bb);
	put_zz(&bb, 0);
	put_zz(&bb, 2);
	put_str(&bb, "ewma");
	put_double(&bb, 0.5);
	put_zz(&bb, 99);
	put_raw(&bb, "abcdefghijklmnopq", 17);
	assert_limit_refused(
	    &bb, LVC_ERR_DECODE,
	    "LeverageLimit.components[1].estimator: string length 99 exceeds the 17 bytes left");
}

/* ---- value checks ----------------------------------------------------- */

static void assert_trade_value_refused(lvc_trade_t t, const char *text)
{
	const void *buf;
	size_t len;
	lvc_trade_t out;
	lvc_err_t err;

	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	err = lvc_codec_decode_trade(codec, buf, len, &out, errstr, sizeof(errstr));
	cr_assert_eq(err, LVC_ERR_INVALID, "got %d: %s", err, errstr);
	cr_assert_str_eq(errstr, text);
}

Test(codec_refuse, refuses_nan_infinite_zero_and_negative_prices)
{
	const double bad[] = { NAN, INFINITY, -INFINITY, 0.0, -1.5 };
	const char *const text[] = { "nan", "inf", "-inf", "0", "-1.5" };

	for (size_t i = 0; i < 5; i++) {
		lvc_trade_t t = sample_trade();
		lvc_price_t p = { "BTC-PERP", 1, LVC_PRICE_MARK, bad[i] }, pout;
		const void *buf;
		size_t len;
		char want[128];

		t.price = bad[i];
		snprintf(want, sizeof(want),
		         "Trade.price: %s is not allowed: must be a finite number > 0", text[i]);
		assert_trade_value_refused(t, want);
		cr_assert_eq(lvc_codec_encode_price(codec, &p, &buf, &len), LVC_OK);
		cr_assert_eq(lvc_codec_decode_price(codec, buf, len, &pout, errstr, sizeof(errstr)),
		             LVC_ERR_INVALID);
		snprintf(want, sizeof(want),
		         "PriceTick.price: %s is not allowed: must be a finite number > 0",
		         text[i]);
		cr_assert_str_eq(errstr, want);
	}
}

Test(codec_refuse, refuses_zero_and_negative_quantities)
{
	lvc_trade_t t = sample_trade();

	t.qty = 0;
	assert_trade_value_refused(t, "Trade.qty: 0 is not allowed: must be a finite number > 0");
	t.qty = -0.1;
	assert_trade_value_refused(t,
	                           "Trade.qty: -0.1 is not allowed: must be a finite number > 0");
	t.qty = NAN;
	assert_trade_value_refused(t, "Trade.qty: nan is not allowed: must be a finite number > 0");
}

Test(codec_refuse, refuses_a_negative_timestamp_and_an_empty_instrument)
{
	lvc_trade_t t = sample_trade();

	t.ts_us = -1;
	assert_trade_value_refused(t, "Trade.ts_us: -1 is not allowed: must be >= 0");
	t = sample_trade();
	t.instrument = "";
	assert_trade_value_refused(t, "Trade.instrument: an empty string is not allowed");
}

Test(codec_refuse, refuses_a_zero_entry_price_of_an_open_position_only)
{
	lvc_position_t p = { "a", "BTC-PERP", 1, 2.0, 0.0, LVC_MARGIN_ISOLATED, 10 }, out;
	const void *buf;
	size_t len;

	cr_assert_eq(lvc_codec_encode_position(codec, &p, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_position(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr,
	                 "Position.entry_price: 0 is not allowed: must be a finite number > 0");
	p.size = 0;
	cr_assert_eq(lvc_codec_encode_position(codec, &p, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_position(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	p.size = NAN;
	cr_assert_eq(lvc_codec_encode_position(codec, &p, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_position(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "Position.size: nan is not allowed: must be a finite number");
	p.size = 1;
	p.entry_price = 10;
	p.collateral = INFINITY;
	cr_assert_eq(lvc_codec_encode_position(codec, &p, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_position(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr,
	                 "Position.collateral: inf is not allowed: must be a finite number");
}

Test(codec_refuse, refuses_a_nan_collateral_but_not_a_negative_one)
{
	lvc_balance_t b = { "a", 1, NAN }, out;
	const void *buf;
	size_t len;

	cr_assert_eq(lvc_codec_encode_balance(codec, &b, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_balance(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr,
	                 "AccountBalance.collateral: nan is not allowed: must be a finite number");
	b.collateral = -1e9;
	cr_assert_eq(lvc_codec_encode_balance(codec, &b, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_balance(codec, buf, len, &out, errstr, sizeof(errstr)),
	             LVC_OK);
}

Test(codec_refuse, refuses_a_nan_or_seq_zero_in_an_event_but_allows_an_infinity)
{
	lvc_limit_t l = sample_limit(), lout;
	lvc_warning_t
	    w = { "a", "B", 1,   1, LVC_LEVEL_WATCH, LVC_LEVEL_CLEAR, 10, 0, 0, INFINITY, 5, 1,
		  5,   1,   0.5, 0 },
	    wout;
	const void *buf;
	size_t len;

	l.tiers[1].mmr = NAN;
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, buf, len, &lout, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr,
	                 "LeverageLimit.tiers[1].mmr: nan is not allowed: must be a number");
	l = sample_limit();
	l.seq = 0;
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, buf, len, &lout, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "LeverageLimit.seq: 0 is not allowed: must be >= 1");
	cr_assert_eq(lvc_codec_encode_warning(codec, &w, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_warning(codec, buf, len, &wout, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	cr_assert(isinf(wout.distance_sigma));
	w.equity = NAN;
	cr_assert_eq(lvc_codec_encode_warning(codec, &w, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_warning(codec, buf, len, &wout, errstr, sizeof(errstr)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(errstr, "LiquidationWarning.equity: nan is not allowed: must be a number");
}

/* ---- memory ----------------------------------------------------------- */

TestSuite(codec_memory, .init = setup, .fini = teardown);

Test(codec_memory, stays_flat_over_100000_poison_records)
{
	struct bb poison[6];
	lvc_trade_t good = sample_trade(), t;
	const void *buf;
	size_t len, before, after;
	uint64_t allocs;

	memset(poison, 0, sizeof(poison));
	put_zz(&poison[0], 209715200); /* the 200 MB string */
	put_raw(&poison[0], "xxxxxxxxxxxx", 12);
	put_zz(&poison[1], -3);
	put_trade_head(&poison[2]);
	put_zz(&poison[2], 3);
	put_zz(&poison[2], 0);
	put_trade_head(&poison[3]);
	put_zz(&poison[3], 0);
	put_zz(&poison[3], 1);
	put_zz(&poison[3], 1 << 30);
	put_trade_head(&poison[4]);
	put_zz(&poison[4], 0);
	put_zz(&poison[4], 0);
	put_raw(&poison[4], "trailing", 8);
	for (int i = 0; i < 11; i++) {
		put_byte(&poison[5], 0xff);
	}
	/* Warm up: the first decode of a valid record may size Avro C's
	 * buffers. */
	cr_assert_eq(lvc_codec_encode_trade(codec, &good, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)), LVC_OK);
	before = lvc_codec_memory_in_use();
	allocs = lvc__avro_alloc_count();
	for (int i = 0; i < 100000; i++) {
		const struct bb *p = &poison[i % 6];

		cr_assert_neq(lvc_codec_decode_trade(codec, p->b, p->n, &t, errstr, sizeof(errstr)),
		              LVC_OK);
	}
	after = lvc_codec_memory_in_use();
	cr_assert_eq(after, before, "in use %zu before, %zu after", before, after);
	/* Byte-level poison never reaches Avro C. */
	cr_assert_eq(lvc__avro_alloc_count(), allocs);
	cr_assert_gt(before, 0);
}

Test(codec_memory, stays_flat_over_100000_valid_and_value_poison_records)
{
	lvc_trade_t in = sample_trade(), t;
	lvc_limit_t l = sample_limit(), lout;
	const void *buf;
	size_t len, before, after;
	uint8_t tbuf[256], lbuf[512];
	size_t tlen, llen;

	cr_assert_eq(lvc_codec_encode_trade(codec, &in, &buf, &len), LVC_OK);
	memcpy(tbuf, buf, len);
	tlen = len;
	in.price = NAN;
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_OK);
	memcpy(lbuf, buf, len);
	llen = len;
	cr_assert_eq(lvc_codec_decode_trade(codec, tbuf, tlen, &t, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(codec, lbuf, llen, &lout, errstr, sizeof(errstr)),
	             LVC_OK);
	before = lvc_codec_memory_in_use();
	for (int i = 0; i < 100000; i++) {
		cr_assert_eq(lvc_codec_decode_trade(codec, tbuf, tlen, &t, errstr, sizeof(errstr)),
		             LVC_OK);
		if (i % 10 == 0) {
			cr_assert_eq(lvc_codec_decode_limit(codec, lbuf, llen, &lout, errstr,
			                                    sizeof(errstr)),
			             LVC_OK);
		}
		if (i % 10 == 5) {
			cr_assert_eq(lvc_codec_encode_trade(codec, &in, &buf, &len), LVC_OK);
			cr_assert_eq(
			    lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)),
			    LVC_ERR_INVALID);
		}
	}
	after = lvc_codec_memory_in_use();
	cr_assert_eq(after, before, "in use %zu before, %zu after", before, after);
}

Test(codec_memory, encodes_without_any_avro_allocation_once_warm)
{
	lvc_trade_t t = sample_trade();
	lvc_limit_t l = sample_limit();
	const void *buf;
	size_t len;
	uint64_t allocs;

	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_OK);
	allocs = lvc__avro_alloc_count();
	for (int i = 0; i < 10000; i++) {
		t.trade_id = i % 2 ? "id" : NULL;
		l.has_previous_max_leverage = i % 2;
		cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
		cr_assert_eq(lvc_codec_encode_limit(codec, &l, &buf, &len), LVC_OK);
	}
	cr_assert_eq(lvc__avro_alloc_count(), allocs, "%llu allocations in 20000 encodes",
	             (unsigned long long)(lvc__avro_alloc_count() - allocs));
}

Test(codec_memory, fails_cleanly_under_a_tiny_cap_and_recovers)
{
	/* Position still reads through Avro C's generic value (Trade and
	 * PriceTick do not: see the next test). Its first string is longer
	 * than the cap: Avro C leaks a string it read before an allocation
	 * that fails. */
	lvc_position_t in = { "account-7", "BTC-PERP", 5, 2.0, 100.0, LVC_MARGIN_ISOLATED, 10 }, p;
	const void *buf;
	size_t len, before, prev;
	uint8_t copy[256];
	lvc_err_t err;

	cr_assert_eq(lvc_codec_encode_position(codec, &in, &buf, &len), LVC_OK);
	memcpy(copy, buf, len);
	before = lvc_codec_memory_in_use();
	prev = lvc_codec_set_memory_cap(before + 8);
	cr_assert_eq(prev, LVC__AVRO_DEFAULT_CAP);
	for (int i = 0; i < 1000; i++) {
		err = lvc_codec_decode_position(codec, copy, len, &p, errstr, sizeof(errstr));
		cr_assert_eq(err, LVC_ERR_NOMEM, "got %d: %s", err, errstr);
	}
	cr_assert_not_null(strstr(errstr, "Position: avro_value_read: "), "%s", errstr);
	cr_assert_leq(lvc_codec_memory_in_use(), before + 8);
	cr_assert_gt(lvc__avro_alloc_refused(), 0);
	cr_assert_eq(lvc_codec_set_memory_cap(prev), before + 8);
	cr_assert_eq(lvc_codec_decode_position(codec, copy, len, &p, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	cr_assert_str_eq(p.account, "account-7");
	cr_assert_str_eq(p.instrument, "BTC-PERP");
}

Test(codec_memory, trades_and_prices_decode_without_avro_allocations)
{
	lvc_trade_t in = sample_trade(), t;
	lvc_price_t pin = { "ETH-PERP", 7, LVC_PRICE_MARK, 2500.5 }, p;
	const void *buf;
	size_t len, tlen, before, prev;
	uint64_t refused = lvc__avro_alloc_refused();
	uint8_t copy[256], pcopy[256];

	cr_assert_eq(lvc_codec_encode_trade(codec, &in, &buf, &len), LVC_OK);
	memcpy(copy, buf, len);
	tlen = len;
	cr_assert_eq(lvc_codec_encode_price(codec, &pin, &buf, &len), LVC_OK);
	memcpy(pcopy, buf, len);
	before = lvc_codec_memory_in_use();
	prev = lvc_codec_set_memory_cap(before + 8);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(lvc_codec_decode_trade(codec, copy, tlen, &t, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_eq(lvc_codec_decode_price(codec, pcopy, len, &p, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
	}
	lvc_codec_set_memory_cap(prev);
	cr_assert_eq(lvc_codec_memory_in_use(), before);
	cr_assert_eq(lvc__avro_alloc_refused(), refused);
	cr_assert_str_eq(t.instrument, "BTC-PERP");
	cr_assert_str_eq(t.trade_id, "t-42");
	cr_assert_str_eq(p.instrument, "ETH-PERP");
	cr_assert_eq(p.kind, LVC_PRICE_MARK);
	cr_assert_eq(p.price, 2500.5);
}

Test(codec_memory, refuses_an_avro_allocation_beyond_the_cap)
{
	size_t before = lvc_codec_memory_in_use();
	uint64_t refused = lvc__avro_alloc_refused();
	void *p = avro_malloc((size_t)200 * 1024 * 1024);
	void *q;

	cr_assert_null(p);
	cr_assert_eq(lvc_codec_memory_in_use(), before);
	cr_assert_eq(lvc__avro_alloc_refused(), refused + 1);
	q = avro_malloc(1000);
	cr_assert_not_null(q);
	cr_assert_eq(lvc_codec_memory_in_use(), before + 1000);
	q = avro_realloc(q, 1000, 10);
	cr_assert_eq(lvc_codec_memory_in_use(), before + 10);
	avro_free(q, 10);
	cr_assert_eq(lvc_codec_memory_in_use(), before);
	/* No cap: anything goes. */
	lvc_codec_set_memory_cap(0);
	p = avro_malloc((size_t)100 * 1024 * 1024);
	cr_assert_not_null(p);
	avro_free(p, (size_t)100 * 1024 * 1024);
}

Test(codec_memory, returns_to_the_baseline_after_destroy)
{
	size_t base;
	lvc_codec_t *c2;
	lvc_trade_t t = sample_trade(), out;
	lvc_limit_t l = sample_limit(), lout;
	const void *buf;
	size_t len;
	json_t *j = NULL;

	base = lvc_codec_memory_in_use();
	c2 = lvc_codec_new(errstr, sizeof(errstr));
	cr_assert_not_null(c2, "%s", errstr);
	cr_assert_gt(lvc_codec_memory_in_use(), base);
	cr_assert_eq(lvc_codec_encode_trade(c2, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_trade(c2, buf, len, &out, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(lvc_codec_to_json(c2, LVC_REC_TRADE, buf, len, &j, errstr, sizeof(errstr)),
	             LVC_OK);
	json_decref(j);
	cr_assert_eq(lvc_codec_encode_limit(c2, &l, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_limit(c2, buf, len, &lout, errstr, sizeof(errstr)), LVC_OK);
	lvc_codec_destroy(c2);
	cr_assert_eq(lvc_codec_memory_in_use(), base);
}

/* ---- JSON ------------------------------------------------------------- */

TestSuite(codec_json, .init = setup, .fini = teardown);

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(17));

	cr_assert_not_null(s);
	return s;
}

Test(codec_json, shows_a_trade_in_schema_order)
{
	lvc_trade_t t = sample_trade();
	const void *buf;
	size_t len;
	json_t *j = NULL;
	char *s;

	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_to_json(codec, LVC_REC_TRADE, buf, len, &j, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	s = dump(j);
	cr_assert_str_eq(s,
	                 "{\"instrument\":\"BTC-PERP\",\"ts_us\":1700000000000000,"
	                 "\"price\":50000.5,\"qty\":0.25,\"side\":\"SELL\",\"trade_id\":\"t-42\"}");
	free(s);
	json_decref(j);
	t.trade_id = NULL;
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_to_json(codec, LVC_REC_TRADE, buf, len, &j, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	s = dump(j);
	cr_assert_str_eq(s, "{\"instrument\":\"BTC-PERP\",\"ts_us\":1700000000000000,"
	                    "\"price\":50000.5,\"qty\":0.25,\"side\":\"SELL\",\"trade_id\":null}");
	free(s);
	json_decref(j);
}

Test(codec_json, shows_a_leverage_limit_with_enums_unions_and_arrays)
{
	uint8_t golden[512];
	size_t n = load_hex("limit.hex", golden, sizeof(golden));
	json_t *j = NULL;
	char *s;

	cr_assert_eq(lvc_codec_to_json(codec, LVC_REC_LIMIT, golden, n, &j, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	s = dump(j);
	cr_assert_str_eq(
	    s, "{\"instrument\":\"ETH-PERP\",\"ts_us\":1700000000123456,\"seq\":7,"
	       "\"status\":\"ACTIVE\",\"reason\":\"TIGHTEN\",\"estimator\":\"max\","
	       "\"sigma_ann\":0.75,\"sigma_horizon\":0.0078125,"
	       "\"imr\":0.050000000000000003,\"mmr\":0.025000000000000001,"
	       "\"max_leverage\":20.0,\"previous_max_leverage\":25.0,"
	       "\"tiers\":[{\"notional_cap\":1000000.0,\"max_leverage\":20.0,"
	       "\"imr\":0.050000000000000003,\"mmr\":0.025000000000000001,"
	       "\"maintenance_deduction\":0.0},"
	       "{\"notional_cap\":10000000.0,\"max_leverage\":10.0,"
	       "\"imr\":0.10000000000000001,\"mmr\":0.050000000000000003,"
	       "\"maintenance_deduction\":25000.0}],"
	       "\"components\":[{\"estimator\":\"ewma\",\"sigma_ann\":0.75},"
	       "{\"estimator\":\"yang_zhang\",\"sigma_ann\":0.5}],\"config_id\":\"cfg-1\"}");
	free(s);
	/* Every double reads back as the same double. */
	cr_assert_eq(json_real_value(json_object_get(j, "imr")), 0.05);
	json_decref(j);

	n = load_hex("limit_empty.hex", golden, sizeof(golden));
	cr_assert_eq(lvc_codec_to_json(codec, LVC_REC_LIMIT, golden, n, &j, errstr, sizeof(errstr)),
	             LVC_OK, "%s", errstr);
	s = dump(j);
	cr_assert_not_null(strstr(s, "\"previous_max_leverage\":null,\"tiers\":[],"
	                             "\"components\":[],\"config_id\":\"\"}"),
	                   "%s", s);
	free(s);
	json_decref(j);
}

Test(codec_json, shows_a_state_snapshot_with_base64_data)
{
	struct bb bb = { .n = 0 };
	json_t *j = NULL;
	char *s;

	put_zz(&bb, 1);  /* POSITION */
	put_zz(&bb, -2); /* format_version */
	put_str(&bb, "cfg");
	put_str(&bb, "market.trades:3:42");
	put_bytes(&bb, "\x00\xffhi\x01", 5);
	cr_assert_eq(
	    lvc_codec_to_json(codec, LVC_REC_STATE, bb.b, bb.n, &j, errstr, sizeof(errstr)), LVC_OK,
	    "%s", errstr);
	s = dump(j);
	cr_assert_str_eq(s, "{\"kind\":\"POSITION\",\"format_version\":-2,\"config_id\":\"cfg\","
	                    "\"source\":\"market.trades:3:42\",\"data\":\"AP9oaQE=\"}");
	free(s);
	json_decref(j);
}

Test(codec_json, shows_non_finite_doubles_as_null)
{
	lvc_warning_t w = {
		"a", "B", 1,   2, LVC_LEVEL_WATCH, LVC_LEVEL_CLEAR, 10, 0, 0, INFINITY, 5, 1,
		NAN, 1,   0.5, 0
	};
	const void *buf;
	size_t len;
	json_t *j = NULL;
	char *s;

	cr_assert_eq(lvc_codec_encode_warning(codec, &w, &buf, &len), LVC_OK);
	cr_assert_eq(
	    lvc_codec_to_json(codec, LVC_REC_WARNING, buf, len, &j, errstr, sizeof(errstr)), LVC_OK,
	    "%s", errstr);
	s = dump(j);
	cr_assert_str_eq(s, "{\"account\":\"a\",\"instrument\":\"B\",\"ts_us\":1,\"seq\":2,"
	                    "\"level\":\"WATCH\",\"previous_level\":\"CLEAR\",\"mark_price\":10.0,"
	                    "\"liquidation_price\":null,\"distance_sigma\":null,\"equity\":5.0,"
	                    "\"maintenance_margin\":1.0,\"margin_ratio\":null,\"size\":1.0,"
	                    "\"sigma_ann\":0.5,\"hit_probability\":0.0}");
	free(s);
	json_decref(j);
}

Test(codec_json, refuses_malformed_bytes_like_a_decoder)
{
	struct bb bb = { .n = 0 };
	json_t *j = NULL;

	put_zz(&bb, 209715200);
	put_raw(&bb, "xxxxxxxxxxxx", 12);
	cr_assert_eq(
	    lvc_codec_to_json(codec, LVC_REC_TRADE, bb.b, bb.n, &j, errstr, sizeof(errstr)),
	    LVC_ERR_DECODE);
	cr_assert_null(j);
	cr_assert_str_eq(errstr,
	                 "Trade.instrument: string length 209715200 exceeds the 12 bytes left");
}

Test(codec_json, leaves_the_last_decoded_strings_alone)
{
	lvc_trade_t t = sample_trade(), out;
	const void *buf;
	size_t len;
	json_t *j = NULL;

	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &out, errstr, sizeof(errstr)), LVC_OK);
	t.instrument = "OTHER";
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_codec_to_json(codec, LVC_REC_TRADE, buf, len, &j, errstr, sizeof(errstr)),
	             LVC_OK);
	cr_assert_str_eq(out.instrument, "BTC-PERP");
	cr_assert_str_eq(json_string_value(json_object_get(j, "instrument")), "OTHER");
	json_decref(j);
}

/* ---- container files -------------------------------------------------- */

static char tmpdir[256];

static void file_setup(void)
{
	setup();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lvc_test_codec_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void file_teardown(void)
{
	char cmd[512];

	teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(codec_file, .init = file_setup, .fini = file_teardown);

static void tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

Test(codec_file, writes_and_reads_back_a_container_file)
{
	char path[512];
	lvc_avro_writer_t *w;
	lvc_avro_file_t *f;
	const void *buf;
	size_t len, before_open, at_first = 0, at_last = 1;
	int n = 0;

	tmp_path(path, sizeof(path), "trades.avro");
	w = lvc_avro_writer_open(codec, path, LVC_REC_TRADE, errstr, sizeof(errstr));
	cr_assert_not_null(w, "%s", errstr);
	/* Enough records for several blocks. */
	for (int i = 0; i < 5000; i++) {
		char id[32];
		lvc_trade_t t = sample_trade();

		snprintf(id, sizeof(id), "id-%d", i);
		t.ts_us += i;
		t.trade_id = i % 3 ? id : NULL;
		cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
		cr_assert_eq(lvc_avro_writer_append(w, buf, len, errstr, sizeof(errstr)), LVC_OK,
		             "%s", errstr);
	}
	cr_assert_eq(lvc_avro_writer_append(w, "\x01", 1, errstr, sizeof(errstr)), LVC_ERR_DECODE);
	cr_assert_eq(lvc_avro_writer_close(w), LVC_OK);

	f = lvc_avro_file_open(codec, path, errstr, sizeof(errstr));
	cr_assert_not_null(f, "%s", errstr);
	cr_assert_eq(lvc_avro_file_type(f), LVC_REC_TRADE);
	for (;;) {
		lvc_trade_t t;
		lvc_err_t err = lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr));

		if (err == LVC_ERR_NOT_FOUND) {
			break;
		}
		cr_assert_eq(err, LVC_OK, "%s", errstr);
		cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_eq(t.ts_us, 1700000000000000 + n);
		if (n % 3) {
			char id[32];

			snprintf(id, sizeof(id), "id-%d", n);
			cr_assert_str_eq(t.trade_id, id);
		} else {
			cr_assert_null(t.trade_id);
		}
		/* Records 3 and 4998 have the same shape (no trade_id). */
		if (n == 3) {
			at_first = lvc_codec_memory_in_use();
		}
		if (n == 4998) {
			at_last = lvc_codec_memory_in_use();
		}
		n++;
	}
	/* Reading a file does not grow memory either. */
	cr_assert_eq(at_last, at_first, "%zu at record 3, %zu at record 4998", at_first, at_last);
	cr_assert_eq(n, 5000);
	cr_assert_eq(lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)), LVC_ERR_NOT_FOUND);
	lvc_avro_file_close(f);

	/* A reader frees all it allocated (decoded records are kept by the
	 * codec, so this pass does not decode). */
	before_open = lvc_codec_memory_in_use();
	f = lvc_avro_file_open(codec, path, errstr, sizeof(errstr));
	cr_assert_not_null(f, "%s", errstr);
	n = 0;
	while (lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)) == LVC_OK) {
		n++;
	}
	cr_assert_eq(n, 5000);
	lvc_avro_file_close(f);
	cr_assert_eq(lvc_codec_memory_in_use(), before_open);
}

Test(codec_file, reads_an_empty_container_file)
{
	char path[512];
	lvc_avro_writer_t *w;
	lvc_avro_file_t *f;
	const void *buf;
	size_t len;

	tmp_path(path, sizeof(path), "limits.avro");
	w = lvc_avro_writer_open(codec, path, LVC_REC_LIMIT, errstr, sizeof(errstr));
	cr_assert_not_null(w, "%s", errstr);
	cr_assert_eq(lvc_avro_writer_close(w), LVC_OK);
	f = lvc_avro_file_open(codec, path, errstr, sizeof(errstr));
	cr_assert_not_null(f, "%s", errstr);
	cr_assert_eq(lvc_avro_file_type(f), LVC_REC_LIMIT);
	cr_assert_eq(lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)), LVC_ERR_NOT_FOUND);
	lvc_avro_file_close(f);
}

/* Writes records of schema_json with Avro C directly: a file as another
 * producer with another version of the schema would write it. */
static void write_foreign(const char *path, const char *schema_json, int records)
{
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t v, f, br;
	avro_file_writer_t fw;

	cr_assert_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0,
	             "%s", avro_strerror());
	iface = avro_generic_class_from_schema(schema);
	cr_assert_not_null(iface);
	cr_assert_eq(avro_generic_value_new(iface, &v), 0);
	cr_assert_eq(avro_file_writer_create(path, schema, &fw), 0, "%s", avro_strerror());
	for (int i = 0; i < records; i++) {
		size_t n;

		cr_assert_eq(avro_value_reset(&v), 0);
		cr_assert_eq(avro_value_get_size(&v, &n), 0);
		for (size_t k = 0; k < n; k++) {
			const char *name;

			cr_assert_eq(avro_value_get_by_index(&v, k, &f, &name), 0);
			if (strcmp(name, "instrument") == 0) {
				avro_value_set_string(&f, "BTC-PERP");
			} else if (strcmp(name, "ts_us") == 0) {
				avro_value_set_long(&f, 1000 + i);
			} else if (strcmp(name, "price") == 0) {
				if (avro_value_get_type(&f) == AVRO_STRING) {
					avro_value_set_string(&f, "100.5");
				} else {
					avro_value_set_double(&f, 100.5 + i);
				}
			} else if (strcmp(name, "qty") == 0) {
				if (avro_value_get_type(&f) == AVRO_FLOAT) {
					avro_value_set_float(&f, 2.5f);
				} else {
					avro_value_set_double(&f, 2.5);
				}
			} else if (strcmp(name, "side") == 0) {
				avro_value_set_enum(&f, 1);
			} else if (strcmp(name, "venue") == 0) {
				avro_value_set_string(&f, "XNAS");
			} else if (strcmp(name, "trade_id") == 0) {
				avro_value_set_branch(&f, 1, &br);
				avro_value_set_string(&br, "w");
			}
		}
		cr_assert_eq(avro_file_writer_append_value(fw, &v), 0, "%s", avro_strerror());
	}
	cr_assert_eq(avro_file_writer_close(fw), 0);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(schema);
}

Test(codec_file, reads_a_file_of_an_evolved_writer_schema)
{
	/* Reordered fields, an extra field with a default, qty as a float
	 * (promoted to double), and no trade_id (ours defaults it to null). */
	static const char evolved[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}},"
	    "{\"name\":\"venue\",\"type\":\"string\",\"default\":\"\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"qty\",\"type\":\"float\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"}]}";
	static const char with_id[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"fields\":["
	    "{\"name\":\"trade_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
	    "{\"name\":\"venue\",\"type\":\"string\",\"default\":\"\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";
	char path[512];
	lvc_avro_file_t *f;
	const void *buf;
	size_t len;
	lvc_trade_t t;

	tmp_path(path, sizeof(path), "evolved.avro");
	write_foreign(path, evolved, 3);
	f = lvc_avro_file_open(codec, path, errstr, sizeof(errstr));
	cr_assert_not_null(f, "%s", errstr);
	cr_assert_eq(lvc_avro_file_type(f), LVC_REC_TRADE);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)), LVC_OK,
		             "%s", errstr);
		cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)),
		             LVC_OK, "%s", errstr);
		cr_assert_str_eq(t.instrument, "BTC-PERP");
		cr_assert_eq(t.ts_us, 1000 + i);
		cr_assert_eq(t.price, 100.5 + i);
		cr_assert_eq(t.qty, 2.5);
		cr_assert_eq(t.side, LVC_SIDE_SELL);
		cr_assert_null(t.trade_id);
	}
	cr_assert_eq(lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)), LVC_ERR_NOT_FOUND);
	lvc_avro_file_close(f);

	/* No namespace (the short name), the union present, reordered. */
	tmp_path(path, sizeof(path), "with_id.avro");
	write_foreign(path, with_id, 1);
	f = lvc_avro_file_open(codec, path, errstr, sizeof(errstr));
	cr_assert_not_null(f, "%s", errstr);
	cr_assert_eq(lvc_avro_file_next(f, &buf, &len, errstr, sizeof(errstr)), LVC_OK, "%s",
	             errstr);
	cr_assert_eq(lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)), LVC_OK,
	             "%s", errstr);
	cr_assert_str_eq(t.trade_id, "w");
	cr_assert_eq(t.price, 100.5);
	lvc_avro_file_close(f);
}

Test(codec_file, refuses_an_incompatible_writer_schema)
{
	static const char bad[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\","
	    "\"fields\":[{\"name\":\"price\",\"type\":\"string\"}]}";
	static const char no_qty[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"}]}";
	char path[512], want[1024];

	tmp_path(path, sizeof(path), "bad.avro");
	write_foreign(path, no_qty, 1);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	snprintf(want, sizeof(want),
	         "%s: the writer schema of levcal.Trade has no field qty, and ours gives it no "
	         "default",
	         path);
	cr_assert_str_eq(errstr, want);

	tmp_path(path, sizeof(path), "bad2.avro");
	write_foreign(path, bad, 1);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	/* The first missing field is reported before types are compared. */
	snprintf(want, sizeof(want),
	         "%s: the writer schema of levcal.Trade has no field instrument, and ours gives it "
	         "no default",
	         path);
	cr_assert_str_eq(errstr, want);
}

Test(codec_file, refuses_a_writer_type_that_does_not_convert)
{
	static const char bad[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"string\"},{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";
	char path[512], want[1024];

	tmp_path(path, sizeof(path), "bad.avro");
	write_foreign(path, bad, 1);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	snprintf(want, sizeof(want),
	         "%s: the writer schema is not compatible with levcal.Trade: Field price isn't "
	         "compatible: Cannot store string into double",
	         path);
	cr_assert_str_eq(errstr, want);
}

Test(codec_file, refuses_a_file_of_a_foreign_record)
{
	static const char other[] =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"other\","
	    "\"fields\":[{\"name\":\"x\",\"type\":\"long\"}]}";
	char path[512];

	tmp_path(path, sizeof(path), "other.avro");
	write_foreign(path, other, 1);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	cr_assert_not_null(strstr(errstr, ": holds records of other.Trade, which is none of "
	                                  "levcal.Trade, "),
	                   "%s", errstr);
}

static long file_size(const char *path)
{
	FILE *fp = fopen(path, "rb");
	long n;

	cr_assert_not_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fclose(fp);
	return n;
}

Test(codec_file, refuses_a_truncated_or_corrupt_file)
{
	char path[512], want[1024];
	lvc_avro_writer_t *w;
	const void *buf;
	size_t len;
	lvc_trade_t t = sample_trade();
	long size;
	FILE *fp;

	tmp_path(path, sizeof(path), "t.avro");
	w = lvc_avro_writer_open(codec, path, LVC_REC_TRADE, errstr, sizeof(errstr));
	cr_assert_not_null(w, "%s", errstr);
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(lvc_avro_writer_append(w, buf, len, errstr, sizeof(errstr)), LVC_OK);
	}
	cr_assert_eq(lvc_avro_writer_close(w), LVC_OK);
	size = file_size(path);
	cr_assert_eq(truncate(path, size - 5), 0);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	cr_assert_not_null(strstr(errstr, "bytes and a sync marker exceed the"), "%s", errstr);
	cr_assert_not_null(strstr(errstr, "(truncated file?)"), "%s", errstr);

	/* Not a container file at all. */
	fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	fputs("hello", fp);
	fclose(fp);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	snprintf(want, sizeof(want), "%s: not an Avro container file (no \"Obj\\x01\" magic)",
	         path);
	cr_assert_str_eq(errstr, want);

	tmp_path(path, sizeof(path), "missing.avro");
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	cr_assert_str_eq(errstr, want);
}

Test(codec_file, refuses_a_block_that_declares_more_bytes_than_the_file_holds)
{
	char path[512];
	lvc_avro_writer_t *w;
	const void *buf;
	size_t len;
	lvc_trade_t t = sample_trade();
	uint8_t data[4096];
	size_t n, hdr_end;
	FILE *fp;

	tmp_path(path, sizeof(path), "t.avro");
	w = lvc_avro_writer_open(codec, path, LVC_REC_TRADE, errstr, sizeof(errstr));
	cr_assert_not_null(w, "%s", errstr);
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &buf, &len), LVC_OK);
	cr_assert_eq(lvc_avro_writer_append(w, buf, len, errstr, sizeof(errstr)), LVC_OK);
	cr_assert_eq(lvc_avro_writer_close(w), LVC_OK);
	fp = fopen(path, "rb");
	n = fread(data, 1, sizeof(data), fp);
	fclose(fp);
	/* The only block is the file's last: count, size, data, 16-byte sync.
	 * The header ends with the same sync: find its first copy. */
	hdr_end = 0;
	for (size_t i = 4; i + 16 <= n - 16; i++) {
		if (memcmp(data + i, data + n - 16, 16) == 0) {
			hdr_end = i + 16;
			break;
		}
	}
	cr_assert_gt(hdr_end, 0);
	cr_assert_eq(data[hdr_end], 2); /* one record */
	/* Declare a block of 2^40 bytes: a varint of 6 bytes replaces the
	 * size and the following bytes. */
	memcpy(data + hdr_end + 1, "\x80\x80\x80\x80\x80\x40", 6);
	fp = fopen(path, "wb");
	cr_assert_eq(fwrite(data, 1, n, fp), n);
	fclose(fp);
	cr_assert_null(lvc_avro_file_open(codec, path, errstr, sizeof(errstr)));
	cr_assert_not_null(strstr(errstr, "1 records in 1099511627776 bytes is not allowed"), "%s",
	                   errstr);
}

/* ---- the one-pass decode of Trade and PriceTick against Avro C -------- */

TestSuite(codec_onepass, .init = setup, .fini = teardown);

static uint64_t diff_rng = 0x9e3779b97f4a7c15u;

static uint64_t diff_next(void)
{
	/* xorshift64* */
	diff_rng ^= diff_rng >> 12;
	diff_rng ^= diff_rng << 25;
	diff_rng ^= diff_rng >> 27;
	return diff_rng * 2685821657736338717u;
}

/* A string of 0..12 characters, some of them multi-byte UTF-8. */
static void diff_str(struct bb *bb)
{
	static const char *const parts[] = {
		"A", "b", "-", "9", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\x80"
	};
	char s[64] = "";
	int n = (int)(diff_next() % 13);

	for (int i = 0; i < n; i++) {
		strcat(s, parts[diff_next() % (sizeof(parts) / sizeof(parts[0]))]);
	}
	put_str(bb, s);
}

static double diff_double(void)
{
	switch (diff_next() % 8) {
	case 0:
		return NAN;
	case 1:
		return -1.5;
	case 2:
		return 0.0;
	case 3:
		return INFINITY;
	default:
		return (double)(diff_next() % 1000000) / 7.0;
	}
}

/* Flips, truncates or extends the record at random, one time in three. */
static void diff_mutate(struct bb *bb)
{
	switch (diff_next() % 9) {
	case 0:
		if (bb->n > 0) {
			bb->b[diff_next() % bb->n] ^= (uint8_t)(1u << (diff_next() % 8));
		}
		break;
	case 1:
		bb->n = bb->n > 0 ? (size_t)(diff_next() % bb->n) : 0;
		break;
	case 2:
		put_byte(bb, (uint8_t)diff_next());
		break;
	default:
		break;
	}
}

static void diff_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
	cr_assert_eq(avro_value_get_by_name(rec, name, out, NULL), 0, "%s", name);
}

/* diff_NAME(rec, field): the field's value through Avro C's getter. */
#define DIFF_GETTER(fn, type, getter)                       \
	static type fn(avro_value_t *rec, const char *name) \
	{                                                   \
		avro_value_t f;                             \
		type v;                                     \
                                                            \
		diff_field(rec, name, &f);                  \
		cr_assert_eq(getter, 0, "%s", name);        \
		return v;                                   \
	}

static int diff_avro_string(avro_value_t *f, const char **s)
{
	size_t n;

	return avro_value_get_string(f, s, &n);
}

DIFF_GETTER(diff_string, const char *, diff_avro_string(&f, &v))
DIFF_GETTER(diff_get_double, double, avro_value_get_double(&f, &v))
DIFF_GETTER(diff_get_long, int64_t, avro_value_get_long(&f, &v))
DIFF_GETTER(diff_get_enum, int, avro_value_get_enum(&f, &v))

static int diff_same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

Test(codec_onepass, trade_decode_equals_avro_c_on_random_and_damaged_records)
{
	int ok = 0, invalid = 0, bad = 0;

	for (int i = 0; i < 20000; i++) {
		struct bb bb = { .n = 0 };
		char why1[512], why2[512];
		lvc_trade_t t;
		avro_value_t *v;
		lvc_err_t e1, e2;

		diff_str(&bb);
		put_zz(&bb, (int64_t)(diff_next() % 2000000000000000u) - 1000);
		put_double(&bb, diff_double());
		put_double(&bb, diff_double());
		put_zz(&bb, (int64_t)(diff_next() % 4)); /* 3: out of range */
		if (diff_next() % 2) {
			put_zz(&bb, 1);
			diff_str(&bb);
		} else {
			put_zz(&bb, (int64_t)(diff_next() % 8 == 0 ? 2 : 0));
		}
		diff_mutate(&bb);
		e1 = lvc_codec_decode_trade(codec, bb.b, bb.n, &t, why1, sizeof(why1));
		e2 = lvc__codec_read_aux(codec, LVC_REC_TRADE, bb.b, bb.n, &v, why2, sizeof(why2));
		if (e2 != LVC_OK) {
			/* Refused bytes: the same refusal, word for word. */
			cr_assert_eq(e1, e2, "record %d: %d vs %d (%s)", i, e1, e2, why2);
			cr_assert_str_eq(why1, why2, "record %d", i);
			bad++;
			continue;
		}
		{
			const char *ins = diff_string(v, "instrument");
			int64_t ts = diff_get_long(v, "ts_us");
			double price = diff_get_double(v, "price"), qty = diff_get_double(v, "qty");
			int allowed = ins[0] != '\0' && ts >= 0 && isfinite(price) && price > 0 &&
			              isfinite(qty) && qty > 0;
			avro_value_t u, br;
			int d;

			if (!allowed) {
				cr_assert_eq(e1, LVC_ERR_INVALID, "record %d: %d (%s)", i, e1,
				             why1);
				invalid++;
				continue;
			}
			cr_assert_eq(e1, LVC_OK, "record %d: %s", i, why1);
			cr_assert_str_eq(t.instrument, ins);
			cr_assert_eq(t.ts_us, ts);
			cr_assert(diff_same_double(t.price, price) && diff_same_double(t.qty, qty));
			cr_assert_eq((int)t.side, diff_get_enum(v, "side"));
			diff_field(v, "trade_id", &u);
			cr_assert_eq(avro_value_get_discriminant(&u, &d), 0);
			if (d == 0) {
				cr_assert_null(t.trade_id);
			} else {
				const char *s;
				size_t n;

				cr_assert_eq(avro_value_get_current_branch(&u, &br), 0);
				cr_assert_eq(avro_value_get_string(&br, &s, &n), 0);
				cr_assert_not_null(t.trade_id);
				cr_assert_str_eq(t.trade_id, s);
			}
			ok++;
		}
	}
	/* Every path was taken many times. */
	cr_assert_gt(ok, 1000, "%d decoded", ok);
	cr_assert_gt(invalid, 1000, "%d refused values", invalid);
	cr_assert_gt(bad, 1000, "%d refused bytes", bad);
}

Test(codec_onepass, price_decode_equals_avro_c_on_random_and_damaged_records)
{
	int ok = 0, invalid = 0, bad = 0;

	for (int i = 0; i < 20000; i++) {
		struct bb bb = { .n = 0 };
		char why1[512], why2[512];
		lvc_price_t p;
		avro_value_t *v;
		lvc_err_t e1, e2;

		diff_str(&bb);
		put_zz(&bb, (int64_t)(diff_next() % 2000000000000000u) - 1000);
		put_zz(&bb, (int64_t)(diff_next() % 5)); /* 4: out of range */
		put_double(&bb, diff_double());
		diff_mutate(&bb);
		e1 = lvc_codec_decode_price(codec, bb.b, bb.n, &p, why1, sizeof(why1));
		e2 = lvc__codec_read_aux(codec, LVC_REC_PRICE, bb.b, bb.n, &v, why2, sizeof(why2));
		if (e2 != LVC_OK) {
			cr_assert_eq(e1, e2, "record %d: %d vs %d (%s)", i, e1, e2, why2);
			cr_assert_str_eq(why1, why2, "record %d", i);
			bad++;
			continue;
		}
		{
			const char *ins = diff_string(v, "instrument");
			int64_t ts = diff_get_long(v, "ts_us");
			double price = diff_get_double(v, "price");

			if (ins[0] == '\0' || ts < 0 || !isfinite(price) || price <= 0) {
				cr_assert_eq(e1, LVC_ERR_INVALID, "record %d: %d (%s)", i, e1,
				             why1);
				invalid++;
				continue;
			}
			cr_assert_eq(e1, LVC_OK, "record %d: %s", i, why1);
			cr_assert_str_eq(p.instrument, ins);
			cr_assert_eq(p.ts_us, ts);
			cr_assert(diff_same_double(p.price, price));
			cr_assert_eq((int)p.kind, diff_get_enum(v, "kind"));
			ok++;
		}
	}
	cr_assert_gt(ok, 1000, "%d decoded", ok);
	cr_assert_gt(invalid, 1000, "%d refused values", invalid);
	cr_assert_gt(bad, 1000, "%d refused bytes", bad);
}
