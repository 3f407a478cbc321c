/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's internal structures, shared by the engine's own files
 * (engine.c, and the state snapshot code) and nothing else.
 */
#ifndef LVC_CORE_ENGINE_INT_H
#define LVC_CORE_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/book.h"
#include "core/engine.h"
#include "core/policy.h"
#include "core/symtab.h"
#include "core/vol.h"

#define NIL (-1)

#define UNLISTED (-2) /* link_t.prev of an instrument in no staleness list */

typedef struct ins_s {
	const lvc_params_t *params;
	lvc_vol_t *vol;
	lvc_policy_t pol;
	int32_t partition;
	int32_t cls;      /* staleness class: index of its stale_after in eng->stale_after */
	uint32_t book_id; /* the instrument in the position book, when has_book_id */
	int has_book_id;
	double book_sigma; /* sigma_ann last given to the book; 0: none yet */
} ins_t;

/* An instrument's place in its partition's staleness list, kept apart from
 * ins_t in a dense array: moving an instrument to the tail updates its
 * neighbours, and 16-byte links keep those writes in cache. */
typedef struct link_s {
	int64_t last_ts_us; /* newest applied source tick */
	int32_t prev;       /* UNLISTED, NIL or an index */
	int32_t next;
} link_t;

/* One list per staleness class (distinct stale_after value), so that every
 * list is ordered by staleness deadline and only heads need checking. */
typedef struct part_s {
	int64_t clock_us; /* newest tick of any instrument; INT64_MIN before */
	int32_t *head;    /* [classes] */
	int32_t *tail;    /* [classes] */
} part_t;

struct lvc_engine_s {
	lvc_params_t defaults;
	lvc_symtab_t *overrides; /* name -> index into override_params */
	const lvc_inst_params_t *override_params;
	char config_id[64];
	lvc_emit_fn *emit;
	void *opaque;

	lvc_symtab_t *syms; /* instrument name -> index into ins */
	ins_t *ins;
	link_t *links; /* parallel to ins */
	size_t ins_cap;

	part_t *parts;
	size_t parts_n;

	int64_t *stale_after; /* distinct stale_after values, [classes] */
	size_t classes;

	lvc_book_t *book; /* positions and their warnings */
	int64_t now_us;   /* newest event time of any input */

	lvc_limit_t scratch; /* the limit being emitted */
	lvc_engine_stats_t stats;
};

#endif
