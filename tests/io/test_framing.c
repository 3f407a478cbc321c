/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Confluent wire format without a registry: the 5-byte header, schema
 * resolution of evolved writer schemas against ours (each evolution case of
 * issue 9, and the incompatible ones with the field named), the wire with
 * static ids (a registry-less bus), the held-record queue, and the pipeline
 * framing its outputs and dead-lettering bad frames with the original
 * bytes. Writer bytes are built here by hand, byte by byte, so that a test
 * does not trust the encoder it checks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "app/pipeline.h"
#include "io/codec.h"
#include "io/codec_resolve.h"
#include "io/config.h"
#include "io/framing.h"

/* ---- writer bytes by hand ---- */

typedef struct wb_s {
	uint8_t b[512];
	size_t n;
} wb_t;

static void w_long(wb_t *w, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (z >= 0x80) {
		w->b[w->n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	w->b[w->n++] = (uint8_t)z;
}

static void w_str(wb_t *w, const char *s)
{
	w_long(w, (int64_t)strlen(s));
	memcpy(w->b + w->n, s, strlen(s));
	w->n += strlen(s);
}

static void w_double(wb_t *w, double d)
{
	memcpy(w->b + w->n, &d, 8); /* little-endian host, as Avro */
	w->n += 8;
}

static void w_float(wb_t *w, float f)
{
	memcpy(w->b + w->n, &f, 4);
	w->n += 4;
}

static lvc_codec_t *codec;

static void setup(void)
{
	char err[256];

	codec = lvc_codec_new(err, sizeof(err));
	cr_assert_not_null(codec, "%s", err);
}

static void teardown(void)
{
	lvc_codec_destroy(codec);
}

/* Resolves writer against Trade, runs it on w and decodes the result. */
static lvc_err_t read_trade(const char *writer, const wb_t *w, lvc_trade_t *t, char *why,
                            size_t why_size)
{
	lvc_resolver_t *r = NULL;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_resolver_new(LVC_REC_TRADE, writer, &r, why, why_size);

	if (err != LVC_OK) {
		return err;
	}
	err = lvc_resolver_run(r, w->b, w->n, &out, &out_len, why, why_size);
	if (err == LVC_OK) {
		err = lvc_codec_decode_trade(codec, out, out_len, t, why, why_size);
	}
	lvc_resolver_destroy(r);
	return err;
}

/* ---- framing ---- */

Test(framing, parses_the_big_endian_schema_id_and_the_payload)
{
	const uint8_t buf[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb };
	const void *p;
	size_t n;
	int32_t id;
	char why[128];

	cr_assert_eq(lvc_framing_parse(buf, sizeof(buf), &id, &p, &n, why, sizeof(why)), LVC_OK);
	cr_assert_eq(id, 0x01020304);
	cr_assert_eq(n, 2);
	cr_assert_eq(((const uint8_t *)p)[0], 0xaa);
}

Test(framing, refuses_a_wrong_magic_byte_with_the_byte_in_the_reason)
{
	const uint8_t buf[] = { 0x07, 0, 0, 0, 1, 0 };
	const void *p;
	size_t n;
	int32_t id;
	char why[128];

	cr_assert_eq(lvc_framing_parse(buf, sizeof(buf), &id, &p, &n, why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert_str_eq(why, "confluent framing: magic byte 0x07, expected 0x00");
}

Test(framing, refuses_every_header_shorter_than_five_bytes)
{
	const uint8_t buf[] = { 0, 0, 0, 0, 1 };
	const void *p;
	size_t n;
	int32_t id;
	char why[128];

	for (size_t len = 0; len < 5; len++) {
		cr_assert_eq(lvc_framing_parse(buf, len, &id, &p, &n, why, sizeof(why)),
		             LVC_ERR_DECODE, "len %zu", len);
		cr_assert(strstr(why, "shorter than the 5-byte header") != NULL, "%s", why);
	}
	cr_assert_eq(lvc_framing_parse(buf, 5, &id, &p, &n, why, sizeof(why)), LVC_OK);
	cr_assert_eq(n, 0);
}

Test(framing, writes_the_header_it_parses)
{
	uint8_t h[5];
	const void *p;
	size_t n;
	int32_t id;
	char why[128];

	lvc_framing_header(2147483647, h);
	cr_assert_eq(h[0], 0);
	cr_assert_eq(lvc_framing_parse(h, 5, &id, &p, &n, why, sizeof(why)), LVC_OK);
	cr_assert_eq(id, 2147483647);
}

/* ---- resolution: evolution cases ---- */

TestSuite(resolve, .init = setup, .fini = teardown);

Test(resolve, our_own_schema_passes_through)
{
	lvc_resolver_t *r;
	char why[256];
	const void *out;
	size_t n;
	const uint8_t b[] = { 1, 2, 3 };

	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE, lvc_codec_schema_json(LVC_REC_TRADE), &r, why,
	                              sizeof(why)),
	             LVC_OK, "%s", why);
	cr_assert(lvc_resolver_is_identity(r));
	cr_assert_eq(lvc_resolver_run(r, b, sizeof(b), &out, &n, why, sizeof(why)), LVC_OK);
	cr_assert_eq(out, (const void *)b);
	lvc_resolver_destroy(r);
}

Test(resolve, reads_reordered_fields_and_skips_added_fields_with_defaults)
{
	/* Fields in another order, two added with defaults (one a record
	 * with an array, skipped whole), trade_id present. */
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"venue\",\"type\":\"string\",\"default\":\"X\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"meta\",\"type\":{\"type\":\"record\",\"name\":\"Meta\",\"fields\":["
	    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]},"
	    "\"default\":{\"tags\":[]}},"
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"trade_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"}]}";
	wb_t w = { 0 };
	lvc_trade_t t;
	char why[256];

	w_str(&w, "binance");
	w_long(&w, 1); /* SELL */
	w_double(&w, 0.25);
	w_long(&w, 2); /* tags: one block of 2 */
	w_str(&w, "a");
	w_str(&w, "bc");
	w_long(&w, 0);
	w_str(&w, "BTC-PERP");
	w_long(&w, 1);
	w_str(&w, "t-9");
	w_double(&w, 64000.5);
	w_long(&w, 1700000000123456);
	cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_OK, "%s", why);
	cr_assert_str_eq(t.instrument, "BTC-PERP");
	cr_assert_eq(t.ts_us, 1700000000123456);
	cr_assert_eq(t.price, 64000.5);
	cr_assert_eq(t.qty, 0.25);
	cr_assert_eq(t.side, LVC_SIDE_SELL);
	cr_assert_str_eq(t.trade_id, "t-9");
}

