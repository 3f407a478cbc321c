/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of the Confluent wire format's decode path: ns per Trade for
 *
 *   plain        lvc_codec_decode_trade() on plain Avro binary (baseline);
 *   framed same  lvc_wire_decode() + decode, the writer schema being ours
 *                (header check, id lookup, pass-through);
 *   framed evol  header parse + the resolver of an evolved writer schema
 *                (the fields reordered, two added with defaults, price and
 *                qty float, Side with an added symbol: validation against
 *                the writer schema, transcoding into our plain binary) +
 *                the same decode; the id lookup is the one "framed same"
 *                includes (a static id stands for our own schema, so the
 *                evolved resolver is driven directly);
 *   resolve only the resolver alone for the evolved writer;
 *
 * with the ratio of each to plain. No registry is involved: after the first
 * record of an id the stage runs exactly these cached paths.
 *
 *   bench_registry           the full run (2,000,000 records per figure)
 *   bench_registry --smoke   a short run for CTest (20,000 records)
 *
 * Build without sanitizers for figures (-DLVC_SANITIZE=OFF, Release).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/codec.h"
#include "io/codec_resolve.h"
#include "io/config.h"
#include "io/framing.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *evolved =
    "{\"type\":\"record\",\"name\":\"Trade\",\"namespace\":\"levcal\",\"fields\":["
    "{\"name\":\"venue\",\"type\":\"string\",\"default\":\"XNAS\"},"
    "{\"name\":\"side\",\"type\":{\"type\":\"enum\",\"name\":\"Side\",\"symbols\":"
    "[\"BUY\",\"SELL\",\"UNKNOWN\",\"AUCTION\"],\"default\":\"UNKNOWN\"}},"
    "{\"name\":\"ts_us\",\"type\":\"long\"},"
    "{\"name\":\"qty\",\"type\":\"float\"},"
    "{\"name\":\"instrument\",\"type\":\"string\"},"
    "{\"name\":\"fee\",\"type\":\"double\",\"default\":0.0},"
    "{\"name\":\"price\",\"type\":\"float\"},"
    "{\"name\":\"trade_id\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

