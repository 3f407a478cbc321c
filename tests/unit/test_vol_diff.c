/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential tests of src/core/vol*.c: every fast estimator against the
 * slow reference of test_vol_ref.h (recomputed from the stored ticks) over
 * random and adversarial streams, within 1e-9 relative (plus 1e-12 absolute
 * in sigma_ann, for windows whose true variance is 0 and which each side
 * rounds to a different ~1e-17). The random streams are GBM with jumps,
 * irregular tick times, duplicate timestamps, ticks exactly on grid points
 * and bar boundaries, gaps of a few bars and gaps longer than the window,
 * late ticks and invalid prices. Half-way, the state is snapshotted into a
 * second object, and both are then fed the same ticks: their sigmas must be
 * bit-identical (memcmp) and the restored one must still match the
 * reference.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/vol.h"
#include "test_vol_ref.h"

#define SEC INT64_C(1000000)

typedef struct tick_s {
	int64_t ts;
	double px;
} tick_t;

typedef struct pset_s {
	const char *name;
	int64_t s_us, bar_us, win_us, hl_us;
	size_t ticks;
	size_t check_every;
} pset_t;

static const pset_t psets[] = {
	{ "S1s_B10s_W100s", SEC, 10 * SEC, 100 * SEC, 30 * SEC, 6000, 1 },
	{ "S250ms_B1s_W5s", SEC / 4, SEC, 5 * SEC, 2 * SEC, 6000, 1 },
	{ "S1s_B1s_W20s", SEC, SEC, 20 * SEC, 10 * SEC, 4000, 1 },
	{ "S1s_B1m_W1h_default", SEC, 60 * SEC, 3600 * SEC, 600 * SEC, 30000, 97 },
	{ "S7us_B21us_W63us", 7, 21, 63, 50, 4000, 1 },
};

/* A random stream on the grid of ps, event time starting at base_ts. */
static tick_t *make_stream(const pset_t *ps, uint64_t seed, int64_t base_ts, size_t *n_out)
{
	tick_t *t = calloc(ps->ticks, sizeof(*t));
	int64_t ts = base_ts;
	double lp = log(100.0);
	size_t n = 0;

	while (n < ps->ticks) {
		double u = rng_unif(&seed);
		int64_t gap;

		if (u < 0.06) {
			gap = 0; /* duplicate timestamp */
		} else if (u < 0.12) {
			/* exactly on the next grid point */
			gap = ref_ceil(ts + 1, ps->s_us) * ps->s_us - ts;
		} else if (u < 0.15) {
			/* exactly on the next bar boundary */
			gap = ref_ceil(ts + 1, ps->bar_us) * ps->bar_us - ts;
		} else if (u < 0.16) {
			/* longer than the window */
			gap =
			    ps->win_us + (int64_t)(rng_unif(&seed) * 3.0 * (double)ps->win_us) + 1;
		} else if (u < 0.19) {
			/* a few bars */
			gap = (int64_t)(rng_unif(&seed) * 4.0 * (double)ps->bar_us) + 1;
		} else {
			/* irregular: exponential, mean 0.8 sample intervals */
			gap = (int64_t)(-log(rng_unif(&seed) + 1e-12) * 0.8 * (double)ps->s_us) + 1;
		}
		ts += gap;
		lp += 0.002 * rng_normal(&seed);
		if (rng_unif(&seed) < 0.01) {
			lp += (rng_unif(&seed) < 0.5 ? -1 : 1) * 0.08; /* jump */
		}
		t[n].ts = ts;
		t[n].px = exp(lp);
		n++;
	}
	*n_out = n;
	return t;
}

static void sigmas(const lvc_vol_t *vol, double out[LVC_EST_MAX])
{
	for (int e = 0; e < LVC_EST_MAX; e++) {
		out[e] = lvc_vol_sigma_ann_of(vol, (lvc_estimator_t)e);
	}
}

static void check_against_ref(const lvc_vol_t *vol, ref_t *ref, const char *what, size_t i)
{
	double fast[LVC_EST_MAX];

	sigmas(vol, fast);
	for (int e = 0; e < LVC_EST_MAX; e++) {
		double slow = ref_sigma(ref, (lvc_estimator_t)e);

		cr_assert(isfinite(fast[e]) && fast[e] >= 0, "%s tick %zu: %s sigma %g", what, i,
		          lvc_estimator_names[e], fast[e]);
		cr_assert(ref_close(fast[e], slow), "%s tick %zu: %s fast %.17g slow %.17g", what,
		          i, lvc_estimator_names[e], fast[e], slow);
	}
	{
		/* max is the largest component, exactly. */
		double best = 0;

		for (int e = 0; e < LVC_EST_MAX; e++) {
			best = fast[e] > best ? fast[e] : best;
		}
		cr_assert_eq(lvc_vol_sigma_ann(vol), best, "%s tick %zu: max", what, i);
	}
	if (ref->n > 0) {
		int64_t k0 = ref_k0(ref), kc = ref_kc(ref);

		cr_assert_eq(lvc_vol_samples(vol), kc - 1 - k0 > 0 ? kc - 1 - k0 : 0,
		             "%s tick %zu: samples", what, i);
		cr_assert_eq(lvc_vol_last_ts(vol), ref->ts[ref->n - 1]);
	}
}