Test(resolve, widens_int_to_long_and_float_to_double)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"int\"},"
	    "{\"name\":\"price\",\"type\":\"float\"},"
	    "{\"name\":\"qty\",\"type\":\"int\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}},"
	    "{\"name\":\"trade_id\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
	wb_t w = { 0 };
	lvc_trade_t t;
	char why[256];

	w_str(&w, "ETH-PERP");
	w_long(&w, 2000000000);
	w_float(&w, 3000.75f);
	w_long(&w, 3);
	w_long(&w, 0);
	w_long(&w, 0);
	cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_OK, "%s", why);
	cr_assert_eq(t.ts_us, 2000000000);
	cr_assert_eq(t.price, 3000.75);
	cr_assert_eq(t.qty, 3.0);
	cr_assert_eq(t.side, LVC_SIDE_BUY);
	cr_assert_null(t.trade_id);
}

Test(resolve, maps_enums_by_symbol_and_an_added_symbol_to_the_default)
{
	/* Symbols reordered and one added; the writer's enum default is one
	 * of ours (UNKNOWN). */
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"SELL\",\"BUY\",\"AUCTION\",\"UNKNOWN\"],\"default\":\"UNKNOWN\"}},"
	    "{\"name\":\"trade_id\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
	const int64_t wsym[] = { 0, 1, 2, 3 };
	const lvc_side_t want[] = { LVC_SIDE_SELL, LVC_SIDE_BUY, LVC_SIDE_UNKNOWN,
		                    LVC_SIDE_UNKNOWN };

	for (size_t i = 0; i < 4; i++) {
		wb_t w = { 0 };
		lvc_trade_t t;
		char why[256];

		w_str(&w, "BTC-PERP");
		w_long(&w, 1);
		w_double(&w, 10);
		w_double(&w, 1);
		w_long(&w, wsym[i]);
		w_long(&w, 0);
		cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_OK, "%s", why);
		cr_assert_eq(t.side, want[i], "writer symbol %zu", i);
	}
}

