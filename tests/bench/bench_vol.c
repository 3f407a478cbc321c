/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of the volatility estimators (issue 3): core ticks per second
 * with 10,000 instruments for the default config (ewma) and for `max` of
 * [ewma, yang_zhang, bipower] with a 1 h window of 1 m bars, measured
 * through lvc_engine_on_trade() (symbol lookup, volatility, leverage policy
 * and the partition's staleness list included), and in the same run a naive
 * estimator that keeps every sample of the window (3,600 grid returns, 60
 * bars per instrument) and recomputes each estimate from them on every
 * tick, looked up in the same kind of symbol table. It prints both rates
 * and their ratios, and lvc_vol_update() behind the same lookup as the
 * naive one (no policy), so that one ratio compares estimators alone.
 * Rates are ticks per second of this process's CPU time.
 *
 * Workloads (event time, generated before timing):
 *   uniform  every instrument about one trade per second (exponential
 *            gaps), so nearly every tick closes a grid interval: the
 *            expensive path of the estimators.
 *   zipf     instruments drawn with Zipf(1) weights, 100,000 trades per
 *            second in total: a few busy books, a long quiet tail.
 * Before timing, the engine runs a warm-up of 3,700 s of event time (every
 * instrument a tick every 10 s), so the 1 h windows are full and rolling.
 * The naive estimator's sample rings start full, so its recompute always
 * covers the whole window, as it would in steady state.
 *
 *   bench_vol           the full run (10,000 instruments; ~1 GB of memory)
 *   bench_vol --smoke   a short run for CTest (1,000 instruments)
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine.h"
#include "core/params.h"
#include "core/symtab.h"
#include "core/vol.h"

#define SEC INT64_C(1000000)

typedef struct wl_s {
	int32_t *ins;
	int64_t *ts;
	double *px;
	size_t n;
} wl_t;

typedef struct cfg_s {
	int smoke;
	size_t ni;
	size_t n_fast;
	size_t n_naive;
	int64_t warmup_us;
	int64_t warmup_every_us;
} cfg_t;

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return ((double)(rng(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(uint64_t *s)
{
	return sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s));
}

/* CPU time of this process: the figures are "ticks per second on one
 * core", and the machines this runs on are shared, so wall-clock time would
 * count other processes' turns. */
static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void wl_alloc(wl_t *w, size_t n)
{
	w->ins = malloc(n * sizeof(*w->ins));
	w->ts = malloc(n * sizeof(*w->ts));
	w->px = malloc(n * sizeof(*w->px));
	w->n = n;
	if (w->ins == NULL || w->ts == NULL || w->px == NULL) {
		fprintf(stderr, "bench_vol: out of memory for %zu ticks\n", n);
		exit(1);
	}
}

static void wl_free(wl_t *w)
{
	free(w->ins);
	free(w->ts);
	free(w->px);
}

/* Random-walk prices per instrument; instrument by uniform choice or by
 * the Zipf CDF; global event time with exponential gaps of mean gap_us. */
static void wl_make(wl_t *w, size_t n, size_t ni, const double *zipf_cdf, double gap_us, int64_t t0,
                    double *price, uint64_t seed)
{
	double t = (double)t0;

	wl_alloc(w, n);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (zipf_cdf == NULL) {
			k = (size_t)(rng(&seed) % ni);
		} else {
			double u = unif(&seed);
			size_t lo = 0, hi = ni - 1;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (zipf_cdf[mid] < u) {
					lo = mid + 1;
				} else {
					hi = mid;
				}
			}
			k = lo;
		}
		t += -log(unif(&seed)) * gap_us;
		price[k] *= exp(0.0004 * gauss(&seed));
		w->ins[i] = (int32_t)k;
		w->ts[i] = (int64_t)t;
		w->px[i] = price[k];
	}
}

