/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential test of the position book: the book (price-ordered trees,
 * tier classes, pending lists, cross lists, dormant keys) against a brute
 * force written here from SPEC §5 alone, which after every input evaluates
 * every open position of every ready instrument and every ready cross
 * account from scratch. Over long random streams (positions opening,
 * resizing, flipping side and margin mode, closing by size 0 and by
 * tombstone; balances; marks random-walking, some late; sigma changes; new
 * limits with 1-3 tiers, some moving the first tier's cap or raising mmr_0
 * past the class guard; restored warning states) both must publish the
 * same warnings in the same order, input by input.
 *
 * Comparison: levels, previous levels, seq, keys, ts, size, mark,
 * sigma_ann and the presence of a liquidation price exactly; the other
 * doubles within 1e-12 * max(1, |a|, |b|), infinities exactly. The brute
 * force uses the closed form of SPEC §5 (per tier, L = (E - C/s - d_i/s) /
 * (1 - mmr_i) for a long, (E + C/a + d_i/a) / (1 + mmr_i) for a short) but
 * none of the book's machinery: it picks the tier by testing which tier's
 * notional range holds each tier's root, has no classes, no keys, no
 * caching, no trees, and re-evaluates everything on every input. Written in
 * the same closed form, the two agree bit for bit in practice (the largest
 * difference is logged; it is 0 or a subnormal hit probability). The
 * tolerance exists for a root exactly on a tier boundary, where the two
 * tiers' formulas agree only to rounding, and for K = E - C/s near zero
 * (a long collateralised almost to its notional), where any two ways of
 * computing L differ far beyond 1 ulp although both are as exact as the
 * inputs allow. A level disagreement would be a missing or extra warning,
 * which is compared exactly.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/book.h"

#define NI    3
#define MAXNA 1000
#define MAXQ  8192
#define TOL   1e-12
#define NLEVS LVC_LEVEL__COUNT

static const char *const ins_names[NI] = { "I0", "I1", "I2" };
static char acc_names[MAXNA][16];
static int NA = 40; /* accounts of the current stream */

/* ---- the model (brute force) -------------------------------------------- */

typedef struct mins_s {
	int has_limit, has_sigma, has_mark;
	size_t n;
	double cap[4], mmr[4], ded[4];
	double sig_ann, sig_h, mark;
	int64_t mark_ts;
} mins_t;

typedef struct macc_s {
	int has_balance;
	double balance;
} macc_t;

typedef struct mpos_s {
	int open, cross;
	double size, entry, coll;
	int level;
	int64_t seq;
} mpos_t;

typedef struct model_s {
	mins_t ins[NI];
	macc_t acc[MAXNA];
	mpos_t pos[MAXNA][NI];
	lvc_warn_params_t warn;
	lvc_warning_t q[MAXQ];
	size_t qn;
} model_t;

static int m_ready(const model_t *m, int i)
{
	return m->ins[i].has_limit && m->ins[i].has_sigma && m->ins[i].has_mark;
}

static double m_mm(const mins_t *in, double notional)
{
	size_t t = 0;

	while (t + 1 < in->n && notional > in->cap[t]) {
		t++;
	}
	return notional * in->mmr[t] - in->ded[t];
}

/* The liquidation price by solving each tier's linear equation and taking
 * the tier whose notional range holds (or is nearest to) its root. */
static int m_liq(const mins_t *in, double s, double e, double c, double *L)
{
	double a = fabs(s);
	double best = INFINITY;
	int found = 0;

	if (s > 0 ? !(s * e - c > 0) : !(a * e + c > 0)) {
		return 0;
	}
	for (size_t t = 0; t < in->n; t++) {
		double x = s > 0 ? (e - c / s - in->ded[t] / s) / (1.0 - in->mmr[t])
		                 : (e + c / a + in->ded[t] / a) / (1.0 + in->mmr[t]);
		double n = a * x;
		double lo = t == 0 ? 0.0 : in->cap[t - 1];
		double hi = t + 1 == in->n ? INFINITY : in->cap[t];
		double viol = n <= lo ? lo - n : (n > hi ? n - hi : 0.0);

		if (viol < best) {
			best = viol;
			*L = x;
			found = 1;
		}
	}
	return found && *L > 0 && isfinite(*L);
}

/* Level rule stepped one threshold at a time: worse at once; better one
 * level per threshold cleared by the hysteresis. */