/* Feeds the stream with injected late ticks and invalid prices to a vol
 * object and the reference; snapshots into a second object half-way and
 * feeds both from there. */
static void run_diff(const pset_t *ps, const tick_t *t, size_t n, uint64_t seed)
{
	lvc_vol_params_t p = ref_params_all(ps->s_us, ps->bar_us, ps->win_us, ps->hl_us);
	lvc_vol_t *a = lvc_vol_new(&p, 0.8);
	lvc_vol_t *b = NULL;
	ref_t ref;
	uint64_t late = 0;
	static const double bad_px[] = { NAN, INFINITY, -INFINITY, 0.0, -0.0, -3.5 };
	unsigned char *snap = NULL;

	cr_assert_not_null(a);
	ref_init(&ref, &p, 0.8);
	for (size_t i = 0; i < n; i++) {
		lvc_vol_result_t ra, rr;
		double u = rng_unif(&seed);

		if (u < 0.02 && i > 0) {
			/* A late tick: older than the newest applied one. */
			int64_t back = 1 + (int64_t)(rng_unif(&seed) * 3.0 * (double)ps->s_us);

			ra = lvc_vol_update(a, t[i - 1].ts - back, 1.0);
			cr_assert_eq(ra, LVC_VOL_LATE, "%s tick %zu", ps->name, i);
			cr_assert_eq(ref_update(&ref, t[i - 1].ts - back, 1.0), LVC_VOL_LATE);
			if (b != NULL) {
				cr_assert_eq(lvc_vol_update(b, t[i - 1].ts - back, 1.0),
				             LVC_VOL_LATE);
			}
			late++;
		} else if (u < 0.03) {
			double px = bad_px[rng_next(&seed) % 6];

			cr_assert_eq(lvc_vol_update(a, t[i].ts, px), LVC_VOL_REJECTED);
			cr_assert_eq(ref_update(&ref, t[i].ts, px), LVC_VOL_REJECTED);
			if (b != NULL) {
				cr_assert_eq(lvc_vol_update(b, t[i].ts, px), LVC_VOL_REJECTED);
			}
		}
		ra = lvc_vol_update(a, t[i].ts, t[i].px);
		rr = ref_update(&ref, t[i].ts, t[i].px);
		cr_assert_eq(ra, rr, "%s tick %zu: result %d, reference %d", ps->name, i, ra, rr);
		cr_assert_eq(ra, LVC_VOL_APPLIED);
		if (b != NULL) {
			double sa[LVC_EST_MAX], sb[LVC_EST_MAX];

			cr_assert_eq(lvc_vol_update(b, t[i].ts, t[i].px), LVC_VOL_APPLIED);
			sigmas(a, sa);
			sigmas(b, sb);
			cr_assert(memcmp(sa, sb, sizeof(sa)) == 0,
			          "%s tick %zu: restored object differs in its bits", ps->name, i);
		}
		if (i % ps->check_every == 0 || i == n - 1) {
			check_against_ref(b != NULL ? b : a, &ref, ps->name, i);
		}
		if (i % 61 == 0) {
			/* No NaN or infinity in the state either: restore checks every
			 * field (finite, bounded by what prices can give) and must
			 * accept the snapshot. */
			unsigned char st[LVC_MAX_WINDOW_BUCKETS * 64 + 512];
			size_t sz = lvc_vol_snapshot(a, st, sizeof(st));
			lvc_vol_t *c = lvc_vol_new(&p, 0.8);

			cr_assert(sz <= sizeof(st));
			cr_assert_eq(lvc_vol_restore(c, st, sz), LVC_OK, "%s tick %zu: state",
			             ps->name, i);
			lvc_vol_destroy(c);
		}
		if (i == n / 2) {
			size_t size = lvc_vol_snapshot(a, NULL, 0);

			snap = malloc(size);
			cr_assert_eq(lvc_vol_snapshot(a, snap, size), size);
			b = lvc_vol_new(&p, 0.8);
			cr_assert_eq(lvc_vol_restore(b, snap, size), LVC_OK);
		}
	}
	cr_assert_eq(lvc_vol_late(a), late);
	cr_assert_eq(lvc_vol_late(b), late);
	{
		/* The two states end identical byte for byte. */
		size_t sa = lvc_vol_snapshot(a, NULL, 0), sb = lvc_vol_snapshot(b, NULL, 0);
		unsigned char *ba = malloc(sa), *bb = malloc(sb);

		cr_assert_eq(sa, sb);
		lvc_vol_snapshot(a, ba, sa);
		lvc_vol_snapshot(b, bb, sb);
		cr_assert(memcmp(ba, bb, sa) == 0);
		free(ba);
		free(bb);
	}
	free(snap);
	ref_free(&ref);
	lvc_vol_destroy(a);
	lvc_vol_destroy(b);
}

