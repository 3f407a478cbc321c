/* SPDX-License-Identifier: Apache-2.0 */
/*
 * At-least-once offset tracking. For each input partition, a FIFO of the
 * records read (in offset order) with the number of their outputs not yet
 * delivered. An input offset may be committed once it and every record
 * before it have all their outputs delivered; the tracker returns the next
 * offset to store as the FIFO's head completes. Delivery reports identify
 * the record by a token that packs (input, partition, sequence) into a
 * pointer-sized integer, so tracking needs no allocation per record.
 *
 * Thread rules: one thread (the stage loop, which also serves delivery
 * reports).
 */
#ifndef LVC_APP_TRACKER_H
#define LVC_APP_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "app/pipeline.h"

typedef struct lvc_tracker_s lvc_tracker_t;

/* Called with the next offset to store when a partition's completed prefix
 * grows. */
typedef void(lvc_tracker_commit_fn)(void *opaque, lvc_input_t input, int32_t partition,
                                    int64_t next_offset);

/* NULL on allocation failure. */
lvc_tracker_t *lvc_tracker_new(lvc_tracker_commit_fn *commit, void *opaque);
void lvc_tracker_destroy(lvc_tracker_t *t);

/* Starts tracking a read record; returns its token, or NULL on allocation
 * failure or a partition beyond 2^22. */
void *lvc_tracker_begin(lvc_tracker_t *t, lvc_input_t input, int32_t partition, int64_t offset);

/* One more output of the record with token tok is in flight. */
void lvc_tracker_add_output(lvc_tracker_t *t, void *tok);

/* The record of tok has been processed (all its outputs enqueued). */
void lvc_tracker_end(lvc_tracker_t *t, void *tok);

/* One output of tok was delivered. */
void lvc_tracker_delivered(lvc_tracker_t *t, void *tok);

/* Forgets a partition (after a revoke or on a new assignment). */
void lvc_tracker_reset(lvc_tracker_t *t, lvc_input_t input, int32_t partition);

/* Records read and not yet complete, over all partitions. */
size_t lvc_tracker_pending(const lvc_tracker_t *t);

#endif
