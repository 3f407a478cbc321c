/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event-time merge (see merge.h). Lanes live in one array and are named by
 * index, so that a group is a short array of lane ids; each lane is a ring
 * of (ts_us, item) with a power-of-two capacity that doubles when full and
 * is kept when the lane empties, so the steady state allocates nothing.
 * Groups are indexed by their number (partition numbers are small and
 * dense). A pop scans the groups from a cursor that moves past the group
 * it released from, so groups take turns; inside a group it compares the
 * heads of its few lanes.
 *
 * Invariants: a lane's `since_us` is the time it last became empty or
 * changed state; each item keeps the time it was pushed. An empty lane
 * blocks a head for its limit counted from the later of the two, which is
 * all the idle rules need; `items` of a group and of the merge count the
 * queued items of their lanes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/merge.h"

typedef struct ent_s {
	int64_t ts_us;
	int64_t arrival_us; /* now_us of its push */
	void *item;
} ent_t;

typedef struct lane_s {
	ent_t *e;
	size_t cap; /* power of two, or 0 */
	size_t head;
	size_t n;
	uint32_t group;
	uint32_t klass;
	uint32_t order;
	lvc_lane_state_t state;
	int64_t since_us;
	int used;
	int next_free; /* free list of lane ids; -1 ends it */
} lane_t;

typedef struct group_s {
	int *lanes;
	size_t n;
	size_t cap;
	size_t items;
} group_t;

struct lvc_merge_s {
	int64_t max_idle_us;
	int64_t stall_us;
	lane_t *lanes;
	size_t lanes_n; /* ids handed out so far */
	size_t lanes_cap;
	int free_head;
	group_t *groups;
	size_t groups_n;
	size_t items;
	size_t cursor;
};

lvc_merge_t *lvc_merge_new(int64_t max_idle_us, int64_t stall_us)
{
	lvc_merge_t *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		return NULL;
	}
	m->max_idle_us = max_idle_us > 0 ? max_idle_us : 0;
	m->stall_us = stall_us;
	m->free_head = -1;
	return m;
}

void lvc_merge_destroy(lvc_merge_t *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->lanes_n; i++) {
		free(m->lanes[i].e);
	}
	for (size_t g = 0; g < m->groups_n; g++) {
		free(m->groups[g].lanes);
	}
	free(m->lanes);
	free(m->groups);
	free(m);
}

static group_t *get_group(lvc_merge_t *m, uint32_t group)
{
	if ((size_t)group >= m->groups_n) {
		size_t n = m->groups_n == 0 ? 8 : m->groups_n;
		group_t *gs;

		while (n <= (size_t)group) {
			n *= 2;
		}
		if ((gs = realloc(m->groups, n * sizeof(*gs))) == NULL) {
			return NULL;
		}
		memset(gs + m->groups_n, 0, (n - m->groups_n) * sizeof(*gs));
		m->groups = gs;
		m->groups_n = n;
	}
	return &m->groups[group];
}

lvc_err_t lvc_merge_lane_add(lvc_merge_t *m, uint32_t group, uint32_t klass, uint32_t order,
                             int64_t now_us, int *lane)
{
	group_t *g = get_group(m, group);
	lane_t *l;
	int id;

	if (g == NULL) {
		return LVC_ERR_NOMEM;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap == 0 ? 4 : g->cap * 2;
		int *ls = realloc(g->lanes, cap * sizeof(*ls));

		if (ls == NULL) {
			return LVC_ERR_NOMEM;
		}
		g->lanes = ls;
		g->cap = cap;
	}
	if (m->free_head >= 0) {
		id = m->free_head;
		m->free_head = m->lanes[id].next_free;
	} else {
		if (m->lanes_n == m->lanes_cap) {
			size_t cap = m->lanes_cap == 0 ? 16 : m->lanes_cap * 2;
			lane_t *ls = realloc(m->lanes, cap * sizeof(*ls));

			if (ls == NULL) {
				return LVC_ERR_NOMEM;
			}
			memset(ls + m->lanes_cap, 0, (cap - m->lanes_cap) * sizeof(*ls));
			m->lanes = ls;
			m->lanes_cap = cap;
		}
		id = (int)m->lanes_n++;
	}
	l = &m->lanes[id];
	/* A reused lane keeps its ring for the next owner. */
	l->head = 0;
	l->n = 0;
	l->group = group;
	l->klass = klass;
	l->order = order;
	l->state = LVC_LANE_FETCHING;
	l->since_us = now_us;
	l->used = 1;
	l->next_free = -1;
	g->lanes[g->n++] = id;
	*lane = id;
	return LVC_OK;
}

