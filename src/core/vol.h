/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volatility of one instrument in event time (SPEC §3): the sampling grid,
 * the OHLC bars and every estimator, behind one small interface. A vol
 * object computes only the estimators its params need (the configured one,
 * or the `max_of` components), in O(1) per tick with bounded memory.
 *
 * Ownership: lvc_vol_new() allocates once per instrument; updates never
 * allocate. Thread rules: one thread at a time per object.
 */
#ifndef LVC_CORE_VOL_H
#define LVC_CORE_VOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/params.h"
#include "core/records.h"

typedef struct lvc_vol_s lvc_vol_t;

typedef enum lvc_vol_result_e {
	LVC_VOL_APPLIED, /* the tick was applied */
	LVC_VOL_LATE,    /* older than the newest applied tick: not applied */
	LVC_VOL_REJECTED /* price not finite and > 0: not applied (callers check first) */
} lvc_vol_result_t;

/* Creates the state for params p (copied) with the prior variance taken from
 * prior_sigma_ann. NULL on allocation failure or invalid params. The caller
 * owns the result. */
lvc_vol_t *lvc_vol_new(const lvc_vol_params_t *p, double prior_sigma_ann);

/* Frees vol; accepts NULL. */
void lvc_vol_destroy(lvc_vol_t *vol);

/* Applies one tick of the configured source at event time ts_us. A tick with
 * the same ts_us as the newest is applied (the last one at a timestamp sets
 * the price). No NaN or infinity can enter the state. */
lvc_vol_result_t lvc_vol_update(lvc_vol_t *vol, int64_t ts_us, double price);

/* Number of grid returns seen since creation (for warm-up). */
int64_t lvc_vol_samples(const lvc_vol_t *vol);

/* ts_us of the newest applied tick, or INT64_MIN before the first. */
int64_t lvc_vol_last_ts(const lvc_vol_t *vol);

/* Ticks refused as LATE since creation (also kept in the snapshot). */
uint64_t lvc_vol_late(const lvc_vol_t *vol);

/* Annualized sigma of one estimator that these params compute (the
 * configured one or a `max_of` component; LVC_EST_MAX when configured gives
 * lvc_vol_sigma_ann()); -1.0 for an estimator that is not computed. */
double lvc_vol_sigma_ann_of(const lvc_vol_t *vol, lvc_estimator_t est);

/* Annualized sigma of the configured estimator (for `max`, the largest of
 * its components), as of the newest applied tick. */
double lvc_vol_sigma_ann(const lvc_vol_t *vol);

/* Writes each component's sigma_ann (the configured estimator alone, or
 * every `max_of` entry in config order) into out[0..cap); returns the
 * count written. Estimator names are static strings. */
size_t lvc_vol_components(const lvc_vol_t *vol, lvc_component_t *out, size_t cap);

/* Serializes the complete state into buf[0..size). Returns the bytes needed;
 * writes only when they fit. The format is versioned and little-endian. */
size_t lvc_vol_snapshot(const lvc_vol_t *vol, void *buf, size_t size);

/* Restores a state written by lvc_vol_snapshot() for the same params;
 * LVC_ERR_DECODE or LVC_ERR_INVALID when buf does not fit them. After a
 * restore the same ticks give bit-identical doubles. */
lvc_err_t lvc_vol_restore(lvc_vol_t *vol, const void *buf, size_t len);

#endif
