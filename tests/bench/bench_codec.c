/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of the Avro codec: ns per record and records per second for
 * Trade and LeverageLimit (two tiers, two components: the default config's
 * event), measured for
 *
 *   decode     lvc_codec_decode_*(): validation walk + avro_value_read() +
 *              field extraction + value checks (what the stage pays);
 *   bare read  avro_value_read() alone into a generic value of the same
 *              schema, no validation and no extraction: the baseline, and
 *              the ratio decode / bare read;
 *   validate   the validation walk alone (lvc__avro_check);
 *   encode     lvc_codec_encode_*();
 *
 * plus Avro C allocations per decoded and per encoded record (counted by
 * the codec's allocator). Records are encoded once before timing; every
 * measured loop checks its results so that nothing is optimized away.
 *
 *   bench_codec           the full run (2,000,000 records per figure)
 *   bench_codec --smoke   a short run for CTest (20,000 records)
 *
 * Build without sanitizers for figures (-DLVC_SANITIZE=OFF, Release).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>

#include "io/avro_alloc.h"
#include "io/avro_validate.h"
#include "io/codec.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *what, size_t n, double secs, double base_ns)
{
	double ns = secs * 1e9 / (double)n;

	printf("  %-12s %8.1f ns/record %12.0f records/s", what, ns, (double)n / secs);
	if (base_ns > 0) {
		printf("   x%.2f of bare read", ns / base_ns);
	}
	printf("\n");
}

struct subject {
	const char *name;
	lvc_rec_type_t type;
	const void *bytes;
	size_t len;
};

static int decode_one(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                      double *sink)
{
	char errstr[256];

	if (type == LVC_REC_TRADE) {
		lvc_trade_t t;

		if (lvc_codec_decode_trade(codec, buf, len, &t, errstr, sizeof(errstr)) != LVC_OK) {
			fprintf(stderr, "decode: %s\n", errstr);
			return -1;
		}
		*sink += t.price;
	} else {
		static lvc_limit_t l;

		if (lvc_codec_decode_limit(codec, buf, len, &l, errstr, sizeof(errstr)) != LVC_OK) {
			fprintf(stderr, "decode: %s\n", errstr);
			return -1;
		}
		*sink += l.imr + (double)l.tiers_n;
	}
	return 0;
}

static int bench(lvc_codec_t *codec, const struct subject *s, const void *enc_in, size_t n)
{
	avro_schema_t schema = NULL;
	avro_value_iface_t *iface = NULL;
	avro_value_t value;
	avro_reader_t reader = NULL;
	lvc__avro_prog_t *prog = NULL;
	const char *json = lvc_codec_schema_json(s->type);
	double t0, base_ns, sink = 0;
	uint64_t a0;
	size_t consumed = 0;
	int rc = -1, have_value = 0;

	printf("%s (%zu bytes)\n", s->name, s->len);
	if (avro_schema_from_json_length(json, strlen(json), &schema) != 0 ||
	    (iface = avro_generic_class_from_schema(schema)) == NULL ||
	    avro_generic_value_new(iface, &value) != 0) {
		fprintf(stderr, "baseline setup: %s\n", avro_strerror());
		goto exit;
	}
	have_value = 1;
	reader = avro_reader_memory(s->bytes, (int64_t)s->len);
	if ((prog = lvc__avro_compile(schema, NULL, 0, NULL, 0)) == NULL) {
		goto exit;
	}

	/* Warm up both paths once. */
	if (decode_one(codec, s->type, s->bytes, s->len, &sink) != 0) {
		goto exit;
	}

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		avro_reader_memory_set_source(reader, s->bytes, (int64_t)s->len);
		if (avro_value_read(reader, &value) != 0) {
			fprintf(stderr, "bare read: %s\n", avro_strerror());
			goto exit;
		}
	}
	base_ns = (now_s() - t0) * 1e9 / (double)n;
	report("bare read", n, base_ns * (double)n / 1e9, 0);

	a0 = lvc__avro_alloc_count();
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (decode_one(codec, s->type, s->bytes, s->len, &sink) != 0) {
			goto exit;
		}
	}
	report("decode", n, now_s() - t0, base_ns);
	printf("  %-12s %8.2f Avro C allocations/record\n", "",
	       (double)(lvc__avro_alloc_count() - a0) / (double)n);

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (lvc__avro_check(prog, s->bytes, s->len, &consumed, NULL, 0) != LVC_OK ||
		    consumed != s->len) {
			fprintf(stderr, "validate failed\n");
			goto exit;
		}
	}
	report("validate", n, now_s() - t0, base_ns);

	a0 = lvc__avro_alloc_count();
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const void *out;
		size_t len;
		lvc_err_t err = s->type == LVC_REC_TRADE
		                    ? lvc_codec_encode_trade(codec, enc_in, &out, &len)
		                    : lvc_codec_encode_limit(codec, enc_in, &out, &len);

		if (err != LVC_OK || len != s->len) {
			fprintf(stderr, "encode failed\n");
			goto exit;
		}
	}
	report("encode", n, now_s() - t0, 0);
	printf("  %-12s %8.2f Avro C allocations/record\n", "",
	       (double)(lvc__avro_alloc_count() - a0) / (double)n);
	if (sink == 0) {
		printf("(sink %g)\n", sink);
	}
	rc = 0;
