/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book's storage: a slab pool of 64-byte position records named
 * by 32-bit indices, and an intrusive red-black tree over those records
 * ordered by (key, index). The tree is the textbook one (Cormen et al.,
 * "Introduction to Algorithms", 3rd ed., ch. 13) with index 0 as the shared
 * black sentinel; its links live in the record (link[0] left, link[1] right,
 * link[2] parent), so membership costs no allocation and 12 bytes.
 *
 * Invariants: the sentinel is black and never a member; every member has the
 * F_USED flag and a finite key; t->min / t->max are the first and last
 * member and t->min_key / t->max_key their keys. Removal relinks nodes and
 * never moves a record, so an index saved by a caller iterating the tree
 * stays valid. Load: a million members per book, O(log n) per insert and
 * removal, O(1) to read either end.
 */
#include <stdlib.h>
#include <string.h>

#include "core/book_int.h"

#define NODE(i)  lvc__bpos(pool, (i))
#define LEFT(i)  (NODE(i)->link[0])
#define RIGHT(i) (NODE(i)->link[1])
#define PAR(i)   (NODE(i)->link[2])

lvc_err_t lvc__bpool_init(lvc__bpool_t *pool, size_t hint)
{
	uint32_t idx;
	size_t cap = hint / LVC__SLAB_SIZE + 1;

	memset(pool, 0, sizeof(*pool));
	if (cap < 4) {
		cap = 4;
	}
	pool->slabs = calloc(cap, sizeof(*pool->slabs));
	if (pool->slabs == NULL) {
		return LVC_ERR_NOMEM;
	}
	pool->slabs_cap = cap;
	pool->bytes = cap * sizeof(*pool->slabs);
	/* The first record is the sentinel: take it and do not count it. */
	if (lvc__bpool_alloc(pool, &idx) != LVC_OK) {
		return LVC_ERR_NOMEM;
	}
	pool->used = 0;
	return LVC_OK;
}

void lvc__bpool_destroy(lvc__bpool_t *pool)
{
	if (pool->slabs == NULL) {
		return;
	}
	for (size_t i = 0; i < pool->slabs_n; i++) {
		free(pool->slabs[i]);
	}
	free(pool->slabs);
	memset(pool, 0, sizeof(*pool));
}

lvc_err_t lvc__bpool_alloc(lvc__bpool_t *pool, uint32_t *idx)
{
	uint32_t i;

	if (pool->free_head != LVC__BNIL) {
		i = pool->free_head;
		pool->free_head = NODE(i)->link[0];
	} else {
		if (pool->next_new == UINT32_MAX) {
			return LVC_ERR_RANGE;
		}
		i = pool->next_new;
		if ((i >> LVC__SLAB_SHIFT) >= pool->slabs_n) {
			lvc__bpos_t *slab;

			if (pool->slabs_n == pool->slabs_cap) {
				size_t cap = pool->slabs_cap * 2;
				lvc__bpos_t **s = realloc(pool->slabs, cap * sizeof(*s));

				if (s == NULL) {
					return LVC_ERR_NOMEM;
				}
				pool->bytes += (cap - pool->slabs_cap) * sizeof(*s);
				pool->slabs = s;
				pool->slabs_cap = cap;
			}
			slab = malloc(LVC__SLAB_SIZE * sizeof(*slab));
			if (slab == NULL) {
				return LVC_ERR_NOMEM;
			}
			pool->bytes += LVC__SLAB_SIZE * sizeof(*slab);
			pool->slabs[pool->slabs_n++] = slab;
		}
		pool->next_new++;
	}
	memset(NODE(i), 0, sizeof(lvc__bpos_t));
	NODE(i)->flags = LVC__F_USED;
	pool->used++;
	*idx = i;
	return LVC_OK;
}

void lvc__bpool_free(lvc__bpool_t *pool, uint32_t idx)
{
	memset(NODE(idx), 0, sizeof(lvc__bpos_t));
	NODE(idx)->link[0] = pool->free_head;
	pool->free_head = idx;
	pool->used--;
}

