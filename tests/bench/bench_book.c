/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of the position book (issue 5): mark ticks per second with
 * 10,000 and with 1,000,000 open isolated positions on the same set of ten
 * instruments, in one run, over the same tick stream, printing both, their
  * ratio and the heap bytes per position. Positions have notionals of 100
 * to 100k (1 % of them 500k to 20M) and leverage 2x..50x, so that a share of them sits at
 * WATCH..CRITICAL. Two tick streams per size: "quiet" marks jitter by
 * 1e-6 per tick (few level changes: the cost of a tick itself, the goal's
 * case), "moving" marks random-walk by 1e-4 per tick (level changes in
 * proportion to the positions; the cost per change). A last line measures
 * cross accounts, which are re-evaluated whole on every tick of an
 * instrument they hold (see core/book.h).
 *
 *   bench_book            full run (1e4 and 1e6 positions, 5e6 quiet and
 *                         1e6 moving ticks each)
 *   bench_book --smoke    small sizes, for CTest (a few seconds under ASan)
 *
 * Figures are meaningful only from a Release build without sanitizers:
 * cmake -DCMAKE_BUILD_TYPE=Release -DLVC_SANITIZE=OFF.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/book.h"

#define NINS 10

static const char *const ins_names[NINS] = { "BTC-PERP",  "ETH-PERP", "SOL-PERP",  "XRP-PERP",
	                                     "DOGE-PERP", "ADA-PERP", "AVAX-PERP", "LINK-PERP",
	                                     "DOT-PERP",  "LTC-PERP" };
static const double start_px[NINS] = { 60000, 3000, 150, 0.6, 0.12, 0.45, 35, 15, 7, 80 };

typedef struct phase_s {
	double ns_per_tick;
	double warnings_per_tick;
	double evals_per_tick;
} phase_t;

typedef struct result_s {
	size_t positions;
	double build_s;
	phase_t quiet;  /* marks jitter by 1e-6 per tick: few level changes */
	phase_t moving; /* marks random-walk by 1e-4 per tick */
	phase_t limits; /* new limits of one instrument, mmr_0 0.5 % <-> 0.6 % */
	double bytes_per_pos;
	size_t tiered;
} result_t;

static uint64_t warnings_seen;

static int on_warning(void *opaque, const lvc_warning_t *w)
{
	(void)opaque;
	(void)w;
	warnings_seen++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* Tiers as the policy publishes them by default: caps 1e6, 1e7, 1e12 with
 * multipliers 1, 2, 5 of mmr_0 and the SPEC §4 deductions. */
static void make_limit(const char *name, double mmr0, lvc_limit_t *lim)
{
	static const double caps[3] = { 1e6, 1e7, 1e12 };
	static const double mult[3] = { 1, 2, 5 };

	memset(lim, 0, sizeof(*lim));
	lim->instrument = name;
	lim->ts_us = 1;
	lim->sigma_ann = 0.9;
	lim->sigma_horizon = 0.01;
	lim->mmr = mmr0;
	lim->tiers_n = 3;
	for (int t = 0; t < 3; t++) {
		lim->tiers[t].notional_cap = caps[t];
		lim->tiers[t].mmr = mmr0 * mult[t];
		lim->tiers[t].maintenance_deduction =
		    t == 0 ? 0.0
		           : lim->tiers[t - 1].maintenance_deduction +
		                 caps[t - 1] * (lim->tiers[t].mmr - lim->tiers[t - 1].mmr);
	}
}

static int fail(const char *what, lvc_err_t err, const char *errstr)
{
	fprintf(stderr, "bench_book: %s: %s (%s)\n", what, lvc_err2str(err), errstr);
	return 1;
}

static lvc_book_t *make_book(size_t hint)
{
	lvc_book_conf_t conf;
	char err[256] = "";
	lvc_book_t *book;

	memset(&conf, 0, sizeof(conf));
	conf.warn.watch = 3.0;
	conf.warn.warning = 2.0;
	conf.warn.critical = 1.0;
	conf.warn.hysteresis = 0.25;
	conf.emit = on_warning;
	conf.positions_hint = hint;
	conf.accounts_hint = hint / 4;
	book = lvc_book_new(&conf, err, sizeof(err));
	if (book == NULL) {
		fprintf(stderr, "bench_book: %s\n", err);
	}
	return book;
}

/* Applies `ticks` mark ticks round-robin over the instruments, each a
 * random step of up to +-step (relative) pulled back towards the start
 * price, so that a long run stays in the same region of the book. */
static int ticks_phase(lvc_book_t *book, const uint32_t *ids, double *px, long ticks, double step,
                       uint64_t *rng, phase_t *out)
{
	static int64_t ts = 10;
	lvc_book_stats_t st0;
	lvc_book_stats_t st1;
	uint64_t w0 = warnings_seen;
	char err[256] = "";
	double t0;

	memset(out, 0, sizeof(*out));
	if (ticks == 0) {
		return 0;
	}
	lvc_book_stats(book, &st0);
	t0 = now_s();
	for (long t = 0; t < ticks; t++) {
		int i = (int)(t % NINS);
		double d = step * (unif(rng) * 2.0 - 1.0);
		lvc_err_t e;

		px[i] *= exp(d - 0.001 * log(px[i] / start_px[i]));
		e = lvc_book_on_mark_id(book, ids[i], ts++, px[i], err, sizeof(err));
		if (e != LVC_OK) {
			return fail("mark", e, err);
		}
	}
	out->ns_per_tick = (now_s() - t0) * 1e9 / (double)ticks;
	lvc_book_stats(book, &st1);
	out->warnings_per_tick = (double)(warnings_seen - w0) / (double)ticks;
	out->evals_per_tick = (double)(st1.evaluations - st0.evaluations) / (double)ticks;
	return 0;
}

/* Publishes `n` limits for the first instrument, alternating mmr_0 between
 * 0.5 % and 0.6 % (every tier moves with it): the tier-0 positions are
 * handled as a tick, the tiered ones recomputed. */
static int limits_phase(lvc_book_t *book, long n, phase_t *out)
{
	lvc_book_stats_t st0;
	lvc_book_stats_t st1;
	uint64_t w0 = warnings_seen;
	char err[256] = "";
	double t0;

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		return 0;
	}
	lvc_book_stats(book, &st0);
	t0 = now_s();
	for (long k = 0; k < n; k++) {
		lvc_limit_t lim;
		lvc_err_t e;

		make_limit(ins_names[0], k % 2 ? 0.005 : 0.006, &lim);
		e = lvc_book_on_limit(book, &lim, err, sizeof(err));
		if (e != LVC_OK) {
			return fail("limit", e, err);
		}
	}
	out->ns_per_tick = (now_s() - t0) * 1e9 / (double)n;
	lvc_book_stats(book, &st1);
	out->warnings_per_tick = (double)(warnings_seen - w0) / (double)n;
	out->evals_per_tick = (double)(st1.evaluations - st0.evaluations) / (double)n;
	return 0;
}

