/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay inputs: Avro container files of Trade, PriceTick, Position and
 * AccountBalance records (the record name of each file's schema tells
 * which), merged in event time with SPEC §6's tie order: ts_us, then
 * balances, positions, prices, trades, then the order of the files, then
 * the position in the file. A record that cannot be decoded keeps its place
 * in its file and is returned as soon as it is its file's head (it becomes
 * a dead letter downstream). Used by `levcal replay` and `levcal calibrate`,
 * so both see the same stream.
 *
 * Each record is named FILE:0:INDEX (INDEX from 0 within the file): the
 * file stands in for the topic and partition 0.
 */
#ifndef LVC_APP_INPUTS_H
#define LVC_APP_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "app/pipeline.h"
#include "core/err.h"

typedef struct lvc_inputs_s lvc_inputs_t;

/* Opens every file. NULL with "FILE: reason" in errstr when a file cannot
 * be read or holds records that are not inputs (a usage error). */
lvc_inputs_t *lvc_inputs_open(const char *const *paths, size_t n, char *errstr, size_t errstr_size);

/* The next record in merged order into *in (its buffers valid until the
 * next call) and its event time (INT64_MIN when undecodable). LVC_OK,
 * LVC_ERR_NOT_FOUND after the last record, or LVC_ERR_IO with errstr. */
lvc_err_t lvc_inputs_next(lvc_inputs_t *inp, lvc_inrec_t *in, int64_t *ts_us, char *errstr,
                          size_t errstr_size);

/* Records returned so far. */
uint64_t lvc_inputs_count(const lvc_inputs_t *inp);

/* Closes the files; accepts NULL. */
void lvc_inputs_close(lvc_inputs_t *inp);

#endif
