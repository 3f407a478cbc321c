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

#endif