Test(resolve, fills_our_null_default_when_the_writer_lacks_the_field)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";
	wb_t w = { 0 };
	lvc_trade_t t;
	char why[256];

	w_str(&w, "X");
	w_long(&w, 5);
	w_double(&w, 2);
	w_double(&w, 3);
	w_long(&w, 2);
	cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_OK, "%s", why);
	cr_assert_null(t.trade_id);
	cr_assert_eq(t.side, LVC_SIDE_UNKNOWN);
}

Test(resolve, refuses_a_writer_without_a_field_we_need_naming_it)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";
	lvc_resolver_t *r = NULL;
	char why[256];

	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE, writer, &r, why, sizeof(why)),
	             LVC_ERR_INVALID);
	cr_assert_null(r);
	cr_assert_str_eq(why,
	                 "Trade.price: the writer schema has no field price, and ours gives it no "
	                 "default");
}

Test(resolve, refuses_a_type_that_cannot_be_promoted_naming_the_field)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"PriceTick\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"PriceKind\","
	    "\"symbols\":[\"MARK\",\"INDEX\",\"MID\",\"LAST\"]}},"
	    "{\"name\":\"price\",\"type\":\"string\"}]}";
	lvc_resolver_t *r = NULL;
	char why[256];

	cr_assert_eq(lvc_resolver_new(LVC_REC_PRICE, writer, &r, why, sizeof(why)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(why, "PriceTick.price: the writer's string cannot be read as our double");
	/* double -> float is a narrowing, refused too */
	cr_assert_eq(lvc_resolver_new(LVC_REC_PRICE,
	                              "{\"type\":\"record\",\"name\":\"PriceTick\",\"fields\":["
	                              "{\"name\":\"instrument\",\"type\":\"string\"},"
	                              "{\"name\":\"ts_us\",\"type\":\"double\"},"
	                              "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":"
	                              "\"PriceKind\",\"symbols\":[\"MARK\"]}},"
	                              "{\"name\":\"price\",\"type\":\"double\"}]}",
	                              &r, why, sizeof(why)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(why, "PriceTick.ts_us: the writer's double cannot be read as our long");
}

Test(resolve, refuses_another_record_and_a_non_schema)
{
	lvc_resolver_t *r = NULL;
	char why[256];

	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE,
	                              "{\"type\":\"record\",\"name\":\"Quote\",\"fields\":[]}", &r,
	                              why, sizeof(why)),
	             LVC_ERR_INVALID);
	cr_assert(strstr(why, "Quote") != NULL, "%s", why);
	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE, "{\"type\":", &r, why, sizeof(why)),
	             LVC_ERR_DECODE);
}

