/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event-time merge (core/merge.h): order, SPEC §6 ties, the idle rules
 * with "now" passed in as data, poison heads, group turns, rewinds, lane
 * reuse, deadlines, and a differential check against a sort.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/merge.h"

#define MS INT64_C(1000)

/* Tie classes as the stage uses them. */
enum { BAL, POS, PRI, TRA };

static int ids[4096];

static void *tag(int i)
{
	ids[i] = i;
	return &ids[i];
}

static int untag(void *p)
{
	return *(int *)p;
}

static int pop(lvc_merge_t *m, int64_t now)
{
	lvc_merge_item_t it;

	return lvc_merge_pop(m, now, &it) ? untag(it.item) : -1;
}

static int add(lvc_merge_t *m, uint32_t group, uint32_t klass, uint32_t order, int64_t now)
{
	int lane = -1;

	cr_assert_eq(lvc_merge_lane_add(m, group, klass, order, now, &lane), LVC_OK);
	return lane;
}

Test(merge, releases_heads_in_event_time_order_across_lanes)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	lvc_merge_push(m, tr, 10, tag(1), 0);
	lvc_merge_push(m, tr, 30, tag(3), 0);
	lvc_merge_push(m, pr, 20, tag(2), 0);
	lvc_merge_push(m, pr, 40, tag(4), 0);
	lvc_merge_lane_set(m, tr, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_ENDED, 0);
	for (int i = 1; i <= 4; i++) {
		cr_assert_eq(pop(m, 0), i);
	}
	cr_assert_eq(pop(m, 0), -1);
	cr_assert_eq(lvc_merge_len(m), 0);
	lvc_merge_destroy(m);
}

Test(merge, breaks_ties_by_balances_positions_prices_trades_then_arrival)
{
	lvc_merge_t *m = lvc_merge_new(0, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);
	int po = add(m, 0, POS, 0, 0), ba = add(m, 0, BAL, 0, 0);

	lvc_merge_push(m, tr, 5, tag(6), 0);
	lvc_merge_push(m, tr, 5, tag(7), 0);
	lvc_merge_push(m, pr, 5, tag(4), 0);
	lvc_merge_push(m, pr, 5, tag(5), 0);
	lvc_merge_push(m, po, 5, tag(3), 0);
	lvc_merge_push(m, ba, 5, tag(1), 0);
	lvc_merge_push(m, ba, 5, tag(2), 0);
	lvc_merge_lane_set(m, tr, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, po, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, ba, LVC_LANE_ENDED, 0);
	for (int i = 1; i <= 7; i++) {
		cr_assert_eq(pop(m, 0), i, "tie order: item %d", i);
	}
	lvc_merge_destroy(m);
}

Test(merge, lanes_of_one_class_are_ordered_by_their_order)
{
	lvc_merge_t *m = lvc_merge_new(0, 0);
	int b = add(m, 0, TRA, 2, 0), a = add(m, 0, TRA, 1, 0);

	lvc_merge_push(m, b, 9, tag(2), 0);
	lvc_merge_push(m, a, 9, tag(1), 0);
	lvc_merge_lane_set(m, a, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, b, LVC_LANE_ENDED, 0);
	cr_assert_eq(pop(m, 0), 1);
	cr_assert_eq(pop(m, 0), 2);
	lvc_merge_destroy(m);
}

Test(merge, waits_without_bound_for_a_lane_that_is_still_fetching)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0);

	(void)add(m, 0, PRI, 0, 0);
	lvc_merge_push(m, tr, 10, tag(1), 0);
	cr_assert_eq(pop(m, 0), -1);
	cr_assert_eq(pop(m, INT64_C(3600000) * MS), -1, "a fetching lane has data coming");
	cr_assert_eq(lvc_merge_deadline(m, 0), INT64_MAX);
	lvc_merge_destroy(m);
}

Test(merge, a_stalled_fetching_lane_blocks_at_most_stall_us)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 2000 * MS);
	int tr = add(m, 0, TRA, 0, 0);

	(void)add(m, 0, PRI, 0, 100 * MS);
	lvc_merge_push(m, tr, 10, tag(1), 100 * MS);
	cr_assert_eq(pop(m, 2099 * MS), -1);
	cr_assert_eq(lvc_merge_deadline(m, 2099 * MS), 2100 * MS);
	cr_assert_eq(pop(m, 2100 * MS), 1);
	lvc_merge_destroy(m);
}