void lvc__btree_init(lvc__btree_t *t)
{
	memset(t, 0, sizeof(*t));
}

static int is_red(const lvc__bpool_t *pool, uint32_t i)
{
	return (NODE(i)->flags & LVC__F_RED) != 0;
}

static void set_red(const lvc__bpool_t *pool, uint32_t i)
{
	NODE(i)->flags |= LVC__F_RED;
}

static void set_black(const lvc__bpool_t *pool, uint32_t i)
{
	NODE(i)->flags &= (uint8_t)~LVC__F_RED;
}

/* (key, index) order: ties on the key are broken by the index so that the
 * order is total and removal never has to search among equals. */
static int less(const lvc__bpool_t *pool, uint32_t a, uint32_t b)
{
	double ka = NODE(a)->key;
	double kb = NODE(b)->key;

	return ka < kb || (ka == kb && a < b);
}

static void rotate_left(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t x)
{
	uint32_t y = RIGHT(x);

	RIGHT(x) = LEFT(y);
	if (LEFT(y) != LVC__BNIL) {
		PAR(LEFT(y)) = x;
	}
	PAR(y) = PAR(x);
	if (PAR(x) == LVC__BNIL) {
		t->root = y;
	} else if (x == LEFT(PAR(x))) {
		LEFT(PAR(x)) = y;
	} else {
		RIGHT(PAR(x)) = y;
	}
	LEFT(y) = x;
	PAR(x) = y;
}

static void rotate_right(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t x)
{
	uint32_t y = LEFT(x);

	LEFT(x) = RIGHT(y);
	if (RIGHT(y) != LVC__BNIL) {
		PAR(RIGHT(y)) = x;
	}
	PAR(y) = PAR(x);
	if (PAR(x) == LVC__BNIL) {
		t->root = y;
	} else if (x == RIGHT(PAR(x))) {
		RIGHT(PAR(x)) = y;
	} else {
		LEFT(PAR(x)) = y;
	}
	RIGHT(y) = x;
	PAR(x) = y;
}

static void insert_fixup(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t z)
{
	while (is_red(pool, PAR(z))) {
		uint32_t g = PAR(PAR(z));

		if (PAR(z) == LEFT(g)) {
			uint32_t y = RIGHT(g);

			if (is_red(pool, y)) {
				set_black(pool, PAR(z));
				set_black(pool, y);
				set_red(pool, g);
				z = g;
			} else {
				if (z == RIGHT(PAR(z))) {
					z = PAR(z);
					rotate_left(pool, t, z);
				}
				set_black(pool, PAR(z));
				set_red(pool, PAR(PAR(z)));
				rotate_right(pool, t, PAR(PAR(z)));
			}
		} else {
			uint32_t y = LEFT(g);

			if (is_red(pool, y)) {
				set_black(pool, PAR(z));
				set_black(pool, y);
				set_red(pool, g);
				z = g;
			} else {
				if (z == LEFT(PAR(z))) {
					z = PAR(z);
					rotate_right(pool, t, z);
				}
				set_black(pool, PAR(z));
				set_red(pool, PAR(PAR(z)));
				rotate_left(pool, t, PAR(PAR(z)));
			}
		}
	}
	set_black(pool, t->root);
}

void lvc__btree_insert(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t z)
{
	uint32_t y = LVC__BNIL;
	uint32_t x = t->root;

	while (x != LVC__BNIL) {
		y = x;
		x = less(pool, z, x) ? LEFT(x) : RIGHT(x);
	}
	PAR(z) = y;
	if (y == LVC__BNIL) {
		t->root = z;
	} else if (less(pool, z, y)) {
		LEFT(y) = z;
	} else {
		RIGHT(y) = z;
	}
	LEFT(z) = LVC__BNIL;
	RIGHT(z) = LVC__BNIL;
	set_red(pool, z);
	insert_fixup(pool, t, z);

	if (t->n == 0) {
		t->min = z;
		t->max = z;
	} else {
		if (less(pool, z, t->min)) {
			t->min = z;
		}
		if (less(pool, t->max, z)) {
			t->max = z;
		}
	}
	t->n++;
	t->min_key = NODE(t->min)->key;
	t->max_key = NODE(t->max)->key;
}

