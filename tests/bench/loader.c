/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bulk loader for the end-to-end benchmarks (tests/bench/e2e.py): writes a
 * synthetic market onto the configured topics as fast as the broker takes
 * it, in simulated event time, so that every benchmark run reads the same
 * pre-loaded input.
 *
 * The market: K instruments with log-uniform prices (0.01 .. 60000) and
 * volatilities (40 .. 150 % a year); trades pick their instrument by
 * popularity (Zipf, weight 1 / (i + 1)), move its mid by geometric Brownian
 * motion over the event time since its previous tick, and land half a
 * basis point off the mid on a random side; every instrument gets a MARK
 * tick every mark interval, staggered, in event time. Trades advance the
 * event clock by 1 / rate seconds each, and the clock starts `span` before
 * the wall clock, so that the last ticks are about "now" (a stage with a
 * wall-clock staleness timer sees live data, not a week-old replay).
 * Positions (about three per account, 30 % of the accounts CROSS with a
 * balance record, 2-50x leverage, entry within a few percent of the mark)
 * come first, as in `levcal gen`.
 *
 * Unlike `levcal gen`, which paces by the wall clock, this is a bulk
 * producer: linger.ms 50, batches of up to 10000 records, a queue of a
 * million records; it encodes with io/codec (the stage's own encoder) and
 * produces with librdkafka directly. The same seed gives the same records.
 *
 *   loader -c levcal.yaml --trades N [--instruments K] [--positions P]
 *          [--rate R] [--mark-interval SECONDS] [--seed S]
 *
 * Prints one JSON line with the counts and the achieved rate on stdout.
 * Exit status 0 when every record was delivered.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "io/codec.h"
#include "io/config.h"

#define NAME_SIZE        24
#define SECONDS_PER_YEAR (365.0 * 86400.0)

typedef struct inst_s {
	char name[NAME_SIZE];
	double mid;
	double sigma_s; /* volatility per sqrt(second) */
	int64_t last_us;
} inst_t;

typedef struct loader_s {
	lvc_config_t *cfg;
	lvc_codec_t *codec;
	rd_kafka_t *rk;
	inst_t *insts;
	double *cdf;
	int k;
	uint64_t rng;
	uint64_t produced, delivered, failed;
	char first_failure[256];
} loader_t;

static double uniform(uint64_t *s)
{
	/* splitmix64: any seed is a good state. */
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double round6(double v)
{
	double mag;

	if (!(v > 0)) {
		return v;
	}
	mag = pow(10.0, 5 - floor(log10(v)));
	return round(v * mag) / mag;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	loader_t *l = opaque;

	(void)rk;
	if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		l->delivered++;
		return;
	}
	if (l->failed++ == 0) {
		snprintf(l->first_failure, sizeof(l->first_failure), "%s [%d]: %s",
		         rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
		         rd_kafka_err2str(rkm->err));
	}
}

static int produce(loader_t *l, const char *topic, const char *key, const void *val, size_t len)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
		    l->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
		    RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_END);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			l->produced++;
			return 0;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "loader: producing to %s: %s\n", topic,
			        rd_kafka_err2str(err));
			return -1;
		}
		rd_kafka_poll(l->rk, 10);
	}
}

static int market_new(loader_t *l)
{
	double total = 0;

	l->insts = calloc((size_t)l->k, sizeof(*l->insts));
	l->cdf = calloc((size_t)l->k, sizeof(*l->cdf));
	if (l->insts == NULL || l->cdf == NULL) {
		return -1;
	}
	for (int i = 0; i < l->k; i++) {
		inst_t *in = &l->insts[i];

		snprintf(in->name, sizeof(in->name), "BENCH%d-PERP", i);
		in->mid = pow(10.0, -2.0 + 6.78 * uniform(&l->rng));
		in->sigma_s = (0.4 + 1.1 * uniform(&l->rng)) / sqrt(SECONDS_PER_YEAR);
		in->last_us = INT64_MIN;
		total += 1.0 / (i + 1);
		l->cdf[i] = total;
	}
	for (int i = 0; i < l->k; i++) {
		l->cdf[i] /= total;
	}
	return 0;
}

