/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine: levcal's whole computation for one process, with no I/O and no
 * clock. Callers feed decoded input records in event-time order; the engine
 * updates per-instrument volatility and leverage policy, keeps the position
 * book (core/book.h) and calls the emit callback synchronously, from inside
 * the on_* call, for every event the record causes: LeverageLimits, and
 * LiquidationWarnings on MARK ticks, new limits and position changes. Event
 * pointers are valid only during the callback.
 *
 * Thread rules: an engine is used by one thread at a time.
 */
#ifndef LVC_CORE_ENGINE_H
#define LVC_CORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/params.h"
#include "core/records.h"

typedef struct lvc_engine_s lvc_engine_t;

typedef enum lvc_event_type_e { LVC_EV_LIMIT, LVC_EV_WARNING } lvc_event_type_t;

typedef struct lvc_event_s {
	lvc_event_type_t type;
	int32_t partition; /* input partition of the instrument */
	union {
		const lvc_limit_t *limit;
		const lvc_warning_t *warning;
	} u;
} lvc_event_t;

/* Called for each event; a non-zero return is passed back out of on_*(). */
typedef int(lvc_emit_fn)(void *opaque, const lvc_event_t *ev);

typedef struct lvc_engine_conf_s {
	lvc_params_t defaults;
	const lvc_inst_params_t *overrides; /* borrowed for the engine's life */
	size_t overrides_n;
	const char *config_id; /* copied */
	lvc_emit_fn *emit;
	void *opaque;
	size_t instruments_hint; /* initial table size; the table grows */
} lvc_engine_conf_t;

typedef struct lvc_engine_stats_s {
	uint64_t ticks_applied;
	uint64_t ticks_late;    /* older than the instrument's newest: counted only */
	uint64_t ticks_ignored; /* not of the configured volatility source */
	uint64_t events_limit;
	uint64_t events_warning;
	size_t instruments;
	size_t positions; /* open */
	size_t accounts;
	size_t book_bytes;   /* heap held by the position book */
	uint64_t marks_late; /* mark ticks older than the instrument's last mark */
} lvc_engine_stats_t;

/* Creates an engine; NULL on allocation failure or invalid conf (the reason
 * goes into errstr). The caller owns the result. */
lvc_engine_t *lvc_engine_new(const lvc_engine_conf_t *conf, char *errstr, size_t errstr_size);

/* Frees eng; accepts NULL. */
void lvc_engine_destroy(lvc_engine_t *eng);

/* Applies a trade read from input partition `partition`. Returns LVC_OK (also
 * for a late tick, which is counted and not applied), LVC_ERR_INVALID for a
 * value that must be dead-lettered (reason in errstr), or the emit
 * callback's non-zero return. */
lvc_err_t lvc_engine_on_trade(lvc_engine_t *eng, int32_t partition, const lvc_trade_t *trade,
                              char *errstr, size_t errstr_size);

/* Applies a price tick; as lvc_engine_on_trade(). MARK ticks feed the
 * volatility when `volatility.source` is mark. */
lvc_err_t lvc_engine_on_price(lvc_engine_t *eng, int32_t partition, const lvc_price_t *price,
                              char *errstr, size_t errstr_size);

/* Applies a Position (SPEC §5; size 0 closes it). Returns as
 * lvc_engine_on_trade(). Positions are a global table: every partition's
 * instruments see every position. */
lvc_err_t lvc_engine_on_position(lvc_engine_t *eng, const lvc_position_t *pos, char *errstr,
                                 size_t errstr_size);

/* Closes the position account|instrument (a tombstone on the positions
 * topic) at event time ts_us. Unknown keys are LVC_OK. */
lvc_err_t lvc_engine_on_position_close(lvc_engine_t *eng, const char *account,
                                       const char *instrument, int64_t ts_us, char *errstr,
                                       size_t errstr_size);

/* Applies an AccountBalance (cross-margin collateral). */
lvc_err_t lvc_engine_on_balance(lvc_engine_t *eng, const lvc_balance_t *bal, char *errstr,
                                size_t errstr_size);

/* The newest event time the engine has seen on any input (INT64_MIN before
 * the first), e.g. the time of a tombstone, which carries none. */
int64_t lvc_engine_now_us(const lvc_engine_t *eng);

/* Advances the event-time clock of `partition` to now_us (never backwards)
 * without a tick, and publishes STALE for the instruments it makes stale. The
 * stage calls it from a wall-clock timer in live mode, so that a partition
 * whose feed stopped entirely still goes STALE; replays never call it.
 * Returns LVC_OK or the emit callback's failure as LVC_ERR_STATE. */
lvc_err_t lvc_engine_on_clock(lvc_engine_t *eng, int32_t partition, int64_t now_us);

/* Counters since creation. */
void lvc_engine_stats(const lvc_engine_t *eng, lvc_engine_stats_t *out);