/* Every instrument once per `every` from t0 to t0 + dur, in time order. */
static void wl_warmup(wl_t *w, size_t ni, int64_t t0, int64_t dur, int64_t every, double *price,
                      uint64_t seed)
{
	size_t rounds = (size_t)(dur / every);

	wl_alloc(w, rounds * ni);
	for (size_t r = 0; r < rounds; r++) {
		for (size_t k = 0; k < ni; k++) {
			size_t i = r * ni + k;

			price[k] *= exp(0.0012 * gauss(&seed));
			w->ins[i] = (int32_t)k;
			w->ts[i] = t0 + (int64_t)r * every + (int64_t)k * (every / (int64_t)ni);
			w->px[i] = price[k];
		}
	}
}

/* ---- the naive estimator: every sample of the window, recomputed ---- */

typedef struct nbar_s {
	double o, h, l, c, cp;
} nbar_t;

typedef struct naive_s {
	int has;
	int64_t kc, cur_j;
	double cur, p_prev, o, h, l, cp;
	double *ret; /* ring of nr grid returns, oldest at rh */
	uint32_t rh;
	nbar_t *bar; /* ring of nb bars, oldest at bh */
	uint32_t bh;
	double sigma;
} naive_t;

typedef struct nconf_s {
	int max; /* 0: ewma only; 1: ewma, yang_zhang, bipower */
	uint32_t nr, nbars;
	int64_t s_us, r_per;
	double lam, v0, f_samp, f_bar;
} nconf_t;

static void naive_push_ret(naive_t *x, const nconf_t *c, double r)
{
	x->ret[x->rh] = r;
	x->rh = x->rh + 1 == c->nr ? 0 : x->rh + 1;
}

static void naive_push_bar(naive_t *x, const nconf_t *c, const nbar_t *b)
{
	x->bar[x->bh] = *b;
	x->bh = x->bh + 1 == c->nbars ? 0 : x->bh + 1;
}

static void naive_recompute(naive_t *x, const nconf_t *c)
{
	/* ewma over the stored returns: sum of (1 - lam) lam^i r_(newest-i)^2
	 * plus the prior weighted lam^n. */
	double v = 0, w = 1.0 - c->lam, sigma;

	for (uint32_t i = 0; i < c->nr; i++) {
		uint32_t s = (x->rh + c->nr - 1 - i) % c->nr;

		v += w * x->ret[s] * x->ret[s];
		w *= c->lam;
	}
	v += w / (1.0 - c->lam) * c->v0;
	sigma = sqrt(v * c->f_samp);
	if (c->max) {
		double bp = 0, mo = 0, mc = 0, qo = 0, qc = 0, rs = 0, n = c->nbars, k;

		for (uint32_t i = 1; i < c->nr; i++) {
			bp += fabs(x->ret[(x->rh + i) % c->nr]) *
			      fabs(x->ret[(x->rh + i - 1) % c->nr]);
		}
		bp = 1.5707963267948966 * bp / (c->nr - 1);
		sigma = fmax(sigma, sqrt(bp * c->f_samp));
		for (uint32_t i = 0; i < c->nbars; i++) {
			const nbar_t *b = &x->bar[i];

			mo += log(b->o / b->cp);
			mc += log(b->c / b->o);
		}
		mo /= n;
		mc /= n;
		for (uint32_t i = 0; i < c->nbars; i++) {
			const nbar_t *b = &x->bar[i];
			double d = log(b->o / b->cp) - mo, e = log(b->c / b->o) - mc;

			qo += d * d;
			qc += e * e;
			rs += log(b->h / b->c) * log(b->h / b->o) +
			      log(b->l / b->c) * log(b->l / b->o);
		}
		k = 0.34 / (1.34 + (n + 1) / (n - 1));
		sigma = fmax(sigma,
		             sqrt((qo / (n - 1) + k * qc / (n - 1) + (1 - k) * rs / n) * c->f_bar));
	}
	x->sigma = sigma;
}

