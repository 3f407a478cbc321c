/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volatility of one instrument in event time (SPEC §3): every estimator,
 * computed from the ticks' own timestamps, O(1) per tick (amortized) with
 * bounded memory and no allocation after lvc_vol_new(). These are the
 * definitions; the slow references in tests/unit/test_vol*.c implement the
 * same text independently.
 *
 * Grid. Points t_k = k * sample_interval (S) since the epoch. P(t_k) is the
 * price of the last applied tick with ts_us <= t_k (a tick exactly on a grid
 * point belongs to that point). r_k = ln(P(t_k) / P(t_(k-1))) becomes known
 * when the first tick with ts_us > t_k arrives. The first grid point is
 * k0 = ceil(first ts / S) and the first return is r_(k0+1). Intervals
 * without a tick give zero returns (previous-tick interpolation); a tick
 * after a gap makes one return (possibly non-zero) and m zero returns known
 * at once, applied in closed form. Several ticks with one ts_us are all
 * applied, the last one sets the price; a tick older than the newest applied
 * one is LATE (counted, not applied). A price that is not finite and > 0, or
 * a ts_us beyond +-2^62, is REJECTED and never reaches the state. A log
 * return is ln(a / b), or ln a - ln b when a / b would overflow or underflow
 * (only for prices near the ends of the double range), so that every term
 * stays finite.
 *
 * Buckets and bars. Bucket j is the interval (j * B, (j + 1) * B] of
 * bar_interval B, which holds R = B / S grid returns (those ending inside
 * it) and the OHLC bar of the ticks with ts_us inside it: O its first tick,
 * H and L the extremes, C its last tick, which is P((j + 1) B), the same
 * close the grid sees (a tick exactly at (j + 1) B closes bar j). A bar with
 * no tick is O = H = L = C = the previous close. A bucket is complete when a
 * tick after its end arrives. The bucket of an instrument's first tick is
 * the seed bar: it has no previous close, so it enters no bar estimator (it
 * gives the previous close of the next bar); its returns count.
 *
 * Window. The window is the last N = window / B complete buckets, the
 * current partial bucket excluded: windowed estimates move when a bucket
 * completes, every bar in them spans a whole B, and the window advances by
 * whole buckets. After a gap of more than N empty buckets the window is N
 * empty buckets. Until data exists an estimator reports prior_sigma_ann:
 * realized needs 1 return in the window, bipower 1 pair, parkinson,
 * garman_klass and rogers_satchell 1 bar, close and yang_zhang 2 bars.
 *
 * Estimators (variance per second, annualized as sqrt(var_s * days * 86400)):
 *   ewma       v <- lambda v + (1 - lambda) r_k^2 for every grid return,
 *              lambda = 2^(-S / half_life), m zero returns v *= lambda^m; v
 *              starts at the prior for one S; per second v / S.
 *   realized   mean of r_k^2 over the returns inside the window, / S.
 *   bipower    (pi / 2) mean of |r_k| |r_(k-1)| over the pairs whose r_k is
 *              inside the window (r_(k-1) may end just before it), / S.
 *   close      sample variance (n - 1) of ln(C / previous C) over the
 *              window's bars (n returns for n bars: TTR's n + 1), / B.
 *   parkinson  mean of ln(H / L)^2 / (4 ln 2), / B.
 *   garman_klass  mean of 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2, / B.
 *   rogers_satchell  mean of ln(H/C) ln(H/O) + ln(L/C) ln(L/O), / B.
 *   yang_zhang sample variance of ln(O / previous C) + k * sample variance
 *              of ln(C / O) + (1 - k) * rogers_satchell, k = 0.34 / (1.34 +
 *              (n + 1) / (n - 1)), n the bars in the window; the overnight
 *              term maps to consecutive bars: from the previous bar's close
 *              to this bar's first tick, / B.
 *   garch      h <- omega + alpha r^2 + beta h for every complete non-seed
 *              bar's ln(C / previous C) (empty bars: r = 0, closed form for
 *              long gaps), omega per bar, h starts at the prior per bar;
 *              per second h / B.
 *   max        the largest sigma_ann of the max_of estimators.
 * The range estimators and close are TTR volatility()'s formulas (sample
 * variances where TTR uses runVar/runSD, means where it uses runSum / n).
 *
 * Only the estimators the params need are computed. Memory: a fixed struct,
 * plus 2 * N window slots when a windowed estimator is configured.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/vol_int.h"