static int m_next(const lvc_warn_params_t *w, int cur, int liq, double d)
{
	const double b[NLEVS] = { 0.0, w->watch, w->warning, w->critical, 0.0 };
	int raw;

	if (liq) {
		raw = LVC_LEVEL_LIQUIDATE;
	} else if (d < w->critical) {
		raw = LVC_LEVEL_CRITICAL;
	} else if (d < w->warning) {
		raw = LVC_LEVEL_WARNING;
	} else if (d < w->watch) {
		raw = LVC_LEVEL_WATCH;
	} else {
		raw = LVC_LEVEL_CLEAR;
	}
	if (raw >= cur) {
		return raw;
	}
	while (cur > raw && d >= b[cur] + w->hysteresis) {
		cur--;
	}
	return cur;
}

static void m_push(model_t *m, int a, int i, int64_t ts, int old, mpos_t *p, double equity,
                   double mm, int liq, int has_L, double L, double d, int closing)
{
	lvc_warning_t *w;

	cr_assert_lt(m->qn, MAXQ);
	w = &m->q[m->qn++];
	memset(w, 0, sizeof(*w));
	p->seq++;
	w->account = acc_names[a];
	w->instrument = ins_names[i];
	w->ts_us = ts;
	w->seq = p->seq;
	w->level = (lvc_level_t)p->level;
	w->previous_level = (lvc_level_t)old;
	w->mark_price = m->ins[i].has_mark ? m->ins[i].mark : 0.0;
	w->sigma_ann = m->ins[i].has_sigma ? m->ins[i].sig_ann : 0.0;
	if (closing) {
		w->distance_sigma = INFINITY;
		return;
	}
	w->has_liquidation_price = has_L;
	w->liquidation_price = has_L ? L : 0.0;
	w->distance_sigma = d;
	w->equity = equity;
	w->maintenance_margin = mm;
	w->margin_ratio = equity > 0 ? mm / equity : INFINITY;
	w->size = p->size;
	w->hit_probability = liq ? 1.0 : (has_L ? erfc(d / sqrt(2.0)) : 0.0);
}

/* Evaluates everything, from scratch. */
static void m_eval_all(model_t *m, int64_t ts)
{
	for (int a = 0; a < NA; a++) {
		for (int i = 0; i < NI; i++) {
			mpos_t *p = &m->pos[a][i];
			const mins_t *in = &m->ins[i];
			double eq, mm, L = 0.0, d;
			int liq, has_L, nl;

			if (!p->open || p->cross || !m_ready(m, i)) {
				continue;
			}
			eq = p->coll + p->size * (in->mark - p->entry);
			mm = m_mm(in, fabs(p->size) * in->mark);
			liq = eq <= mm;
			has_L = m_liq(in, p->size, p->entry, p->coll, &L);
			d = has_L ? fabs(log(in->mark / L)) / in->sig_h : INFINITY;
			nl = m_next(&m->warn, p->level, liq, d);
			if (nl != p->level) {
				int old = p->level;

				p->level = nl;
				m_push(m, a, i, ts, old, p, eq, mm, liq, has_L, L, d, 0);
			}
		}
	}
	for (int a = 0; a < NA; a++) {
		double eq = m->acc[a].balance, mm = 0.0;
		int any = 0, ready = m->acc[a].has_balance;

		for (int i = 0; i < NI; i++) {
			const mpos_t *p = &m->pos[a][i];

			if (p->open && p->cross) {
				any = 1;
				ready = ready && m_ready(m, i);
			}
		}
		if (!any || !ready) {
			continue;
		}
		for (int i = 0; i < NI; i++) {
			const mpos_t *p = &m->pos[a][i];

			if (p->open && p->cross) {
				eq += p->size * (m->ins[i].mark - p->entry);
				mm += m_mm(&m->ins[i], fabs(p->size) * m->ins[i].mark);
			}
		}
		for (int i = 0; i < NI; i++) {
			mpos_t *p = &m->pos[a][i];
			const mins_t *in = &m->ins[i];
			double pnl, pmm, L = 0.0, d;
			int has_L, nl;

			if (!p->open || !p->cross) {
				continue;
			}
			pnl = p->size * (in->mark - p->entry);
			pmm = m_mm(in, fabs(p->size) * in->mark);
			has_L = m_liq(in, p->size, p->entry, (eq - pnl) - (mm - pmm), &L);
			d = has_L ? fabs(log(in->mark / L)) / in->sig_h : INFINITY;
			nl = m_next(&m->warn, p->level, eq <= mm, d);
			if (nl != p->level) {
				int old = p->level;

				p->level = nl;
				m_push(m, a, i, ts, old, p, eq, mm, eq <= mm, has_L, L, d, 0);
			}
		}
	}
}

