/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal gen`: synthetic trades, MARK price ticks and positions onto the
 * configured topics of a real bus, at a steady rate, in live time.
 *
 * The market: K perpetual instruments, the first ten with names, prices and
 * volatilities like the majors (BTC-PERP at 60000 and 50% a year, ...),
 * the rest synthetic (SYN<i>-PERP, log-uniform prices, 40-150% a year).
 * Each instrument's mid price follows geometric Brownian motion in event
 * time: P <- P * exp(-sigma^2 dt / 2 + sigma sqrt(dt) Z) over the time dt
 * since its previous tick, so that its realised volatility is its sigma
 * whatever the rate. Trades pick their instrument by popularity (Zipf:
 * weight 1/(i+1), BTC busiest), a side at random, a price half a basis
 * point off the mid on that side, and a log-normal notional (median 2000,
 * sigma 1.5) turned into a quantity. Every instrument gets a MARK tick
 * every mark interval (100 ms), staggered, whatever its trade count, as
 * exchanges publish marks. ts_us is the wall clock (CLOCK_REALTIME) at
 * production, never going back per instrument.
 *
 * Positions (--positions P) come first: about three per account, 30% of the
 * accounts CROSS (with a balance record holding their collateral) and the
 * rest ISOLATED (collateral in the position), log-normal notional (median
 * 20000), leverage 2-50x, entry within a few percent of the mark. Keys follow
 * SPEC §1: instrument, account|instrument, account.
 *
 * Pacing is by the wall clock, which is this command's purpose: trades
 * take tokens from a bucket filled at --rate per second (burst 50 ms of
 * rate), marks follow their own schedule; the loop sleeps at most 10 ms at
 * a time so that SIGINT ends it at once. The same seed gives the same
 * instruments, prices and sizes for the same sequence of clock readings.
 *
 * Load: the producer (librdkafka, linger.ms 5) is the limit; a local queue
 * that is full blocks lvc_produce() while delivery reports are served,
 * which shows up as an achieved rate below the asked one in the report.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/gen.h"
#include "io/codec.h"
#include "io/kafka.h"
#include "io/log.h"

#define MAX_INSTRUMENTS  100000
#define NAME_SIZE        24
#define SLEEP_MAX_NS     (10 * 1000 * 1000)
#define SECONDS_PER_YEAR (365.0 * 86400.0)

typedef struct major_s {
	const char *name;
	double price;
	double sigma_ann;
} major_t;

static const major_t majors[] = {
	{ "BTC-PERP", 60000.0, 0.50 }, { "ETH-PERP", 3000.0, 0.70 }, { "SOL-PERP", 150.0, 0.90 },
	{ "BNB-PERP", 600.0, 0.60 },   { "XRP-PERP", 0.60, 0.90 },   { "DOGE-PERP", 0.15, 1.10 },
	{ "ADA-PERP", 0.45, 0.90 },    { "AVAX-PERP", 35.0, 1.00 },  { "LINK-PERP", 15.0, 0.90 },
	{ "DOT-PERP", 7.0, 0.90 },
};
#define N_MAJORS (sizeof(majors) / sizeof(majors[0]))

typedef struct inst_s {
	char name[NAME_SIZE];
	double mid;
	double sigma_s; /* volatility per sqrt(second) */
	int64_t last_ts_us;
} inst_t;

typedef struct gen_s {
	const lvc_config_t *cfg;
	const lvc_gen_opts_t *opts;
	lvc_codec_t *codec;
	lvc_kafka_t *producer;
	inst_t *insts;
	double *cum_weight; /* popularity CDF */
	int k;
	uint64_t rng;
	uint64_t trades, marks, positions, balances;
	uint64_t delivered, failed;
	char first_failure[512];
	char why[512];
} gen_t;

/* ---- randomness ---------------------------------------------------------- */

static double uniform(uint64_t *s)
{
	/* xorshift64*: deterministic for a seed, never 0 state. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return ((double)((*s * UINT64_C(2685821657736338717)) >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(uint64_t *s)
{
	static const double two_pi = 6.283185307179586;
	double u = uniform(s), v = uniform(s);

	return sqrt(-2 * log(u)) * cos(two_pi * v);
}

/* ---- clocks --------------------------------------------------------------- */

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
	struct timespec ts;

	if (us <= 0) {
		return;
	}
	if (us * 1000 > SLEEP_MAX_NS) {
		us = SLEEP_MAX_NS / 1000;
	}
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(us * 1000);
	nanosleep(&ts, NULL);
}

/* ---- the market ------------------------------------------------------------ */

static int market_new(gen_t *g)
{
	double total = 0;

	g->insts = calloc((size_t)g->k, sizeof(*g->insts));
	g->cum_weight = calloc((size_t)g->k, sizeof(*g->cum_weight));
	if (g->insts == NULL || g->cum_weight == NULL) {
		return -1;
	}
	for (int i = 0; i < g->k; i++) {
		inst_t *in = &g->insts[i];
		double sigma_ann;

		if ((size_t)i < N_MAJORS) {
			snprintf(in->name, sizeof(in->name), "%s", majors[i].name);
			in->mid = majors[i].price;
			sigma_ann = majors[i].sigma_ann;
		} else {
			snprintf(in->name, sizeof(in->name), "SYN%d-PERP", i);
			in->mid = pow(10.0, -2.0 + 6.0 * uniform(&g->rng));
			sigma_ann = 0.4 + 1.1 * uniform(&g->rng);
		}
		in->sigma_s = sigma_ann / sqrt(SECONDS_PER_YEAR);
		in->last_ts_us = INT64_MIN;
		total += 1.0 / (i + 1);
		g->cum_weight[i] = total;
	}
	for (int i = 0; i < g->k; i++) {
		g->cum_weight[i] /= total;
	}
	return 0;
}

static int pick_instrument(gen_t *g)
{
	double u = uniform(&g->rng);
	int lo = 0, hi = g->k - 1;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (u <= g->cum_weight[mid]) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

/* Moves the instrument's mid to now (GBM over the time since its last
 * tick) and returns the event time, never behind its previous one. */
static int64_t advance(gen_t *g, inst_t *in)
{
	int64_t ts = wall_us();

	if (in->last_ts_us != INT64_MIN) {
		double dt;

		if (ts < in->last_ts_us) {
			ts = in->last_ts_us;
		}
		dt = (double)(ts - in->last_ts_us) / 1e6;
		if (dt > 0) {
			in->mid *= exp(-0.5 * in->sigma_s * in->sigma_s * dt +
			               in->sigma_s * sqrt(dt) * normal(&g->rng));
		}
	}
	in->last_ts_us = ts;
	return ts;
}

/* Rounds to 6 significant digits, as venues quote. */
static double round6(double v)
{
	double mag;

	if (!(v > 0)) {
		return v;
	}
	mag = pow(10.0, 5 - floor(log10(v)));
	return round(v * mag) / mag;
}

/* ---- producing ---------------------------------------------------------------- */

static void on_delivery(void *opaque, void *msg_opaque, lvc_err_t err, const char *reason)
{
	gen_t *g = opaque;

	(void)msg_opaque;
	if (err == LVC_OK) {
		g->delivered++;
		return;
	}
	if (g->failed++ == 0) {
		snprintf(g->first_failure, sizeof(g->first_failure), "%s", reason);
		lvc_error("gen: delivery failed: %s", reason);
	}
}

static int produce(gen_t *g, const char *topic, const char *key, const void *val, size_t len)
{
	if (lvc_produce(g->producer, topic, -1, key, strlen(key), val, len, NULL, 0, NULL, g->why,
	                sizeof(g->why)) != LVC_OK) {
		lvc_error("gen: %s", g->why);
		return -1;
	}
	return 0;
}

static int emit_trade(gen_t *g)
{
	inst_t *in = &g->insts[pick_instrument(g)];
	lvc_trade_t t = { 0 };
	char id[40];
	const void *buf;
	size_t len;
	double notional;

	t.instrument = in->name;
	t.ts_us = advance(g, in);
	t.side = uniform(&g->rng) < 0.5 ? LVC_SIDE_BUY : LVC_SIDE_SELL;
	t.price = round6(in->mid * (t.side == LVC_SIDE_BUY ? 1.00005 : 0.99995));
	notional = 2000.0 * exp(1.5 * normal(&g->rng));
	t.qty = round6(notional / t.price);
	snprintf(id, sizeof(id), "g%" PRIu64 "-%" PRIu64, g->opts->seed, g->trades + 1);
	t.trade_id = id;
	if (lvc_codec_encode_trade(g->codec, &t, &buf, &len) != LVC_OK) {
		lvc_error("gen: encoding a Trade of %s failed", in->name);
		return -1;
	}
	if (produce(g, g->cfg->topics.trades, in->name, buf, len) != 0) {
		return -1;
	}
	g->trades++;
	return 0;
}

static int emit_mark(gen_t *g, inst_t *in)
{
	lvc_price_t p = { 0 };
	const void *buf;
	size_t len;

	p.instrument = in->name;
	p.ts_us = advance(g, in);
	p.kind = LVC_PRICE_MARK;
	p.price = round6(in->mid);
	if (lvc_codec_encode_price(g->codec, &p, &buf, &len) != LVC_OK) {
		lvc_error("gen: encoding a PriceTick of %s failed", in->name);
		return -1;
	}
	if (produce(g, g->cfg->topics.prices, in->name, buf, len) != 0) {
		return -1;
	}
	g->marks++;
	return 0;
}

static double pick_leverage(gen_t *g)
{
	static const double levs[] = { 2, 3, 5, 5, 10, 10, 10, 20, 20, 25, 50 };

	return levs[(size_t)(uniform(&g->rng) * (double)(sizeof(levs) / sizeof(levs[0])))];
}

/* P positions, three per account, then the balances of cross accounts. */
static int emit_positions(gen_t *g)
{
	long n = g->opts->positions;
	char account[32], key[64];
	double cross_need = 0;
	int cross = 0, used[3] = { -1, -1, -1 };

	for (long j = 0; j < n; j++) {
		long acct = j / 3;
		int slot = (int)(j % 3), idx;
		inst_t *in;
		lvc_position_t pos = { 0 };
		const void *buf;
		size_t len;
		double notional, lev;

		if (slot == 0) {
			cross = uniform(&g->rng) < 0.3;
			cross_need = 0;
			used[0] = used[1] = used[2] = -1;
		}
		snprintf(account, sizeof(account), "acct-%07ld", acct);
		/* A different instrument for each position of an account. */
		idx = pick_instrument(g);
		while (g->k >= 3 && (idx == used[0] || idx == used[1])) {
			idx = (idx + 1) % g->k;
		}
		used[slot] = idx;
		in = &g->insts[idx];
		notional = 20000.0 * exp(1.2 * normal(&g->rng));
		lev = pick_leverage(g);
		pos.account = account;
		pos.instrument = in->name;
		pos.ts_us = advance(g, in);
		pos.entry_price = round6(in->mid * exp(0.02 * normal(&g->rng)));
		pos.size = round6(notional / pos.entry_price) * (uniform(&g->rng) < 0.5 ? -1 : 1);
		pos.margin_mode = cross ? LVC_MARGIN_CROSS : LVC_MARGIN_ISOLATED;
		pos.collateral = cross ? 0 : round6(notional / lev);
		cross_need += notional / lev;
		snprintf(key, sizeof(key), "%s|%s", account, in->name);
		if (lvc_codec_encode_position(g->codec, &pos, &buf, &len) != LVC_OK) {
			lvc_error("gen: encoding a Position of %s failed", key);
			return -1;
		}
		if (produce(g, g->cfg->topics.positions, key, buf, len) != 0) {
			return -1;
		}
		g->positions++;
		/* The account is complete: a cross account gets its wallet. */
		if (cross && (slot == 2 || j == n - 1)) {
			lvc_balance_t b = { 0 };

			b.account = account;
			b.ts_us = wall_us();
			b.collateral = round6(cross_need * (0.8 + 0.6 * uniform(&g->rng)));
			if (lvc_codec_encode_balance(g->codec, &b, &buf, &len) != LVC_OK) {
				lvc_error("gen: encoding an AccountBalance of %s failed", account);
				return -1;
			}
			if (produce(g, g->cfg->topics.balances, account, buf, len) != 0) {
				return -1;
			}
			g->balances++;
		}
		if ((j & 1023) == 0) {
			lvc_producer_poll(g->producer, 0);
			if (g->opts->stop != NULL && atomic_load(g->opts->stop)) {
				break;
			}
		}
	}
	return 0;
}

static void report(const gen_t *g, const char *what, double elapsed_s, uint64_t trades0,
                   uint64_t marks0, double span_s)
{
	lvc_info("gen: %s %.1f s: trades=%" PRIu64 " (%.1f/s, asked %.1f/s) marks=%" PRIu64
	         " (%.1f/s) positions=%" PRIu64 " balances=%" PRIu64 " delivered=%" PRIu64
	         " failed=%" PRIu64,
	         what, elapsed_s, g->trades,
	         span_s > 0 ? (double)(g->trades - trades0) / span_s : 0.0, g->opts->rate, g->marks,
	         span_s > 0 ? (double)(g->marks - marks0) / span_s : 0.0, g->positions, g->balances,
	         g->delivered, g->failed);
}

static int check_opts(const lvc_config_t *cfg, const lvc_gen_opts_t *o)
{
	if (!(o->rate > 0 && o->rate <= 1e7)) {
		lvc_error("gen: --rate %g: allowed: trades per second in (0, 10000000]", o->rate);
		return -1;
	}
	if (o->instruments < 0 || o->instruments > MAX_INSTRUMENTS) {
		lvc_error("gen: --instruments %d: allowed: 1 to %d", o->instruments,
		          MAX_INSTRUMENTS);
		return -1;
	}
	if (o->positions < 0 || o->positions > 100000000L) {
		lvc_error("gen: --positions %ld: allowed: 0 to 100000000", o->positions);
		return -1;
	}
	if (o->mark_interval_s < 0 || o->report_interval_s < 0) {
		lvc_error("gen: intervals must not be negative");
		return -1;
	}
	if (cfg->schema.wire_format != LVC_WIRE_PLAIN) {
		lvc_error("gen: schema.wire_format confluent is not supported: gen writes plain "
		          "Avro binary (schema.wire_format: plain)");
		return -1;
	}
	return 0;
}

int lvc_gen(const lvc_config_t *cfg, const lvc_gen_opts_t *opts)
{
	gen_t g;
	lvc_kv_t defaults[] = {
		{ "linger.ms", "5", 0 },
		{ "enable.idempotence", "true", 0 },
		{ "client.id", "levcal-gen", 0 },
	};
	double mark_iv_us, report_iv_us, burst, tokens = 0;
	int64_t t0, last, next_mark, next_report, end_us;
	uint64_t trades_at_report = 0, marks_at_report = 0;
	int64_t report_t = 0;
	int mark_idx = 0, rc = 1;

	memset(&g, 0, sizeof(g));
	g.cfg = cfg;
	g.opts = opts;
	if (check_opts(cfg, opts) != 0) {
		return 2;
	}
	g.k = opts->instruments > 0 ? opts->instruments : 4;
	g.rng = opts->seed * UINT64_C(0x9E3779B97F4A7C15) + UINT64_C(0x2545F4914F6CDD1D);
	if (g.rng == 0) {
		g.rng = 1;
	}
	mark_iv_us = (opts->mark_interval_s > 0 ? opts->mark_interval_s : 0.1) * 1e6;
	report_iv_us = (opts->report_interval_s > 0 ? opts->report_interval_s : 5.0) * 1e6;
	burst = opts->rate * 0.05 > 1 ? opts->rate * 0.05 : 1;

	if (market_new(&g) != 0) {
		lvc_error("gen: out of memory for %d instruments", g.k);
		goto out;
	}
	if ((g.codec = lvc_codec_new(g.why, sizeof(g.why))) == NULL) {
		lvc_error("gen: %s", g.why);
		goto out;
	}
	g.producer = lvc_producer_new(cfg, defaults, sizeof(defaults) / sizeof(defaults[0]), NULL,
	                              0, on_delivery, &g, g.why, sizeof(g.why));
	if (g.producer == NULL) {
		lvc_error("gen: %s", g.why);
		goto out;
	}
	lvc_info("gen: %d instrument(s), %.1f trades/s, a MARK per instrument every %.0f ms, "
	         "%ld position(s), onto %s, %s, %s, %s",
	         g.k, opts->rate, mark_iv_us / 1e3, opts->positions, cfg->topics.trades,
	         cfg->topics.prices, cfg->topics.positions, cfg->topics.balances);
	t0 = mono_us();
	if (opts->positions > 0) {
		if (emit_positions(&g) != 0) {
			goto out;
		}
		lvc_info("gen: %" PRIu64 " position(s) and %" PRIu64
		         " balance(s) enqueued in %.1f s",
		         g.positions, g.balances, (double)(mono_us() - t0) / 1e6);
	}
	t0 = last = report_t = mono_us();
	end_us = opts->seconds > 0 ? t0 + (int64_t)(opts->seconds * 1e6) : INT64_MAX;
	next_mark = t0;
	next_report = t0 + (int64_t)report_iv_us;
	while ((opts->stop == NULL || !atomic_load(opts->stop)) && g.failed == 0) {
		int64_t now = mono_us(), wake;

		if (now >= end_us) {
			break;
		}
		tokens += opts->rate * (double)(now - last) / 1e6;
		if (tokens > burst) {
			tokens = burst;
		}
		last = now;
		while (tokens >= 1) {
			if (emit_trade(&g) != 0) {
				goto out;
			}
			tokens -= 1;
		}
		/* Marks round-robin over the instruments, each every mark
		 * interval; a backlog of more than a second is dropped rather
		 * than sent in a burst. */
		if (next_mark < now - 1000000) {
			next_mark = now;
		}
		while (next_mark <= now) {
			if (emit_mark(&g, &g.insts[mark_idx]) != 0) {
				goto out;
			}
			mark_idx = (mark_idx + 1) % g.k;
			next_mark +=
			    (int64_t)(mark_iv_us / g.k) > 0 ? (int64_t)(mark_iv_us / g.k) : 1;
		}
		lvc_producer_poll(g.producer, 0);
		if (now >= next_report) {
			report(&g, "at", (double)(now - t0) / 1e6, trades_at_report,
			       marks_at_report, (double)(now - report_t) / 1e6);
			trades_at_report = g.trades;
			marks_at_report = g.marks;
			report_t = now;
			next_report += (int64_t)report_iv_us;
		}
		/* Sleep until the next token, mark or report is due. */
		wake = (int64_t)((1.0 - tokens) / opts->rate * 1e6) + now;
		if (next_mark < wake) {
			wake = next_mark;
		}
		if (next_report < wake) {
			wake = next_report;
		}
		if (end_us < wake) {
			wake = end_us;
		}
		sleep_us(wake - mono_us());
	}
	{
		int64_t t_end = mono_us();

		if (lvc_producer_flush(g.producer, 30000, g.why, sizeof(g.why)) != LVC_OK) {
			lvc_error("gen: %s", g.why);
			lvc_producer_poll(g.producer, 0);
			report(&g, "stopped after", (double)(t_end - t0) / 1e6, 0, 0,
			       (double)(t_end - t0) / 1e6);
			goto out;
		}
		lvc_producer_poll(g.producer, 0);
		report(&g, "done in", (double)(t_end - t0) / 1e6, 0, 0, (double)(t_end - t0) / 1e6);
	}
	if (g.failed > 0) {
		lvc_error("gen: %" PRIu64 " record(s) not delivered; the first: %s", g.failed,
		          g.first_failure);
		goto out;
	}
	rc = 0;
out:
	lvc_producer_close(g.producer, rc == 0 ? 30000 : 1000);
	lvc_codec_destroy(g.codec);
	free(g.insts);
	free(g.cum_weight);
	return rc;
}