#include "core/numeric.h"

#define US_PER_S   1e6
#define PI_2       1.57079632679489661923 /* pi / 2 */
#define LN_2       0.69314718055994530942
#define S_PER_DAY  86400.0
#define EST_BIT(e) (1u << (unsigned)(e))

#define GRID_ESTS (EST_BIT(LVC_EST_REALIZED) | EST_BIT(LVC_EST_BIPOWER))
#define OHLC_ESTS                                                     \
	(EST_BIT(LVC_EST_PARKINSON) | EST_BIT(LVC_EST_GARMAN_KLASS) | \
	 EST_BIT(LVC_EST_ROGERS_SATCHELL) | EST_BIT(LVC_EST_YANG_ZHANG))
#define BAR_ESTS (OHLC_ESTS | EST_BIT(LVC_EST_CLOSE))

_Static_assert(offsetof(lvc_vol_t, f_samp) == 64, "line 1 of lvc_vol_t starts at byte 64");
_Static_assert(offsetof(lvc_vol_t, acc_s2) == 128, "line 2 of lvc_vol_t starts at byte 128");
_Static_assert(offsetof(lvc_vol_t, n_win) == 192, "the hot lines of lvc_vol_t are 3");

static int params_ok(const lvc_vol_params_t *p, double prior)
{
	int64_t n;

	if (p->sample_interval_us <= 0 || p->bar_interval_us <= 0 || p->window_us <= 0 ||
	    p->half_life_us <= 0 || p->window_us > LVC__VOL_DUR_LIMIT ||
	    p->bar_interval_us % p->sample_interval_us != 0 ||
	    p->window_us % p->bar_interval_us != 0) {
		return 0;
	}
	n = p->window_us / p->bar_interval_us;
	if (n < 2 || n > LVC_MAX_WINDOW_BUCKETS) {
		return 0;
	}
	if (!(prior > 0) || !isfinite(prior) || !(p->annualization_days > 0) ||
	    !isfinite(p->annualization_days)) {
		return 0;
	}
	if (!(p->garch_omega > 0) || !isfinite(p->garch_omega) || !(p->garch_alpha >= 0) ||
	    !(p->garch_beta >= 0) || !(p->garch_alpha + p->garch_beta < 1)) {
		return 0;
	}
	if ((int)p->estimator < 0 || p->estimator >= LVC_EST__COUNT) {
		return 0;
	}
	if (p->estimator == LVC_EST_MAX) {
		if (p->max_of_n == 0 || p->max_of_n >= LVC_EST__COUNT) {
			return 0;
		}
		for (size_t i = 0; i < p->max_of_n; i++) {
			if ((int)p->max_of[i] < 0 || p->max_of[i] >= LVC_EST_MAX) {
				return 0;
			}
		}
	}
	return 1;
}