static int q_cmp(const void *x, const void *y)
{
	const lvc_warning_t *a = x;
	const lvc_warning_t *b = y;
	int c = strcmp(a->account, b->account);

	return c != 0 ? c : strcmp(a->instrument, b->instrument);
}

static void m_close(model_t *m, int a, int i, int64_t ts)
{
	mpos_t *p = &m->pos[a][i];

	if (!p->open) {
		return;
	}
	p->open = 0;
	if (p->level != LVC_LEVEL_CLEAR) {
		int old = p->level;

		p->level = LVC_LEVEL_CLEAR;
		p->size = 0.0;
		m_push(m, a, i, ts, old, p, 0, 0, 0, 0, 0, 0, 1);
	}
	p->size = 0.0;
}

/* ---- the book's side ------------------------------------------------------ */

typedef struct got_s {
	size_t n;
	lvc_warning_t w[MAXQ];
} got_t;

static int on_warning(void *opaque, const lvc_warning_t *w)
{
	got_t *g = opaque;

	cr_assert_lt(g->n, MAXQ);
	g->w[g->n++] = *w; /* names are interned for the book's life */
	return 0;
}

static double max_diff; /* largest relative difference seen */

static void same_double(const char *what, double a, double b, long step, size_t k)
{
	double scale;

	if (a == b || (isnan(a) && isnan(b))) {
		return;
	}
	cr_assert(isfinite(a) && isfinite(b), "step %ld warning %zu: %s %.17g vs model %.17g", step,
	          k, what, a, b);
	scale = fmax(1.0, fmax(fabs(a), fabs(b)));
	if (fabs(a - b) / scale > max_diff) {
		max_diff = fabs(a - b) / scale;
	}
	cr_assert_leq(fabs(a - b), TOL * scale, "step %ld warning %zu: %s %.17g vs model %.17g",
	              step, k, what, a, b);
}

static void compare(model_t *m, got_t *g, long step)
{
	qsort(m->q, m->qn, sizeof(m->q[0]), q_cmp);
	cr_assert_eq(g->n, m->qn, "step %ld: book published %zu warnings, brute force %zu", step,
	             g->n, m->qn);
	for (size_t k = 0; k < g->n; k++) {
		const lvc_warning_t *x = &g->w[k];
		const lvc_warning_t *y = &m->q[k];

		cr_assert_str_eq(x->account, y->account, "step %ld warning %zu", step, k);
		cr_assert_str_eq(x->instrument, y->instrument, "step %ld warning %zu", step, k);
		cr_assert_eq(x->level, y->level, "step %ld %s|%s: level %s, brute force %s", step,
		             x->account, x->instrument, lvc_level_names[x->level],
		             lvc_level_names[y->level]);
		cr_assert_eq(x->previous_level, y->previous_level, "step %ld", step);
		cr_assert_eq(x->seq, y->seq, "step %ld %s|%s seq", step, x->account, x->instrument);
		cr_assert_eq(x->ts_us, y->ts_us);
		cr_assert_eq(x->size, y->size);
		cr_assert_eq(x->mark_price, y->mark_price);
		cr_assert_eq(x->sigma_ann, y->sigma_ann);
		cr_assert_eq(x->has_liquidation_price, y->has_liquidation_price,
		             "step %ld %s|%s: liquidation price presence", step, x->account,
		             x->instrument);
		same_double("liquidation_price", x->liquidation_price, y->liquidation_price, step,
		            k);
		same_double("distance_sigma", x->distance_sigma, y->distance_sigma, step, k);
		same_double("equity", x->equity, y->equity, step, k);
		same_double("maintenance_margin", x->maintenance_margin, y->maintenance_margin,
		            step, k);
		same_double("margin_ratio", x->margin_ratio, y->margin_ratio, step, k);
		same_double("hit_probability", x->hit_probability, y->hit_probability, step, k);
	}
	g->n = 0;
	m->qn = 0;
}