static void naive_update(naive_t *x, const nconf_t *c, int64_t ts, double px)
{
	int64_t kn;

	if (!x->has) {
		x->has = 1;
		x->kc = ts / c->s_us + (ts % c->s_us > 0);
		x->cur_j = (x->kc - 1) / c->r_per;
		x->cur = x->p_prev = x->o = x->h = x->l = x->cp = px;
	} else if (ts > x->kc * c->s_us) {
		int64_t m, jn;
		nbar_t b;

		kn = ts / c->s_us + (ts % c->s_us > 0);
		jn = (kn - 1) / c->r_per;
		naive_push_ret(x, c, log(x->cur / x->p_prev));
		m = kn - 1 - x->kc;
		for (int64_t i = 0; i < m && i < c->nr; i++) {
			naive_push_ret(x, c, 0.0);
		}
		x->p_prev = x->cur;
		if (jn > x->cur_j) {
			b.o = x->o;
			b.h = x->h;
			b.l = x->l;
			b.c = x->cur;
			b.cp = x->cp;
			naive_push_bar(x, c, &b);
			b.o = b.h = b.l = b.c = b.cp = x->cur;
			for (int64_t i = 0; i < jn - x->cur_j - 1 && i < c->nbars; i++) {
				naive_push_bar(x, c, &b);
			}
			x->cp = x->cur;
			x->o = x->h = x->l = px;
			x->cur_j = jn;
		}
		x->kc = kn;
	}
	x->h = fmax(x->h, px);
	x->l = fmin(x->l, px);
	x->cur = px;
	naive_recompute(x, c);
}

static double run_naive(const cfg_t *cfg, const wl_t *w, int max, lvc_symtab_t *syms,
                        char (*names)[16], double *checksum)
{
	lvc_params_t all;
	nconf_t c;
	naive_t *x = calloc(cfg->ni, sizeof(*x));
	double t0, t1, sum = 0;
	size_t n = cfg->n_naive < w->n ? cfg->n_naive : w->n;

	lvc_params_defaults(&all);
	c.max = max;
	c.s_us = all.vol.sample_interval_us;
	c.r_per = all.vol.bar_interval_us / c.s_us;
	c.nr = (uint32_t)(all.vol.window_us / c.s_us);
	c.nbars = (uint32_t)(all.vol.window_us / all.vol.bar_interval_us);
	c.lam = exp2(-(double)c.s_us / (double)all.vol.half_life_us);
	c.f_samp = 365 * 86400.0 / ((double)c.s_us / 1e6);
	c.f_bar = 365 * 86400.0 / ((double)all.vol.bar_interval_us / 1e6);
	c.v0 = 1.0 / c.f_samp;
	for (size_t i = 0; i < cfg->ni; i++) {
		x[i].ret = calloc(c.nr, sizeof(double));
		x[i].bar = malloc(c.nbars * sizeof(nbar_t));
		if (x[i].ret == NULL || x[i].bar == NULL) {
			fprintf(stderr, "bench_vol: out of memory for the naive rings\n");
			exit(1);
		}
		for (uint32_t j = 0; j < c.nbars; j++) {
			x[i].bar[j] = (nbar_t){ 100, 100.1, 99.9, 100.05, 100 };
		}
	}
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const char *name = names[w->ins[i]];
		int32_t k = lvc_symtab_find(syms, name, strlen(name));

		naive_update(&x[k], &c, w->ts[i], w->px[i]);
		sum += x[k].sigma;
	}
	t1 = now_s();
	for (size_t i = 0; i < cfg->ni; i++) {
		free(x[i].ret);
		free(x[i].bar);
	}
	free(x);
	*checksum = sum;
	return (double)n / (t1 - t0);
}

/* ---- the core, through the engine and directly ---- */

static int count_emit(void *opaque, const lvc_event_t *ev)
{
	(void)ev;
	(*(uint64_t *)opaque)++;
	return 0;
}

