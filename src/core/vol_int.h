/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal layout of lvc_vol_t, shared only by vol.c (updates and queries),
 * vol_win.c (the rolling window) and vol_snap.c (snapshot and restore). Not
 * part of the core's interface: nothing outside vol*.c includes it.
 */
#ifndef LVC_CORE_VOL_INT_H
#define LVC_CORE_VOL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"
#include "core/vol.h"

/* Zero-return decays lambda^m for m <= this come from a table; garch loops
 * up to this many empty bars and uses the closed form beyond. */
#define LVC__VOL_POW_N 5

/* Timestamps beyond +-2^62 us (about 146,000 years) are rejected, so that
 * grid arithmetic (k * sample_interval) can never overflow. */
#define LVC__VOL_TS_LIMIT (INT64_C(1) << 62)

/* Durations above 2^50 us (about 35 years) are refused by lvc_vol_new(). */
#define LVC__VOL_DUR_LIMIT (INT64_C(1) << 50)

/* One bucket of bar_interval, (j * bar, (j + 1) * bar]: the sums of the grid
 * returns that end inside it and the log terms of its OHLC bar. A field that
 * no configured estimator needs stays 0. */
typedef struct lvc__vleaf_s {
	double s2;  /* sum of r_k^2 */
	double sbp; /* sum of |r_k| |r_(k-1)| */
	double hl;  /* ln(H / L) */
	double xc;  /* ln(C / O) */
	double xo;  /* ln(O / previous C): the "overnight" term */
	double xcc; /* ln(C / previous C) */
	double rs;  /* ln(H/C) ln(H/O) + ln(L/C) ln(L/O) */
	double nb;  /* 1: a bar of the range estimators; 0: the seed bar */
} lvc__vleaf_t;

/* An aggregate of consecutive buckets: sums, and (count, mean, M2) triples
 * merged with Chan et al.'s pairwise formula, so that no variance is ever a
 * difference of two large sums. */
typedef struct lvc__vagg_s {
	double nb;       /* bars */
	double s2;       /* sum of r^2 */
	double sbp;      /* sum of |r||r'| */
	double sp;       /* sum of hl^2 */
	double sgk;      /* sum of 0.5 hl^2 - (2 ln 2 - 1) xc^2 */
	double srs;      /* sum of rs */
	double mcc, qcc; /* mean and M2 of xcc over nb bars */
	double mo, qo;   /* of xo */
	double mc, qc;   /* of xc */
} lvc__vagg_t;

/* The last `cap` complete buckets, aggregated with the two-stacks method: the
 * oldest `front` buckets carry suffix aggregates computed when they moved to
 * the front (once per bucket), the newer ones a running aggregate `back`.
 * Push and pop are O(1) amortized and exact (no subtraction ever). */
typedef struct lvc__vwin_s {
	lvc__vleaf_t *leaf; /* cap slots, a ring starting at head */
	lvc__vagg_t *suf;   /* suf[i]: aggregate of front slots i .. front end */
	lvc__vagg_t back;   /* aggregate of the back (newest n - front) slots */
	uint32_t cap;
	uint32_t n;
	uint32_t head;
	uint32_t front;
} lvc__vwin_t;

/* Bits of lvc_vol_t.mode: which parts of the state the estimators need. */
#define LVC__VOL_OHLC 1u /* a range estimator: O, H, L of the current bar */
#define LVC__VOL_GRID 2u /* realized or bipower: per-bucket return sums */
#define LVC__VOL_BARS 4u /* any bar estimator or garch: bar closes */
#define LVC__VOL_WIN  8u /* any windowed estimator */

/* Laid out for the tick path: with thousands of instruments a tick's cost
 * is its cache misses, so the fields a tick reads come first, in three
 * 64-byte lines (the object is 64-byte aligned): line 0 for every tick,
 * lines 1 and 2 for a tick that closes a grid interval and for the sigma
 * query. Everything else (touched once per bucket) follows. */
struct lvc_vol_s {
	/* line 0 */
	int64_t last_ts;
	int64_t t_pend; /* kc * sample_interval */
	int64_t kc;     /* pending grid point: ceil(last_ts / sample_interval) */
	double cur;     /* price of the newest tick */
	double p_prev;  /* P(t_(kc-1)), valid when kc > k0 */
	double v;       /* ewma variance per sample interval */
	double lam;     /* 2^(-sample_interval / half_life) */
	uint32_t need;  /* bit (1u << estimator) for every estimator computed */
	uint8_t est;    /* the configured estimator (lvc_estimator_t) */
	uint8_t has_tick;
	uint8_t mode; /* LVC__VOL_* bits */
	uint8_t pad0;
	/* line 1 */
	double f_samp;     /* variance per sample -> per year */
	int64_t s_us;      /* sample_interval */
	int64_t r_per;     /* grid returns per bucket: bar_interval / sample_interval */
	int64_t k0;        /* first grid point at or after the first tick */
	int64_t cur_j;     /* bucket of the pending grid point */
	double hi, lo;     /* current bar */
	double r_prev_abs; /* |r_(kc-1)|, 0 when there is none (grid only) */
	/* line 2 */
	double acc_s2, acc_sbp;        /* current bucket's return sums */
	double slow_max;               /* max: largest sigma_ann of the non-ewma components */
	double lampow[LVC__VOL_POW_N]; /* lampow[m - 1] = lambda^m */

	uint32_t n_win;   /* buckets per window */
	double s_over_hl; /* sample_interval / half_life */
	double f_bar;     /* variance per bar -> per year */
	double v0;        /* prior variance per sample interval */
	double h0;        /* prior variance per bar */
	uint64_t fingerprint;
	lvc_vol_params_t p;
	double prior_sigma_ann;

	/* Bar and window state (in the snapshot or derived from it). */
	int64_t j_seed; /* bucket of the first tick */
	uint64_t late;
	double h;  /* garch variance per bar */
	double o;  /* current bar's open (its close is cur) */
	double cp; /* previous bar's close, valid when cur_j > j_seed */
	lvc__vwin_t win;
	double wvar[LVC_EST__COUNT]; /* windowed: variance per sample or per bar */
	int wok[LVC_EST__COUNT];     /* 0: not enough data, the prior applies */
};

/* Empties w over the storage given (cap slots each). */
void lvc__vwin_init(lvc__vwin_t *w, lvc__vleaf_t *leaf, lvc__vagg_t *suf, uint32_t cap);

/* Appends the newest complete bucket, dropping the oldest when full. */
void lvc__vwin_push(lvc__vwin_t *w, const lvc__vleaf_t *leaf);

/* Makes w hold cap buckets without any price change (empty bars after a
 * gap longer than the window): O(cap). */
void lvc__vwin_fill_empty(lvc__vwin_t *w);

/* The aggregate of every bucket in w. */
void lvc__vwin_query(const lvc__vwin_t *w, lvc__vagg_t *out);

/* After a restore wrote n leaves into slots 0 .. n-1 (oldest first): sets
 * head 0 and recomputes the aggregates exactly as the original pushes did,
 * the first `front` slots as the front stack. */
void lvc__vwin_rebuild(lvc__vwin_t *w, uint32_t n, uint32_t front);

/* Recomputes the cached windowed estimates from the window. */
void lvc__vol_window_estimates(lvc_vol_t *vol);

/* Recomputes slow_max (for `max`) after the bars or the window changed. */
void lvc__vol_slow_max(lvc_vol_t *vol);

/* Parameter fingerprint stored in snapshots. */
uint64_t lvc__vol_fingerprint(const lvc_vol_t *vol);

#endif
