/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The at-least-once offset tracker (app/tracker.h): an offset is reported
 * for commit only once it and every record before it in its partition have
 * all their outputs delivered, whatever the order of delivery reports;
 * partitions are independent; a reset forgets a partition and ignores
 * reports for tokens from before it; rings grow past their first size.
 */
#include <criterion/criterion.h>

#include "app/tracker.h"

typedef struct commits_s {
	int64_t next[LVC_IN__COUNT][8];
	int calls;
} commits_t;

static void on_commit(void *opaque, lvc_input_t input, int32_t partition, int64_t next_offset)
{
	commits_t *c = opaque;

	cr_assert_lt(partition, 8);
	cr_assert_gt(next_offset, c->next[input][partition], "commit points only move forward");
	c->next[input][partition] = next_offset;
	c->calls++;
}

static lvc_tracker_t *make(commits_t *c)
{
	lvc_tracker_t *t = lvc_tracker_new(on_commit, c);

	for (int i = 0; i < LVC_IN__COUNT; i++) {
		for (int p = 0; p < 8; p++) {
			c->next[i][p] = -1;
		}
	}
	cr_assert_not_null(t);
	return t;
}

Test(tracker, commits_an_offset_once_it_and_every_record_before_it_are_delivered)
{
	commits_t c = { 0 };
	lvc_tracker_t *t = make(&c);
	void *a = lvc_tracker_begin(t, LVC_IN_TRADES, 2, 100);
	void *b, *d;

	lvc_tracker_add_output(t, a);
	lvc_tracker_add_output(t, a);
	lvc_tracker_end(t, a);
	b = lvc_tracker_begin(t, LVC_IN_TRADES, 2, 101); /* no outputs */
	lvc_tracker_end(t, b);
	d = lvc_tracker_begin(t, LVC_IN_TRADES, 2, 102);
	lvc_tracker_add_output(t, d);
	lvc_tracker_end(t, d);
	cr_assert_eq(c.calls, 0, "100 has outputs in flight");
	lvc_tracker_delivered(t, d);
	cr_assert_eq(c.calls, 0, "102 is done but 100 is not");
	lvc_tracker_delivered(t, a);
	cr_assert_eq(c.calls, 0);
	lvc_tracker_delivered(t, a);
	cr_assert_eq(c.next[LVC_IN_TRADES][2], 103, "100, 101 and 102 complete together");
	cr_assert_eq(lvc_tracker_pending(t), 0);
	lvc_tracker_destroy(t);
}

Test(tracker, keeps_partitions_and_inputs_apart)
{
	commits_t c = { 0 };
	lvc_tracker_t *t = make(&c);
	void *x = lvc_tracker_begin(t, LVC_IN_TRADES, 0, 5);
	void *y = lvc_tracker_begin(t, LVC_IN_PRICES, 0, 9);
	void *z = lvc_tracker_begin(t, LVC_IN_TRADES, 1, 7);

	lvc_tracker_add_output(t, x);
	lvc_tracker_end(t, x);
	lvc_tracker_end(t, y);
	lvc_tracker_end(t, z);
	cr_assert_eq(c.next[LVC_IN_PRICES][0], 10);
	cr_assert_eq(c.next[LVC_IN_TRADES][1], 8);
	cr_assert_eq(c.next[LVC_IN_TRADES][0], -1);
	cr_assert_eq(lvc_tracker_pending(t), 1);
	lvc_tracker_delivered(t, x);
	cr_assert_eq(c.next[LVC_IN_TRADES][0], 6);
	lvc_tracker_destroy(t);
}

Test(tracker, a_reset_forgets_a_partition_and_ignores_its_late_reports)
{
	commits_t c = { 0 };
	lvc_tracker_t *t = make(&c);
	void *old = lvc_tracker_begin(t, LVC_IN_TRADES, 3, 50);
	void *fresh;

	lvc_tracker_add_output(t, old);
	lvc_tracker_end(t, old);
	lvc_tracker_reset(t, LVC_IN_TRADES, 3);
	cr_assert_eq(lvc_tracker_pending(t), 0);
	fresh = lvc_tracker_begin(t, LVC_IN_TRADES, 3, 40); /* read again by the new owner */
	lvc_tracker_add_output(t, fresh);
	lvc_tracker_end(t, fresh);
	lvc_tracker_delivered(t, old); /* a report from before the reset */
	cr_assert_eq(c.calls, 0, "the old token does not complete the new record");
	lvc_tracker_delivered(t, fresh);
	cr_assert_eq(c.next[LVC_IN_TRADES][3], 41);
	lvc_tracker_destroy(t);
}

Test(tracker, grows_past_its_first_ring)
{
	commits_t c = { 0 };
	lvc_tracker_t *t = make(&c);
	static void *tok[5000];

	for (int i = 0; i < 5000; i++) {
		tok[i] = lvc_tracker_begin(t, LVC_IN_PRICES, 1, i);
		cr_assert_not_null(tok[i]);
		lvc_tracker_add_output(t, tok[i]);
		lvc_tracker_end(t, tok[i]);
	}
	cr_assert_eq(lvc_tracker_pending(t), 5000);
	for (int i = 4999; i >= 1; i--) {
		lvc_tracker_delivered(t, tok[i]);
	}
	cr_assert_eq(c.calls, 0, "the first record is still in flight");
	lvc_tracker_delivered(t, tok[0]);
	cr_assert_eq(c.next[LVC_IN_PRICES][1], 5000);
	cr_assert_eq(c.calls, 1);
	lvc_tracker_destroy(t);
}