/* Builds a book of n isolated positions (or n / 2 cross accounts of two
 * positions each when cross), then applies `quiet` ticks of small and
 * `moving` ticks of larger mark steps. */
static int run(size_t n, long quiet, long moving, int cross, result_t *res)
{
	lvc_book_t *book = make_book(n);
	uint32_t ids[NINS];
	double px[NINS];
	lvc_book_stats_t st;
	uint64_t rng = 12345;
	char acc[32];
	char err[256] = "";
	double t0;
	lvc_err_t e;
	int cross_first = 0;
	int rc = 1;

	if (book == NULL) {
		return 1;
	}
	for (int i = 0; i < NINS; i++) {
		lvc_limit_t lim;

		make_limit(ins_names[i], 0.005, &lim);
		px[i] = start_px[i];
		if ((e = lvc_book_on_limit(book, &lim, err, sizeof(err))) != LVC_OK ||
		    (e = lvc_book_instrument(book, ins_names[i], &ids[i])) != LVC_OK ||
		    (e = lvc_book_on_mark_id(book, ids[i], 1, px[i], err, sizeof(err))) != LVC_OK) {
			rc = fail("setup", e, err);
			goto exit;
		}
	}
	t0 = now_s();
	for (size_t k = 0; k < n; k++) {
		/* An account's positions are on distinct instruments. */
		int i = cross ? (int)(rng_next(&rng) % NINS) : (int)((k / 4 * 7 + k % 4) % NINS);
		double lev = 2.0 + 48.0 * unif(&rng);
		/* Notionals of 100 .. 100k, and one in a hundred a whale of 500k
		 * .. 20M whose liquidation can reach past the first tier. */
		double notional = rng_next(&rng) % 100 == 0 ? 5e5 * exp(unif(&rng) * log(40.0))
		                                            : 100.0 * exp(unif(&rng) * log(1000.0));
		double size;
		lvc_position_t p;

		if (cross) {
			snprintf(acc, sizeof(acc), "x%07zu", k / 2);
			if (k % 2 == 1) {
				i = (cross_first + 1 + (int)(rng_next(&rng) % (NINS - 1))) % NINS;
			} else {
				cross_first = i;
			}
		} else {
			snprintf(acc, sizeof(acc), "a%07zu", k / 4);
		}
		size = notional / px[i];
		p.account = acc;
		p.instrument = ins_names[i];
		p.ts_us = 2;
		p.size = rng_next(&rng) % 2 ? size : -size;
		p.entry_price = px[i] * (1.0 + 0.01 * (unif(&rng) - 0.5));
		p.margin_mode = cross ? LVC_MARGIN_CROSS : LVC_MARGIN_ISOLATED;
		p.collateral = notional / lev;
		if ((e = lvc_book_on_position(book, &p, err, sizeof(err))) != LVC_OK) {
			rc = fail("position", e, err);
			goto exit;
		}
		if (cross && k % 2 == 0) {
			lvc_balance_t b = { acc, 2, 2.0 * notional / lev };

			if ((e = lvc_book_on_balance(book, &b, err, sizeof(err))) != LVC_OK) {
				rc = fail("balance", e, err);
				goto exit;
			}
		}
	}
	res->build_s = now_s() - t0;
	if (ticks_phase(book, ids, px, quiet, 1e-6, &rng, &res->quiet) != 0 ||
	    ticks_phase(book, ids, px, moving, 1e-4, &rng, &res->moving) != 0 ||
	    limits_phase(book, cross ? 0 : 100, &res->limits) != 0) {
		goto exit;
	}
	lvc_book_stats(book, &st);
	res->positions = st.positions;
	res->tiered = st.positions_tiered;
	res->bytes_per_pos = (double)st.bytes / (double)st.positions;
	rc = 0;

exit:
	lvc_book_destroy(book);
	return rc;
}

