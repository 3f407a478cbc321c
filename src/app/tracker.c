/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offset tracker for at-least-once output (see tracker.h). Per partition a
 * ring of entries indexed by the partition's own sequence number, which only
 * grows (resets move the base up to it), so a token
 * from before a reset (a late delivery report of a revoked partition) falls
 * below the ring's base and is ignored. Rings grow geometrically and are
 * reused; the steady state allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "app/tracker.h"

#define PART_BITS  22
#define INPUT_BITS 2
#define SEQ_SHIFT  (PART_BITS + INPUT_BITS)

typedef struct entry_s {
	int64_t offset;
	int32_t pending; /* outputs in flight */
	int32_t done;    /* processing finished */
} entry_t;

typedef struct ring_s {
	entry_t *e;
	size_t cap;    /* power of two */
	uint64_t base; /* seq of the head */
	uint64_t next; /* seq of the next entry */
} ring_t;

struct lvc_tracker_s {
	ring_t *rings[LVC_IN__COUNT];
	size_t rings_n[LVC_IN__COUNT];
	size_t pending;
	lvc_tracker_commit_fn *commit;
	void *opaque;
};

lvc_tracker_t *lvc_tracker_new(lvc_tracker_commit_fn *commit, void *opaque)
{
	lvc_tracker_t *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->commit = commit;
		t->opaque = opaque;
	}
	return t;
}

void lvc_tracker_destroy(lvc_tracker_t *t)
{
	if (t == NULL) {
		return;
	}
	for (int i = 0; i < LVC_IN__COUNT; i++) {
		for (size_t p = 0; p < t->rings_n[i]; p++) {
			free(t->rings[i][p].e);
		}
		free(t->rings[i]);
	}
	free(t);
}

static ring_t *get_ring(lvc_tracker_t *t, lvc_input_t input, int32_t partition, int create)
{
	if ((size_t)partition >= t->rings_n[input]) {
		size_t n = t->rings_n[input] == 0 ? 8 : t->rings_n[input];
		ring_t *r;

		if (!create) {
			return NULL;
		}
		while (n <= (size_t)partition) {
			n *= 2;
		}
		if ((r = realloc(t->rings[input], n * sizeof(*r))) == NULL) {
			return NULL;
		}
		memset(r + t->rings_n[input], 0, (n - t->rings_n[input]) * sizeof(*r));
		t->rings[input] = r;
		t->rings_n[input] = n;
	}
	return &t->rings[input][partition];
}

static entry_t *entry_of(ring_t *r, uint64_t seq)
{
	if (seq < r->base || seq >= r->next) {
		return NULL;
	}
	return &r->e[seq & (r->cap - 1)];
}

static int ring_grow(ring_t *r)
{
	size_t cap = r->cap == 0 ? 1024 : r->cap * 2;
	entry_t *e = malloc(cap * sizeof(*e));

	if (e == NULL) {
		return -1;
	}
	for (uint64_t s = r->base; s < r->next; s++) {
		e[s & (cap - 1)] = r->e[s & (r->cap - 1)];
	}
	free(r->e);
	r->e = e;
	r->cap = cap;
	return 0;
}

/* Pops the completed head entries and reports the new commit point. */
static void advance(lvc_tracker_t *t, ring_t *r, lvc_input_t input, int32_t partition)
{
	int64_t next_offset = -1;

	while (r->base < r->next) {
		entry_t *e = &r->e[r->base & (r->cap - 1)];

		if (!e->done || e->pending > 0) {
			break;
		}
		next_offset = e->offset + 1;
		r->base++;
		t->pending--;
	}
	if (next_offset >= 0 && t->commit != NULL) {
		t->commit(t->opaque, input, partition, next_offset);
	}
}

static int decode(lvc_tracker_t *t, void *tok, lvc_input_t *input, int32_t *partition, ring_t **r,
                  entry_t **e)
{
	uintptr_t v = (uintptr_t)tok;
	uint64_t seq;

	if (v == 0) {
		return -1;
	}
	*input = (lvc_input_t)(v & ((1u << INPUT_BITS) - 1));
	*partition = (int32_t)((v >> INPUT_BITS) & ((1u << PART_BITS) - 1));
	seq = (uint64_t)(v >> SEQ_SHIFT) - 1;
	if ((*r = get_ring(t, *input, *partition, 0)) == NULL) {
		return -1;
	}
	*e = entry_of(*r, seq);
	return *e == NULL ? -1 : 0;
}

void *lvc_tracker_begin(lvc_tracker_t *t, lvc_input_t input, int32_t partition, int64_t offset)
{
	ring_t *r;
	entry_t *e;
	uintptr_t tok;

	if (partition < 0 || partition >= (1 << PART_BITS) ||
	    (r = get_ring(t, input, partition, 1)) == NULL) {
		return NULL;
	}
	if (r->next - r->base == r->cap && ring_grow(r) != 0) {
		return NULL;
	}
	e = &r->e[r->next & (r->cap - 1)];
	e->offset = offset;
	e->pending = 0;
	e->done = 0;
	tok = ((uintptr_t)(r->next + 1) << SEQ_SHIFT) | ((uintptr_t)partition << INPUT_BITS) |
	      (uintptr_t)input;
	r->next++;
	t->pending++;
	return (void *)tok;
}

void lvc_tracker_add_output(lvc_tracker_t *t, void *tok)
{
	lvc_input_t input;
	int32_t partition;
	ring_t *r;
	entry_t *e;

	if (decode(t, tok, &input, &partition, &r, &e) == 0) {
		e->pending++;
	}
}

void lvc_tracker_end(lvc_tracker_t *t, void *tok)
{
	lvc_input_t input;
	int32_t partition;
	ring_t *r;
	entry_t *e;

	if (decode(t, tok, &input, &partition, &r, &e) == 0) {
		e->done = 1;
		advance(t, r, input, partition);
	}
}

void lvc_tracker_delivered(lvc_tracker_t *t, void *tok)
{
	lvc_input_t input;
	int32_t partition;
	ring_t *r;
	entry_t *e;

	if (decode(t, tok, &input, &partition, &r, &e) == 0 && e->pending > 0) {
		e->pending--;
		advance(t, r, input, partition);
	}
}

void lvc_tracker_reset(lvc_tracker_t *t, lvc_input_t input, int32_t partition)
{
	ring_t *r = get_ring(t, input, partition, 0);

	if (r == NULL) {
		return;
	}
	t->pending -= (size_t)(r->next - r->base);
	/* Keep the sequence going so that tokens issued before the reset stay
	 * below the base and are ignored. */
	r->base = r->next;
}

size_t lvc_tracker_pending(const lvc_tracker_t *t)
{
	return t->pending;
}