Test(vol_diff, every_estimator_matches_the_slow_recompute_on_random_streams)
{
	for (size_t k = 0; k < sizeof(psets) / sizeof(psets[0]); k++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			size_t n;
			/* Before and after the epoch: floor division must hold. */
			int64_t base = seed == 2 ? -INT64_C(86400) * SEC * 400 - 12345
			                         : INT64_C(1700000000) * SEC + (int64_t)seed * 777;
			tick_t *t = make_stream(&psets[k], seed * 7919, base, &n);

			run_diff(&psets[k], t, n, seed);
			free(t);
		}
	}
}

/* Adversarial prices: the extremes of the double range, subnormals, ulp
 * steps, a constant run, and huge jumps. No sigma may become NaN or
 * infinite, and every estimator must still match the reference. */
Test(vol_diff, adversarial_values_keep_every_sigma_finite_and_match_the_reference)
{
	static const double px[] = {
		1.0,          1e308,
		1e-308,       DBL_MAX,
		DBL_TRUE_MIN, DBL_MIN,
		1.0,          1.0 + DBL_EPSILON,
		1.0,          1.0 + DBL_EPSILON,
		3.0e5,        3.0e5,
		3.0e5,        3.0e5,
		1e-300,       1e300,
		2.0,          DBL_TRUE_MIN,
		DBL_MAX,      5.0,
	};
	const size_t npx = sizeof(px) / sizeof(px[0]);

	for (size_t k = 0; k < sizeof(psets) / sizeof(psets[0]); k++) {
		const pset_t *ps = &psets[k];
		uint64_t seed = 99 + k;
		size_t n = 3000;
		tick_t *t = calloc(n, sizeof(*t));
		int64_t ts = INT64_C(1600000000) * SEC;

		for (size_t i = 0; i < n; i++) {
			double u = rng_unif(&seed);

			if (u < 0.1) {
				/* a duplicate timestamp: ts unchanged */
			} else if (u < 0.3) {
				ts = ref_ceil(ts + 1, ps->s_us) * ps->s_us;
			} else if (u < 0.32) {
				ts += 2 * ps->win_us;
			} else {
				ts += 1 + (int64_t)(rng_unif(&seed) * 2.0 * (double)ps->s_us);
			}
			t[i].ts = ts;
			t[i].px = u < 0.7 ? px[i % npx] : px[rng_next(&seed) % npx];
		}
		run_diff(ps, t, n, seed);
		free(t);
	}
}

/* The snapshot/restore point moved to every position of a short stream:
 * wherever the window's front/back split or bucket is, the restored object
 * continues bit-identically. */
Test(vol_diff, restore_at_every_tick_continues_bit_identically)
{
	const pset_t *ps = &psets[0];
	lvc_vol_params_t p = ref_params_all(ps->s_us, ps->bar_us, ps->win_us, ps->hl_us);
	size_t n;
	tick_t *t;
	pset_t small = *ps;

	small.ticks = 700;
	t = make_stream(&small, 4242, INT64_C(1700000000) * SEC, &n);
	for (size_t cut = 0; cut < n; cut += 3) {
		lvc_vol_t *a = lvc_vol_new(&p, 1.1);
		lvc_vol_t *b = lvc_vol_new(&p, 1.1);
		unsigned char buf[LVC_MAX_WINDOW_BUCKETS * 64 + 512];
		size_t size;

		for (size_t i = 0; i < cut; i++) {
			lvc_vol_update(a, t[i].ts, t[i].px);
		}
		size = lvc_vol_snapshot(a, buf, sizeof(buf));
		cr_assert(size <= sizeof(buf));
		cr_assert_eq(lvc_vol_restore(b, buf, size), LVC_OK, "cut %zu", cut);
		for (size_t i = cut; i < n; i++) {
			double sa[LVC_EST_MAX], sb[LVC_EST_MAX];

			lvc_vol_update(a, t[i].ts, t[i].px);
			lvc_vol_update(b, t[i].ts, t[i].px);
			sigmas(a, sa);
			sigmas(b, sb);
			cr_assert(memcmp(sa, sb, sizeof(sa)) == 0, "cut %zu tick %zu", cut, i);
		}
		lvc_vol_destroy(a);
		lvc_vol_destroy(b);
	}
	free(t);
}