Test(merge, waits_at_most_max_idle_for_a_caught_up_lane)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	lvc_merge_push(m, tr, 10, tag(1), 0);
	lvc_merge_push(m, tr, 11, tag(2), 0);
	/* prices read to the end of its log at t = 1000 ms */
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 1000 * MS);
	cr_assert_eq(pop(m, 1049 * MS), -1);
	cr_assert_eq(lvc_merge_deadline(m, 1049 * MS), 1050 * MS);
	cr_assert_eq(pop(m, 1050 * MS), 1);
	cr_assert_eq(pop(m, 1050 * MS), 2, "the idle lane stays idle");
	lvc_merge_destroy(m);
}

Test(merge, a_tick_arriving_within_max_idle_goes_first)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	lvc_merge_push(m, tr, 10, tag(2), 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 0);
	cr_assert_eq(pop(m, 20 * MS), -1);
	lvc_merge_push(m, pr, 9, tag(1), 30 * MS);
	cr_assert_eq(lvc_merge_lane_state(m, pr), LVC_LANE_FETCHING,
	             "an item proves the lane was not at its end");
	cr_assert_eq(pop(m, 30 * MS), 1);
	/* prices is empty again and fetching: trades waits for it */
	cr_assert_eq(pop(m, 30 * MS), -1);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 40 * MS);
	cr_assert_eq(pop(m, 89 * MS), -1);
	cr_assert_eq(pop(m, 90 * MS), 2);
	lvc_merge_destroy(m);
}

Test(merge, the_idle_clock_starts_when_the_lane_empties)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	lvc_merge_push(m, pr, 1, tag(1), 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 0);
	lvc_merge_lane_set(m, tr, LVC_LANE_CAUGHT_UP, 0);
	lvc_merge_push(m, tr, 5, tag(2), 0);
	lvc_merge_lane_set(m, tr, LVC_LANE_CAUGHT_UP, 0);
	cr_assert_eq(pop(m, 500 * MS), 1, "both lanes have heads");
	/* prices emptied at 500 ms: trades waits until 550 ms */
	cr_assert_eq(pop(m, 549 * MS), -1);
	cr_assert_eq(pop(m, 550 * MS), 2);
	lvc_merge_destroy(m);
}

Test(merge, a_burst_after_a_quiet_spell_waits_max_idle_for_the_other_topic)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	/* Both lanes caught up long ago; then trades of a new second arrive
	 * first, their prices 30 ms later. */
	lvc_merge_lane_set(m, tr, LVC_LANE_CAUGHT_UP, 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 0);
	lvc_merge_push(m, tr, 2000, tag(2), 10000 * MS);
	cr_assert_eq(pop(m, 10000 * MS), -1, "the idle lane's old quiet does not count");
	cr_assert_eq(lvc_merge_deadline(m, 10000 * MS), 10050 * MS);
	lvc_merge_push(m, pr, 1000, tag(1), 10030 * MS);
	cr_assert_eq(pop(m, 10030 * MS), 1);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 10030 * MS);
	cr_assert_eq(pop(m, 10079 * MS), -1);
	cr_assert_eq(pop(m, 10080 * MS), 2);
	lvc_merge_destroy(m);
}

Test(merge, an_ended_lane_never_blocks)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0);

	lvc_merge_push(m, tr, 10, tag(1), 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_ENDED, 0);
	cr_assert_eq(pop(m, 0), 1);
	lvc_merge_push(m, pr, 3, tag(2), 0);
	cr_assert_eq(lvc_merge_lane_state(m, pr), LVC_LANE_ENDED);
	lvc_merge_destroy(m);
}

Test(merge, an_undecodable_head_leaves_without_waiting)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0);

	(void)add(m, 0, PRI, 0, 0);
	lvc_merge_push(m, tr, INT64_MIN, tag(1), 0);
	lvc_merge_push(m, tr, 10, tag(2), 0);
	cr_assert_eq(pop(m, 0), 1, "poison does not wait for the fetching lane");
	cr_assert_eq(pop(m, 0), -1, "a real tick does");
	lvc_merge_destroy(m);
}