static double run_engine(const cfg_t *cfg, const wl_t *warm, const wl_t *w, int max,
                         char (*names)[16], uint64_t *events)
{
	lvc_engine_conf_t conf;
	lvc_engine_t *eng;
	char err[256];
	double t0, t1;
	lvc_trade_t tr;
	size_t n = cfg->n_fast < w->n ? cfg->n_fast : w->n;

	memset(&conf, 0, sizeof(conf));
	lvc_params_defaults(&conf.defaults);
	if (max) {
		conf.defaults.vol.estimator = LVC_EST_MAX;
	}
	conf.config_id = "bench_vol";
	conf.emit = count_emit;
	conf.opaque = events;
	conf.instruments_hint = cfg->ni;
	eng = lvc_engine_new(&conf, err, sizeof(err));
	if (eng == NULL) {
		fprintf(stderr, "bench_vol: lvc_engine_new: %s\n", err);
		exit(1);
	}
	memset(&tr, 0, sizeof(tr));
	tr.qty = 1.0;
	tr.side = LVC_SIDE_BUY;
	for (size_t i = 0; i < warm->n; i++) {
		tr.instrument = names[warm->ins[i]];
		tr.ts_us = warm->ts[i];
		tr.price = warm->px[i];
		if (lvc_engine_on_trade(eng, warm->ins[i] % 8, &tr, err, sizeof(err)) != LVC_OK) {
			fprintf(stderr, "bench_vol: warm-up tick %zu: %s\n", i, err);
			exit(1);
		}
	}
	*events = 0;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		tr.instrument = names[w->ins[i]];
		tr.ts_us = w->ts[i];
		tr.price = w->px[i];
		if (lvc_engine_on_trade(eng, w->ins[i] % 8, &tr, err, sizeof(err)) != LVC_OK) {
			fprintf(stderr, "bench_vol: tick %zu: %s\n", i, err);
			exit(1);
		}
	}
	t1 = now_s();
	lvc_engine_destroy(eng);
	return (double)n / (t1 - t0);
}

/* lvc_vol_update() and lvc_vol_sigma_ann() per tick, the instrument found
 * by name in a symbol table exactly as the naive run does (syms NULL: by
 * its index, to show the estimators' own cost). */
static double run_vol(const cfg_t *cfg, const wl_t *warm, const wl_t *w, int max,
                      lvc_symtab_t *syms, char (*names)[16], double *checksum)
{
	lvc_params_t all;
	lvc_vol_t **v = calloc(cfg->ni, sizeof(*v));
	double t0, t1, sum = 0;
	size_t n = cfg->n_fast < w->n ? cfg->n_fast : w->n;

	lvc_params_defaults(&all);
	if (max) {
		all.vol.estimator = LVC_EST_MAX;
	}
	for (size_t i = 0; i < cfg->ni; i++) {
		v[i] = lvc_vol_new(&all.vol, all.lev.prior_sigma_ann);
	}
	for (size_t i = 0; i < warm->n; i++) {
		lvc_vol_update(v[warm->ins[i]], warm->ts[i], warm->px[i]);
	}
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const char *name = names[w->ins[i]];
		lvc_vol_t *x =
		    v[syms != NULL ? lvc_symtab_find(syms, name, strlen(name)) : w->ins[i]];

		lvc_vol_update(x, w->ts[i], w->px[i]);
		sum += lvc_vol_sigma_ann(x);
	}
	t1 = now_s();
	for (size_t i = 0; i < cfg->ni; i++) {
		lvc_vol_destroy(v[i]);
	}
	free(v);
	*checksum = sum;
	return (double)n / (t1 - t0);
}

