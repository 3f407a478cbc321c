/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book's storage: a slab pool of 64-byte position records named
 * by 32-bit indices, and B+trees of (key, index) entries whose 1040-byte
 * nodes come from a second slab pool. Entries are ordered by key, ties by
 * index, so that the order is total and removal finds its entry exactly.
 *
 * Invariants of a tree: every leaf is at depth height - 1 and holds 1..64
 * entries in order; leaves are doubly linked in order from t->first to
 * t->last; an inner node holds 1..64 children, and every entry under
 * child[j] is >= (key[j], id[j]) for j >= 1 and < (key[j + 1], id[j + 1]).
 * Separators are lower bounds that may be stale after removals, which the
 * descent tolerates. A node is freed when it becomes empty and never merged
 * (free-at-empty), and a root with one child is replaced by that child.
 * t->min_key / t->max_key are the first and last key. Load: a million
 * entries per book; O(log_64 n) nodes per insert or removal (four or five
 * at a million), O(1) to read either end. Inserting past the last entry of
 * the last leaf (or before the first) starts a new leaf instead of halving
 * the full one, so that trees built in order are full.
 */
#include <stdlib.h>
#include <string.h>

#include "core/book_int.h"

#define NODE(i)     lvc__bpos(pool, (i))
#define BN(i)       lvc__bnode(np, (i))
#define NSLAB_SHIFT 8
#define NSLAB_SIZE  (1u << NSLAB_SHIFT)
#define MAX_HEIGHT  12 /* 64^12 entries: never reached */

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
	/* Record 0 means "none": take it and do not count it. */
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

lvc_err_t lvc__bnpool_init(lvc__bnpool_t *np)
{
	memset(np, 0, sizeof(*np));
	np->slabs_cap = 4;
	np->slabs = calloc(np->slabs_cap, sizeof(*np->slabs));
	if (np->slabs == NULL) {
		return LVC_ERR_NOMEM;
	}
	np->bytes = np->slabs_cap * sizeof(*np->slabs);
	return LVC_OK;
}

void lvc__bnpool_destroy(lvc__bnpool_t *np)
{
	if (np->slabs == NULL) {
		return;
	}
	for (size_t i = 0; i < np->slabs_n; i++) {
		free(np->slabs[i]);
	}
	free(np->slabs);
	memset(np, 0, sizeof(*np));
}

/* Makes sure k nodes can be taken without failing, so that a split never
 * stops halfway. */
static lvc_err_t np_reserve(lvc__bnpool_t *np, size_t k)
{
	while (np->free_n < k) {
		lvc__bnode_t *slab;
		uint32_t base;

		if (np->slabs_n == np->slabs_cap) {
			size_t cap = np->slabs_cap * 2;
			lvc__bnode_t **s = realloc(np->slabs, cap * sizeof(*s));

			if (s == NULL) {
				return LVC_ERR_NOMEM;
			}
			np->bytes += (cap - np->slabs_cap) * sizeof(*s);
			np->slabs = s;
			np->slabs_cap = cap;
		}
		if (np->slabs_n >= (UINT32_MAX >> NSLAB_SHIFT)) {
			return LVC_ERR_RANGE;
		}
		slab = malloc(NSLAB_SIZE * sizeof(*slab));
		if (slab == NULL) {
			return LVC_ERR_NOMEM;
		}
		np->bytes += NSLAB_SIZE * sizeof(*slab);
		base = (uint32_t)(np->slabs_n << NSLAB_SHIFT);
		np->slabs[np->slabs_n++] = slab;
		/* Node 0 stays unused: it means "none". */
		for (uint32_t i = NSLAB_SIZE; i-- > (base == 0 ? 1u : 0u);) {
			slab[i].next = np->free_head;
			np->free_head = base + i;
			np->free_n++;
		}
	}
	return LVC_OK;
}

static uint32_t np_take(lvc__bnpool_t *np, int leaf)
{
	uint32_t id = np->free_head;
	lvc__bnode_t *nd = BN(id);

	np->free_head = nd->next;
	np->free_n--;
	np->used++;
	nd->n = 0;
	nd->leaf = (uint16_t)leaf;
	nd->prev = 0;
	nd->next = 0;
	return id;
}

static void np_give(lvc__bnpool_t *np, uint32_t id)
{
	BN(id)->next = np->free_head;
	np->free_head = id;
	np->free_n++;
	np->used--;
}

void lvc__btree_init(lvc__btree_t *t)
{
	memset(t, 0, sizeof(*t));
}