Test(merge, an_undecodable_record_keeps_its_place_in_its_lane)
{
	lvc_merge_t *m = lvc_merge_new(0, 0);
	int tr = add(m, 0, TRA, 0, 0);

	lvc_merge_push(m, tr, 10, tag(1), 0);
	lvc_merge_push(m, tr, INT64_MIN, tag(2), 0);
	lvc_merge_push(m, tr, 11, tag(3), 0);
	lvc_merge_lane_set(m, tr, LVC_LANE_ENDED, 0);
	for (int i = 1; i <= 3; i++) {
		cr_assert_eq(pop(m, 0), i);
	}
	lvc_merge_destroy(m);
}

Test(merge, groups_take_turns_and_do_not_wait_for_each_other)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int a = add(m, 0, TRA, 0, 0), b = add(m, 1, TRA, 0, 0);
	lvc_merge_item_t it;

	(void)add(m, 1, PRI, 0, 0); /* group 1 waits for its prices */
	for (int i = 0; i < 3; i++) {
		lvc_merge_push(m, a, 100 + i, tag(i), 0);
		lvc_merge_push(m, b, i, tag(10 + i), 0);
	}
	lvc_merge_lane_set(m, a, LVC_LANE_ENDED, 0);
	for (int i = 0; i < 3; i++) {
		cr_assert(lvc_merge_pop(m, 0, &it));
		cr_assert_eq(it.group, 0);
		cr_assert_eq(untag(it.item), i);
		cr_assert_eq(it.lane, a);
		cr_assert_eq(it.ts_us, 100 + i);
	}
	cr_assert_eq(pop(m, 0), -1);
	cr_assert_eq(lvc_merge_lane_len(m, b), 3);
	lvc_merge_destroy(m);
}

Test(merge, groups_with_backlogs_alternate)
{
	lvc_merge_t *m = lvc_merge_new(0, 0);
	int a = add(m, 0, TRA, 0, 0), b = add(m, 1, TRA, 0, 0);
	lvc_merge_item_t it;

	for (int i = 0; i < 4; i++) {
		lvc_merge_push(m, a, i, tag(i), 0);
		lvc_merge_push(m, b, i, tag(10 + i), 0);
	}
	lvc_merge_lane_set(m, a, LVC_LANE_ENDED, 0);
	lvc_merge_lane_set(m, b, LVC_LANE_ENDED, 0);
	for (int i = 0; i < 8; i++) {
		cr_assert(lvc_merge_pop(m, 0, &it));
		cr_assert_eq(it.group, (uint32_t)(i % 2), "pop %d came from group %u", i, it.group);
	}
	lvc_merge_destroy(m);
}

static int freed[64];
static int freed_n;

static void on_free(void *opaque, void *item)
{
	(void)opaque;
	freed[freed_n++] = untag(item);
}

Test(merge, clear_hands_items_back_in_fifo_order_and_rewinds_the_lane)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0);

	freed_n = 0;
	for (int i = 0; i < 5; i++) {
		lvc_merge_push(m, tr, 5 - i, tag(i), 0);
	}
	lvc_merge_lane_set(m, tr, LVC_LANE_CAUGHT_UP, 0);
	lvc_merge_lane_clear(m, tr, 7, on_free, NULL);
	cr_assert_eq(freed_n, 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(freed[i], i);
	}
	cr_assert_eq(lvc_merge_len(m), 0);
	cr_assert_eq(lvc_merge_lane_state(m, tr), LVC_LANE_FETCHING);
	lvc_merge_push(m, tr, 1, tag(9), 8);
	lvc_merge_lane_set(m, tr, LVC_LANE_ENDED, 8);
	cr_assert_eq(pop(m, 8), 9);
	lvc_merge_destroy(m);
}

Test(merge, a_removed_lane_frees_its_items_and_its_id_is_reused)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 3, TRA, 0, 0), pr = add(m, 3, PRI, 0, 0);
	int again;

	freed_n = 0;
	lvc_merge_push(m, pr, 1, tag(1), 0);
	lvc_merge_push(m, tr, 2, tag(2), 0);
	lvc_merge_lane_remove(m, pr, on_free, NULL);
	cr_assert_eq(freed_n, 1);
	cr_assert_eq(freed[0], 1);
	/* the group now has only trades, which is not blocked by anything */
	lvc_merge_lane_set(m, tr, LVC_LANE_CAUGHT_UP, 0);
	cr_assert_eq(pop(m, 0), 2);
	again = add(m, 3, PRI, 0, 0);
	cr_assert_eq(again, pr);
	cr_assert_eq(lvc_merge_lane_len(m, again), 0);
	cr_assert_eq(lvc_merge_push(m, pr, 1, tag(3), 0), LVC_OK);
	lvc_merge_lane_remove(m, pr, NULL, NULL);
	cr_assert_eq(lvc_merge_push(m, pr, 1, tag(3), 0), LVC_ERR_INVALID);
	lvc_merge_destroy(m);
}