Test(resolve, an_added_symbol_without_a_default_is_refused_per_record)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"PriceTick\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"PriceKind\","
	    "\"symbols\":[\"MARK\",\"INDEX\",\"MID\",\"LAST\",\"OTHER\"]}},"
	    "{\"name\":\"price\",\"type\":\"double\"}]}";
	lvc_resolver_t *r;
	char why[256];
	const void *out;
	size_t n;
	lvc_price_t p;
	wb_t ok = { 0 }, bad = { 0 };

	cr_assert_eq(lvc_resolver_new(LVC_REC_PRICE, writer, &r, why, sizeof(why)), LVC_OK, "%s",
	             why);
	w_str(&ok, "A");
	w_long(&ok, 1);
	w_long(&ok, 0);
	w_double(&ok, 1.5);
	cr_assert_eq(lvc_resolver_run(r, ok.b, ok.n, &out, &n, why, sizeof(why)), LVC_OK, "%s",
	             why);
	cr_assert_eq(lvc_codec_decode_price(codec, out, n, &p, why, sizeof(why)), LVC_OK);
	cr_assert_eq(p.kind, LVC_PRICE_MARK);
	w_str(&bad, "A");
	w_long(&bad, 1);
	w_long(&bad, 4);
	w_double(&bad, 1.5);
	cr_assert_eq(lvc_resolver_run(r, bad.b, bad.n, &out, &n, why, sizeof(why)),
	             LVC_ERR_INVALID);
	cr_assert_str_eq(why, "PriceTick.kind: the writer's symbol OTHER is not one of ours, and "
	                      "neither our enum nor the writer's gives a default we have");
	lvc_resolver_destroy(r);
}

Test(resolve, checks_the_bytes_against_the_writer_schema_first)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}}]}";
	lvc_resolver_t *r;
	char why[256];
	const void *out;
	size_t n;
	wb_t w = { 0 };

	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE, writer, &r, why, sizeof(why)), LVC_OK);
	w_double(&w, 1);
	w_long(&w, 200000000); /* a string of 200 MB declared, 0 bytes present */
	cr_assert_eq(lvc_resolver_run(r, w.b, w.n, &out, &n, why, sizeof(why)), LVC_ERR_DECODE);
	cr_assert(strstr(why, "instrument") != NULL, "%s", why);
	/* trailing bytes */
	w.n = 0;
	w_double(&w, 1);
	w_str(&w, "A");
	w_long(&w, 1);
	w_double(&w, 2);
	w_long(&w, 0);
	w_long(&w, 0);
	cr_assert_eq(lvc_resolver_run(r, w.b, w.n, &out, &n, why, sizeof(why)), LVC_ERR_DECODE);
	lvc_resolver_destroy(r);
}

Test(resolve, a_writer_union_branch_without_a_match_is_refused_per_record)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"instrument\",\"type\":\"string\"},"
	    "{\"name\":\"ts_us\",\"type\":\"long\"},"
	    "{\"name\":\"price\",\"type\":\"double\"},"
	    "{\"name\":\"qty\",\"type\":\"double\"},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"BUY\",\"SELL\",\"UNKNOWN\"]}},"
	    "{\"name\":\"trade_id\",\"type\":[\"null\",\"boolean\",\"bytes\"]}]}";
	wb_t w = { 0 };
	lvc_trade_t t;
	char why[256];
	size_t base;

	w_str(&w, "A");
	w_long(&w, 1);
	w_double(&w, 2);
	w_double(&w, 3);
	w_long(&w, 0);
	base = w.n;
	w_long(&w, 2); /* bytes -> our string */
	w_str(&w, "id-1");
	cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_OK, "%s", why);
	cr_assert_str_eq(t.trade_id, "id-1");
	w.n = base;
	w_long(&w, 1); /* boolean: nothing of ours matches */
	w.b[w.n++] = 1;
	cr_assert_eq(read_trade(writer, &w, &t, why, sizeof(why)), LVC_ERR_INVALID);
	cr_assert_str_eq(why,
	                 "Trade.trade_id: the writer's union branch boolean has no match in our "
	                 "type union");
}

/* ---- the wire on a registry-less bus ---- */

static const char *static_cfg = "schema:\n"
                                "  wire_format: confluent\n"
                                "  ids: {trade: 11, price_tick: 12, position: 13,\n"
                                "        account_balance: 14, leverage_limit: 21,\n"
                                "        liquidation_warning: 22}\n";