static void put_long(uint8_t *b, size_t *n, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (z >= 0x80) {
		b[(*n)++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	b[(*n)++] = (uint8_t)z;
}

static void put_str(uint8_t *b, size_t *n, const char *s)
{
	put_long(b, n, (int64_t)strlen(s));
	memcpy(b + *n, s, strlen(s));
	*n += strlen(s);
}

/* A framed evolved Trade with id 7. */
static size_t evolved_record(uint8_t *b)
{
	size_t n = 5;
	float qty = 0.75f, price = 64000.5f;
	double fee = 0.01;

	lvc_framing_header(7, b);
	put_str(b, &n, "XLON");
	put_long(b, &n, 1);
	put_long(b, &n, INT64_C(1767225600123456));
	memcpy(b + n, &qty, 4);
	n += 4;
	put_str(b, &n, "BTC-PERP");
	memcpy(b + n, &fee, 8);
	n += 8;
	memcpy(b + n, &price, 4);
	n += 4;
	put_long(b, &n, 1);
	put_str(b, &n, "BTC-PERP-123456");
	return n;
}

int main(int argc, char **argv)
{
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	size_t n = smoke ? 20000 : 2000000;
	char err[512];
	lvc_codec_t *codec = lvc_codec_new(err, sizeof(err));
	lvc_config_t *cfg;
	lvc_wire_t *w;
	lvc_trade_t t = { "BTC-PERP",    INT64_C(1767225600123456), 64000.5, 0.75,
		          LVC_SIDE_SELL, "BTC-PERP-123456" };
	const void *plain, *out;
	size_t plain_n, out_n, ev_n;
	uint8_t same[256], ev[256];
	double t0, base, s_same, s_ev, s_res;
	uint64_t check = 0;
	lvc_resolver_t *probe;

	cfg = lvc_config_load_string("schema:\n  wire_format: confluent\n"
	                             "  ids: {trade: 11, leverage_limit: 21, "
	                             "liquidation_warning: 22}\n",
	                             "bench.yaml", err, sizeof(err));
	if (codec == NULL || cfg == NULL || (w = lvc_wire_new(cfg, "", err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_registry: %s\n", err);
		return 1;
	}
	if (lvc_resolver_new(LVC_REC_TRADE, evolved, &probe, err, sizeof(err)) != LVC_OK) {
		fprintf(stderr, "bench_registry: %s\n", err);
		return 1;
	}
	if (lvc_codec_encode_trade(codec, &t, &plain, &plain_n) != LVC_OK) {
		return 1;
	}
	lvc_framing_header(11, same);
	memcpy(same + 5, plain, plain_n);
	ev_n = evolved_record(ev);
	{
		/* plain keeps its own copy: the codec's encode buffer is reused */
		static uint8_t pcopy[256];

		memcpy(pcopy, plain, plain_n);
		plain = pcopy;
	}

	printf("bench_registry: %zu records per figure%s\n", n, smoke ? " (smoke)" : "");
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		lvc_trade_t got;

		if (lvc_codec_decode_trade(codec, plain, plain_n, &got, err, sizeof(err)) !=
		    LVC_OK) {
			fprintf(stderr, "plain: %s\n", err);
			return 1;
		}
		check += (uint64_t)got.ts_us;
	}
	base = (now_s() - t0) * 1e9 / (double)n;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		lvc_trade_t got;

		if (lvc_wire_decode(w, LVC_REC_TRADE, same, plain_n + 5, &out, &out_n, err,
		                    sizeof(err)) != LVC_OK ||
		    lvc_codec_decode_trade(codec, out, out_n, &got, err, sizeof(err)) != LVC_OK) {
			fprintf(stderr, "framed same: %s\n", err);
			return 1;
		}
		check += (uint64_t)got.ts_us;
	}
	s_same = (now_s() - t0) * 1e9 / (double)n;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		lvc_trade_t got;
		const void *pl;
		size_t pl_n;
		int32_t id;

		if (lvc_framing_parse(ev, ev_n, &id, &pl, &pl_n, err, sizeof(err)) != LVC_OK ||
		    lvc_resolver_run(probe, pl, pl_n, &out, &out_n, err, sizeof(err)) != LVC_OK ||
		    lvc_codec_decode_trade(codec, out, out_n, &got, err, sizeof(err)) != LVC_OK) {
			fprintf(stderr, "framed evolved: %s\n", err);
			return 1;
		}
		check += (uint64_t)got.ts_us + (uint64_t)got.side;
	}
	s_ev = (now_s() - t0) * 1e9 / (double)n;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (lvc_resolver_run(probe, ev + 5, ev_n - 5, &out, &out_n, err, sizeof(err)) !=
		    LVC_OK) {
			return 1;
		}
		check += out_n;
	}
	s_res = (now_s() - t0) * 1e9 / (double)n;

	printf("  %-13s %8.1f ns/record %12.0f records/s\n", "plain", base, 1e9 / base);
	printf("  %-13s %8.1f ns/record %12.0f records/s   x%.2f of plain\n", "framed same", s_same,
	       1e9 / s_same, s_same / base);
	printf("  %-13s %8.1f ns/record %12.0f records/s   x%.2f of plain\n", "framed evol", s_ev,
	       1e9 / s_ev, s_ev / base);
	printf("  %-13s %8.1f ns/record %12.0f records/s   x%.2f of plain\n", "resolve only", s_res,
	       1e9 / s_res, s_res / base);
	printf("  (check %" PRIu64 ")\n", check);
	lvc_resolver_destroy(probe);
	lvc_wire_destroy(w);
	lvc_config_destroy(cfg);
	lvc_codec_destroy(codec);
	return 0;
}