Test(merge, a_lane_grows_past_its_first_ring_and_keeps_fifo_order)
{
	lvc_merge_t *m = lvc_merge_new(0, 0);
	int tr = add(m, 0, TRA, 0, 0);

	/* Interleave pushes and pops so that the ring wraps before it grows. */
	for (int i = 0; i < 40; i++) {
		lvc_merge_push(m, tr, i, tag(i), 0);
	}
	lvc_merge_lane_set(m, tr, LVC_LANE_ENDED, 0);
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(pop(m, 0), i);
	}
	for (int i = 40; i < 3000; i++) {
		cr_assert_eq(lvc_merge_push(m, tr, i, tag(i), 0), LVC_OK);
	}
	cr_assert_eq(lvc_merge_lane_len(m, tr), 2970);
	for (int i = 30; i < 3000; i++) {
		cr_assert_eq(pop(m, 0), i);
	}
	lvc_merge_destroy(m);
}

Test(merge, deadline_is_the_latest_timeout_of_the_blocking_lanes)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int tr = add(m, 0, TRA, 0, 0), pr = add(m, 0, PRI, 0, 0), po = add(m, 0, POS, 0, 0);

	lvc_merge_push(m, tr, 10, tag(1), 0);
	lvc_merge_lane_set(m, pr, LVC_LANE_CAUGHT_UP, 100 * MS);
	lvc_merge_lane_set(m, po, LVC_LANE_CAUGHT_UP, 120 * MS);
	cr_assert_eq(lvc_merge_deadline(m, 100 * MS), 170 * MS);
	cr_assert_eq(pop(m, 169 * MS), -1);
	cr_assert_eq(pop(m, 170 * MS), 1);
	cr_assert_eq(lvc_merge_deadline(m, 170 * MS), INT64_MAX, "nothing queued");
	lvc_merge_destroy(m);
}

/* Differential: random lanes, pushes and pops with every lane ended; the
 * released sequence is the stable sort of all items by (ts, class,
 * order), and within a lane the push order. */
typedef struct ref_s {
	int64_t ts;
	uint32_t klass, order;
	int seq; /* global push order */
	int id;
} ref_t;

static int ref_cmp(const void *a, const void *b)
{
	const ref_t *x = a, *y = b;

	if (x->ts != y->ts) {
		return x->ts < y->ts ? -1 : 1;
	}
	if (x->klass != y->klass) {
		return x->klass < y->klass ? -1 : 1;
	}
	if (x->order != y->order) {
		return x->order < y->order ? -1 : 1;
	}
	return x->seq - y->seq;
}

Test(merge, equals_a_sort_when_every_lane_is_complete)
{
	srand(12345);
	for (int round = 0; round < 50; round++) {
		lvc_merge_t *m = lvc_merge_new(0, 0);
		int lanes[6];
		uint32_t klass[6], order[6];
		int64_t last[6];
		ref_t ref[600];
		int n = 0, nl = 1 + rand() % 6;

		for (int l = 0; l < nl; l++) {
			klass[l] = (uint32_t)(rand() % 4);
			order[l] = (uint32_t)l;
			lanes[l] = add(m, 0, klass[l], order[l], 0);
			last[l] = 0;
		}
		for (int i = 0; i < 600; i++) {
			int l = rand() % nl;

			/* Lanes are sorted by ts within themselves, as a replay's
			 * merge of sorted inputs assumes; ties are frequent. */
			last[l] += rand() % 3;
			ref[n].ts = last[l];
			ref[n].klass = klass[l];
			ref[n].order = order[l];
			ref[n].seq = n;
			ref[n].id = i;
			lvc_merge_push(m, lanes[l], last[l], tag(i), 0);
			n++;
		}
		for (int l = 0; l < nl; l++) {
			lvc_merge_lane_set(m, lanes[l], LVC_LANE_ENDED, 0);
		}
		qsort(ref, (size_t)n, sizeof(ref[0]), ref_cmp);
		for (int i = 0; i < n; i++) {
			cr_assert_eq(pop(m, 0), ref[i].id, "round %d item %d", round, i);
		}
		cr_assert_eq(pop(m, 0), -1);
		lvc_merge_destroy(m);
	}
}