/* (ka, ia) < (kb, ib) */
static int ent_lt(double ka, uint32_t ia, double kb, uint32_t ib)
{
	return ka < kb || (ka == kb && ia < ib);
}

/* In an inner node: the child whose range holds (k, i), i.e. the largest j
 * with j == 0 or separator j <= (k, i). */
static uint32_t child_for(const lvc__bnode_t *nd, double k, uint32_t i)
{
	uint32_t lo = 1;
	uint32_t hi = nd->n; /* first separator > (k, i) is in [lo, hi] */

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (ent_lt(k, i, nd->key[mid], nd->id[mid])) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo - 1;
}

/* In a leaf: the first slot whose entry is >= (k, i). */
static uint32_t slot_for(const lvc__bnode_t *nd, double k, uint32_t i)
{
	uint32_t lo = 0;
	uint32_t hi = nd->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (ent_lt(nd->key[mid], nd->id[mid], k, i)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static void ends_update(const lvc__bnpool_t *np, lvc__btree_t *t)
{
	if (t->n == 0) {
		t->min_key = 0.0;
		t->max_key = 0.0;
		return;
	}
	t->min_key = BN(t->first)->key[0];
	t->max_key = BN(t->last)->key[BN(t->last)->n - 1];
}

/* Opens slot s of node nd (n < FAN) and writes the entry there. */
static void node_put(lvc__bnode_t *nd, uint32_t s, double k, uint32_t i, uint32_t child)
{
	uint32_t m = nd->n - s;

	memmove(&nd->key[s + 1], &nd->key[s], m * sizeof(nd->key[0]));
	memmove(&nd->id[s + 1], &nd->id[s], m * sizeof(nd->id[0]));
	if (!nd->leaf) {
		memmove(&nd->child[s + 1], &nd->child[s], m * sizeof(nd->child[0]));
		nd->child[s] = child;
	}
	nd->key[s] = k;
	nd->id[s] = i;
	nd->n++;
}

/* Closes slot s of node nd. */
static void node_cut(lvc__bnode_t *nd, uint32_t s)
{
	uint32_t m = nd->n - s - 1;

	memmove(&nd->key[s], &nd->key[s + 1], m * sizeof(nd->key[0]));
	memmove(&nd->id[s], &nd->id[s + 1], m * sizeof(nd->id[0]));
	if (!nd->leaf) {
		memmove(&nd->child[s], &nd->child[s + 1], m * sizeof(nd->child[0]));
	}
	nd->n--;
}

/* Moves slots [from, n) of a into the empty node b. */
static void node_move_tail(lvc__bnode_t *a, lvc__bnode_t *b, uint32_t from)
{
	uint32_t m = a->n - from;

	memcpy(b->key, &a->key[from], m * sizeof(a->key[0]));
	memcpy(b->id, &a->id[from], m * sizeof(a->id[0]));
	if (!a->leaf) {
		memcpy(b->child, &a->child[from], m * sizeof(a->child[0]));
	}
	b->n = (uint16_t)m;
	a->n = (uint16_t)from;
}

lvc_err_t lvc__btree_insert(lvc__bnpool_t *np, lvc__btree_t *t, double k, uint32_t i)
{
	uint32_t path[MAX_HEIGHT];
	uint32_t slot[MAX_HEIGHT];
	uint32_t node;
	uint32_t s;
	uint32_t up_child = 0;
	double up_key = 0.0;
	uint32_t up_id = 0;
	lvc__bnode_t *nd;
	lvc_err_t err;
	int level;

	if (t->height + 1 >= MAX_HEIGHT) {
		return LVC_ERR_RANGE;
	}
	err = np_reserve(np, t->height + 2);
	if (err != LVC_OK) {
		return err;
	}
	if (t->root == 0) {
		t->root = np_take(np, 1);
		t->first = t->root;
		t->last = t->root;
		t->height = 1;
	}
	node = t->root;
	for (level = 0; level + 1 < (int)t->height; level++) {
		path[level] = node;
		slot[level] = child_for(BN(node), k, i);
		node = BN(node)->child[slot[level]];
	}
	nd = BN(node);
	s = slot_for(nd, k, i);
	if (nd->n < LVC__BT_FAN) {
		node_put(nd, s, k, i, 0);
		t->n++;
		ends_update(np, t);
		return LVC_OK;
	}

	/* Split the full leaf. At either end of the tree the new entry starts a
	 * leaf of its own (sequential builds stay full); elsewhere halve. */
	{
		uint32_t r = np_take(np, 1);
		lvc__bnode_t *rn = BN(r);

		if (s == nd->n && node == t->last) {
			node_put(rn, 0, k, i, 0);
		} else if (s == 0 && node == t->first) {
			/* The new leaf goes to the left: move everything right. */
			node_move_tail(nd, rn, 0);
			node_put(nd, 0, k, i, 0);
		} else {
			node_move_tail(nd, rn, LVC__BT_FAN / 2);
			if (s <= LVC__BT_FAN / 2) {
				node_put(nd, s, k, i, 0);
			} else {
				node_put(rn, s - LVC__BT_FAN / 2, k, i, 0);
			}
		}
		rn->prev = node;
		rn->next = nd->next;
		if (nd->next != 0) {
			BN(nd->next)->prev = r;
		} else {
			t->last = r;
		}
		nd->next = r;
		up_child = r;
		up_key = rn->key[0];
		up_id = rn->id[0];
	}

	/* Insert the separator of the new right node into the parents. */
	for (level = (int)t->height - 2; level >= 0; level--) {
		lvc__bnode_t *pn = BN(path[level]);
		uint32_t ps = slot[level] + 1;

		if (pn->n < LVC__BT_FAN) {
			node_put(pn, ps, up_key, up_id, up_child);
			up_child = 0;
			break;
		}
		{
			uint32_t q = np_take(np, 0);
			lvc__bnode_t *qn = BN(q);
			uint32_t half = LVC__BT_FAN / 2;

			node_move_tail(pn, qn, half);
			if (ps <= half) {
				node_put(pn, ps, up_key, up_id, up_child);
			} else {
				node_put(qn, ps - half, up_key, up_id, up_child);
			}
			up_child = q;
			up_key = qn->key[0];
			up_id = qn->id[0];
		}
	}
	if (up_child != 0) {
		/* The root split: a new root above both halves. */
		uint32_t nr = np_take(np, 0);
		lvc__bnode_t *rn = BN(nr);

		rn->n = 2;
		rn->child[0] = t->root;
		rn->key[0] = 0.0;
		rn->id[0] = 0;
		rn->child[1] = up_child;
		rn->key[1] = up_key;
		rn->id[1] = up_id;
		t->root = nr;
		t->height++;
	}
	t->n++;
	ends_update(np, t);
	return LVC_OK;
}

int lvc__btree_remove(lvc__bnpool_t *np, lvc__btree_t *t, double k, uint32_t i)
{
	uint32_t path[MAX_HEIGHT];
	uint32_t slot[MAX_HEIGHT];
	uint32_t node;
	uint32_t s;
	lvc__bnode_t *nd;
	int level;

	if (t->root == 0) {
		return 0;
	}
	node = t->root;
	for (level = 0; level + 1 < (int)t->height; level++) {
		path[level] = node;
		slot[level] = child_for(BN(node), k, i);
		node = BN(node)->child[slot[level]];
	}
	nd = BN(node);
	s = slot_for(nd, k, i);
	if (s >= nd->n || nd->key[s] != k || nd->id[s] != i) {
		return 0;
	}
	node_cut(nd, s);
	t->n--;
	if (nd->n == 0) {
		/* Free the empty leaf, then every ancestor left without children. */
		if (nd->prev != 0) {
			BN(nd->prev)->next = nd->next;
		} else {
			t->first = nd->next;
		}
		if (nd->next != 0) {
			BN(nd->next)->prev = nd->prev;
		} else {
			t->last = nd->prev;
		}
		np_give(np, node);
		for (level = (int)t->height - 2; level >= 0; level--) {
			lvc__bnode_t *pn = BN(path[level]);

			node_cut(pn, slot[level]);
			if (pn->n > 0) {
				break;
			}
			np_give(np, path[level]);
		}
		if (t->n == 0) {
			lvc__btree_init(t);
			return 1;
		}
		while (t->height > 1 && BN(t->root)->n == 1) {
			uint32_t old = t->root;

			t->root = BN(old)->child[0];
			np_give(np, old);
			t->height--;
		}
	}
	ends_update(np, t);
	return 1;
}

static void clear_node(lvc__bnpool_t *np, uint32_t node, uint32_t height)
{
	if (height > 1) {
		for (uint32_t j = 0; j < BN(node)->n; j++) {
			clear_node(np, BN(node)->child[j], height - 1);
		}
	}
	np_give(np, node);
}

void lvc__btree_clear(lvc__bnpool_t *np, lvc__btree_t *t)
{
	if (t->root != 0) {
		clear_node(np, t->root, t->height);
	}
	lvc__btree_init(t);
}

lvc__bcur_t lvc__btree_first(const lvc__bnpool_t *np, const lvc__btree_t *t)
{
	lvc__bcur_t c = { t->first, 0 };

	(void)np;
	return c;
}

lvc__bcur_t lvc__btree_last(const lvc__bnpool_t *np, const lvc__btree_t *t)
{
	lvc__bcur_t c = { t->last, 0 };

	if (t->last != 0) {
		c.pos = BN(t->last)->n - 1u;
	}
	return c;
}

void lvc__btree_next(const lvc__bnpool_t *np, lvc__bcur_t *c)
{
	if (c->pos + 1 < BN(c->leaf)->n) {
		c->pos++;
		return;
	}
	c->leaf = BN(c->leaf)->next;
	c->pos = 0;
}

void lvc__btree_prev(const lvc__bnpool_t *np, lvc__bcur_t *c)
{
	if (c->pos > 0) {
		c->pos--;
		return;
	}
	c->leaf = BN(c->leaf)->prev;
	c->pos = c->leaf != 0 ? BN(c->leaf)->n - 1u : 0;
}

/* Checks the subtree at node (entries within [lo, hi) when bounded);
 * counts entries into *n and collects leaves in order into leaves[]. */
static int check_node(const lvc__bnpool_t *np, uint32_t node, uint32_t height, int has_lo,
                      double lk, uint32_t li, int has_hi, double hk, uint32_t hi, uint32_t *n,
                      uint32_t *leaves, uint32_t *nleaves, uint32_t cap)
{
	const lvc__bnode_t *nd = BN(node);

	if (nd->n == 0 || nd->n > LVC__BT_FAN || (nd->leaf != 0) != (height == 1)) {
		return -1;
	}
	if (height == 1) {
		for (uint32_t s = 0; s < nd->n; s++) {
			if (s > 0 &&
			    !ent_lt(nd->key[s - 1], nd->id[s - 1], nd->key[s], nd->id[s])) {
				return -1;
			}
			if ((has_lo && ent_lt(nd->key[s], nd->id[s], lk, li)) ||
			    (has_hi && !ent_lt(nd->key[s], nd->id[s], hk, hi))) {
				return -1;
			}
		}
		*n += nd->n;
		if (*nleaves >= cap) {
			return -1;
		}
		leaves[(*nleaves)++] = node;
		return 0;
	}
	for (uint32_t j = 0; j < nd->n; j++) {
		int clo = j > 0 || has_lo;
		double ck = j > 0 ? nd->key[j] : lk;
		uint32_t ci = j > 0 ? nd->id[j] : li;
		int chi = j + 1 < nd->n || has_hi;
		double dk = j + 1 < nd->n ? nd->key[j + 1] : hk;
		uint32_t di = j + 1 < nd->n ? nd->id[j + 1] : hi;

		if (j > 1 && !ent_lt(nd->key[j - 1], nd->id[j - 1], nd->key[j], nd->id[j])) {
			return -1;
		}
		if (check_node(np, nd->child[j], height - 1, clo, ck, ci, chi, dk, di, n, leaves,
		               nleaves, cap) != 0) {
			return -1;
		}
	}
	return 0;
}

int lvc__btree_check(const lvc__bnpool_t *np, const lvc__btree_t *t)
{
	uint32_t leaves[4096];
	uint32_t nleaves = 0;
	uint32_t n = 0;

	if (t->root == 0) {
		return t->n == 0 && t->first == 0 && t->last == 0 ? 0 : -1;
	}
	if (check_node(np, t->root, t->height, 0, 0.0, 0, 0, 0.0, 0, &n, leaves, &nleaves, 4096) !=
	        0 ||
	    n != t->n) {
		return -1;
	}
	if (t->height > 1 && BN(t->root)->n < 2) {
		return -1;
	}
	if (t->first != leaves[0] || t->last != leaves[nleaves - 1]) {
		return -1;
	}
	for (uint32_t k = 0; k < nleaves; k++) {
		if (BN(leaves[k])->prev != (k > 0 ? leaves[k - 1] : 0u) ||
		    BN(leaves[k])->next != (k + 1 < nleaves ? leaves[k + 1] : 0u)) {
			return -1;
		}
	}
	if (t->min_key != BN(t->first)->key[0] ||
	    t->max_key != BN(t->last)->key[BN(t->last)->n - 1]) {
		return -1;
	}
	return 0;
}