exit:
	lvc__avro_prog_free(prog);
	if (reader != NULL) {
		avro_reader_free(reader);
	}
	if (have_value) {
		avro_value_decref(&value);
	}
	if (iface != NULL) {
		avro_value_iface_decref(iface);
	}
	if (schema != NULL) {
		avro_schema_decref(schema);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static uint8_t trade_bytes[256], limit_bytes[1024];
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	size_t n = smoke ? 20000 : 2000000;
	char errstr[256];
	lvc_codec_t *codec = lvc_codec_new(errstr, sizeof(errstr));
	lvc_trade_t trade = { "BTC-PERP", 1700000000000000, 50000.5,
		              0.25,       LVC_SIDE_SELL,    "1234567890" };
	static lvc_limit_t limit;
	struct subject subj[2];
	const void *out;
	size_t len;
	int rc = 1;

	if (codec == NULL) {
		fprintf(stderr, "lvc_codec_new: %s\n", errstr);
		return 1;
	}
	limit.instrument = "ETH-PERP";
	limit.ts_us = 1700000000123456;
	limit.seq = 7;
	limit.status = LVC_STATUS_ACTIVE;
	limit.reason = LVC_REASON_TIGHTEN;
	limit.estimator = "max";
	limit.sigma_ann = 0.75;
	limit.sigma_horizon = 0.0078;
	limit.imr = 0.05;
	limit.mmr = 0.025;
	limit.max_leverage = 20;
	limit.has_previous_max_leverage = 1;
	limit.previous_max_leverage = 25;
	limit.tiers_n = 3;
	limit.tiers[0] = (lvc_tier_t){ 1e6, 20, 0.05, 0.025, 0 };
	limit.tiers[1] = (lvc_tier_t){ 1e7, 10, 0.1, 0.05, 25000 };
	limit.tiers[2] = (lvc_tier_t){ 1e12, 3, 0.25, 0.125, 775000 };
	limit.components_n = 3;
	limit.components[0] = (lvc_component_t){ "ewma", 0.75 };
	limit.components[1] = (lvc_component_t){ "yang_zhang", 0.7 };
	limit.components[2] = (lvc_component_t){ "bipower", 0.6 };
	limit.config_id = "0123456789abcdef";

	if (lvc_codec_encode_trade(codec, &trade, &out, &len) != LVC_OK) {
		goto exit;
	}
	memcpy(trade_bytes, out, len);
	subj[0] = (struct subject){ "Trade", LVC_REC_TRADE, trade_bytes, len };
	if (lvc_codec_encode_limit(codec, &limit, &out, &len) != LVC_OK) {
		goto exit;
	}
	memcpy(limit_bytes, out, len);
	subj[1] = (struct subject){ "LeverageLimit (3 tiers, 3 components)", LVC_REC_LIMIT,
		                    limit_bytes, len };
	printf("bench_codec: %zu records per figure%s\n", n, smoke ? " (smoke)" : "");
	if (bench(codec, &subj[0], &trade, n) != 0 || bench(codec, &subj[1], &limit, n) != 0) {
		goto exit;
	}
	rc = 0;
exit:
	lvc_codec_destroy(codec);
	return rc;
}
