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

	/* State snapshots (engine_state.c): what the book holds for the
	 * instrument, mirrored so that a restore can give it back, and change
	 * tracking. */
	uint64_t touch;   /* when it last entered its staleness list (orders ties) */
	int dirty;        /* changed since the last lvc_engine_changes_clear() */
	int restored;     /* restored, waiting for lvc_engine_restore_finish() */
	int was_listed;   /* restored: in its staleness list */
	int has_bk_sigma; /* the book's sigma, as last given to it */
	double bk_sigma_ann;
	double bk_sigma_h;
	int has_bk_mark; /* the book's mark, as last given to it */
	int64_t bk_mark_ts_us;
	double bk_mark;
	struct lvc__bk_limit_s *bk_limit; /* the last limit given to the book; NULL: none */
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
	int dirty;        /* clock changed since the last lvc_engine_changes_clear() */
} part_t;

/* The fields of the last limit that lvc_book_on_limit() used. */
typedef struct lvc__bk_limit_s {
	int64_t ts_us;
	double sigma_ann;
	double sigma_horizon;
	double mmr;
	size_t tiers_n;
	lvc_tier_t tiers[LVC_MAX_TIERS];
} lvc__bk_limit_t;

/* A position whose warning state changed (names owned by the book). */
typedef struct lvc__dirty_pos_s {
	const char *account;
	const char *instrument;
	int32_t partition;
} lvc__dirty_pos_t;

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

	/* State snapshots (engine_state.c). */
	uint64_t touch_seq;
	int32_t *dirty_ins;
	size_t dirty_ins_n, dirty_ins_cap;
	int32_t *dirty_parts;
	size_t dirty_parts_n, dirty_parts_cap;
	lvc__dirty_pos_t *dirty_pos;
	size_t dirty_pos_n, dirty_pos_cap;
	int dirty_overflow; /* a list could not grow: every state counts as changed */
	int32_t *restored;  /* instruments restored since the last restore_finish */
	size_t restored_n, restored_cap;
};

/* Change tracking and the book mirror, called by engine.c (engine_state.c). */
void lvc__engine_dirty_ins(lvc_engine_t *eng, int32_t idx);
void lvc__engine_dirty_part(lvc_engine_t *eng, int32_t partition);
void lvc__engine_dirty_pos(lvc_engine_t *eng, const lvc_warning_t *w, int32_t partition);
/* lvc_book_on_limit(lim) succeeded for instrument idx. */
void lvc__engine_book_limit(lvc_engine_t *eng, int32_t idx, const lvc_limit_t *lim);
/* Frees what engine_state.c allocated. */
void lvc__engine_state_free(lvc_engine_t *eng);

/* engine.c's helpers for engine_state.c: the instrument of name (made on
 * first use; -1 on allocation failure), a partition (NULL: not allowed or
 * no memory), and the staleness-list moves. */
int32_t lvc__engine_ins(lvc_engine_t *eng, int32_t partition, const char *name, char *errstr,
                        size_t errstr_size);
part_t *lvc__engine_part(lvc_engine_t *eng, int32_t partition);
void lvc__engine_list_unlink(lvc_engine_t *eng, int32_t idx);
void lvc__engine_list_insert(lvc_engine_t *eng, int32_t idx);

#endif