/*
 * State snapshots (engine_state.c), for the stage's levcal.state topic: the
 * complete state of an instrument (volatility, policy, staleness-list
 * place, and what the position book holds for it: its last limit's tiers,
 * its sigma and its last mark), the warning state of a position (level and
 * seq) and the event-time clock of a partition, as versioned little-endian
 * bytes. An engine restored from the snapshots of another, with the same
 * positions and balances applied and fed the same records afterwards,
 * emits byte-identical events.
 *
 * Restoring is meant for instruments and partitions the engine has never
 * processed (a fresh engine, or partitions newly assigned to it): apply
 * the positions and balances tables first, then every
 * lvc_engine_restore_partition(), lvc_engine_restore_instrument() and
 * lvc_engine_restore_position() of the partitions, then one
 * lvc_engine_restore_finish(), which hands the instruments' last limits to
 * the book and puts them back into their staleness lists. The emit
 * callback may be called from lvc_engine_restore_finish() (and from
 * lvc_engine_restore_position() on a ready instrument) when a position's
 * restored level is not the one its current position record gives, e.g.
 * after the positions table changed while the state was not running.
 */

/* Bytes of a position's warning state (the book's format). */
#define LVC_ENGINE_POS_STATE_SIZE 10

typedef enum lvc_change_kind_e {
	LVC_CHANGE_INSTRUMENT, /* instrument: snapshot it */
	LVC_CHANGE_POSITION,   /* account + instrument: its warning state */
	LVC_CHANGE_PARTITION,  /* partition: its clock */
} lvc_change_kind_t;

/* One changed state; names valid for the engine's life. */
typedef struct lvc_change_s {
	lvc_change_kind_t kind;
	int32_t partition; /* the input partition of the instrument, or the partition */
	const char *instrument;
	const char *account;
} lvc_change_t;

/* Called for each change; a non-zero return stops the enumeration. */
typedef int(lvc_change_fn)(void *opaque, const lvc_change_t *ch);

/* Calls fn for every state changed since the last
 * lvc_engine_changes_clear() (all != 0: every state the engine holds),
 * instruments and partitions once each, positions at least once. Returns
 * fn's first non-zero return, or 0. */
int lvc_engine_changes(const lvc_engine_t *eng, int all, lvc_change_fn *fn, void *opaque);

/* Forgets the changes (after they were written). */
void lvc_engine_changes_clear(lvc_engine_t *eng);

/* Writes the snapshot of instrument into buf[0..size) when it fits and
 * returns the bytes needed; 0 for an instrument the engine does not know. */
size_t lvc_engine_snapshot_instrument(const lvc_engine_t *eng, const char *instrument, void *buf,
                                      size_t size);

/* The same for the clock of partition; 0 for a partition never seen. */
size_t lvc_engine_snapshot_partition(const lvc_engine_t *eng, int32_t partition, void *buf,
                                     size_t size);

/* The warning state of account|instrument into out. LVC_OK, or
 * LVC_ERR_NOT_FOUND when the key has nothing to keep (never warned). */
lvc_err_t lvc_engine_position_state(const lvc_engine_t *eng, const char *account,
                                    const char *instrument, uint8_t out[LVC_ENGINE_POS_STATE_SIZE]);

/* The input partition of instrument, or -1 when the engine does not know it. */
int32_t lvc_engine_instrument_partition(const lvc_engine_t *eng, const char *instrument);

/* Restores instrument from a snapshot (its partition is in the snapshot).
 * Returns LVC_OK; LVC_ERR_DECODE for bytes that are not a snapshot
 * (nothing restored; reason in errstr); LVC_ERR_CONFIG when the volatility
 * state does not fit the instrument's current params: everything else
 * (seq, policy, the book's view) is restored and the estimators start
 * afresh (errstr says so; the caller should warn); LVC_ERR_NOMEM. */
lvc_err_t lvc_engine_restore_instrument(lvc_engine_t *eng, const char *instrument, const void *buf,
                                        size_t len, char *errstr, size_t errstr_size);

/* Restores the clock of partition. LVC_OK, LVC_ERR_DECODE, LVC_ERR_NOMEM. */
lvc_err_t lvc_engine_restore_partition(lvc_engine_t *eng, int32_t partition, const void *buf,
                                       size_t len, char *errstr, size_t errstr_size);

/* Restores the warning state of account|instrument (LVC_ENGINE_POS_STATE_SIZE
 * bytes). Returns as lvc_book_state_set(): LVC_OK, LVC_ERR_INVALID,
 * LVC_ERR_NOMEM or the emit callback's return. */
lvc_err_t lvc_engine_restore_position(lvc_engine_t *eng, const char *account,
                                      const char *instrument, const void *buf, size_t len,
                                      char *errstr, size_t errstr_size);

/* Completes the restores since the last call (see above). Returns LVC_OK,
 * LVC_ERR_NOMEM or LVC_ERR_STATE when the emit callback failed. */
lvc_err_t lvc_engine_restore_finish(lvc_engine_t *eng, char *errstr, size_t errstr_size);

#endif