static uint32_t subtree_min(const lvc__bpool_t *pool, uint32_t x)
{
	while (LEFT(x) != LVC__BNIL) {
		x = LEFT(x);
	}
	return x;
}

static uint32_t subtree_max(const lvc__bpool_t *pool, uint32_t x)
{
	while (RIGHT(x) != LVC__BNIL) {
		x = RIGHT(x);
	}
	return x;
}

uint32_t lvc__btree_next(const lvc__bpool_t *pool, uint32_t x)
{
	uint32_t y;

	if (RIGHT(x) != LVC__BNIL) {
		return subtree_min(pool, RIGHT(x));
	}
	y = PAR(x);
	while (y != LVC__BNIL && x == RIGHT(y)) {
		x = y;
		y = PAR(y);
	}
	return y;
}

uint32_t lvc__btree_prev(const lvc__bpool_t *pool, uint32_t x)
{
	uint32_t y;

	if (LEFT(x) != LVC__BNIL) {
		return subtree_max(pool, LEFT(x));
	}
	y = PAR(x);
	while (y != LVC__BNIL && x == LEFT(y)) {
		x = y;
		y = PAR(y);
	}
	return y;
}

/* Puts v where u was; v may be the sentinel, whose parent is then set (the
 * delete fixup reads it). */
static void transplant(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t u, uint32_t v)
{
	if (PAR(u) == LVC__BNIL) {
		t->root = v;
	} else if (u == LEFT(PAR(u))) {
		LEFT(PAR(u)) = v;
	} else {
		RIGHT(PAR(u)) = v;
	}
	PAR(v) = PAR(u);
}

static void delete_fixup(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t x)
{
	while (x != t->root && !is_red(pool, x)) {
		if (x == LEFT(PAR(x))) {
			uint32_t w = RIGHT(PAR(x));

			if (is_red(pool, w)) {
				set_black(pool, w);
				set_red(pool, PAR(x));
				rotate_left(pool, t, PAR(x));
				w = RIGHT(PAR(x));
			}
			if (!is_red(pool, LEFT(w)) && !is_red(pool, RIGHT(w))) {
				set_red(pool, w);
				x = PAR(x);
			} else {
				if (!is_red(pool, RIGHT(w))) {
					set_black(pool, LEFT(w));
					set_red(pool, w);
					rotate_right(pool, t, w);
					w = RIGHT(PAR(x));
				}
				if (is_red(pool, PAR(x))) {
					set_red(pool, w);
				} else {
					set_black(pool, w);
				}
				set_black(pool, PAR(x));
				set_black(pool, RIGHT(w));
				rotate_left(pool, t, PAR(x));
				x = t->root;
			}
		} else {
			uint32_t w = LEFT(PAR(x));

			if (is_red(pool, w)) {
				set_black(pool, w);
				set_red(pool, PAR(x));
				rotate_right(pool, t, PAR(x));
				w = LEFT(PAR(x));
			}
			if (!is_red(pool, RIGHT(w)) && !is_red(pool, LEFT(w))) {
				set_red(pool, w);
				x = PAR(x);
			} else {
				if (!is_red(pool, LEFT(w))) {
					set_black(pool, RIGHT(w));
					set_red(pool, w);
					rotate_left(pool, t, w);
					w = LEFT(PAR(x));
				}
				if (is_red(pool, PAR(x))) {
					set_red(pool, w);
				} else {
					set_black(pool, w);
				}
				set_black(pool, PAR(x));
				set_black(pool, LEFT(w));
				rotate_right(pool, t, PAR(x));
				x = t->root;
			}
		}
	}
	set_black(pool, x);
}