lvc_vol_t *lvc_vol_new(const lvc_vol_params_t *p, double prior_sigma_ann)
{
	lvc_vol_t *vol = NULL;
	uint32_t need = 0;
	uint32_t n_win = 0;
	size_t size;
	double ann_us;

	if (p == NULL || !params_ok(p, prior_sigma_ann)) {
		goto exit;
	}
	if (p->estimator == LVC_EST_MAX) {
		for (size_t i = 0; i < p->max_of_n; i++) {
			need |= EST_BIT(p->max_of[i]);
		}
	} else {
		need = EST_BIT(p->estimator);
	}
	if (need & (GRID_ESTS | BAR_ESTS)) {
		n_win = (uint32_t)(p->window_us / p->bar_interval_us);
	}
	size = sizeof(*vol) + (size_t)n_win * (sizeof(lvc__vleaf_t) + sizeof(lvc__vagg_t));
	size = (size + 63) / 64 * 64; /* aligned_alloc wants a multiple */
	vol = aligned_alloc(64, size);
	if (vol == NULL) {
		goto exit;
	}
	memset(vol, 0, size);
	vol->p = *p;
	vol->prior_sigma_ann = prior_sigma_ann;
	vol->need = need;
	vol->est = (uint8_t)p->estimator;
	vol->mode = (uint8_t)(((need & GRID_ESTS) ? LVC__VOL_GRID : 0) |
	                      ((need & OHLC_ESTS) ? LVC__VOL_OHLC : 0) |
	                      ((need & (BAR_ESTS | EST_BIT(LVC_EST_GARCH))) ? LVC__VOL_BARS : 0) |
	                      (n_win > 0 ? LVC__VOL_WIN : 0));
	vol->s_us = p->sample_interval_us;
	vol->r_per = p->bar_interval_us / p->sample_interval_us;
	vol->n_win = n_win;
	ann_us = p->annualization_days * S_PER_DAY * US_PER_S;
	vol->f_samp = ann_us / (double)p->sample_interval_us;
	vol->f_bar = ann_us / (double)p->bar_interval_us;
	vol->s_over_hl = (double)p->sample_interval_us / (double)p->half_life_us;
	vol->lam = exp2(-vol->s_over_hl);
	/* lambda^m as 2^(-m S / half_life), not a power of the rounded lambda,
	 * so that a long gap stays within a few ulps of the definition. */
	for (int i = 0; i < LVC__VOL_POW_N; i++) {
		vol->lampow[i] = exp2(-(double)(i + 1) * vol->s_over_hl);
	}
	vol->v0 = prior_sigma_ann * prior_sigma_ann / vol->f_samp;
	vol->h0 = prior_sigma_ann * prior_sigma_ann / vol->f_bar;
	vol->v = vol->v0;
	vol->h = vol->h0;
	vol->last_ts = INT64_MIN;
	if (n_win > 0) {
		lvc__vleaf_t *leaf = (lvc__vleaf_t *)(void *)(vol + 1);
		lvc__vagg_t *suf = (lvc__vagg_t *)(void *)(leaf + n_win);

		lvc__vwin_init(&vol->win, leaf, suf, n_win);
	}
	vol->fingerprint = lvc__vol_fingerprint(vol);
	lvc__vol_slow_max(vol);
exit:
	return vol;
}

void lvc_vol_destroy(lvc_vol_t *vol)
{
	free(vol);
}

static double pow_lam(const lvc_vol_t *vol, int64_t m)
{
	if (m <= LVC__VOL_POW_N) {
		return vol->lampow[m - 1];
	}
	return exp2(-(double)m * vol->s_over_hl);
}

/* m bars with zero return: h <- omega + beta h, m times. */
static void garch_zero(lvc_vol_t *vol, int64_t m)
{
	const double omega = vol->p.garch_omega;
	const double beta = vol->p.garch_beta;

	if (m <= LVC__VOL_POW_N) {
		for (int64_t i = 0; i < m; i++) {
			vol->h = omega + beta * vol->h;
		}
	} else {
		double bm = pow(beta, (double)m);

		vol->h = omega * ((1.0 - bm) / (1.0 - beta)) + bm * vol->h;
	}
}

