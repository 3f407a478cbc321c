/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book (SPEC §5): every open position and cross-margin wallet,
 * evaluated against its instrument's last published LeverageLimit, current
 * sigma and last MARK price, publishing a LiquidationWarning whenever a
 * position's level changes. No I/O, no clock: every time is the caller's
 * event time, and warnings go out through a callback, synchronously, from
 * inside the lvc_book_on_*() call that caused them.
 *
 * Definitions (for a position of signed size s, entry E, at mark m):
 *   notional        |s| * m
 *   maintenance MM  notional * mmr_i - maintenance_deduction_i for the first
 *                   tier i with notional <= notional_cap_i (the last tier
 *                   beyond), as lvc_margin_maintenance(); a limit without
 *                   tiers is one tier of its mmr
 *   equity          isolated: collateral + s * (m - E); cross: the account's
 *                   AccountBalance collateral + sum of s * (m - E) over its
 *                   cross positions, each at its own instrument's last mark;
 *                   the cross MM is the sum of the positions' MMs
 *   liquidation     the mark of the position's instrument at which equity
 *   price L         equals MM, everything else held fixed; unique (equity -
 *                   MM is monotone in m because every mmr < 1). Null when
 *                   no such price > 0 exists: a long whose collateral covers
 *                   size * entry can never be liquidated
 *   distance_sigma  |ln(m / L)| / sigma_h; +infinity when L is null
 *   hit_probability 2 * Phi(-distance_sigma) (driftless reflection); 1 at
 *                   LIQUIDATE (the price is already touched), 0 when L is
 *                   null
 *   margin_ratio    MM / equity (Binance's "margin ratio": liquidation at
 *                   >= 1); +infinity when equity <= 0
 * Non-finite doubles (+infinity above) are legal Avro doubles; a JSON writer
 * must render them itself (JSON has no infinity).
 *
 * Levels, with the instrument's lvc_warn_params_t (watch > warning >
 * critical > 0, hysteresis >= 0): raw level LIQUIDATE if equity <= MM, else
 * CRITICAL if distance < critical, WARNING if < warning, WATCH if < watch,
 * else CLEAR. A position moves to a worse raw level at once; it moves to a
 * better level only as far as the thresholds raised by `hysteresis` allow
 * (leaving LIQUIDATE needs distance >= hysteresis), else it stays. A
 * warning is published when, and only when, the level changes; closing a
 * position whose level is above CLEAR publishes CLEAR with size 0, equity,
 * MM and margin_ratio 0, null L, infinite distance, hit_probability 0.
 * Updates of a position (resize, collateral) follow the same rule as marks.
 * `seq` runs per account+instrument 1, 2, 3, ... over the book's life; a
 * closed key that has published keeps its seq (a "dormant" entry of 64
 * bytes) so that a reopened position continues the sequence.
 *
 * Readiness: an instrument is evaluated once it has a limit, a sigma and a
 * mark; positions that arrive before are kept and evaluated then. A cross
 * account is evaluated once it has an AccountBalance and all the
 * instruments of its cross positions are ready; until then its positions
 * keep their level.
 *
 * Within one lvc_book_*() call warnings are emitted sorted by (account,
 * instrument), so the output does not depend on the book's internal order.
 *
 * Cost: isolated positions are kept per instrument, side, level and "tier
 * class" in B+trees ordered by liquidation price (tier-0 positions by K =
 * entry -/+ collateral / |size|, whose order no mmr change alters), so a
 * mark tick or a sigma change costs O(levels + changes * log n) and a new
 * limit O(tiered positions * log n + changes * log n), tiered positions
 * being those whose liquidation notional can reach beyond the first tier.
 * Cross accounts are re-evaluated whole, O(positions of the account), for
 * every tick of an instrument they hold, so a tick costs O(cross positions
 * of that instrument * positions per account) on top of the isolated
 * cost. Memory: about 110 bytes per position at a million positions
 * (lvc_book_stats().bytes counts every heap byte the book holds).
 *
 * Errors: LVC_ERR_INVALID leaves the book as it was (the record is to be
 * dead-lettered). After LVC_ERR_NOMEM the book may have lost track of some
 * positions and must be discarded (rebuilt from the compacted topics).
 *
 * Thread rules: a book is used by one thread at a time.
 */
