/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz harness of the Avro codec's decoders. The first byte selects the
 * record type (modulo the number of types), the rest is the Avro binary.
 * Every input must either be refused cleanly (an error code and a reason)
 * or round-trip: the decoded record encodes to bytes that decode to a
 * record that encodes to the very same bytes, with the same scalar fields.
 * lvc_codec_to_json() must agree with the decoder on which bytes are
 * well-formed (it checks bytes, not values), and Avro C must read every
 * input the validator passes. Any disagreement aborts.
 *
 * Seeds: tests/fuzz/corpus/decode/ (made by tests/data/codec/make_corpus.py),
 * plus every crasher found, kept as a regression input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lvc_codec_t *codec;

/* Freed at exit so that LeakSanitizer reports only real leaks. */
static void destroy_codec(void)
{
	lvc_codec_destroy(codec);
	codec = NULL;
}

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_decode: check failed: %s (line %d)\n", #cond, \
			        __LINE__);                                                  \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* The bytes of the first encode, kept while the second decode overwrites
 * the codec's buffers. */
static uint8_t first[1 << 16];
static size_t first_len;

static void keep(const void *buf, size_t len)
{
	CHECK(len <= sizeof(first));
	memcpy(first, buf, len);
	first_len = len;
}

static void same(const void *buf, size_t len)
{
	CHECK(len == first_len);
	CHECK(memcmp(buf, first, len) == 0);
}

/* A refusal has a reason, and bytes the validator passed are bytes Avro C
 * reads: a failing avro_value_read() means the two disagree. */
static void refused(lvc_err_t err, const char *errstr)
{
	CHECK(errstr[0] != '\0');
	CHECK(err == LVC_ERR_NOMEM || strstr(errstr, ": avro_value_read: ") == NULL);
}

static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_json(lvc_rec_type_t type, const uint8_t *buf, size_t len, lvc_err_t derr)
{
	char errstr[512];
	json_t *j = NULL;
	lvc_err_t jerr = lvc_codec_to_json(codec, type, buf, len, &j, errstr, sizeof(errstr));

	if (derr == LVC_OK || derr == LVC_ERR_INVALID) {
		CHECK(jerr == LVC_OK);
		CHECK(j != NULL);
		{
			char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));

			CHECK(s != NULL);
			free(s);
		}
	} else if (derr != LVC_ERR_NOMEM) {
		CHECK(jerr == derr);
		CHECK(j == NULL);
	}
	json_decref(j);
}