void lvc__vol_window_estimates(lvc_vol_t *vol)
{
	const int64_t top = vol->cur_j * vol->r_per;
	const int64_t lo = (vol->cur_j - (int64_t)vol->win.n) * vol->r_per;
	int64_t nr = top - (lo > vol->k0 ? lo : vol->k0);
	int64_t np = top - (lo > vol->k0 + 1 ? lo : vol->k0 + 1);
	lvc__vagg_t a;
	double nb;
	double *w = vol->wvar;
	int *ok = vol->wok;

	lvc__vwin_query(&vol->win, &a);
	nb = a.nb;
	memset(vol->wok, 0, sizeof(vol->wok));
	if (nr > 0) {
		w[LVC_EST_REALIZED] = a.s2 / (double)nr;
		ok[LVC_EST_REALIZED] = 1;
	}
	if (np > 0) {
		w[LVC_EST_BIPOWER] = PI_2 * (a.sbp / (double)np);
		ok[LVC_EST_BIPOWER] = 1;
	}
	if (nb >= 1) {
		w[LVC_EST_PARKINSON] = a.sp / (4.0 * LN_2 * nb);
		w[LVC_EST_GARMAN_KLASS] = a.sgk / nb;
		w[LVC_EST_ROGERS_SATCHELL] = a.srs / nb;
		ok[LVC_EST_PARKINSON] = ok[LVC_EST_GARMAN_KLASS] = ok[LVC_EST_ROGERS_SATCHELL] = 1;
	}
	if (nb >= 2) {
		double k = 0.34 / (1.34 + (nb + 1.0) / (nb - 1.0));

		w[LVC_EST_CLOSE] = a.qcc / (nb - 1.0);
		w[LVC_EST_YANG_ZHANG] =
		    a.qo / (nb - 1.0) + k * (a.qc / (nb - 1.0)) + (1.0 - k) * (a.srs / nb);
		ok[LVC_EST_CLOSE] = ok[LVC_EST_YANG_ZHANG] = 1;
	}
	for (int e = 0; e < LVC_EST__COUNT; e++) {
		/* Every term is >= 0 by construction; this only guards the
		 * invariant that no negative or NaN variance is ever reported. */
		if (ok[e] && !(w[e] >= 0)) {
			w[e] = 0.0;
		}
	}
}

/* Completes bucket cur_j (close = cur) and the e empty buckets after it. */
static void close_buckets(lvc_vol_t *vol, int64_t e)
{
	const int bar = vol->cur_j > vol->j_seed;
	const uint32_t need = vol->need;
	lvc__vleaf_t leaf;
	double xcc = 0.0;

	memset(&leaf, 0, sizeof(leaf));
	if (bar && (need & (EST_BIT(LVC_EST_CLOSE) | EST_BIT(LVC_EST_GARCH)))) {
		xcc = lvc_lnratio(vol->cur, vol->cp);
	}
	if (need & EST_BIT(LVC_EST_GARCH)) {
		if (bar) {
			vol->h = vol->p.garch_omega + vol->p.garch_alpha * (xcc * xcc) +
			         vol->p.garch_beta * vol->h;
		}
		garch_zero(vol, e);
	}
	if (vol->mode & LVC__VOL_WIN) {
		leaf.s2 = vol->acc_s2;
		leaf.sbp = vol->acc_sbp;
		if (bar) {
			leaf.nb = 1.0;
			if (need & EST_BIT(LVC_EST_CLOSE)) {
				leaf.xcc = xcc;
			}
			if (need & (EST_BIT(LVC_EST_PARKINSON) | EST_BIT(LVC_EST_GARMAN_KLASS))) {
				leaf.hl = lvc_lnratio(vol->hi, vol->lo);
			}
			if (need & (EST_BIT(LVC_EST_GARMAN_KLASS) | EST_BIT(LVC_EST_YANG_ZHANG))) {
				leaf.xc = lvc_lnratio(vol->cur, vol->o);
			}
			if (need & EST_BIT(LVC_EST_YANG_ZHANG)) {
				leaf.xo = lvc_lnratio(vol->o, vol->cp);
			}
			if (need &
			    (EST_BIT(LVC_EST_ROGERS_SATCHELL) | EST_BIT(LVC_EST_YANG_ZHANG))) {
				leaf.rs =
				    lvc_lnratio(vol->hi, vol->cur) * lvc_lnratio(vol->hi, vol->o) +
				    lvc_lnratio(vol->lo, vol->cur) * lvc_lnratio(vol->lo, vol->o);
			}
		}
		if (e >= (int64_t)vol->n_win) {
			lvc__vwin_fill_empty(&vol->win);
		} else {
			lvc__vleaf_t empty;

			lvc__vwin_push(&vol->win, &leaf);
			memset(&empty, 0, sizeof(empty));
			empty.nb = 1.0;
			for (int64_t i = 0; i < e; i++) {
				lvc__vwin_push(&vol->win, &empty);
			}
		}
		vol->acc_s2 = 0.0;
		vol->acc_sbp = 0.0;
	}
	vol->cp = vol->cur;
}

