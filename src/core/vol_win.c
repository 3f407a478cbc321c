/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rolling window of the volatility estimators: the last N complete
 * buckets of bar_interval, each a leaf of return sums and bar terms (see
 * vol_int.h), aggregated by the two-stacks method (Tangwongsan, Hirzel and
 * Schneider, "In-order sliding-window aggregation"). A push appends to the
 * back stack and folds the leaf into one running aggregate; a pop takes the
 * oldest front slot; when the front is empty, every back slot moves to the
 * front and gets its suffix aggregate, once. So push, pop and query are O(1)
 * amortized, the window never subtracts (no cancellation, no drift), and the
 * result depends only on the leaves and the front/back split, which is what
 * lets a restore rebuild bit-identical aggregates.
 *
 * Variances are carried as (count, mean, M2) and merged with the pairwise
 * formula of Chan, Golub and LeVeque, which is stable for any order.
 * Expected load: one push per bucket per instrument (once a minute by
 * default), a fill of N slots after a gap longer than the window.
 */
#include <string.h>

#include "core/vol_int.h"

static void agg_from_leaf(lvc__vagg_t *a, const lvc__vleaf_t *l)
{
	/* 2 ln 2 - 1, the Garman-Klass weight of the open-to-close term. */
	static const double gk_c = 0.38629436111989061883;

	a->nb = l->nb;
	a->s2 = l->s2;
	a->sbp = l->sbp;
	a->sp = l->hl * l->hl;
	a->sgk = 0.5 * l->hl * l->hl - gk_c * l->xc * l->xc;
	a->srs = l->rs;
	a->mcc = l->xcc;
	a->qcc = 0.0;
	a->mo = l->xo;
	a->qo = 0.0;
	a->mc = l->xc;
	a->qc = 0.0;
}

/* Merges one (mean, M2) pair of b into a's, counts na and nb before. */
static void merge_var(double *ma, double *qa, double na, double mb, double qb, double nb)
{
	double n = na + nb;
	double d;

	if (nb == 0) {
		return;
	}
	if (na == 0) {
		*ma = mb;
		*qa = qb;
		return;
	}
	d = mb - *ma;
	*ma += d * (nb / n);
	*qa += qb + d * d * (na * nb / n);
}

/* out = a (+) b, where a holds the older buckets. out may alias a. */
static void agg_combine(lvc__vagg_t *out, const lvc__vagg_t *a, const lvc__vagg_t *b)
{
	lvc__vagg_t r = *a;

	merge_var(&r.mcc, &r.qcc, a->nb, b->mcc, b->qcc, b->nb);
	merge_var(&r.mo, &r.qo, a->nb, b->mo, b->qo, b->nb);
	merge_var(&r.mc, &r.qc, a->nb, b->mc, b->qc, b->nb);
	r.nb = a->nb + b->nb;
	r.s2 = a->s2 + b->s2;
	r.sbp = a->sbp + b->sbp;
	r.sp = a->sp + b->sp;
	r.sgk = a->sgk + b->sgk;
	r.srs = a->srs + b->srs;
	*out = r;
}

static uint32_t slot(const lvc__vwin_t *w, uint32_t i)
{
	uint32_t s = w->head + i;

	return s >= w->cap ? s - w->cap : s;
}

void lvc__vwin_init(lvc__vwin_t *w, lvc__vleaf_t *leaf, lvc__vagg_t *suf, uint32_t cap)
{
	w->leaf = leaf;
	w->suf = suf;
	w->cap = cap;
	w->n = 0;
	w->head = 0;
	w->front = 0;
	memset(&w->back, 0, sizeof(w->back));
}

/* Moves every slot to the front stack, computing suffix aggregates from the
 * newest to the oldest. */
static void flip(lvc__vwin_t *w)
{
	lvc__vagg_t leaf_agg;

	for (uint32_t i = w->n; i-- > 0;) {
		uint32_t s = slot(w, i);

		agg_from_leaf(&leaf_agg, &w->leaf[s]);
		if (i == w->n - 1) {
			w->suf[s] = leaf_agg;
		} else {
			agg_combine(&w->suf[s], &leaf_agg, &w->suf[slot(w, i + 1)]);
		}
	}
	w->front = w->n;
	memset(&w->back, 0, sizeof(w->back));
}

static void pop(lvc__vwin_t *w)
{
	if (w->front == 0) {
		flip(w);
	}
	w->head = slot(w, 1);
	w->front--;
	w->n--;
}

void lvc__vwin_push(lvc__vwin_t *w, const lvc__vleaf_t *leaf)
{
	lvc__vagg_t leaf_agg;

	if (w->n == w->cap) {
		pop(w);
	}
	w->leaf[slot(w, w->n)] = *leaf;
	w->n++;
	agg_from_leaf(&leaf_agg, leaf);
	/* The first back slot starts the running aggregate from the identity,
	 * exactly as lvc__vwin_rebuild() does. */
	agg_combine(&w->back, &w->back, &leaf_agg);
}

void lvc__vwin_fill_empty(lvc__vwin_t *w)
{
	w->head = 0;
	w->n = w->cap;
	for (uint32_t i = 0; i < w->cap; i++) {
		memset(&w->leaf[i], 0, sizeof(w->leaf[i]));
		w->leaf[i].nb = 1.0;
	}
	flip(w);
}

void lvc__vwin_query(const lvc__vwin_t *w, lvc__vagg_t *out)
{
	if (w->front == 0) {
		*out = w->back;
	} else if (w->front == w->n) {
		*out = w->suf[w->head];
	} else {
		agg_combine(out, &w->suf[w->head], &w->back);
	}
}

void lvc__vwin_rebuild(lvc__vwin_t *w, uint32_t n, uint32_t front)
{
	lvc__vagg_t leaf_agg;

	w->head = 0;
	w->n = front;
	flip(w);
	/* The back stack: the same left fold from the identity as the pushes. */
	for (uint32_t i = front; i < n; i++) {
		agg_from_leaf(&leaf_agg, &w->leaf[i]);
		agg_combine(&w->back, &w->back, &leaf_agg);
	}
	w->n = n;
}
