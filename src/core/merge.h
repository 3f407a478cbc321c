/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event-time merge of co-partitioned inputs (SPEC §6), pure: no I/O and
 * no clock. Callers pass "now" (a monotonic time in microseconds) in, so
 * that the idle rules are data in tests.
 *
 * A merge holds groups (a partition number in the live stage; the whole
 * input in a topic replay), each with lanes: one FIFO queue per input
 * (a topic partition). Within a group items leave in event-time order:
 * the smallest head by (ts_us, lane class, lane order), then the order of
 * arrival within a lane (the offset order of a topic partition). The live
 * stage uses the classes of SPEC §6 (balances, positions, prices, trades).
 *
 * A head may leave only when no other lane of its group can still bring a
 * smaller one. Every lane of the group must therefore have a head, or be
 * empty and not blocking:
 *   ENDED      (replay: the lane reached its end offset) never blocks;
 *   CAUGHT_UP  (the lane read to the end of its log for now) blocks for
 *              max_idle_us;
 *   FETCHING   (more data is known to exist, or the lane is new) blocks
 *              until its data arrives, at most stall_us (<= 0: forever);
 * each counted from the later of the moment the head was pushed and the
 * moment the lane last emptied or changed state: a burst on one topic after
 * a quiet spell waits max_idle for the other topic's records of the same
 * moment, however long the other lane has been idle.
 * A head whose ts_us is INT64_MIN (an undecodable record: it has no event
 * time) leaves as soon as it is at the head of its lane, so poison never
 * stalls a partition.
 *
 * Items are opaque pointers owned by the caller; the merge never frees
 * them (lvc_merge_lane_clear() hands them back).
 *
 * Cost: push and pop are O(lanes of the group) (a few); memory grows
 * geometrically per lane and is reused, so the steady state allocates
 * nothing. Callers bound memory by pausing a lane's input while
 * lvc_merge_lane_len() is long.
 *
 * Thread rules: one thread at a time.
 */
#ifndef LVC_CORE_MERGE_H
#define LVC_CORE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct lvc_merge_s lvc_merge_t;

typedef enum lvc_lane_state_e {
	LVC_LANE_FETCHING,
	LVC_LANE_CAUGHT_UP,
	LVC_LANE_ENDED,
} lvc_lane_state_t;

/* One released item. */
typedef struct lvc_merge_item_s {
	void *item;
	int64_t ts_us;
	int lane;
	uint32_t group;
} lvc_merge_item_t;

/* Called with each item a clear hands back. */
typedef void(lvc_merge_free_fn)(void *opaque, void *item);

/* Creates an empty merge. max_idle_us >= 0 bounds the wait for a caught-up
 * lane, stall_us the wait for a fetching one (<= 0: no bound). NULL on
 * allocation failure. The caller owns the result. */
lvc_merge_t *lvc_merge_new(int64_t max_idle_us, int64_t stall_us);

/* Frees m; accepts NULL. Items still queued are not freed (clear the lanes
 * first when they own memory). */
void lvc_merge_destroy(lvc_merge_t *m);

/* Adds a lane to group with tie class klass and order (both: lower leaves
 * first at equal ts_us), in state FETCHING since now_us. Sets *lane to its
 * id (>= 0, reused after lvc_merge_lane_remove()). Returns LVC_OK or
 * LVC_ERR_NOMEM. */
lvc_err_t lvc_merge_lane_add(lvc_merge_t *m, uint32_t group, uint32_t klass, uint32_t order,
                             int64_t now_us, int *lane);

/* Hands every queued item of lane to fn (may be NULL) and removes the lane
 * from its group; the id becomes free. */
void lvc_merge_lane_remove(lvc_merge_t *m, int lane, lvc_merge_free_fn *fn, void *opaque);

/* Hands every queued item of lane to fn (may be NULL), in FIFO order, and
 * leaves the lane empty in state FETCHING since now_us (a rewind). */
void lvc_merge_lane_clear(lvc_merge_t *m, int lane, int64_t now_us, lvc_merge_free_fn *fn,
                          void *opaque);

/* Appends item with event time ts_us (INT64_MIN: none, see above) to lane.
 * A CAUGHT_UP lane becomes FETCHING (an item proves it was not at its
 * end); an ENDED lane stays ENDED. Returns LVC_OK or LVC_ERR_NOMEM (the
 * item is not queued). */
lvc_err_t lvc_merge_push(lvc_merge_t *m, int lane, int64_t ts_us, void *item, int64_t now_us);

/* Sets the state of lane at now_us. */
void lvc_merge_lane_set(lvc_merge_t *m, int lane, lvc_lane_state_t state, int64_t now_us);

/* The state of lane. */
lvc_lane_state_t lvc_merge_lane_state(const lvc_merge_t *m, int lane);

/* Items queued in lane. */
size_t lvc_merge_lane_len(const lvc_merge_t *m, int lane);

/* Items queued in all lanes. */
size_t lvc_merge_len(const lvc_merge_t *m);

/* Releases the next item that may leave at now_us into *out and returns 1;
 * returns 0 when no group may release one now. Groups take turns, one
 * item each, so that a partition with a backlog does not starve others. */
int lvc_merge_pop(lvc_merge_t *m, int64_t now_us, lvc_merge_item_t *out);

/* As lvc_merge_pop(), from the group of lane only (its order is the same:
 * groups are independent). A push into a lane can make only its own group
 * releasable, so this is what a caller that pops after every push needs,
 * without looking at every other group each time. Does not move the
 * groups' turn. */
int lvc_merge_pop_group_of(lvc_merge_t *m, int lane, int64_t now_us, lvc_merge_item_t *out);

/* The earliest time at which a group that holds items but is blocked now
 * may release one because a blocking lane times out; INT64_MAX when no
 * timeout would release anything (nothing queued, or only lanes that
 * block without bound). */
int64_t lvc_merge_deadline(const lvc_merge_t *m, int64_t now_us);

#endif