/* A tick after the pending grid point: finalizes grid points kc .. kn - 1
 * at the current price, then applies the tick in its interval. */
static void advance(lvc_vol_t *vol, int64_t ts_us, double price)
{
	/* The next grid interval and the same or next bucket are the common
	 * cases; they need no 64-bit division. */
	const int64_t kn =
	    ts_us <= vol->t_pend + vol->s_us ? vol->kc + 1 : lvc_ceil_div(ts_us, vol->s_us);
	const int64_t jn = kn - 1 < (vol->cur_j + 1) * vol->r_per ? vol->cur_j
	                   : kn - 1 < (vol->cur_j + 2) * vol->r_per
	                       ? vol->cur_j + 1
	                       : lvc_floor_div(kn - 1, vol->r_per);
	const int64_t m = kn - 1 - vol->kc; /* zero returns after r_kc */
	const int has_r = vol->kc > vol->k0;
	double r = 0.0;

	if (has_r && vol->cur != vol->p_prev) {
		r = lvc_lnratio(vol->cur, vol->p_prev);
	}
	if (vol->need & EST_BIT(LVC_EST_EWMA)) {
		if (has_r) {
			vol->v = vol->lam * vol->v + (1.0 - vol->lam) * (r * r);
		}
		if (m > 0) {
			vol->v *= pow_lam(vol, m);
		}
	}
	if (vol->mode & LVC__VOL_GRID) {
		/* r_prev_abs is 0 when r_(kc-1) does not exist, so the product
		 * adds nothing then; pairs are counted in closed form. */
		vol->acc_s2 += r * r;
		vol->acc_sbp += fabs(r) * vol->r_prev_abs;
		vol->r_prev_abs = m > 0 ? 0.0 : fabs(r);
	}
	vol->p_prev = vol->cur;
	if (jn > vol->cur_j) {
		if (vol->mode & (LVC__VOL_BARS | LVC__VOL_WIN)) {
			close_buckets(vol, jn - vol->cur_j - 1);
		}
		vol->cur_j = jn;
		if (vol->mode & LVC__VOL_WIN) {
			lvc__vol_window_estimates(vol);
		}
		if (vol->est == LVC_EST_MAX) {
			lvc__vol_slow_max(vol);
		}
		vol->o = vol->hi = vol->lo = price;
	} else if (vol->mode & LVC__VOL_OHLC) {
		if (price > vol->hi) {
			vol->hi = price;
		}
		if (price < vol->lo) {
			vol->lo = price;
		}
	}
	vol->cur = price;
	vol->kc = kn;
	vol->t_pend = kn * vol->s_us;
}