Test(wire, reads_static_ids_as_our_schemas_and_frames_outputs_with_theirs, .init = setup,
     .fini = teardown)
{
	char err[512];
	lvc_config_t *cfg = lvc_config_load_string(static_cfg, "t.yaml", err, sizeof(err));
	lvc_wire_t *w;
	lvc_trade_t in = { "BTC-PERP", 7, 100.0, 2.0, LVC_SIDE_BUY, NULL }, got;
	const void *plain, *out, *framed;
	size_t plain_n, out_n, framed_n;
	uint8_t buf[256];

	cr_assert_not_null(cfg, "%s", err);
	w = lvc_wire_new(cfg, "", err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(lvc_wire_output_id(w, LVC_REC_LIMIT), 21);
	cr_assert_eq(lvc_wire_output_id(w, LVC_REC_WARNING), 22);
	cr_assert_eq(lvc_codec_encode_trade(codec, &in, &plain, &plain_n), LVC_OK);
	lvc_framing_header(11, buf);
	memcpy(buf + 5, plain, plain_n);
	cr_assert_eq(
	    lvc_wire_decode(w, LVC_REC_TRADE, buf, plain_n + 5, &out, &out_n, err, sizeof(err)),
	    LVC_OK, "%s", err);
	cr_assert_eq(lvc_codec_decode_trade(codec, out, out_n, &got, err, sizeof(err)), LVC_OK);
	cr_assert_str_eq(got.instrument, "BTC-PERP");
	/* an unknown id: a dead letter with the reason */
	lvc_framing_header(99, buf);
	cr_assert_eq(
	    lvc_wire_decode(w, LVC_REC_TRADE, buf, plain_n + 5, &out, &out_n, err, sizeof(err)),
	    LVC_ERR_DECODE);
	cr_assert_str_eq(err, "schema id 99 is none of the configured schema.ids and no "
	                      "schema.registry.url is set");
	cr_assert_eq(lvc_wire_encode(w, LVC_REC_LIMIT, "\x02\x41", 2, &framed, &framed_n), LVC_OK);
	cr_assert_eq(framed_n, 7);
	cr_assert_eq(memcmp(framed, "\x00\x00\x00\x00\x15\x02\x41", 7), 0);
	lvc_wire_destroy(w);
	lvc_config_destroy(cfg);
}

/* ---- held records ---- */

Test(holdq, keeps_each_lane_in_order_and_bounds_its_bytes)
{
	lvc_holdq_t *q = lvc_holdq_new(1000);
	const lvc_held_t *h;

	cr_assert_not_null(q);
	cr_assert_eq(lvc_holdq_push(q, 3, "t", 0, 10, "k", 1, "v1", 2), LVC_OK);
	cr_assert_eq(lvc_holdq_push(q, 3, "t", 1, 20, NULL, 0, "v2", 2), LVC_OK);
	cr_assert_eq(lvc_holdq_push(q, 3, "t", 0, 11, NULL, 0, NULL, 0), LVC_OK);
	cr_assert_eq(lvc_holdq_count(q), 3);
	h = lvc_holdq_front(q, 3, 0);
	cr_assert_eq(h->offset, 10);
	cr_assert_eq(memcmp(h->value, "v1", 2), 0);
	lvc_holdq_pop(q, 3, 0);
	h = lvc_holdq_front(q, 3, 0);
	cr_assert_eq(h->offset, 11);
	cr_assert_null(h->value);
	lvc_holdq_pop(q, 3, 0);
	cr_assert_null(lvc_holdq_front(q, 3, 0));
	cr_assert_eq(lvc_holdq_front(q, 3, 1)->offset, 20);
	cr_assert_null(lvc_holdq_front(q, 2, 1));
	cr_assert_eq(lvc_holdq_push(q, 3, "t", 2, 1, NULL, 0, "x", 900), LVC_ERR_RANGE);
	lvc_holdq_destroy(q);
}

/* ---- the pipeline with framing ---- */

typedef struct got_s {
	int n;
	lvc_out_kind_t kind[16];
	uint8_t value[16][512];
	size_t len[16];
	char error[16][256];
	char source[16][128];
} got_t;

static int sink(void *opaque, const lvc_outrec_t *out)
{
	got_t *g = opaque;

	cr_assert_lt(g->n, 16);
	g->kind[g->n] = out->kind;
	cr_assert_leq(out->value_len, sizeof(g->value[0]));
	memcpy(g->value[g->n], out->value, out->value_len);
	g->len[g->n] = out->value_len;
	snprintf(g->error[g->n], sizeof(g->error[0]), "%s", out->error != NULL ? out->error : "");
	snprintf(g->source[g->n], sizeof(g->source[0]), "%s", out->source);
	g->n++;
	return 0;
}

Test(wire_pipeline, frames_limits_and_dead_letters_bad_frames_with_the_original_bytes,
     .init = setup, .fini = teardown)
{
	char err[512];
	lvc_config_t *cfg = lvc_config_load_string(static_cfg, "t.yaml", err, sizeof(err));
	got_t g = { 0 };
	lvc_pipeline_t *pl;
	lvc_trade_t t = { "BTC-PERP", 1700000000000000, 100.0, 1.0, LVC_SIDE_BUY, NULL };
	lvc_limit_t lim;
	const void *plain;
	size_t plain_n;
	uint8_t buf[256];
	lvc_inrec_t in = { LVC_IN_TRADES, "market.trades", 0, 5, "BTC-PERP", 8, buf, 0 };

	cr_assert_not_null(cfg, "%s", err);
	pl = lvc_pipeline_new(cfg, "", sink, &g, err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &plain, &plain_n), LVC_OK);
	lvc_framing_header(11, buf);
	memcpy(buf + 5, plain, plain_n);
	in.value_len = plain_n + 5;
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
	cr_assert_geq(g.n, 1);
	cr_assert_eq(g.kind[0], LVC_OUT_LIMIT);
	cr_assert_eq(memcmp(g.value[0], "\x00\x00\x00\x00\x15", 5), 0);
	cr_assert_eq(
	    lvc_codec_decode_limit(codec, g.value[0] + 5, g.len[0] - 5, &lim, err, sizeof(err)),
	    LVC_OK, "%s", err);
	cr_assert_str_eq(lim.instrument, "BTC-PERP");
	g.n = 0;
	buf[0] = 0x07;
	in.offset = 6;
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.kind[0], LVC_OUT_DEAD_LETTER);
	cr_assert_str_eq(g.error[0], "confluent framing: magic byte 0x07, expected 0x00");
	cr_assert_eq(g.len[0], plain_n + 5);
	cr_assert_eq(memcmp(g.value[0], buf, plain_n + 5), 0);
	cr_assert_str_eq(g.source[0], "market.trades:0:6");
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
}