void lvc__btree_remove(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t z)
{
	uint32_t x;
	uint32_t y = z;
	int y_was_red = is_red(pool, y);

	/* The cached ends move inward first, while z still links to them. */
	if (t->n == 1) {
		t->min = LVC__BNIL;
		t->max = LVC__BNIL;
	} else {
		if (z == t->min) {
			t->min = lvc__btree_next(pool, z);
		}
		if (z == t->max) {
			t->max = lvc__btree_prev(pool, z);
		}
	}

	if (LEFT(z) == LVC__BNIL) {
		x = RIGHT(z);
		transplant(pool, t, z, RIGHT(z));
	} else if (RIGHT(z) == LVC__BNIL) {
		x = LEFT(z);
		transplant(pool, t, z, LEFT(z));
	} else {
		y = subtree_min(pool, RIGHT(z));
		y_was_red = is_red(pool, y);
		x = RIGHT(y);
		if (PAR(y) == z) {
			PAR(x) = y;
		} else {
			transplant(pool, t, y, RIGHT(y));
			RIGHT(y) = RIGHT(z);
			PAR(RIGHT(y)) = y;
		}
		transplant(pool, t, z, y);
		LEFT(y) = LEFT(z);
		PAR(LEFT(y)) = y;
		if (is_red(pool, z)) {
			set_red(pool, y);
		} else {
			set_black(pool, y);
		}
	}
	if (!y_was_red) {
		delete_fixup(pool, t, x);
	}
	set_black(pool, LVC__BNIL);

	LEFT(z) = LVC__BNIL;
	RIGHT(z) = LVC__BNIL;
	PAR(z) = LVC__BNIL;
	set_black(pool, z);
	t->n--;
	if (t->n == 0) {
		t->root = LVC__BNIL;
		t->min_key = 0.0;
		t->max_key = 0.0;
	} else {
		t->min_key = NODE(t->min)->key;
		t->max_key = NODE(t->max)->key;
	}
}

/* Black height of the subtree at x, or -1; counts members into *n. */
static int check_node(const lvc__bpool_t *pool, uint32_t x, uint32_t parent, uint32_t *n)
{
	int hl;
	int hr;

	if (x == LVC__BNIL) {
		return 1;
	}
	(*n)++;
	if (PAR(x) != parent || (NODE(x)->flags & LVC__F_USED) == 0) {
		return -1;
	}
	if (is_red(pool, x) && (is_red(pool, LEFT(x)) || is_red(pool, RIGHT(x)))) {
		return -1;
	}
	if (LEFT(x) != LVC__BNIL && !less(pool, LEFT(x), x)) {
		return -1;
	}
	if (RIGHT(x) != LVC__BNIL && !less(pool, x, RIGHT(x))) {
		return -1;
	}
	hl = check_node(pool, LEFT(x), x, n);
	hr = check_node(pool, RIGHT(x), x, n);
	if (hl < 0 || hr < 0 || hl != hr) {
		return -1;
	}
	return hl + (is_red(pool, x) ? 0 : 1);
}

int lvc__btree_check(const lvc__bpool_t *pool, const lvc__btree_t *t)
{
	uint32_t n = 0;
	int h;

	if (is_red(pool, LVC__BNIL) || is_red(pool, t->root)) {
		return -1;
	}
	h = check_node(pool, t->root, LVC__BNIL, &n);
	if (h < 0 || n != t->n) {
		return -1;
	}
	if (t->n == 0) {
		return t->min == LVC__BNIL && t->max == LVC__BNIL ? h : -1;
	}
	if (t->min != subtree_min(pool, t->root) || t->max != subtree_max(pool, t->root)) {
		return -1;
	}
	if (t->min_key != NODE(t->min)->key || t->max_key != NODE(t->max)->key) {
		return -1;
	}
	return h;
}