static lane_t *lane_of(const lvc_merge_t *m, int lane)
{
	if (lane < 0 || (size_t)lane >= m->lanes_n || !m->lanes[lane].used) {
		return NULL;
	}
	return &m->lanes[lane];
}

static void drain(lvc_merge_t *m, lane_t *l, lvc_merge_free_fn *fn, void *opaque)
{
	while (l->n > 0) {
		ent_t *e = &l->e[l->head];

		l->head = (l->head + 1) & (l->cap - 1);
		l->n--;
		m->items--;
		m->groups[l->group].items--;
		if (fn != NULL) {
			fn(opaque, e->item);
		}
	}
	l->head = 0;
}

void lvc_merge_lane_clear(lvc_merge_t *m, int lane, int64_t now_us, lvc_merge_free_fn *fn,
                          void *opaque)
{
	lane_t *l = lane_of(m, lane);

	if (l == NULL) {
		return;
	}
	drain(m, l, fn, opaque);
	l->state = LVC_LANE_FETCHING;
	l->since_us = now_us;
}

void lvc_merge_lane_remove(lvc_merge_t *m, int lane, lvc_merge_free_fn *fn, void *opaque)
{
	lane_t *l = lane_of(m, lane);
	group_t *g;

	if (l == NULL) {
		return;
	}
	drain(m, l, fn, opaque);
	g = &m->groups[l->group];
	for (size_t i = 0; i < g->n; i++) {
		if (g->lanes[i] == lane) {
			memmove(&g->lanes[i], &g->lanes[i + 1], (g->n - i - 1) * sizeof(int));
			g->n--;
			break;
		}
	}
	l->used = 0;
	l->next_free = m->free_head;
	m->free_head = lane;
}

lvc_err_t lvc_merge_push(lvc_merge_t *m, int lane, int64_t ts_us, void *item, int64_t now_us)
{
	lane_t *l = lane_of(m, lane);
	ent_t *e;

	if (l == NULL) {
		return LVC_ERR_INVALID;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 64 : l->cap * 2;
		ent_t *ne = malloc(cap * sizeof(*ne));

		if (ne == NULL) {
			return LVC_ERR_NOMEM;
		}
		for (size_t i = 0; i < l->n; i++) {
			ne[i] = l->e[(l->head + i) & (l->cap - 1)];
		}
		free(l->e);
		l->e = ne;
		l->cap = cap;
		l->head = 0;
	}
	e = &l->e[(l->head + l->n) & (l->cap - 1)];
	e->ts_us = ts_us;
	e->arrival_us = now_us;
	e->item = item;
	l->n++;
	m->items++;
	m->groups[l->group].items++;
	if (l->state == LVC_LANE_CAUGHT_UP) {
		l->state = LVC_LANE_FETCHING;
	}
	return LVC_OK;
}

void lvc_merge_lane_set(lvc_merge_t *m, int lane, lvc_lane_state_t state, int64_t now_us)
{
	lane_t *l = lane_of(m, lane);

	if (l != NULL && l->state != state) {
		l->state = state;
		l->since_us = now_us;
	}
}

lvc_lane_state_t lvc_merge_lane_state(const lvc_merge_t *m, int lane)
{
	const lane_t *l = lane_of(m, lane);

	return l != NULL ? l->state : LVC_LANE_ENDED;
}

size_t lvc_merge_lane_len(const lvc_merge_t *m, int lane)
{
	const lane_t *l = lane_of(m, lane);

	return l != NULL ? l->n : 0;
}

size_t lvc_merge_len(const lvc_merge_t *m)
{
	return m->items;
}

/* How long an empty lane blocks its group after since_us: -1 forever, 0
 * not at all. */
static int64_t block_for(const lvc_merge_t *m, const lane_t *l)
{
	switch (l->state) {
	case LVC_LANE_ENDED:
		return 0;
	case LVC_LANE_CAUGHT_UP:
		return m->max_idle_us;
	case LVC_LANE_FETCHING:
	default:
		return m->stall_us > 0 ? m->stall_us : -1;
	}
}

/* b - a < d without overflow, for a <= b (else: 1, time went back). */
static int within(int64_t a, int64_t b, int64_t d)
{
	return b < a || (uint64_t)b - (uint64_t)a < (uint64_t)d;
}

static int head_before(const lane_t *a, const lane_t *b)
{
	const ent_t *x = &a->e[a->head], *y = &b->e[b->head];

	if (x->ts_us != y->ts_us) {
		return x->ts_us < y->ts_us;
	}
	if (a->klass != b->klass) {
		return a->klass < b->klass;
	}
	return a->order < b->order;
}