static void print(const char *what, const result_t *r)
{
	printf("%-8s %9zu positions: %5.1f bytes/position, built in %.2f s (%.0f positions/s), "
	       "%zu tiered\n",
	       what, r->positions, r->bytes_per_pos, r->build_s, (double)r->positions / r->build_s,
	       r->tiered);
	printf("  quiet  (+-1e-6/tick): %8.1f ns/tick %10.0f ticks/s  %7.4f level changes/tick  "
	       "%7.4f evaluations/tick\n",
	       r->quiet.ns_per_tick, 1e9 / r->quiet.ns_per_tick, r->quiet.warnings_per_tick,
	       r->quiet.evals_per_tick);
	printf("  moving (+-1e-4/tick): %8.1f ns/tick %10.0f ticks/s  %7.4f level changes/tick  "
	       "%7.4f evaluations/tick\n",
	       r->moving.ns_per_tick, 1e9 / r->moving.ns_per_tick, r->moving.warnings_per_tick,
	       r->moving.evals_per_tick);
	printf("  new limit of %s (about %zu positions): %8.1f us/limit  %7.1f level "
	       "changes/limit  %7.1f evaluations/limit\n",
	       ins_names[0], r->positions / NINS, r->limits.ns_per_tick / 1e3,
	       r->limits.warnings_per_tick, r->limits.evals_per_tick);
}

int main(int argc, char **argv)
{
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	size_t small = smoke ? 1000 : 10000;
	size_t large = smoke ? 10000 : 1000000;
	size_t ncross = smoke ? 2000 : 20000;
	long quiet = smoke ? 20000 : 5000000;
	long moving = smoke ? 5000 : 1000000;
	result_t a;
	result_t b;
	result_t c;
	double ratio;
	double per_change;

	if (argc > 1 && !smoke) {
		fprintf(stderr, "usage: bench_book [--smoke]\n");
		return 2;
	}
	/* The small case twice: the first run warms caches and the allocator. */
	if (run(small, quiet / 10, moving / 10, 0, &a) || run(small, quiet, moving, 0, &a) ||
	    run(large, quiet, moving, 0, &b) || run(ncross, moving / 200, 0, 1, &c)) {
		return 1;
	}
	print("isolated", &a);
	print("isolated", &b);
	ratio = b.quiet.ns_per_tick / a.quiet.ns_per_tick;
	printf("ratio    quiet per-tick cost %zu / %zu positions: %.2f (goal <= 2: %s)\n",
	       b.positions, a.positions, ratio, ratio <= 2.0 ? "met" : "NOT met");
	printf("goal     >= 1e6 quiet ticks/s at %zu positions: %.0f (%s)\n", b.positions,
	       1e9 / b.quiet.ns_per_tick, 1e9 / b.quiet.ns_per_tick >= 1e6 ? "met" : "NOT met");
	per_change = b.moving.warnings_per_tick > 0
	                 ? (b.moving.ns_per_tick - b.quiet.ns_per_tick) / b.moving.warnings_per_tick
	                 : 0.0;
	if (per_change > 0) {
		printf("moving   at %zu positions a level change costs about %.0f ns\n",
		       b.positions, per_change);
	}
	printf("cross    %zu positions (%zu accounts of 2): %.0f ns/tick, %.1f evaluations/tick, "
	       "%.1f bytes/position\n",
	       c.positions, c.positions / 2, c.quiet.ns_per_tick, c.quiet.evals_per_tick,
	       c.bytes_per_pos);
	if (a.positions != small || b.positions != large || c.positions != ncross) {
		fprintf(stderr, "bench_book: positions lost\n");
		return 1;
	}
	return 0;
}