Test(merge, pop_group_of_releases_from_that_lanes_group_only)
{
	lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
	int a = add(m, 0, TRA, 0, 0), ap = add(m, 0, PRI, 0, 0);
	int b = add(m, 1, TRA, 0, 0), bp = add(m, 1, PRI, 0, 0);
	lvc_merge_item_t it;

	lvc_merge_push(m, a, 10, tag(1), 0);
	lvc_merge_push(m, ap, 20, tag(2), 0);
	lvc_merge_push(m, b, 5, tag(3), 0); /* group 1 waits for its prices */
	cr_assert_not(lvc_merge_pop_group_of(m, bp, 0, &it));
	cr_assert(lvc_merge_pop_group_of(m, ap, 0, &it)); /* any lane of group 0 */
	cr_assert_eq(untag(it.item), 1);
	cr_assert_eq(it.group, 0);
	cr_assert_eq(it.lane, a);
	/* Group 0's trades lane is empty and fetching: its price waits. */
	cr_assert_not(lvc_merge_pop_group_of(m, a, 0, &it));
	lvc_merge_push(m, bp, 6, tag(4), 0);
	cr_assert(lvc_merge_pop_group_of(m, bp, 0, &it));
	cr_assert_eq(untag(it.item), 3);
	cr_assert_eq(lvc_merge_len(m), 2);
	cr_assert_not(lvc_merge_pop_group_of(m, -1, 0, &it));
	cr_assert_not(lvc_merge_pop_group_of(m, 99, 0, &it));
	lvc_merge_destroy(m);
}

/* The stage's use: a pop from the pushed lane's group after every push,
 * then a drain. Each group's sequence equals a sort of its records, as
 * with lvc_merge_pop() alone. */
Test(merge, popping_the_pushed_group_after_every_push_equals_a_sort_per_group)
{
	srand(54321);
	for (int round = 0; round < 50; round++) {
		lvc_merge_t *m = lvc_merge_new(50 * MS, 0);
		int lanes[6];
		int64_t last[6];
		ref_t ref[3][400];
		int out[3][400];
		int nref[3] = { 0, 0, 0 }, got[3] = { 0, 0, 0 }, n = 0;
		lvc_merge_item_t it;

		for (int l = 0; l < 6; l++) {
			lanes[l] = add(m, (uint32_t)(l / 2), l % 2 ? PRI : TRA, 0, 0);
			last[l] = 0;
		}
		for (int i = 0; i < 400; i++) {
			int l = rand() % 6, g = l / 2;

			last[l] += rand() % 3;
			ref[g][nref[g]].ts = last[l];
			ref[g][nref[g]].klass = l % 2 ? PRI : TRA;
			ref[g][nref[g]].order = 0;
			ref[g][nref[g]].seq = n++;
			ref[g][nref[g]].id = i;
			nref[g]++;
			lvc_merge_push(m, lanes[l], last[l], tag(i), 0);
			while (lvc_merge_pop_group_of(m, lanes[l], 0, &it)) {
				cr_assert_eq(it.group, (uint32_t)g);
				cr_assert_lt(got[g], nref[g]);
				out[g][got[g]++] = untag(it.item);
			}
		}
		for (int l = 0; l < 6; l++) {
			lvc_merge_lane_set(m, lanes[l], LVC_LANE_ENDED, 0);
		}
		while (lvc_merge_pop(m, 0, &it)) {
			out[it.group][got[it.group]++] = untag(it.item);
		}
		for (int g = 0; g < 3; g++) {
			cr_assert_eq(got[g], nref[g]);
			qsort(ref[g], (size_t)nref[g], sizeof(ref[g][0]), ref_cmp);
			for (int i = 0; i < nref[g]; i++) {
				cr_assert_eq(out[g][i], ref[g][i].id, "round %d group %d item %d",
				             round, g, i);
			}
		}
		lvc_merge_destroy(m);
	}
}