int main(int argc, char **argv)
{
	cfg_t cfg = { 0, 10000, 10000000, 200000, 3700 * SEC, 10 * SEC };
	const int64_t t_start = INT64_C(1700000000) * SEC;
	char(*names)[16];
	double *price, *zipf = NULL;
	lvc_symtab_t *syms;
	int workloads;

	if (argc > 1 && strcmp(argv[1], "--smoke") == 0) {
		cfg = (cfg_t){ 1, 1000, 200000, 3000, 3700 * SEC, 60 * SEC };
	} else if (argc > 1) {
		fprintf(stderr, "usage: bench_vol [--smoke]\n");
		return 2;
	}
	workloads = cfg.smoke ? 1 : 2;
	names = malloc(cfg.ni * sizeof(*names));
	price = malloc(cfg.ni * sizeof(*price));
	syms = lvc_symtab_new(cfg.ni);
	zipf = malloc(cfg.ni * sizeof(*zipf));
	if (names == NULL || price == NULL || syms == NULL || zipf == NULL) {
		fprintf(stderr, "bench_vol: out of memory\n");
		return 1;
	}
	{
		double h = 0, acc = 0;

		for (size_t i = 0; i < cfg.ni; i++) {
			h += 1.0 / (double)(i + 1);
		}
		for (size_t i = 0; i < cfg.ni; i++) {
			acc += 1.0 / (double)(i + 1) / h;
			zipf[i] = acc;
		}
		zipf[cfg.ni - 1] = 1.0;
	}
	for (size_t i = 0; i < cfg.ni; i++) {
		snprintf(names[i], sizeof(names[i]), "I%05u-PERP", (unsigned)(i % 100000));
		lvc_symtab_intern(syms, names[i], strlen(names[i]), NULL);
		price[i] = 100.0 * (1 + (double)(i % 97));
	}
	printf("bench_vol: %zu instruments, defaults of SPEC §8 (S 1s, bar 1m, window 1h, "
	       "half_life 10m)%s\n",
	       cfg.ni, cfg.smoke ? " [smoke: small run, figures not meaningful]" : "");
	for (int wk = 0; wk < workloads; wk++) {
		wl_t warm, w;
		const char *wname = wk == 0 ? "uniform" : "zipf";
		int64_t t_meas = t_start + cfg.warmup_us + SEC;
		double gap = wk == 0 ? 1e6 / (double)cfg.ni : 10.0; /* 100k ticks/s */

		wl_warmup(&warm, cfg.ni, t_start, cfg.warmup_us, cfg.warmup_every_us, price, 11);
		wl_make(&w, cfg.n_fast, cfg.ni, wk == 0 ? NULL : zipf, gap, t_meas, price,
		        (uint64_t)(17 + wk));
		printf("workload %s: %zu timed ticks over %.0f s of event time, after %zu warm-up "
		       "ticks\n",
		       wname, w.n, (double)(w.ts[w.n - 1] - w.ts[0]) / 1e6, warm.n);
		for (int max = 0; max <= 1; max++) {
			uint64_t events = 0;
			double ck_fast, ck_naive;
			double eng = run_engine(&cfg, &warm, &w, max, names, &events);
			double direct = run_vol(&cfg, &warm, &w, max, syms, names, &ck_fast);
			double alone = run_vol(&cfg, &warm, &w, max, NULL, names, &ck_fast);
			double naive = run_naive(&cfg, &w, max, syms, names, &ck_naive);

			printf(
			    "  %-4s engine (lookup+vol+policy) %7.3f M/s | lookup+vol %7.3f M/s | "
			    "lookup+naive %7.4f M/s | lookup+vol / lookup+naive %6.1fx | engine / "
			    "lookup+naive %6.1fx\n",
			    max ? "max" : "ewma", eng / 1e6, direct / 1e6, naive / 1e6,
			    direct / naive, eng / naive);
			printf("       vol alone (no lookup) %.3f M/s; %" PRIu64 " limit events; "
			       "sums of sigma, printed so that no work is optimized away: %.6g "
			       "%.6g\n",
			       alone / 1e6, events, ck_fast, ck_naive);
			fflush(stdout);
		}
		wl_free(&warm);
		wl_free(&w);
	}
	lvc_symtab_destroy(syms);
	free(names);
	free(price);
	free(zipf);
	return 0;
}