static void fuzz_trade(const uint8_t *buf, size_t len)
{
	char errstr[512];
	lvc_trade_t a, b;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_trade(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(lvc_codec_encode_trade(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_trade(codec, first, first_len, &b, errstr, sizeof(errstr)) ==
		      LVC_OK);
		CHECK(a.ts_us == b.ts_us && same_double(a.price, b.price) &&
		      same_double(a.qty, b.qty) && a.side == b.side &&
		      (a.trade_id == NULL) == (b.trade_id == NULL));
		CHECK(lvc_codec_encode_trade(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_TRADE, buf, len, err);
}

static void fuzz_price(const uint8_t *buf, size_t len)
{
	char errstr[512];
	lvc_price_t a, b;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_price(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(lvc_codec_encode_price(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_price(codec, first, first_len, &b, errstr, sizeof(errstr)) ==
		      LVC_OK);
		CHECK(a.ts_us == b.ts_us && a.kind == b.kind && same_double(a.price, b.price));
		CHECK(lvc_codec_encode_price(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_PRICE, buf, len, err);
}

static void fuzz_position(const uint8_t *buf, size_t len)
{
	char errstr[512];
	lvc_position_t a, b;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_position(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(lvc_codec_encode_position(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_position(codec, first, first_len, &b, errstr,
		                                sizeof(errstr)) == LVC_OK);
		CHECK(a.ts_us == b.ts_us && same_double(a.size, b.size) &&
		      same_double(a.entry_price, b.entry_price) && a.margin_mode == b.margin_mode &&
		      same_double(a.collateral, b.collateral));
		CHECK(lvc_codec_encode_position(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_POSITION, buf, len, err);
}

static void fuzz_balance(const uint8_t *buf, size_t len)
{
	char errstr[512];
	lvc_balance_t a, b;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_balance(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(lvc_codec_encode_balance(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_balance(codec, first, first_len, &b, errstr,
		                               sizeof(errstr)) == LVC_OK);
		CHECK(a.ts_us == b.ts_us && same_double(a.collateral, b.collateral));
		CHECK(lvc_codec_encode_balance(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_BALANCE, buf, len, err);
}

static void fuzz_limit(const uint8_t *buf, size_t len)
{
	static lvc_limit_t a, b;
	char errstr[512];
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_limit(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(a.tiers_n <= LVC_MAX_TIERS && a.components_n <= LVC_MAX_COMPONENTS);
		CHECK(lvc_codec_encode_limit(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_limit(codec, first, first_len, &b, errstr, sizeof(errstr)) ==
		      LVC_OK);
		CHECK(a.ts_us == b.ts_us && a.seq == b.seq && a.status == b.status &&
		      a.reason == b.reason && same_double(a.imr, b.imr) &&
		      same_double(a.max_leverage, b.max_leverage) &&
		      a.has_previous_max_leverage == b.has_previous_max_leverage &&
		      a.tiers_n == b.tiers_n && a.components_n == b.components_n);
		CHECK(memcmp(a.tiers, b.tiers, a.tiers_n * sizeof(a.tiers[0])) == 0);
		CHECK(lvc_codec_encode_limit(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_LIMIT, buf, len, err);
}

static void fuzz_warning(const uint8_t *buf, size_t len)
{
	char errstr[512];
	lvc_warning_t a, b;
	const void *out;
	size_t out_len;
	lvc_err_t err = lvc_codec_decode_warning(codec, buf, len, &a, errstr, sizeof(errstr));

	if (err == LVC_OK) {
		CHECK(lvc_codec_encode_warning(codec, &a, &out, &out_len) == LVC_OK);
		keep(out, out_len);
		CHECK(lvc_codec_decode_warning(codec, first, first_len, &b, errstr,
		                               sizeof(errstr)) == LVC_OK);
		CHECK(a.ts_us == b.ts_us && a.seq == b.seq && a.level == b.level &&
		      a.previous_level == b.previous_level &&
		      a.has_liquidation_price == b.has_liquidation_price &&
		      same_double(a.distance_sigma, b.distance_sigma) &&
		      same_double(a.hit_probability, b.hit_probability));
		CHECK(lvc_codec_encode_warning(codec, &b, &out, &out_len) == LVC_OK);
		same(out, out_len);
	} else {
		refused(err, errstr);
	}
	check_json(LVC_REC_WARNING, buf, len, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t len;

	if (codec == NULL) {
		char errstr[512];

		codec = lvc_codec_new(errstr, sizeof(errstr));
		if (codec == NULL) {
			fprintf(stderr, "fuzz_decode: lvc_codec_new: %s\n", errstr);
			abort();
		}
		atexit(destroy_codec);
	}
	if (size < 1) {
		return 0;
	}
	buf = data + 1;
	len = size - 1;
	switch (data[0] % LVC_REC__COUNT) {
	case LVC_REC_TRADE:
		fuzz_trade(buf, len);
		break;
	case LVC_REC_PRICE:
		fuzz_price(buf, len);
		break;
	case LVC_REC_POSITION:
		fuzz_position(buf, len);
		break;
	case LVC_REC_BALANCE:
		fuzz_balance(buf, len);
		break;
	case LVC_REC_LIMIT:
		fuzz_limit(buf, len);
		break;
	case LVC_REC_WARNING:
		fuzz_warning(buf, len);
		break;
	default: {
		/* StateSnapshot has no struct: only the JSON form. */
		char errstr[512];
		json_t *j = NULL;

		if (lvc_codec_to_json(codec, LVC_REC_STATE, buf, len, &j, errstr, sizeof(errstr)) ==
		    LVC_OK) {
			CHECK(j != NULL);
		} else {
			CHECK(j == NULL && errstr[0] != '\0');
		}
		json_decref(j);
		break;
	}
	}
	return 0;
}