#ifndef LVC_CORE_BOOK_H
#define LVC_CORE_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/params.h"
#include "core/records.h"

typedef struct lvc_book_s lvc_book_t;

/* Called for each warning; the pointers in *w are valid during the call
 * (account and instrument in fact for the book's life). A non-zero return
 * stops the emission of the call's remaining warnings and is returned by
 * the lvc_book_on_*() call: the book's state already includes them, so the
 * caller must treat it as a failed transaction. */
typedef int(lvc_book_emit_fn)(void *opaque, const lvc_warning_t *w);

typedef struct lvc_book_conf_s {
	lvc_warn_params_t warn;             /* defaults (SPEC §8 `warnings`) */
	const lvc_inst_params_t *overrides; /* borrowed for the book's life; .params.warn used */
	size_t overrides_n;
	lvc_book_emit_fn *emit;
	void *opaque;
	size_t positions_hint; /* initial table sizes; the tables grow */
	size_t accounts_hint;
} lvc_book_conf_t;

typedef struct lvc_book_stats_s {
	size_t positions;         /* open */
	size_t positions_pending; /* open, instrument not ready yet */
	size_t positions_cross;   /* open, cross margin */
	size_t positions_tiered;  /* open, isolated, keyed by price (see Cost) */
	size_t positions_dormant; /* closed keys kept for their seq */
	size_t accounts;
	size_t instruments;
	size_t bytes;         /* heap bytes held by the book: slabs, tables, strings, buffers */
	uint64_t marks;       /* mark ticks applied */
	uint64_t marks_late;  /* older than the instrument's last mark: ignored */
	uint64_t evaluations; /* positions evaluated exactly (isolated and cross) */
	uint64_t warnings;    /* emitted */
	uint64_t rebuilds;    /* whole-instrument reorders: a new first-tier cap, or mmr_0
	                       * above the class guard (0.5; see book.c) */
} lvc_book_stats_t;

/* Creates a book; NULL on allocation failure or invalid conf (the reason in
 * errstr). The caller owns the result. */
lvc_book_t *lvc_book_new(const lvc_book_conf_t *conf, char *errstr, size_t errstr_size);

/* Frees book; accepts NULL. */
void lvc_book_destroy(lvc_book_t *book);

/* Creates or updates the position pos->account|pos->instrument (strings
 * copied); size 0 closes it (as lvc_book_on_close()). Returns LVC_OK,
 * LVC_ERR_INVALID for a record to dead-letter (empty key, non-finite
 * number, entry <= 0, negative isolated collateral, unknown margin mode;
 * reason in errstr), LVC_ERR_NOMEM, or the emit callback's return. */
lvc_err_t lvc_book_on_position(lvc_book_t *book, const lvc_position_t *pos, char *errstr,
                               size_t errstr_size);

/* Closes account|instrument at event time ts_us: the Kafka tombstone (null
 * value) of the positions topic. An unknown or already closed key is
 * LVC_OK. Returns as lvc_book_on_position(). */
lvc_err_t lvc_book_on_close(lvc_book_t *book, const char *account, const char *instrument,
                            int64_t ts_us, char *errstr, size_t errstr_size);

/* Sets the cross-margin wallet collateral of bal->account (any finite
 * value). Returns as lvc_book_on_position(). */
lvc_err_t lvc_book_on_balance(lvc_book_t *book, const lvc_balance_t *bal, char *errstr,
                              size_t errstr_size);

/* Adopts the tiers of a published limit for lim->instrument (the margins the
 * exchange enforces); warnings carry lim->ts_us. The first limit of an
 * instrument also seeds its sigma (lim->sigma_ann, lim->sigma_horizon) when
  * lvc_book_on_sigma() has not given one. Tiers need ascending positive
 * caps, 0 <= mmr < 1, deduction_0 = 0 and deductions that keep maintenance
 * continuous at every cap (within 1e-9 relative; SPEC §4's recursion does);
 * no tiers means one tier of lim->mmr. Returns as lvc_book_on_position(). */
