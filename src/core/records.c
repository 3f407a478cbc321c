/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Avro symbol names of the record enums, in wire-index order (SPEC §2).
 */
#include "core/records.h"

const char *const lvc_side_names[LVC_SIDE__COUNT] = { "BUY", "SELL", "UNKNOWN" };
const char *const lvc_price_kind_names[LVC_PRICE__COUNT] = { "MARK", "INDEX", "MID", "LAST" };
const char *const lvc_margin_mode_names[LVC_MARGIN__COUNT] = { "ISOLATED", "CROSS" };
const char *const lvc_limit_status_names[LVC_STATUS__COUNT] = { "WARMING_UP", "ACTIVE", "STALE" };
const char *const lvc_limit_reason_names[LVC_REASON__COUNT] = { "INITIAL", "TIGHTEN", "RELAX",
	                                                        "STALE", "RECOVERED" };
const char *const lvc_level_names[LVC_LEVEL__COUNT] = { "CLEAR", "WATCH", "WARNING", "CRITICAL",
	                                                "LIQUIDATE" };