/* ---- hostile bytes ---- */

Test(resolve, random_damage_to_evolved_records_never_crashes_and_keeps_memory_flat)
{
	const char *writer =
	    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
	    "{\"name\":\"venue\",\"type\":[\"null\",\"string\",{\"type\":\"array\",\"items\":"
	    "\"long\"}],\"default\":null},"
	    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\","
	    "\"symbols\":[\"SELL\",\"BUY\",\"AUCTION\"]}},"
	    "{\"name\":\"ts_us\",\"type\":\"int\"},"
	    "{\"name\":\"qty\",\"type\":\"float\"},"
	    "{\"name\":\"instrument\",\"type\":\"bytes\"},"
	    "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}},"
	    "{\"name\":\"price\",\"type\":\"long\"}]}";
	lvc_resolver_t *r;
	char why[256];
	wb_t base = { 0 };
	unsigned seed = 12345;
	size_t mem0 = 0;
	int ok = 0, refused = 0;

	cr_assert_eq(lvc_resolver_new(LVC_REC_TRADE, writer, &r, why, sizeof(why)), LVC_OK, "%s",
	             why);
	w_long(&base, 2); /* venue: the array branch */
	w_long(&base, 2);
	w_long(&base, 7);
	w_long(&base, -9);
	w_long(&base, 0);
	w_long(&base, 1);
	w_long(&base, 123);
	w_float(&base, 1.5f);
	w_str(&base, "BTC-PERP");
	w_long(&base, 1);
	w_str(&base, "k");
	w_str(&base, "v");
	w_long(&base, 0);
	w_long(&base, 64000);
	for (int round = 0; round < 20000; round++) {
		wb_t w = base;
		const void *out;
		size_t n;
		lvc_trade_t t;
		lvc_err_t err;
		int edits = 1 + (int)(rand_r(&seed) % 4);

		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)rand_r(&seed) % w.n;

			switch (rand_r(&seed) % 3) {
			case 0:
				w.b[at] = (uint8_t)rand_r(&seed);
				break;
			case 1:
				w.n = at; /* truncate */
				break;
			default:
				if (w.n < sizeof(w.b)) {
					w.b[w.n++] = (uint8_t)rand_r(&seed);
				}
				break;
			}
			if (w.n == 0) {
				break;
			}
		}
		err = lvc_resolver_run(r, w.b, w.n, &out, &n, why, sizeof(why));
		cr_assert(err == LVC_OK || err == LVC_ERR_DECODE || err == LVC_ERR_INVALID,
		          "round %d: %d %s", round, err, why);
		ok += err == LVC_OK;
		refused += err != LVC_OK;
		if (err == LVC_OK) {
			err = lvc_codec_decode_trade(codec, out, n, &t, why, sizeof(why));
			cr_assert(err == LVC_OK || err == LVC_ERR_DECODE || err == LVC_ERR_INVALID,
			          "round %d: decode %d %s", round, err, why);
		}
		if (round == 1000) {
			mem0 = lvc_codec_memory_in_use();
		}
	}
	/* both outcomes were exercised, so the walk past a damaged byte ran */
	cr_assert_gt(ok, 100, "%d transcoded", ok);
	cr_assert_gt(refused, 100, "%d refused", refused);
	cr_assert_leq(lvc_codec_memory_in_use(), mem0 + 4096, "Avro C memory grew: %zu -> %zu",
	              mem0, lvc_codec_memory_in_use());
	lvc_resolver_destroy(r);
}