lvc_err_t lvc_book_on_limit(lvc_book_t *book, const lvc_limit_t *lim, char *errstr,
                            size_t errstr_size);

/* Sets the instrument's current sigma: sigma_h (the horizon sigma that
 * distances are measured in, finite > 0) and sigma_ann (reported in
 * warnings). The engine calls it when sigma changes materially; each call
 * costs as a mark tick. Returns as lvc_book_on_position(). */
lvc_err_t lvc_book_on_sigma(lvc_book_t *book, const char *instrument, int64_t ts_us,
                            double sigma_ann, double sigma_h, char *errstr, size_t errstr_size);

/* Applies a MARK price (finite > 0) of instrument at ts_us. A mark older
 * than the instrument's last one is counted (marks_late) and ignored.
 * Returns as lvc_book_on_position(). */
lvc_err_t lvc_book_on_mark(lvc_book_t *book, const char *instrument, int64_t ts_us, double mark,
                           char *errstr, size_t errstr_size);

/* The book's id of instrument (created if new) for lvc_book_on_mark_id(),
 * which saves the name lookup on the hot path. Returns LVC_OK or
 * LVC_ERR_INVALID / LVC_ERR_NOMEM. Ids are stable for the book's life. */
lvc_err_t lvc_book_instrument(lvc_book_t *book, const char *instrument, uint32_t *id);

/* lvc_book_on_mark() by id; LVC_ERR_NOT_FOUND for an id never returned. */
lvc_err_t lvc_book_on_mark_id(lvc_book_t *book, uint32_t id, int64_t ts_us, double mark,
                              char *errstr, size_t errstr_size);

/* Warning state of one key, for snapshots: LVC_BOOK_STATE_SIZE bytes,
 * byte 0 the format (1), byte 1 the level, bytes 2..9 the seq (big-endian
 * int64). The state of a key changes exactly when a warning for it is
 * emitted, so the emitted warnings name the keys a snapshot must update. */
#define LVC_BOOK_STATE_SIZE 10

/* Writes the state of account|instrument into out. Returns LVC_OK, or
 * LVC_ERR_NOT_FOUND for a key that is unknown or has nothing to keep
 * (never published). */
lvc_err_t lvc_book_state_get(const lvc_book_t *book, const char *account, const char *instrument,
                             uint8_t out[LVC_BOOK_STATE_SIZE]);

/* Restores the state of account|instrument from buf (len bytes, as written
 * by lvc_book_state_get()). Meant for a fresh book before the positions
 * table is read: an unknown key becomes a dormant entry whose level and seq
 * the position continues from when it arrives. On an open position of a
 * ready instrument the position is re-evaluated from the restored level at
 * once, which emits (at ts_us) when the restored level is not the one the
 * current prices give. Returns LVC_OK, LVC_ERR_INVALID (bad bytes, reason
 * in errstr), LVC_ERR_NOMEM or the emit callback's return. */
lvc_err_t lvc_book_state_set(lvc_book_t *book, const char *account, const char *instrument,
                             int64_t ts_us, const uint8_t *buf, size_t len, char *errstr,
                             size_t errstr_size);

/* Called by lvc_book_state_foreach() for each key with a state. */
typedef int(lvc_book_state_fn)(void *opaque, const char *account, const char *instrument,
                               const uint8_t state[LVC_BOOK_STATE_SIZE]);

/* Calls fn for every key with a state (open or dormant, seq > 0 or level
 * above CLEAR), in no particular order; stops at and returns fn's first
 * non-zero return. For full snapshots. */
int lvc_book_state_foreach(const lvc_book_t *book, lvc_book_state_fn *fn, void *opaque);

/* Counters and sizes. */
void lvc_book_stats(const lvc_book_t *book, lvc_book_stats_t *out);

#endif