lvc_vol_result_t lvc_vol_update(lvc_vol_t *vol, int64_t ts_us, double price)
{
	if (!(price > 0) || !isfinite(price) || ts_us > LVC__VOL_TS_LIMIT ||
	    ts_us < -LVC__VOL_TS_LIMIT) {
		return LVC_VOL_REJECTED;
	}
	if (!vol->has_tick) {
		vol->has_tick = 1;
		vol->k0 = lvc_ceil_div(ts_us, vol->s_us);
		vol->kc = vol->k0;
		vol->t_pend = vol->kc * vol->s_us;
		vol->cur_j = lvc_floor_div(vol->k0 - 1, vol->r_per);
		vol->j_seed = vol->cur_j;
		vol->cur = vol->o = vol->hi = vol->lo = price;
		vol->last_ts = ts_us;
		return LVC_VOL_APPLIED;
	}
	if (ts_us < vol->last_ts) {
		vol->late++;
		return LVC_VOL_LATE;
	}
	if (ts_us > vol->t_pend) {
		advance(vol, ts_us, price);
	} else {
		vol->cur = price;
		if (vol->mode & LVC__VOL_OHLC) {
			if (price > vol->hi) {
				vol->hi = price;
			}
			if (price < vol->lo) {
				vol->lo = price;
			}
		}
	}
	vol->last_ts = ts_us;
	return LVC_VOL_APPLIED;
}

int64_t lvc_vol_samples(const lvc_vol_t *vol)
{
	if (!vol->has_tick || vol->kc <= vol->k0) {
		return 0;
	}
	return vol->kc - 1 - vol->k0;
}

int64_t lvc_vol_last_ts(const lvc_vol_t *vol)
{
	return vol->last_ts;
}

uint64_t lvc_vol_late(const lvc_vol_t *vol)
{
	return vol->late;
}

double lvc_vol_sigma_ann_of(const lvc_vol_t *vol, lvc_estimator_t est)
{
	double s;

	if (est == LVC_EST_MAX && vol->est == LVC_EST_MAX) {
		return lvc_vol_sigma_ann(vol);
	}
	if ((int)est < 0 || est >= LVC_EST_MAX || !(vol->need & EST_BIT(est))) {
		return -1.0;
	}
	switch (est) {
	case LVC_EST_EWMA:
		s = sqrt(vol->v * vol->f_samp);
		break;
	case LVC_EST_GARCH:
		s = sqrt(vol->h * vol->f_bar);
		break;
	case LVC_EST_REALIZED:
	case LVC_EST_BIPOWER:
		s = vol->wok[est] ? sqrt(vol->wvar[est] * vol->f_samp) : vol->prior_sigma_ann;
		break;
	default:
		s = vol->wok[est] ? sqrt(vol->wvar[est] * vol->f_bar) : vol->prior_sigma_ann;
		break;
	}
	return s;
}

void lvc__vol_slow_max(lvc_vol_t *vol)
{
	double best = 0.0;

	for (size_t i = 0; i < vol->p.max_of_n; i++) {
		double s;

		if (vol->p.max_of[i] == LVC_EST_EWMA) {
			continue;
		}
		s = lvc_vol_sigma_ann_of(vol, vol->p.max_of[i]);
		if (s > best) {
			best = s;
		}
	}
	vol->slow_max = best;
}

double lvc_vol_sigma_ann(const lvc_vol_t *vol)
{
	double best;

	if (vol->est != LVC_EST_MAX) {
		return lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)vol->est);
	}
	/* Only ewma moves between bucket completions; the other components'
	 * largest is cached when they change. */
	best = vol->slow_max;
	if (vol->need & EST_BIT(LVC_EST_EWMA)) {
		double s = sqrt(vol->v * vol->f_samp);

		if (s > best) {
			best = s;
		}
	}
	return best;
}

size_t lvc_vol_components(const lvc_vol_t *vol, lvc_component_t *out, size_t cap)
{
	size_t n = 0;

	if (vol->p.estimator != LVC_EST_MAX) {
		if (cap > 0) {
			out[0].estimator = lvc_estimator_names[vol->p.estimator];
			out[0].sigma_ann = lvc_vol_sigma_ann_of(vol, vol->p.estimator);
			n = 1;
		}
		return n;
	}
	for (size_t i = 0; i < vol->p.max_of_n && n < cap; i++) {
		out[n].estimator = lvc_estimator_names[vol->p.max_of[i]];
		out[n].sigma_ann = lvc_vol_sigma_ann_of(vol, vol->p.max_of[i]);
		n++;
	}
	return n;
}
