/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book's B+tree and slab pools against a naive model: a plain
 * array of (key, index) pairs kept sorted by binary insertion. Each checked step verifies the
 * tree's invariants (order, separators, leaf links, counts, cached ends)
 * and the full entry sequence both ways, over random, ascending and
 * descending inserts, removals at the ends (as a tick does) and anywhere,
 * deep enough trees (height 3) and draining to empty.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/book_int.h"

typedef struct ref_s {
	double key;
	uint32_t idx;
} ref_t;

static int ref_cmp(const void *a, const void *b)
{
	const ref_t *x = a;
	const ref_t *y = b;

	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Checks t against the sorted model ref[0..n). */
static void check_against(const lvc__bnpool_t *np, const lvc__btree_t *t, const ref_t *ref,
                          size_t n)
{
	lvc__bcur_t c;
	size_t k = 0;

	cr_assert_eq(lvc__btree_check(np, t), 0, "B+tree invariants broken at n = %zu", n);
	cr_assert_eq(t->n, n);
	for (c = lvc__btree_first(np, t); c.leaf != 0; lvc__btree_next(np, &c), k++) {
		cr_assert_lt(k, n);
		cr_assert_eq(lvc__bcur_id(np, c), ref[k].idx, "entry %zu: %u, model %u", k,
		             lvc__bcur_id(np, c), ref[k].idx);
		cr_assert_eq(lvc__bcur_key(np, c), ref[k].key);
	}
	cr_assert_eq(k, n);
	for (c = lvc__btree_last(np, t); c.leaf != 0; lvc__btree_prev(np, &c)) {
		cr_assert_gt(k, 0);
		k--;
		cr_assert_eq(lvc__bcur_id(np, c), ref[k].idx);
	}
	cr_assert_eq(k, 0);
	if (n > 0) {
		cr_assert_eq(t->min_key, ref[0].key);
		cr_assert_eq(t->max_key, ref[n - 1].key);
	}
}

typedef struct model_s {
	ref_t *ref;
	size_t n;
	uint32_t next_id;
} model_t;

static void ins(lvc__bnpool_t *np, lvc__btree_t *t, model_t *m, double key)
{
	uint32_t id = ++m->next_id;

	ref_t r = { key, id };
	size_t lo = 0;
	size_t hi = m->n;

	cr_assert_eq(lvc__btree_insert(np, t, key, id), LVC_OK);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ref_cmp(&m->ref[mid], &r) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	memmove(&m->ref[lo + 1], &m->ref[lo], (m->n - lo) * sizeof(m->ref[0]));
	m->ref[lo] = r;
	m->n++;
}

/* Removes model entry k (the model stays sorted). */
static void del(lvc__bnpool_t *np, lvc__btree_t *t, model_t *m, size_t k)
{
	cr_assert_eq(lvc__btree_remove(np, t, m->ref[k].key, m->ref[k].idx), 1);
	memmove(&m->ref[k], &m->ref[k + 1], (m->n - k - 1) * sizeof(m->ref[0]));
	m->n--;
}

Test(book_tree, matches_a_sorted_array_over_random_inserts_and_removals, .timeout = 120)
{
	enum { MAXN = 30000 };
	lvc__bnpool_t np;
	lvc__btree_t t;
	model_t m = { calloc(MAXN, sizeof(ref_t)), 0, 0 };
	uint64_t rng = 42;
	uint32_t max_height = 0;

	cr_assert_not_null(m.ref);
	cr_assert_eq(lvc__bnpool_init(&np), LVC_OK);
	lvc__btree_init(&t);
	for (int round = 0; round < 3; round++) {
		/* Grow to 8000 with few distinct keys (many ties), removing a
		 * third of the time, anywhere. */
		for (int step = 0; m.n < 8000; step++) {
			if (m.n > 0 && rng_next(&rng) % 3 == 0) {
				del(&np, &t, &m, rng_next(&rng) % m.n);
			} else {
				ins(&np, &t, &m, (double)(rng_next(&rng) % 5000) * 0.25);
			}
			if (step % 499 == 0) {
				check_against(&np, &t, m.ref, m.n);
			}
			if (t.height > max_height) {
				max_height = t.height;
			}
		}
		check_against(&np, &t, m.ref, m.n);
		/* Drain from both ends and the middle, as ticks and updates do. */
		for (int step = 0; m.n > 0; step++) {
			unsigned r = (unsigned)(rng_next(&rng) % 3);
			size_t k = r == 0 ? 0 : (r == 1 ? m.n - 1 : rng_next(&rng) % m.n);

			del(&np, &t, &m, k);
			if (step % 503 == 0 || m.n < 3) {
				check_against(&np, &t, m.ref, m.n);
			}
		}
		cr_assert_eq(t.root, 0);
		cr_assert_eq(np.used, 0, "every node went back to the pool");
	}
	cr_assert_geq(max_height, 3);
	lvc__bnpool_destroy(&np);
	free(m.ref);
}

Test(book_tree, keeps_ordered_builds_full_and_reports_missing_entries)
{
	enum { N = 64 * 64 };
	lvc__bnpool_t np;
	lvc__btree_t up;
	lvc__btree_t down;
	model_t a = { calloc(N, sizeof(ref_t)), 0, 0 };
	model_t b = { calloc(N, sizeof(ref_t)), 0, 100000 };

	cr_assert_eq(lvc__bnpool_init(&np), LVC_OK);
	lvc__btree_init(&up);
	lvc__btree_init(&down);
	for (int k = 0; k < N; k++) {
		ins(&np, &up, &a, (double)k);
		ins(&np, &down, &b, (double)(N - k));
	}
	check_against(&np, &up, a.ref, a.n);
	check_against(&np, &down, b.ref, b.n);
	/* 4096 entries in full leaves: 64 leaves + 2 inner levels at most. */
	cr_assert_leq(np.used, 64 + 2 + 64 + 2, "%zu nodes", np.used);
	cr_assert_eq(lvc__btree_remove(&np, &up, 5.0, 99999), 0, "wrong index");
	cr_assert_eq(lvc__btree_remove(&np, &up, 5.5, a.ref[5].idx), 0, "wrong key");
	cr_assert_eq(up.n, N);
	lvc__btree_clear(&np, &up);
	lvc__btree_clear(&np, &down);
	cr_assert_eq(np.used, 0);
	cr_assert_eq(up.n, 0);
	lvc__bnpool_destroy(&np);
	free(a.ref);
	free(b.ref);
}

Test(book_tree, grows_the_position_pool_across_slabs_and_reuses_freed_records)
{
	lvc__bpool_t pool;
	uint32_t first;
	uint32_t again;
	uint32_t idx = 0;

	cr_assert_eq(lvc__bpool_init(&pool, 0), LVC_OK);
	cr_assert_eq(lvc__bpool_alloc(&pool, &first), LVC_OK);
	cr_assert_neq(first, LVC__BNIL, "index 0 means none");
	for (uint32_t k = 0; k < 3 * LVC__SLAB_SIZE; k++) {
		cr_assert_eq(lvc__bpool_alloc(&pool, &idx), LVC_OK);
		lvc__bpos(&pool, idx)->key = (double)k;
	}
	cr_assert_eq(pool.slabs_n, 4);
	cr_assert_eq(lvc__bpos(&pool, idx)->key, (double)(3 * LVC__SLAB_SIZE - 1));
	lvc__bpool_free(&pool, first);
	cr_assert_eq(lvc__bpool_alloc(&pool, &again), LVC_OK);
	cr_assert_eq(again, first);
	cr_assert_eq(lvc__bpos(&pool, again)->flags, LVC__F_USED, "a reused record is zeroed");
	cr_assert_eq(pool.used, 3 * LVC__SLAB_SIZE + 1);
	lvc__bpool_destroy(&pool);
}
