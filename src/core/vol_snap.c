/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot and restore of one instrument's volatility state: the bytes the
 * exactly-once machinery writes to the state topic. Everything that the
 * estimators read is written; everything derivable (constants, the window's
 * aggregates, cached estimates) is recomputed on restore with the same
 * operations in the same order, so a restored object fed the same ticks
 * produces bit-identical doubles.
 *
 * Format, version 1, all integers and IEEE-754 doubles little-endian:
 *   "LVCV"  u16 version  u16 flags (bit 0: a tick was applied)
 *   u64 fingerprint of the params (a restore under other params is refused)
 *   when flags bit 0:
 *     i64 last_ts  i64 k0  i64 kc  u64 late
 *     f64 price  f64 P(t_(kc-1))
 *     [bipower] f64 |r_(kc-1)|   [ewma] f64 v   [garch] f64 h
 *     [bar or window estimators] f64 O H L of the current bar, previous close
 *     [window] [realized] f64 bucket sum r^2  [bipower] f64 bucket sum |r||r'|
 *              u32 front-stack length, then the window's n buckets, oldest
 *              first, n = min(N, buckets since the first tick's), each with
 *              the fields its estimators need, in the order
 *              s2 sbp hl xc xo xcc rs.
 * A restore validates every field (finite, in range, consistent with the
 * grid) before it changes anything: on error the object is unchanged.
 * Sizes: 72 bytes for the default ewma; 2,044 bytes for max of
 * [ewma, yang_zhang, bipower] with 60 one-minute buckets.
 */
#include <math.h>
#include <string.h>

#include "core/vol_int.h"
#include "core/numeric.h"

#define SNAP_VERSION 1

/* |ln(a / b)| for positive finite doubles is at most ln(DBL_MAX) -
 * ln(DBL_TRUE_MIN) = 1454.2: any larger log term cannot come from prices,
 * and bounding them keeps every square and sum of a restored state finite. */
#define LN_MAX     1455.0
#define FLAG_TICK  1u
#define EST_BIT(e) (1u << (unsigned)(e))

enum { F_S2, F_SBP, F_HL, F_XC, F_XO, F_XCC, F_RS, F__COUNT };

/* Which leaf fields the configured estimators read. */
static unsigned leaf_fields(uint32_t need)
{
	unsigned f = 0;

	if (need & EST_BIT(LVC_EST_REALIZED)) {
		f |= 1u << F_S2;
	}
	if (need & EST_BIT(LVC_EST_BIPOWER)) {
		f |= 1u << F_SBP;
	}
	if (need & (EST_BIT(LVC_EST_PARKINSON) | EST_BIT(LVC_EST_GARMAN_KLASS))) {
		f |= 1u << F_HL;
	}
	if (need & (EST_BIT(LVC_EST_GARMAN_KLASS) | EST_BIT(LVC_EST_YANG_ZHANG))) {
		f |= 1u << F_XC;
	}
	if (need & EST_BIT(LVC_EST_YANG_ZHANG)) {
		f |= 1u << F_XO;
	}
	if (need & EST_BIT(LVC_EST_CLOSE)) {
		f |= 1u << F_XCC;
	}
	if (need & (EST_BIT(LVC_EST_ROGERS_SATCHELL) | EST_BIT(LVC_EST_YANG_ZHANG))) {
		f |= 1u << F_RS;
	}
	return f;
}

static double *leaf_field(lvc__vleaf_t *l, int f)
{
	switch (f) {
	case F_S2:
		return &l->s2;
	case F_SBP:
		return &l->sbp;
	case F_HL:
		return &l->hl;
	case F_XC:
		return &l->xc;
	case F_XO:
		return &l->xo;
	case F_XCC:
		return &l->xcc;
	default:
		return &l->rs;
	}
}

static uint64_t fnv_u64(uint64_t h, uint64_t x)
{
	for (int i = 0; i < 8; i++) {
		h ^= (x >> (8 * i)) & 0xff;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

uint64_t lvc__vol_fingerprint(const lvc_vol_t *vol)
{
	const lvc_vol_params_t *p = &vol->p;
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	h = fnv_u64(h, SNAP_VERSION);
	h = fnv_u64(h, (uint64_t)p->source);
	h = fnv_u64(h, (uint64_t)p->estimator);
	if (p->estimator == LVC_EST_MAX) {
		h = fnv_u64(h, (uint64_t)p->max_of_n);
		for (size_t i = 0; i < p->max_of_n; i++) {
			h = fnv_u64(h, (uint64_t)p->max_of[i]);
		}
	}
	h = fnv_u64(h, (uint64_t)p->sample_interval_us);
	h = fnv_u64(h, (uint64_t)p->bar_interval_us);
	h = fnv_u64(h, (uint64_t)p->window_us);
	h = fnv_u64(h, (uint64_t)p->half_life_us);
	h = fnv_u64(h, dbits(p->garch_omega));
	h = fnv_u64(h, dbits(p->garch_alpha));
	h = fnv_u64(h, dbits(p->garch_beta));
	h = fnv_u64(h, dbits(p->annualization_days));
	h = fnv_u64(h, dbits(vol->prior_sigma_ann));
	return h;
}

/* Writer: counts every byte, stores only while they fit. */
typedef struct wr_s {
	unsigned char *p;
	size_t size;
	size_t off;
} wr_t;

static void put_u(wr_t *w, uint64_t x, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		if (w->off < w->size) {
			w->p[w->off] = (unsigned char)(x >> (8 * i));
		}
		w->off++;
	}
}

static void put_f(wr_t *w, double d)
{
	put_u(w, dbits(d), 8);
}

static void write_all(const lvc_vol_t *vol, wr_t *wp)
{
	wr_t w = *wp;
	const uint32_t need = vol->need;
	unsigned fields;

	put_u(&w, 'L' | 'V' << 8 | 'C' << 16 | (uint64_t)'V' << 24, 4);
	put_u(&w, SNAP_VERSION, 2);
	put_u(&w, vol->has_tick ? FLAG_TICK : 0, 2);
	put_u(&w, vol->fingerprint, 8);
	if (vol->has_tick) {
		put_u(&w, (uint64_t)vol->last_ts, 8);
		put_u(&w, (uint64_t)vol->k0, 8);
		put_u(&w, (uint64_t)vol->kc, 8);
		put_u(&w, vol->late, 8);
		put_f(&w, vol->cur);
		put_f(&w, vol->p_prev);
		if (need & EST_BIT(LVC_EST_BIPOWER)) {
			put_f(&w, vol->r_prev_abs);
		}
		if (need & EST_BIT(LVC_EST_EWMA)) {
			put_f(&w, vol->v);
		}
		if (need & EST_BIT(LVC_EST_GARCH)) {
			put_f(&w, vol->h);
		}
		if (vol->mode & (LVC__VOL_BARS | LVC__VOL_WIN)) {
			put_f(&w, vol->o);
			put_f(&w, vol->hi);
			put_f(&w, vol->lo);
			put_f(&w, vol->cp);
		}
		if (vol->mode & LVC__VOL_WIN) {
			if (need & EST_BIT(LVC_EST_REALIZED)) {
				put_f(&w, vol->acc_s2);
			}
			if (need & EST_BIT(LVC_EST_BIPOWER)) {
				put_f(&w, vol->acc_sbp);
			}
			put_u(&w, vol->win.front, 4);
			fields = leaf_fields(need);
			for (uint32_t i = 0; i < vol->win.n; i++) {
				uint32_t s = vol->win.head + i;
				lvc__vleaf_t l =
				    vol->win.leaf[s >= vol->win.cap ? s - vol->win.cap : s];

				for (int f = 0; f < F__COUNT; f++) {
					if (fields & (1u << f)) {
						put_f(&w, *leaf_field(&l, f));
					}
				}
			}
		}
	}
	*wp = w;
}

size_t lvc_vol_snapshot(const lvc_vol_t *vol, void *buf, size_t size)
{
	wr_t w = { buf, 0, 0 };

	/* A counting pass first, so that nothing is written unless it fits. */
	write_all(vol, &w);
	if (buf != NULL && w.off <= size) {
		w.size = size;
		w.off = 0;
		write_all(vol, &w);
	}
	return w.off;
}

/* Reader: fails (sets bad) on the first byte past the end. */
typedef struct rd_s {
	const unsigned char *p;
	size_t len;
	size_t off;
	int bad;
} rd_t;

static uint64_t get_u(rd_t *r, int bytes)
{
	uint64_t x = 0;

	if (r->bad || r->len - r->off < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++) {
		x |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
	}
	r->off += (size_t)bytes;
	return x;
}

static double get_f(rd_t *r)
{
	uint64_t u = get_u(r, 8);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static int pos_finite(double d)
{
	return d > 0 && isfinite(d);
}

static int nonneg_finite(double d)
{
	return d >= 0 && isfinite(d);
}

/* Reads n leaves; checks them, and stores them in slots 0 .. n-1 when
 * commit is set. Returns 0 when one is not valid. */
static int read_leaves(lvc_vol_t *vol, rd_t *r, uint32_t n, int64_t first_j, int commit)
{
	const unsigned fields = leaf_fields(vol->need);
	const double sum_max = (double)vol->r_per * LN_MAX * LN_MAX;

	for (uint32_t i = 0; i < n; i++) {
		lvc__vleaf_t l;

		memset(&l, 0, sizeof(l));
		l.nb = first_j + (int64_t)i > vol->j_seed ? 1.0 : 0.0;
		for (int f = 0; f < F__COUNT; f++) {
			if (fields & (1u << f)) {
				double d = get_f(r);

				if (!isfinite(d)) {
					return 0;
				}
				*leaf_field(&l, f) = d;
			}
		}
		if (!(l.s2 >= 0) || !(l.sbp >= 0) || !(l.hl >= 0) || !(l.rs >= 0)) {
			return 0;
		}
		if (l.s2 > sum_max || l.sbp > sum_max || l.hl > LN_MAX || fabs(l.xc) > LN_MAX ||
		    fabs(l.xo) > LN_MAX || fabs(l.xcc) > LN_MAX || l.rs > 2 * LN_MAX * LN_MAX) {
			return 0;
		}
		if (l.nb == 0 && (l.hl != 0 || l.xc != 0 || l.xo != 0 || l.xcc != 0 || l.rs != 0)) {
			return 0;
		}
		if (commit) {
			vol->win.leaf[i] = l;
		}
	}
	return !r->bad;
}

lvc_err_t lvc_vol_restore(lvc_vol_t *vol, const void *buf, size_t len)
{
	rd_t r = { buf, len, 0, 0 };
	const uint32_t need = vol->need;
	const int64_t s_us = vol->s_us;
	lvc_vol_t t; /* the scalar state being read; committed at the end */
	uint64_t magic, version, flags, fp;
	uint32_t n = 0, front = 0;
	size_t leaves_off = 0;
	lvc_err_t err = LVC_ERR_DECODE;

	if (buf == NULL) {
		goto exit;
	}
	magic = get_u(&r, 4);
	version = get_u(&r, 2);
	flags = get_u(&r, 2);
	fp = get_u(&r, 8);
	if (r.bad || magic != ('L' | 'V' << 8 | 'C' << 16 | (uint64_t)'V' << 24) ||
	    version != SNAP_VERSION || (flags & ~(uint64_t)FLAG_TICK) != 0) {
		goto exit;
	}
	if (fp != vol->fingerprint) {
		err = LVC_ERR_INVALID;
		goto exit;
	}
	t = *vol;
	t.has_tick = (flags & FLAG_TICK) != 0;
	t.last_ts = INT64_MIN;
	t.k0 = t.kc = t.t_pend = t.cur_j = t.j_seed = 0;
	t.late = 0;
	t.cur = t.p_prev = t.r_prev_abs = 0.0;
	t.v = vol->v0;
	t.h = vol->h0;
	t.o = t.hi = t.lo = t.cp = 0.0;
	t.acc_s2 = t.acc_sbp = 0.0;
	if (t.has_tick) {
		t.last_ts = (int64_t)get_u(&r, 8);
		t.k0 = (int64_t)get_u(&r, 8);
		t.kc = (int64_t)get_u(&r, 8);
		t.late = get_u(&r, 8);
		t.cur = get_f(&r);
		t.p_prev = get_f(&r);
		if (need & EST_BIT(LVC_EST_BIPOWER)) {
			t.r_prev_abs = get_f(&r);
		}
		if (need & EST_BIT(LVC_EST_EWMA)) {
			t.v = get_f(&r);
		}
		if (need & EST_BIT(LVC_EST_GARCH)) {
			t.h = get_f(&r);
		}
		if (vol->mode & (LVC__VOL_BARS | LVC__VOL_WIN)) {
			t.o = get_f(&r);
			t.hi = get_f(&r);
			t.lo = get_f(&r);
			t.cp = get_f(&r);
		}
		if (vol->mode & LVC__VOL_WIN) {
			if (need & EST_BIT(LVC_EST_REALIZED)) {
				t.acc_s2 = get_f(&r);
			}
			if (need & EST_BIT(LVC_EST_BIPOWER)) {
				t.acc_sbp = get_f(&r);
			}
			front = (uint32_t)get_u(&r, 4);
		}
		if (r.bad) {
			goto exit;
		}
		/* The grid: last_ts in range, kc its pending point, k0 <= kc. */
		if (t.last_ts > LVC__VOL_TS_LIMIT || t.last_ts < -LVC__VOL_TS_LIMIT ||
		    t.kc != lvc_ceil_div(t.last_ts, s_us) || t.k0 > t.kc ||
		    t.k0 < lvc_ceil_div(-LVC__VOL_TS_LIMIT, s_us)) {
			goto exit;
		}
		t.t_pend = t.kc * s_us;
		t.cur_j = lvc_floor_div(t.kc - 1, vol->r_per);
		t.j_seed = lvc_floor_div(t.k0 - 1, vol->r_per);
		if (!pos_finite(t.cur) || !isfinite(t.p_prev) || (t.kc > t.k0 && !(t.p_prev > 0)) ||
		    !nonneg_finite(t.r_prev_abs) || !nonneg_finite(t.v) || !nonneg_finite(t.h) ||
		    !nonneg_finite(t.acc_s2) || !nonneg_finite(t.acc_sbp)) {
			goto exit;
		}
		{
			/* Each return's square is at most LN_MAX^2, so ewma's v and
			 * garch's h stay below these; larger values are corrupt. */
			const lvc_vol_params_t *p = &vol->p;
			double l2 = LN_MAX * LN_MAX;
			double v_max = fmax(vol->v0, l2);
			double h_max = fmax(vol->h0, (p->garch_omega + p->garch_alpha * l2) /
			                                 (1.0 - p->garch_beta)) *
			               (1.0 + 1e-9);

			if (t.v > v_max || t.h > h_max || t.r_prev_abs > LN_MAX ||
			    t.acc_s2 > (double)vol->r_per * l2 ||
			    t.acc_sbp > (double)vol->r_per * l2) {
				goto exit;
			}
		}
		if (vol->mode & (LVC__VOL_BARS | LVC__VOL_WIN)) {
			if (!pos_finite(t.o) || !pos_finite(t.hi) || !pos_finite(t.lo) ||
			    !isfinite(t.cp) || (t.cur_j > t.j_seed && !(t.cp > 0))) {
				goto exit;
			}
			if ((vol->mode & LVC__VOL_OHLC) &&
			    !(t.lo <= t.o && t.o <= t.hi && t.lo <= t.cur && t.cur <= t.hi)) {
				goto exit; /* the bar's extremes must hold its open and close */
			}
		}
		if (vol->mode & LVC__VOL_WIN) {
			int64_t built = t.cur_j - t.j_seed;

			n = built < (int64_t)vol->n_win ? (uint32_t)built : vol->n_win;
			if (front > n) {
				goto exit;
			}
			leaves_off = r.off;
			if (!read_leaves(&t, &r, n, t.cur_j - (int64_t)n, 0)) {
				goto exit;
			}
		}
	}
	if (r.off != len) {
		goto exit; /* trailing bytes */
	}

	/* Everything checked: commit. */
	*vol = t;
	if (vol->mode & LVC__VOL_WIN) {
		r.off = leaves_off;
		r.bad = 0;
		lvc__vwin_init(&vol->win, vol->win.leaf, vol->win.suf, vol->n_win);
		if (vol->has_tick) {
			read_leaves(vol, &r, n, vol->cur_j - (int64_t)n, 1);
		}
		lvc__vwin_rebuild(&vol->win, n, front);
		memset(vol->wvar, 0, sizeof(vol->wvar));
		memset(vol->wok, 0, sizeof(vol->wok));
		if (vol->has_tick) {
			lvc__vol_window_estimates(vol);
		}
	}
	lvc__vol_slow_max(vol);
	err = LVC_OK;
exit:
	return err;
}
