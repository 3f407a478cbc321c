/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal demo`: everything in one process, no set-up. librdkafka's mock
 * cluster stands in for the bus; a generator thread plays a synthetic
 * market (geometric Brownian motion per instrument, with a volatility shock
 * part-way through) onto the trades topic in accelerated event time; the
 * real stage (lvc_run, the same code as `levcal run`) runs in a second
 * thread; the main thread reads the leverage-limits topic back and shows a
 * table of each instrument's sigma and max leverage and every event.
 *
 * The market clock runs SPEEDUP times faster than the wall clock, so that a
 * run of N seconds covers N minutes of market: warm-up, the shock (from 30%
 * to 55% of the run) and its TIGHTEN events all happen while a person
 * watches. Pacing by the wall clock is the point of a demo; nothing else in
 * levcal reads time from anywhere but the data.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/stage.h"
#include "io/codec.h"
#include "io/config.h"
#include "io/kafka.h"
#include "io/log.h"

#define SPEEDUP      60                        /* market seconds per wall second */
#define TICK_US      INT64_C(200000)           /* per instrument, market time */
#define MARKET_T0_US INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define PARTITIONS   3
#define MAX_EVENTS   10

typedef struct market_s {
	const char *name;
	double price0;
	double sigma_ann; /* calm volatility */
	double shock;     /* multiplier during the shock */
} market_t;

static const market_t markets[] = {
	{ "BTC-PERP", 60000.0, 0.50, 6.0 },
	{ "ETH-PERP", 3000.0, 0.70, 1.0 },
	{ "SOL-PERP", 150.0, 0.90, 4.0 },
	{ "DOGE-PERP", 0.15, 1.10, 1.0 },
};
#define N_INSTS (sizeof(markets) / sizeof(markets[0]))

/* What the table shows of an instrument. The price is written by the
 * generator thread and read by the display, hence atomic. */
typedef struct inst_s {
	_Atomic double price;
	double shown_sigma;
	double shown_lev;
	const char *shown_status;
	int64_t seq;
} inst_t;

static const double PI = 3.14159265358979323846;

static const char demo_yaml[] = "kafka:\n"
                                "  bootstrap.servers: \"%s\"\n"
                                "  group.id: levcal-demo\n"
                                "topics: {trades: market.trades, prices: market.prices}\n"
                                "processing: {guarantee: at_least_once, commit_interval: 200ms}\n"
                                "volatility:\n"
                                "  estimator: ewma\n"
                                "  sample_interval: 1s\n"
                                "  half_life: 2m\n"
                                "metrics: {listen: \"\"}\n"
                                "leverage:\n"
                                "  warmup_samples: 60\n"
                                "  relax_after: 3m\n"
                                "  stale_after: 30s\n";

typedef struct demo_s {
	const lvc_demo_opts_t *opts;
	lvc_mock_t *mock;
	lvc_config_t *cfg;
	atomic_int stop_gen;
	atomic_int stop_stage;
	int64_t market_end_us;
	uint64_t rng;
	atomic_int gen_failed;
	_Atomic uint64_t ticks;
	inst_t insts[N_INSTS];
} demo_t;

static double uniform(uint64_t *s)
{
	/* xorshift64*: deterministic for a seed. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * UINT64_C(2685821657736338717)) >> 11) * 0x1.0p-53;
}

static double normal(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);

	if (u < 1e-300) {
		u = 1e-300;
	}
	return sqrt(-2 * log(u)) * cos(2 * PI * v);
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *generator(void *arg)
{
	demo_t *d = arg;
	char why[512];
	lvc_codec_t *codec = lvc_codec_new(why, sizeof(why));
	lvc_kafka_t *p = NULL;
	lvc_kv_t defaults[] = { { "linger.ms", "20", 0 } };
	int64_t t_us = MARKET_T0_US, wall0 = wall_us();
	int64_t span = d->market_end_us - MARKET_T0_US;
	double dt_years = (double)TICK_US / 1e6 / (365.0 * 86400);
	double price[N_INSTS];

	for (size_t i = 0; i < N_INSTS; i++) {
		price[i] = markets[i].price0;
	}

	if (codec == NULL || (p = lvc_producer_new(d->cfg, defaults, 1, NULL, 0, NULL, NULL, why,
	                                           sizeof(why))) == NULL) {
		lvc_error("demo generator: %s", why);
		atomic_store(&d->gen_failed, 1);
		goto out;
	}
	while (!atomic_load(&d->stop_gen) && t_us < d->market_end_us) {
		int64_t target = MARKET_T0_US + (wall_us() - wall0) * SPEEDUP;

		for (; t_us < target && t_us < d->market_end_us; t_us += TICK_US) {
			double frac = (double)(t_us - MARKET_T0_US) / (double)span;
			int shocked = frac >= 0.30 && frac < 0.55;

			for (size_t i = 0; i < N_INSTS; i++) {
				const market_t *mk = &markets[i];
				double sig = mk->sigma_ann * (shocked ? mk->shock : 1.0);
				lvc_trade_t tr = { 0 };
				const void *buf;
				size_t len;

				price[i] *= exp(sig * sqrt(dt_years) * normal(&d->rng) -
				                0.5 * sig * sig * dt_years);
				atomic_store(&d->insts[i].price, price[i]);
				tr.instrument = mk->name;
				tr.ts_us = t_us + (int64_t)(i * 1000);
				tr.price = price[i];
				tr.qty = 0.01 + uniform(&d->rng);
				tr.side = uniform(&d->rng) < 0.5 ? LVC_SIDE_BUY : LVC_SIDE_SELL;
				if (lvc_codec_encode_trade(codec, &tr, &buf, &len) != LVC_OK ||
				    lvc_produce(p, d->cfg->topics.trades, -1, mk->name,
				                strlen(mk->name), buf, len, NULL, 0, NULL, why,
				                sizeof(why)) != LVC_OK) {
					lvc_error("demo generator: %s", why);
					atomic_store(&d->gen_failed, 1);
					goto out;
				}
				atomic_fetch_add(&d->ticks, 1);
			}
		}
		lvc_producer_poll(p, 0);
		/* Pace the synthetic market by the wall clock (the demo's purpose). */
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	lvc_producer_flush(p, 5000, why, sizeof(why));
out:
	lvc_producer_close(p, 1000);
	lvc_codec_destroy(codec);
	return NULL;
}

static void *stage_thread(void *arg)
{
	demo_t *d = arg;
	lvc_run_opts_t ro = { &d->stop_stage };

	if (lvc_run(d->cfg, &ro) != 0) {
		lvc_error("demo: the stage stopped with an error");
	}
	return NULL;
}

static inst_t *find_inst(demo_t *d, const char *name)
{
	for (size_t i = 0; i < N_INSTS; i++) {
		if (strcmp(markets[i].name, name) == 0) {
			return &d->insts[i];
		}
	}
	return NULL;
}

static void market_clock(int64_t ts_us, char *buf, size_t size)
{
	time_t s = (time_t)(ts_us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
}

static void format_event(const lvc_limit_t *lim, char *buf, size_t size)
{
	char clock[16], prev[32] = "";

	market_clock(lim->ts_us, clock, sizeof(clock));
	if (lim->has_previous_max_leverage && lim->previous_max_leverage != lim->max_leverage) {
		snprintf(prev, sizeof(prev), " (was %gx)", lim->previous_max_leverage);
	} else if (lim->has_previous_max_leverage) {
		/* The base tier held its step; a higher tier moved. */
		snprintf(prev, sizeof(prev), " (higher tiers moved)");
	}
	snprintf(buf, size,
	         "%s  %-9s #%-3" PRId64 " %-9s %-10s sigma %6.1f%%  imr %5.2f%%  max %gx%s", clock,
	         lim->instrument, lim->seq, lvc_limit_reason_names[lim->reason],
	         lvc_limit_status_names[lim->status], lim->sigma_ann * 100, lim->imr * 100,
	         lim->max_leverage, prev);
}

static void draw_table(demo_t *d, FILE *out, int tty, const char events[][160], size_t n_events,
                       int64_t market_us)
{
	uint64_t ticks = atomic_load(&d->ticks);
	char clock[16];

	market_clock(market_us, clock, sizeof(clock));
	if (tty) {
		fputs("\033[H\033[2J", out);
	}
	fprintf(out,
	        "levcal demo: synthetic market at %dx speed, market time %s, %" PRIu64
	        " trades\n\n",
	        SPEEDUP, clock, ticks);
	fprintf(out, "  %-10s %12s %10s %10s %12s\n", "instrument", "price", "sigma_ann", "max lev",
	        "status");
	for (size_t i = 0; i < N_INSTS; i++) {
		const inst_t *in = &d->insts[i];
		char lev[16] = "-", sig[16] = "-";

		if (in->seq > 0) {
			snprintf(lev, sizeof(lev), "%gx", in->shown_lev);
			snprintf(sig, sizeof(sig), "%.1f%%", in->shown_sigma * 100);
		}
		fprintf(out, "  %-10s %12.4f %10s %10s %12s\n", markets[i].name,
		        atomic_load(&in->price), sig, lev, in->seq > 0 ? in->shown_status : "-");
	}
	if (tty) {
		fputs("\n  recent events:\n", out);
		for (size_t i = 0; i < n_events; i++) {
			fprintf(out, "  %s\n", events[i]);
		}
	}
	fputc('\n', out);
	fflush(out);
}

int lvc_demo(const lvc_demo_opts_t *opts)
{
	demo_t d;
	char why[512], *yaml = NULL;
	const char *topics[] = { "market.trades", "market.prices", "risk.leverage-limits",
		                 "risk.liquidation-warnings", "levcal.deadletter" };
	lvc_kafka_t *view = NULL;
	lvc_codec_t *codec = NULL;
	pthread_t gen_th, stage_th;
	int gen_started = 0, stage_started = 0, rc = 1, tty;
	FILE *out = opts->out != NULL ? opts->out : stdout;
	char events[MAX_EVENTS][160];
	size_t n_events = 0;
	uint64_t n_limits = 0, n_tighten = 0;
	int64_t wall0, last_draw = 0, market_now = MARKET_T0_US;
	double seconds = opts->seconds > 0 ? opts->seconds : 60;
	const char *view_topic[] = { "risk.leverage-limits" };
	lvc_kv_t view_forced[] = { { "group.id", "levcal-demo-view", 0 },
		                   { "auto.offset.reset", "earliest", 0 } };

	memset(&d, 0, sizeof(d));
	d.opts = opts;
	d.rng = 0x9e3779b97f4a7c15ull ^ (opts->seed * 0x2545F4914F6CDD1Dull);
	d.market_end_us = MARKET_T0_US + (int64_t)(seconds * SPEEDUP * 1e6);
	for (size_t i = 0; i < N_INSTS; i++) {
		atomic_store(&d.insts[i].price, markets[i].price0);
	}
	tty = isatty(fileno(out));
	/* The stage's own log lines would scroll the table away. */
	lvc_log_setup(LVC_LOG_WARN, 0);

	if ((d.mock = lvc_mock_new(1, why, sizeof(why))) == NULL) {
		lvc_error("demo: %s", why);
		return 1;
	}
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		if (lvc_mock_topic_create(d.mock, topics[i], PARTITIONS) != LVC_OK) {
			lvc_error("demo: creating topic %s failed", topics[i]);
			goto out;
		}
	}
	if ((yaml = malloc(sizeof(demo_yaml) + strlen(lvc_mock_bootstraps(d.mock)))) == NULL) {
		goto out;
	}
	snprintf(yaml, sizeof(demo_yaml) + strlen(lvc_mock_bootstraps(d.mock)), demo_yaml,
	         lvc_mock_bootstraps(d.mock));
	if ((d.cfg = lvc_config_load_string(yaml, "demo config", why, sizeof(why))) == NULL) {
		lvc_error("demo: %s", why);
		goto out;
	}
	if ((codec = lvc_codec_new(why, sizeof(why))) == NULL) {
		lvc_error("demo: %s", why);
		goto out;
	}
	/* Its own group, forced: it must not join the stage's. */
	view = lvc_consumer_new(d.cfg, NULL, 0, view_forced, 2, view_topic, 1, NULL, NULL, why,
	                        sizeof(why));
	if (view == NULL) {
		lvc_error("demo: %s", why);
		goto out;
	}
	if (pthread_create(&stage_th, NULL, stage_thread, &d) != 0) {
		goto out;
	}
	stage_started = 1;
	if (pthread_create(&gen_th, NULL, generator, &d) != 0) {
		goto out;
	}
	gen_started = 1;
	fprintf(out,
	        "levcal demo: %g s of wall time = %g min of market; volatility shock on "
	        "BTC-PERP and SOL-PERP from 30%% to 55%% of the run\n",
	        seconds, seconds * SPEEDUP / 60);
	wall0 = wall_us();
	while (!atomic_load(opts->stop) && !atomic_load(&d.gen_failed)) {
		lvc_msg_t m;
		int64_t now = wall_us();

		if ((now - wall0) / 1e6 >= seconds + 2) {
			break; /* the last events had two seconds to arrive */
		}
		if (lvc_consumer_poll(view, 50, &m, why, sizeof(why)) == LVC_OK) {
			lvc_limit_t lim;

			if (m.value != NULL &&
			    lvc_codec_decode_limit(codec, m.value, m.value_len, &lim, why,
			                           sizeof(why)) == LVC_OK) {
				inst_t *in = find_inst(&d, lim.instrument);
				char line[160];

				format_event(&lim, line, sizeof(line));
				n_limits++;
				n_tighten += lim.reason == LVC_REASON_TIGHTEN;
				if (in != NULL && lim.seq > in->seq) {
					in->seq = lim.seq;
					in->shown_lev = lim.max_leverage;
					in->shown_sigma = lim.sigma_ann;
					in->shown_status = lvc_limit_status_names[lim.status];
				}
				if (lim.ts_us > market_now) {
					market_now = lim.ts_us;
				}
				if (tty) {
					if (n_events == MAX_EVENTS) {
						memmove(events[0], events[1],
						        sizeof(events[0]) * (MAX_EVENTS - 1));
						n_events--;
					}
					snprintf(events[n_events++], sizeof(events[0]), "%s", line);
				} else {
					fprintf(out, "event %s\n", line);
				}
			}
			lvc_msg_release(&m);
		}
		if (tty && now - last_draw > 250000) {
			draw_table(&d, out, tty, (const char(*)[160])events, n_events, market_now);
			last_draw = now;
		}
	}
	atomic_store(&d.stop_gen, 1);
	pthread_join(gen_th, NULL);
	gen_started = 0;
	atomic_store(&d.stop_stage, 1);
	pthread_join(stage_th, NULL);
	stage_started = 0;
	draw_table(&d, out, 0, NULL, 0, market_now);
	fprintf(out, "%" PRIu64 " leverage-limit events, %" PRIu64 " TIGHTEN\n", n_limits,
	        n_tighten);
	rc = atomic_load(&d.gen_failed) ? 1 : 0;
out:
	atomic_store(&d.stop_gen, 1);
	atomic_store(&d.stop_stage, 1);
	if (gen_started) {
		pthread_join(gen_th, NULL);
	}
	if (stage_started) {
		pthread_join(stage_th, NULL);
	}
	lvc_consumer_close(view);
	lvc_codec_destroy(codec);
	lvc_config_destroy(d.cfg);
	lvc_mock_destroy(d.mock);
	free(yaml);
	return rc;
}
