/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book's red-black tree and slab pool against a naive model: a
 * plain array of (key, index) pairs sorted by qsort after every change. Each
 * step checks the red-black invariants, the cached ends and the full
 * in-order sequence both ways.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

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
static void check_against(const lvc__bpool_t *pool, const lvc__btree_t *t, const ref_t *ref,
                          size_t n)
{
	uint32_t i;
	size_t k = 0;

	cr_assert_geq(lvc__btree_check(pool, t), 1, "red-black invariants broken");
	cr_assert_eq(t->n, n);
	for (i = t->min; i != LVC__BNIL; i = lvc__btree_next(pool, i), k++) {
		cr_assert_lt(k, n);
		cr_assert_eq(i, ref[k].idx, "in-order member %zu: %u, model %u", k, i, ref[k].idx);
	}
	cr_assert_eq(k, n);
	for (i = t->max; i != LVC__BNIL; i = lvc__btree_prev(pool, i)) {
		cr_assert_gt(k, 0);
		k--;
		cr_assert_eq(i, ref[k].idx);
	}
	if (n > 0) {
		cr_assert_eq(t->min_key, ref[0].key);
		cr_assert_eq(t->max_key, ref[n - 1].key);
	}
}

Test(book_tree, matches_a_sorted_array_over_random_inserts_and_removals)
{
	enum { STEPS = 6000, MAXN = 700 };
	lvc__bpool_t pool;
	lvc__btree_t t;
	ref_t ref[MAXN];
	size_t n = 0;
	uint64_t rng = 42;

	cr_assert_eq(lvc__bpool_init(&pool, 0), LVC_OK);
	lvc__btree_init(&t);
	for (int step = 0; step < STEPS; step++) {
		int insert = n == 0 || (n < MAXN && rng_next(&rng) % 100 < 55);

		if (insert) {
			uint32_t idx;

			cr_assert_eq(lvc__bpool_alloc(&pool, &idx), LVC_OK);
			/* Few distinct keys, so that ties (ordered by index) are common. */
			lvc__bpos(&pool, idx)->key = (double)(rng_next(&rng) % 50) * 0.5;
			lvc__btree_insert(&pool, &t, idx);
			ref[n].key = lvc__bpos(&pool, idx)->key;
			ref[n].idx = idx;
			n++;
		} else {
			size_t k = rng_next(&rng) % n;
			uint32_t idx = ref[k].idx;

			lvc__btree_remove(&pool, &t, idx);
			lvc__bpool_free(&pool, idx);
			ref[k] = ref[n - 1];
			n--;
		}
		qsort(ref, n, sizeof(ref[0]), ref_cmp);
		if (step % 7 == 0 || n < 5) {
			check_against(&pool, &t, ref, n);
		}
	}
	check_against(&pool, &t, ref, n);
	cr_assert_eq(pool.used, n);
	lvc__bpool_destroy(&pool);
}

Test(book_tree, keeps_an_iterator_valid_while_removing_behind_it)
{
	lvc__bpool_t pool;
	lvc__btree_t t;
	uint32_t idx[300];
	uint32_t i;
	int seen = 0;

	cr_assert_eq(lvc__bpool_init(&pool, 0), LVC_OK);
	lvc__btree_init(&t);
	for (int k = 0; k < 300; k++) {
		cr_assert_eq(lvc__bpool_alloc(&pool, &idx[k]), LVC_OK);
		lvc__bpos(&pool, idx[k])->key = (double)((k * 37) % 300);
		lvc__btree_insert(&pool, &t, idx[k]);
	}
	/* Walk down from the top removing every member with an even key, as
	 * a tick's scan does: the saved predecessor must stay valid. */
	i = t.max;
	while (i != LVC__BNIL) {
		uint32_t prev = lvc__btree_prev(&pool, i);
		double key = lvc__bpos(&pool, i)->key;

		if ((int)key % 2 == 0) {
			lvc__btree_remove(&pool, &t, i);
		}
		seen++;
		i = prev;
	}
	cr_assert_eq(seen, 300);
	cr_assert_eq(t.n, 150);
	cr_assert_geq(lvc__btree_check(&pool, &t), 1);
	cr_assert_eq(t.min_key, 1.0);
	cr_assert_eq(t.max_key, 299.0);
	lvc__bpool_destroy(&pool);
}

Test(book_tree, grows_the_pool_across_slabs_and_reuses_freed_records)
{
	lvc__bpool_t pool;
	uint32_t first;
	uint32_t again;
	uint32_t idx = 0;

	cr_assert_eq(lvc__bpool_init(&pool, 0), LVC_OK);
	cr_assert_eq(lvc__bpool_alloc(&pool, &first), LVC_OK);
	cr_assert_neq(first, LVC__BNIL, "index 0 is the sentinel");
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