/* The group's smallest head, or NULL when its lanes are empty. */
static lane_t *best_head(const lvc_merge_t *m, const group_t *g)
{
	lane_t *best = NULL;

	for (size_t i = 0; i < g->n; i++) {
		lane_t *l = &m->lanes[g->lanes[i]];

		if (l->n > 0 && (best == NULL || head_before(l, best))) {
			best = l;
		}
	}
	return best;
}

/* When an empty lane's wait for a head that arrived at arrival_us starts:
 * the later of the head's arrival and the lane's last change, so that a
 * burst on one topic after a quiet spell still waits for the other. */
static int64_t wait_from(const lane_t *l, int64_t arrival_us)
{
	return l->since_us > arrival_us ? l->since_us : arrival_us;
}

/* The lane whose head may leave group g at now_us, or NULL. */
static lane_t *releasable(const lvc_merge_t *m, const group_t *g, int64_t now_us)
{
	lane_t *best = best_head(m, g);
	int64_t arrival;

	if (best == NULL || best->e[best->head].ts_us == INT64_MIN) {
		return best;
	}
	arrival = best->e[best->head].arrival_us;
	for (size_t i = 0; i < g->n; i++) {
		const lane_t *l = &m->lanes[g->lanes[i]];
		int64_t d;

		if (l->n > 0) {
			continue;
		}
		d = block_for(m, l);
		if (d < 0 || (d > 0 && within(wait_from(l, arrival), now_us, d))) {
			return NULL;
		}
	}
	return best;
}

/* Takes the head of lane l of group gi into *out. */
static void take(lvc_merge_t *m, size_t gi, lane_t *l, int64_t now_us, lvc_merge_item_t *out)
{
	group_t *g = &m->groups[gi];
	ent_t *e = &l->e[l->head];

	out->item = e->item;
	out->ts_us = e->ts_us;
	out->lane = (int)(l - m->lanes);
	out->group = (uint32_t)gi;
	l->head = (l->head + 1) & (l->cap - 1);
	l->n--;
	g->items--;
	m->items--;
	if (l->n == 0) {
		l->head = 0;
		l->since_us = now_us;
	}
}

int lvc_merge_pop(lvc_merge_t *m, int64_t now_us, lvc_merge_item_t *out)
{
	if (m->items == 0) {
		return 0;
	}
	for (size_t k = 0; k < m->groups_n; k++) {
		size_t gi = (m->cursor + k) % m->groups_n;
		group_t *g = &m->groups[gi];
		lane_t *l;

		if (g->items == 0 || (l = releasable(m, g, now_us)) == NULL) {
			continue;
		}
		take(m, gi, l, now_us, out);
		m->cursor = gi + 1;
		return 1;
	}
	return 0;
}

int lvc_merge_pop_group_of(lvc_merge_t *m, int lane, int64_t now_us, lvc_merge_item_t *out)
{
	size_t gi;
	lane_t *l;

	if (lane < 0 || (size_t)lane >= m->lanes_n || !m->lanes[lane].used) {
		return 0;
	}
	gi = m->lanes[lane].group;
	if (gi >= m->groups_n || m->groups[gi].items == 0 ||
	    (l = releasable(m, &m->groups[gi], now_us)) == NULL) {
		return 0;
	}
	take(m, gi, l, now_us, out);
	return 1;
}

int64_t lvc_merge_deadline(const lvc_merge_t *m, int64_t now_us)
{
	int64_t best = INT64_MAX;

	for (size_t gi = 0; gi < m->groups_n; gi++) {
		const group_t *g = &m->groups[gi];
		int64_t until = INT64_MIN, arrival;
		int forever = 0;
		const lane_t *head;

		if (g->items == 0 || releasable(m, g, now_us) != NULL) {
			continue;
		}
		head = best_head(m, g);
		arrival = head->e[head->head].arrival_us;
		for (size_t i = 0; i < g->n && !forever; i++) {
			const lane_t *l = &m->lanes[g->lanes[i]];
			int64_t d, from;

			if (l->n > 0) {
				continue;
			}
			d = block_for(m, l);
			from = wait_from(l, arrival);
			if (d < 0) {
				forever = 1;
			} else if (d > 0) {
				int64_t t = from > INT64_MAX - d ? INT64_MAX : from + d;

				until = t > until ? t : until;
			}
		}
		if (!forever && until != INT64_MIN && until < best) {
			best = until;
		}
	}
	return best;
}