Test(wire_pipeline, plain_inputs_with_framed_outputs_for_file_replays_to_the_bus, .init = setup,
     .fini = teardown)
{
	char err[512];
	lvc_config_t *cfg = lvc_config_load_string(static_cfg, "t.yaml", err, sizeof(err));
	got_t g = { 0 };
	lvc_pipeline_t *pl;
	lvc_trade_t t = { "ETH-PERP", 1700000000000000, 10.0, 1.0, LVC_SIDE_SELL, NULL };
	const void *plain;
	size_t plain_n;
	lvc_inrec_t in = { LVC_IN_TRADES, "trades.avro", 0, 0, NULL, 0, NULL, 0 };

	cr_assert_not_null(cfg, "%s", err);
	pl = lvc_pipeline_new_wire(cfg, "backtest.", LVC_WIRE_PLAIN, LVC_WIRE_CONFLUENT, sink, &g,
	                           err, sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	cr_assert_eq(lvc_codec_encode_trade(codec, &t, &plain, &plain_n), LVC_OK);
	in.value = plain;
	in.value_len = plain_n;
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
	cr_assert_geq(g.n, 1);
	cr_assert_eq(g.kind[0], LVC_OUT_LIMIT, "%s", g.error[0]);
	cr_assert_eq(memcmp(g.value[0], "\x00\x00\x00\x00\x15", 5), 0);
	lvc_pipeline_destroy(pl);
	/* plain both ways: a container file replay with --out */
	g.n = 0;
	pl = lvc_pipeline_new_wire(cfg, "", LVC_WIRE_PLAIN, LVC_WIRE_PLAIN, sink, &g, err,
	                           sizeof(err));
	cr_assert_not_null(pl, "%s", err);
	in.value = plain;
	cr_assert_eq(lvc_pipeline_process(pl, &in, err, sizeof(err)), LVC_OK, "%s", err);
	cr_assert_eq(g.kind[0], LVC_OUT_LIMIT);
	cr_assert_neq(g.value[0][0], 0x00, "not framed");
	lvc_pipeline_destroy(pl);
	lvc_config_destroy(cfg);
}