/* ---- the random stream ---------------------------------------------------- */

typedef struct rng_s {
	uint64_t s;
} rng_t;

static double unif(rng_t *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static double gauss(rng_t *r)
{
	double u = unif(r) + 1e-300;

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * unif(r));
}

static int pick(rng_t *r, int n)
{
	return (int)(unif(r) * n) % n;
}

typedef struct cover_s {
	long warnings, liquidate, closes, cross, rebuilds, tiered_max, restores, late;
} cover_t;

static void make_limit(rng_t *r, model_t *m, int i, int64_t ts, lvc_limit_t *lim)
{
	mins_t *in = &m->ins[i];
	double cap0 = in->has_limit && unif(r) > 0.04 && in->n > 1 ? in->cap[0]
	                                                           : (unif(r) < 0.5 ? 1000 : 2500);
	size_t n = (size_t)(1 + pick(r, 3));
	double mmr0 = unif(r) < 0.03 ? 0.5 + 0.2 * unif(r) : 0.005 + 0.075 * unif(r);

	if (i == 2) {
		n = 1; /* one single-tier instrument: no classes */
	}
	memset(lim, 0, sizeof(*lim));
	lim->instrument = ins_names[i];
	lim->ts_us = ts;
	lim->sigma_horizon = 0.004 + 0.03 * unif(r);
	lim->sigma_ann = lim->sigma_horizon * 93.6;
	lim->mmr = mmr0;
	lim->tiers_n = n;
	for (size_t t = 0; t < n; t++) {
		lvc_tier_t *ti = &lim->tiers[t];

		ti->notional_cap = t == 0 ? cap0 : (t == 1 ? cap0 * 10 : 1e12);
		ti->mmr = t == 0 ? mmr0 : fmin(0.95, lim->tiers[t - 1].mmr * (1.0 + 1.5 * unif(r)));
		ti->maintenance_deduction =
		    t == 0 ? 0.0
		           : lim->tiers[t - 1].maintenance_deduction +
		                 lim->tiers[t - 1].notional_cap * (ti->mmr - lim->tiers[t - 1].mmr);
	}
	if (n == 1) {
		lim->tiers[0].notional_cap = 1e12;
	}
	in->n = n;
	for (size_t t = 0; t < n; t++) {
		in->cap[t] = lim->tiers[t].notional_cap;
		in->mmr[t] = lim->tiers[t].mmr;
		in->ded[t] = lim->tiers[t].maintenance_deduction;
	}
	in->has_limit = 1;
	if (!in->has_sigma) {
		in->has_sigma = 1;
		in->sig_h = lim->sigma_horizon;
		in->sig_ann = lim->sigma_ann;
	}
}

/* A position whose liquidation lies a random number of sigmas from the
 * mark, so that levels change often. */
static void make_position(rng_t *r, model_t *m, int a, int i, int64_t ts, lvc_position_t *out)
{
	const mins_t *in = &m->ins[i];
	double px = in->has_mark ? in->mark : 100.0;
	double sig = in->has_sigma ? in->sig_h : 0.01;
	double mmr = in->has_limit ? in->mmr[0] : 0.01;
	double size = exp(log(0.5) + unif(r) * log(100.0));
	double entry = px * exp(0.02 * gauss(r));
	double d = -0.5 + 6.5 * unif(r);
	int cross = unif(r) < 0.3;
	double coll;

	if (unif(r) < 0.5) {
		size = -size;
	}
	if (size > 0) {
		double L = px * exp(-d * sig);

		coll = size * (entry - L * (1.0 - mmr));
		if (unif(r) < 0.05) {
			coll = size * entry * (1.0 + unif(r)); /* can never be liquidated */
		}
	} else {
		double L = px * exp(d * sig);

		coll = -size * (L * (1.0 + mmr) - entry);
	}
	if (coll < 0) {
		coll = unif(r) * 5.0;
	}
	memset(out, 0, sizeof(*out));
	out->account = acc_names[a];
	out->instrument = ins_names[i];
	out->ts_us = ts;
	out->size = size;
	out->entry_price = entry;
	out->margin_mode = cross ? LVC_MARGIN_CROSS : LVC_MARGIN_ISOLATED;
	out->collateral = cross ? 1e9 : coll; /* ignored for cross */
}