static int pick(loader_t *l)
{
	double u = uniform(&l->rng);
	int lo = 0, hi = l->k - 1;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (u <= l->cdf[mid]) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

/* GBM from the instrument's previous tick to t_us. */
static void advance(loader_t *l, inst_t *in, int64_t t_us)
{
	if (in->last_us != INT64_MIN && t_us > in->last_us) {
		double dt = (double)(t_us - in->last_us) / 1e6;

		in->mid *= exp(-0.5 * in->sigma_s * in->sigma_s * dt +
		               in->sigma_s * sqrt(dt) * normal(&l->rng));
	}
	in->last_us = t_us;
}

static int emit_positions(loader_t *l, long n, int64_t t_us)
{
	static const double levs[] = { 2, 3, 5, 5, 10, 10, 10, 20, 20, 25, 50 };
	char account[32], key[64];
	double need = 0;
	int cross = 0, used[3] = { -1, -1, -1 };
	int rc = -1;

	for (long j = 0; j < n; j++) {
		int slot = (int)(j % 3), idx;
		lvc_position_t pos = { 0 };
		const void *buf;
		size_t len;
		double notional, lev;
		inst_t *in;

		if (slot == 0) {
			cross = uniform(&l->rng) < 0.3;
			need = 0;
			used[0] = used[1] = used[2] = -1;
		}
		snprintf(account, sizeof(account), "acct-%07ld", j / 3);
		idx = pick(l);
		while (l->k >= 3 && (idx == used[0] || idx == used[1])) {
			idx = (idx + 1) % l->k;
		}
		used[slot] = idx;
		in = &l->insts[idx];
		notional = 20000.0 * exp(1.2 * normal(&l->rng));
		lev = levs[(size_t)(uniform(&l->rng) * (double)(sizeof(levs) / sizeof(levs[0])))];
		pos.account = account;
		pos.instrument = in->name;
		pos.ts_us = t_us;
		pos.entry_price = round6(in->mid * exp(0.02 * normal(&l->rng)));
		pos.size = round6(notional / pos.entry_price) * (uniform(&l->rng) < 0.5 ? -1 : 1);
		pos.margin_mode = cross ? LVC_MARGIN_CROSS : LVC_MARGIN_ISOLATED;
		pos.collateral = cross ? 0 : round6(notional / lev);
		need += notional / lev;
		snprintf(key, sizeof(key), "%s|%s", account, in->name);
		if (lvc_codec_encode_position(l->codec, &pos, &buf, &len) != LVC_OK ||
		    produce(l, l->cfg->topics.positions, key, buf, len) != 0) {
			goto out;
		}
		if (cross && (slot == 2 || j == n - 1)) {
			lvc_balance_t b = { 0 };

			b.account = account;
			b.ts_us = t_us;
			b.collateral = round6(need * (0.8 + 0.6 * uniform(&l->rng)));
			if (lvc_codec_encode_balance(l->codec, &b, &buf, &len) != LVC_OK ||
			    produce(l, l->cfg->topics.balances, account, buf, len) != 0) {
				goto out;
			}
		}
		if ((j & 4095) == 0) {
			rd_kafka_poll(l->rk, 0);
		}
	}
	rc = 0;
out:
	return rc;
}

/* n trades at `rate` per event second and a MARK per instrument every
 * mark_us, from t0_us on. */
static int emit_ticks(loader_t *l, long n, double rate, int64_t mark_us, int64_t t0_us,
                      uint64_t *trades, uint64_t *marks)
{
	double step_us = 1e6 / rate;
	int64_t mark_step = mark_us / l->k > 0 ? mark_us / l->k : 1;
	int64_t next_mark = t0_us;
	int mark_idx = 0, rc = -1;
	char id[32];

	for (long j = 0; j < n; j++) {
		int64_t t = t0_us + (int64_t)((double)j * step_us);
		lvc_trade_t tr = { 0 };
		const void *buf;
		size_t len;
		inst_t *in;

		while (next_mark <= t) {
			lvc_price_t p = { 0 };

			in = &l->insts[mark_idx];
			advance(l, in, next_mark);
			p.instrument = in->name;
			p.ts_us = next_mark;
			p.kind = LVC_PRICE_MARK;
			p.price = round6(in->mid);
			if (lvc_codec_encode_price(l->codec, &p, &buf, &len) != LVC_OK ||
			    produce(l, l->cfg->topics.prices, in->name, buf, len) != 0) {
				goto out;
			}
			(*marks)++;
			mark_idx = (mark_idx + 1) % l->k;
			next_mark += mark_step;
		}
		in = &l->insts[pick(l)];
		advance(l, in, t);
		tr.instrument = in->name;
		tr.ts_us = t;
		tr.side = uniform(&l->rng) < 0.5 ? LVC_SIDE_BUY : LVC_SIDE_SELL;
		tr.price = round6(in->mid * (tr.side == LVC_SIDE_BUY ? 1.00005 : 0.99995));
		tr.qty = round6(2000.0 * exp(1.5 * normal(&l->rng)) / tr.price);
		snprintf(id, sizeof(id), "b%ld", j + 1);
		tr.trade_id = id;
		if (lvc_codec_encode_trade(l->codec, &tr, &buf, &len) != LVC_OK ||
		    produce(l, l->cfg->topics.trades, in->name, buf, len) != 0) {
			goto out;
		}
		(*trades)++;
		if ((j & 4095) == 0) {
			rd_kafka_poll(l->rk, 0);
		}
	}
	rc = 0;
out:
	return rc;
}

static rd_kafka_t *producer_new(loader_t *l)
{
	static const char *const ours[][2] = {
		{ "linger.ms", "50" },
		{ "batch.num.messages", "10000" },
		{ "batch.size", "1000000" },
		{ "queue.buffering.max.messages", "1000000" },
		{ "enable.idempotence", "true" },
		{ "client.id", "levcal-bench-loader" },
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = NULL;
	char why[512];

	/* The config's kafka section (bootstrap, security), then the loader's
	 * batching, which wins: a low-latency config must not slow the load. */
	for (size_t i = 0; i < l->cfg->kafka_n; i++) {
		if (rd_kafka_conf_set(conf, l->cfg->kafka[i].key, l->cfg->kafka[i].value, why,
		                      sizeof(why)) == RD_KAFKA_CONF_INVALID) {
			fprintf(stderr, "loader: kafka.%s: %s\n", l->cfg->kafka[i].key, why);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		if (rd_kafka_conf_set(conf, ours[i][0], ours[i][1], why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "loader: %s: %s\n", ours[i][0], why);
			goto out;
		}
	}
	rd_kafka_conf_set_opaque(conf, l);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL) {
		fprintf(stderr, "loader: creating the producer: %s\n", why);
		goto out;
	}
	conf = NULL;
out:
	if (conf != NULL) {
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int usage(void)
{
	fprintf(stderr, "usage: loader -c levcal.yaml --trades N [--instruments K] "
	                "[--positions P] [--rate R] [--mark-interval SECONDS] [--seed S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	loader_t l = { 0 };
	const char *path = NULL;
	long trades_n = -1, positions_n = 0;
	double rate = 100000, mark_s = 1.0, t0, secs;
	uint64_t seed = 1, trades = 0, marks = 0;
	int64_t start_us;
	char why[512];
	int rc = 1;

	l.k = 100;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			return usage();
		}
		if (strcmp(a, "-c") == 0) {
			path = v;
		} else if (strcmp(a, "--trades") == 0) {
			trades_n = strtol(v, NULL, 10);
		} else if (strcmp(a, "--instruments") == 0) {
			l.k = (int)strtol(v, NULL, 10);
		} else if (strcmp(a, "--positions") == 0) {
			positions_n = strtol(v, NULL, 10);
		} else if (strcmp(a, "--rate") == 0) {
			rate = strtod(v, NULL);
		} else if (strcmp(a, "--mark-interval") == 0) {
			mark_s = strtod(v, NULL);
		} else if (strcmp(a, "--seed") == 0) {
			seed = strtoull(v, NULL, 10);
		} else {
			return usage();
		}
		i++;
	}
	if (path == NULL || trades_n < 0 || l.k < 1 || l.k > 1000000 || positions_n < 0 ||
	    !(rate > 0) || !(mark_s > 0)) {
		return usage();
	}
	l.rng = seed;
	if ((l.cfg = lvc_config_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "loader: %s\n", why);
		return 2;
	}
	if ((l.codec = lvc_codec_new(why, sizeof(why))) == NULL) {
		fprintf(stderr, "loader: %s\n", why);
		goto out;
	}
	if (market_new(&l) != 0) {
		fprintf(stderr, "loader: out of memory for %d instruments\n", l.k);
		goto out;
	}
	if ((l.rk = producer_new(&l)) == NULL) {
		goto out;
	}
	t0 = mono_s();
	start_us = wall_us() - (int64_t)((double)trades_n / rate * 1e6);
	if (emit_positions(&l, positions_n, start_us) != 0 ||
	    emit_ticks(&l, trades_n, rate, (int64_t)(mark_s * 1e6), start_us, &trades, &marks) !=
	        0) {
		goto out;
	}
	if (rd_kafka_flush(l.rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "loader: %d record(s) still queued after 120 s\n",
		        rd_kafka_outq_len(l.rk));
		goto out;
	}
	secs = mono_s() - t0;
	if (l.failed > 0) {
		fprintf(stderr, "loader: %" PRIu64 " record(s) not delivered; the first: %s\n",
		        l.failed, l.first_failure);
		goto out;
	}
	printf("{\"trades\": %" PRIu64 ", \"marks\": %" PRIu64 ", \"positions\": %ld, "
	       "\"records\": %" PRIu64 ", \"seconds\": %.3f, \"records_per_s\": %.0f, "
	       "\"event_span_s\": %.3f}\n",
	       trades, marks, positions_n, l.delivered, secs, (double)l.delivered / secs,
	       (double)trades_n / rate);
	rc = 0;
out:
	if (l.rk != NULL) {
		rd_kafka_destroy(l.rk);
	}
	lvc_codec_destroy(l.codec);
	lvc_config_destroy(l.cfg);
	free(l.insts);
	free(l.cdf);
	return rc;
}
