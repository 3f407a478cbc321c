/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The records of SPEC §2 as plain C structs: what the codec decodes into and
 * encodes from, and what the core consumes and emits. The enum orders are
 * the Avro symbol orders (they are the wire indexes) and must not change.
 *
 * Strings are borrowed, NUL-terminated pointers: in a decoded record they
 * point into the decoder's reused buffers and stay valid until the next
 * decode of the same record type on the same codec; in an emitted event they
 * point into engine memory and stay valid for the duration of the emit
 * callback. Arrays are inline with fixed capacities so that no record needs
 * an allocation.
 */
#ifndef LVC_CORE_RECORDS_H
#define LVC_CORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#define LVC_MAX_TIERS      16 /* notional tiers per instrument */
#define LVC_MAX_COMPONENTS 16 /* estimators listed in one event */

typedef enum lvc_side_e {
	LVC_SIDE_BUY,
	LVC_SIDE_SELL,
	LVC_SIDE_UNKNOWN,
	LVC_SIDE__COUNT
} lvc_side_t;

typedef enum lvc_price_kind_e {
	LVC_PRICE_MARK,
	LVC_PRICE_INDEX,
	LVC_PRICE_MID,
	LVC_PRICE_LAST,
	LVC_PRICE__COUNT
} lvc_price_kind_t;

typedef enum lvc_margin_mode_e {
	LVC_MARGIN_ISOLATED,
	LVC_MARGIN_CROSS,
	LVC_MARGIN__COUNT
} lvc_margin_mode_t;

typedef enum lvc_limit_status_e {
	LVC_STATUS_WARMING_UP,
	LVC_STATUS_ACTIVE,
	LVC_STATUS_STALE,
	LVC_STATUS__COUNT
} lvc_limit_status_t;

typedef enum lvc_limit_reason_e {
	LVC_REASON_INITIAL,
	LVC_REASON_TIGHTEN,
	LVC_REASON_RELAX,
	LVC_REASON_STALE,
	LVC_REASON_RECOVERED,
	LVC_REASON__COUNT
} lvc_limit_reason_t;

typedef enum lvc_level_e {
	LVC_LEVEL_CLEAR,
	LVC_LEVEL_WATCH,
	LVC_LEVEL_WARNING,
	LVC_LEVEL_CRITICAL,
	LVC_LEVEL_LIQUIDATE,
	LVC_LEVEL__COUNT
} lvc_level_t;

/* Trade: an executed trade on the exchange. */
typedef struct lvc_trade_s {
	const char *instrument;
	int64_t ts_us; /* exchange event time, microseconds since the epoch */
	double price;
	double qty;
	lvc_side_t side;
	const char *trade_id; /* NULL when the union holds null */
} lvc_trade_t;

/* PriceTick: a mark, index, mid or last price. */
typedef struct lvc_price_s {
	const char *instrument;
	int64_t ts_us;
	lvc_price_kind_t kind;
	double price;
} lvc_price_t;

/* Position: an account's open position in one instrument. */
typedef struct lvc_position_s {
	const char *account;
	const char *instrument;
	int64_t ts_us;
	double size; /* signed base quantity: > 0 long, < 0 short, 0 closed */
	double entry_price;
	lvc_margin_mode_t margin_mode;
	double collateral; /* isolated margin in quote currency; ignored for CROSS */
} lvc_position_t;

/* AccountBalance: an account's cross-margin wallet. */
typedef struct lvc_balance_s {
	const char *account;
	int64_t ts_us;
	double collateral;
} lvc_balance_t;

typedef struct lvc_tier_s {
	double notional_cap;
	double max_leverage;
	double imr;
	double mmr;
	double maintenance_deduction;
} lvc_tier_t;

typedef struct lvc_component_s {
	const char *estimator;
	double sigma_ann;
} lvc_component_t;

/* LeverageLimit: the limits published for one instrument. */
typedef struct lvc_limit_s {
	const char *instrument;
	int64_t ts_us; /* event time of the tick that caused it */
	int64_t seq;   /* per instrument: 1, 2, 3, ... without gaps */
	lvc_limit_status_t status;
	lvc_limit_reason_t reason;
	const char *estimator;
	double sigma_ann;
	double sigma_horizon;
	double imr;
	double mmr;
	double max_leverage;
	int has_previous_max_leverage; /* 0: the union holds null */
	double previous_max_leverage;
	size_t tiers_n;
	lvc_tier_t tiers[LVC_MAX_TIERS];
	size_t components_n;
	lvc_component_t components[LVC_MAX_COMPONENTS];
	const char *config_id;
} lvc_limit_t;

/* LiquidationWarning: a change of a position's warning level. */
typedef struct lvc_warning_s {
	const char *account;
	const char *instrument;
	int64_t ts_us;
	int64_t seq; /* per account+instrument */
	lvc_level_t level;
	lvc_level_t previous_level;
	double mark_price;
	int has_liquidation_price; /* 0: the union holds null */
	double liquidation_price;
	double distance_sigma;
	double equity;
	double maintenance_margin;
	double margin_ratio;
	double size;
	double sigma_ann;
	double hit_probability;
} lvc_warning_t;

/* Avro symbol names, indexed by the enums above. */
extern const char *const lvc_side_names[LVC_SIDE__COUNT];
extern const char *const lvc_price_kind_names[LVC_PRICE__COUNT];
extern const char *const lvc_margin_mode_names[LVC_MARGIN__COUNT];
extern const char *const lvc_limit_status_names[LVC_STATUS__COUNT];
extern const char *const lvc_limit_reason_names[LVC_REASON__COUNT];
extern const char *const lvc_level_names[LVC_LEVEL__COUNT];

#endif