static void run_stream(uint64_t seed, long steps, int accounts, double hysteresis, cover_t *cov)
{
	rng_t r = { seed };
	model_t *m = calloc(1, sizeof(*m));
	got_t *g = calloc(1, sizeof(*g));
	lvc_book_conf_t conf;
	lvc_book_t *book;
	lvc_book_stats_t st;
	char err[256];
	int64_t ts = 1000;

	cr_assert_not_null(m);
	cr_assert_not_null(g);
	NA = accounts;
	for (int a = 0; a < NA; a++) {
		snprintf(acc_names[a], sizeof(acc_names[a]), "acc%03d", a);
	}
	memset(&conf, 0, sizeof(conf));
	conf.warn.watch = 3.0;
	conf.warn.warning = 2.0;
	conf.warn.critical = 1.0;
	conf.warn.hysteresis = hysteresis;
	conf.emit = on_warning;
	conf.opaque = g;
	m->warn = conf.warn;
	book = lvc_book_new(&conf, err, sizeof(err));
	cr_assert_not_null(book, "%s", err);
	memset(cov, 0, sizeof(*cov));

	for (long step = 0; step < steps; step++) {
		double u = unif(&r);
		int i = pick(&r, NI);
		int a = pick(&r, NA);
		lvc_err_t rc = LVC_OK;

		ts += 1 + pick(&r, 3);
		err[0] = '\0';
		/* Positions first (before any limit or mark: all pending), then
		 * the mix. */
		if (step < 60 + (accounts > 100 ? 2 * accounts : 0) || (u -= 0.20) < 0) {
			/* position upsert; some closes by size 0 */
			lvc_position_t p;
			mpos_t *mp = &m->pos[a][i];

			make_position(&r, m, a, i, ts, &p);
			if (unif(&r) < 0.08) {
				p.size = 0.0;
			}
			rc = lvc_book_on_position(book, &p, err, sizeof(err));
			if (p.size == 0.0) {
				m_close(m, a, i, ts);
			} else {
				mp->open = 1;
				mp->cross = p.margin_mode == LVC_MARGIN_CROSS;
				mp->size = p.size;
				mp->entry = p.entry_price;
				mp->coll = mp->cross ? 0.0 : p.collateral;
			}
		} else if ((u -= 0.04) < 0) {
			rc = lvc_book_on_close(book, acc_names[a], ins_names[i], ts, err,
			                       sizeof(err));
			m_close(m, a, i, ts);
		} else if ((u -= 0.08) < 0) {
			lvc_balance_t b = { acc_names[a], ts, -20.0 + 1500.0 * unif(&r) };

			rc = lvc_book_on_balance(book, &b, err, sizeof(err));
			m->acc[a].has_balance = 1;
			m->acc[a].balance = b.collateral;
		} else if ((u -= 0.07) < 0) {
			double sh = m->ins[i].has_sigma ? m->ins[i].sig_h : 0.01;

			sh = fmin(0.05, fmax(0.002, sh * exp(0.3 * gauss(&r))));
			rc = lvc_book_on_sigma(book, ins_names[i], ts, sh * 93.6, sh, err,
			                       sizeof(err));
			m->ins[i].has_sigma = 1;
			m->ins[i].sig_h = sh;
			m->ins[i].sig_ann = sh * 93.6;
		} else if ((u -= 0.06) < 0) {
			lvc_limit_t lim;

			make_limit(&r, m, i, ts, &lim);
			rc = lvc_book_on_limit(book, &lim, err, sizeof(err));
		} else if ((u -= 0.01) < 0) {
			/* a restored warning state */
			uint8_t stb[LVC_BOOK_STATE_SIZE] = { 1 };
			mpos_t *mp = &m->pos[a][i];
			int64_t seq = mp->seq + pick(&r, 3);

			stb[1] = (uint8_t)pick(&r, NLEVS);
			for (int k = 0; k < 8; k++) {
				stb[2 + k] = (uint8_t)((uint64_t)seq >> (56 - 8 * k));
			}
			rc = lvc_book_state_set(book, acc_names[a], ins_names[i], ts, stb,
			                        sizeof(stb), err, sizeof(err));
			mp->level = stb[1];
			mp->seq = seq;
			cov->restores++;
		} else {
			/* mark tick; 2 % late */
			mins_t *in = &m->ins[i];
			double px = in->has_mark ? in->mark : 100.0;
			double sh = in->has_sigma ? in->sig_h : 0.01;
			int64_t mts = ts;

			px *= exp(0.6 * sh * gauss(&r));
			if (in->has_mark && unif(&r) < 0.02) {
				mts = in->mark_ts - 1;
				cov->late++;
			}
			rc = lvc_book_on_mark(book, ins_names[i], mts, px, err, sizeof(err));
			if (!in->has_mark || mts >= in->mark_ts) {
				in->has_mark = 1;
				in->mark = px;
				in->mark_ts = mts;
			}
		}
		cr_assert_eq(rc, LVC_OK, "step %ld: %s (%s)", step, lvc_err2str(rc), err);
		m_eval_all(m, ts);
		for (size_t k = 0; k < m->qn; k++) {
			cov->warnings++;
			cov->liquidate += m->q[k].level == LVC_LEVEL_LIQUIDATE;
			cov->closes += m->q[k].size == 0.0;
			cov->cross +=
			    m->pos[atoi(m->q[k].account + 3)][m->q[k].instrument[1] - '0'].cross;
		}
		compare(m, g, step);
		lvc_book_stats(book, &st);
		if ((long)st.positions_tiered > cov->tiered_max) {
			cov->tiered_max = (long)st.positions_tiered;
		}
	}

	/* The final states agree key by key. */
	lvc_book_stats(book, &st);
	cov->rebuilds = (long)st.rebuilds;
	{
		size_t open = 0, cross = 0;

		for (int a = 0; a < NA; a++) {
			for (int i = 0; i < NI; i++) {
				const mpos_t *mp = &m->pos[a][i];
				uint8_t s[LVC_BOOK_STATE_SIZE];
				lvc_err_t e =
				    lvc_book_state_get(book, acc_names[a], ins_names[i], s);

				open += mp->open;
				cross += mp->open && mp->cross;
				if (mp->seq == 0 && mp->level == LVC_LEVEL_CLEAR) {
					cr_assert_eq(e, LVC_ERR_NOT_FOUND);
					continue;
				}
				cr_assert_eq(e, LVC_OK);
				cr_assert_eq(s[1], mp->level);
				cr_assert_eq(s[9], (uint8_t)mp->seq);
			}
		}
		cr_assert_eq(st.positions, open);
		cr_assert_eq(st.positions_cross, cross);
	}
	lvc_book_destroy(book);
	free(g);
	free(m);
}

static void check_coverage(const cover_t *c)
{
	cr_log_info("warnings %ld (liquidate %ld, closes %ld, cross %ld), rebuilds %ld, "
	            "tiered max %ld, restores %ld, late marks %ld, max relative diff %.3g",
	            c->warnings, c->liquidate, c->closes, c->cross, c->rebuilds, c->tiered_max,
	            c->restores, c->late, max_diff);
	/* The stream must exercise what it claims to. */
	cr_assert_gt(c->warnings, 2000);
	cr_assert_gt(c->liquidate, 50);
	cr_assert_gt(c->closes, 20);
	cr_assert_gt(c->cross, 100);
	cr_assert_gt(c->rebuilds, 0);
	cr_assert_gt(c->tiered_max, 3);
	cr_assert_gt(c->restores, 20);
}

Test(book_diff, matches_a_brute_force_scan_over_a_random_stream, .timeout = 300)
{
	cover_t c;

	run_stream(1, 30000, 40, 0.25, &c);
	check_coverage(&c);
}

Test(book_diff, matches_a_brute_force_scan_over_a_second_random_stream, .timeout = 300)
{
	cover_t c;

	run_stream(20240607, 30000, 40, 0.25, &c);
	check_coverage(&c);
}

Test(book_diff, matches_a_brute_force_scan_without_hysteresis, .timeout = 300)
{
	cover_t c;

	run_stream(777, 30000, 40, 0.0, &c);
	check_coverage(&c);
}

/* Ten times the keys, so that level trees span several B+tree leaves, and
 * a hysteresis wider than the gaps between thresholds, so that a move to a
 * better level can stop short of the raw level by more than one step. */
Test(book_diff, matches_a_brute_force_scan_with_big_trees_and_wide_hysteresis, .timeout = 300)
{
	cover_t c;

	run_stream(4242, 10000, 1000, 1.3, &c);
	check_coverage(&c);
}
