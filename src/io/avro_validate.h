/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal: a walker that checks Avro binary bytes against a schema before
 * Avro C sees them (Avro C 1.11.1 trusts its input). src/io only.
 */
#ifndef LVC_IO_AVRO_VALIDATE_H
#define LVC_IO_AVRO_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "core/err.h"

/* Deepest nesting of records, arrays and maps the walker follows. */
#define LVC__AVRO_MAX_DEPTH 32

/* Items of zero encoded size (arrays of null) allowed in one array or map:
 * their count is not bounded by the bytes present. */
#define LVC__AVRO_MAX_ZERO_SIZE_ITEMS 65536

/* An item limit for one array or map schema (compared by pointer). */
struct lvc__avro_limit {
	avro_schema_t schema;
	size_t max_items;
};

/* A schema compiled for checking; refers to the schema's strings, so it
 * must not outlive the schema. */
typedef struct lvc__avro_prog lvc__avro_prog_t;

/* Compiles schema (links resolved, named types once) with item limits for
 * given array or map schemas (limits_n entries, may be NULL). Returns a
 * program owned by the caller (lvc__avro_prog_free), or NULL with the
 * reason in errstr. */
lvc__avro_prog_t *lvc__avro_compile(avro_schema_t schema, const struct lvc__avro_limit *limits,
                                    size_t limits_n, char *errstr, size_t errstr_size);

/* Frees prog; accepts NULL. */
void lvc__avro_prog_free(lvc__avro_prog_t *prog);

/* The fewest bytes a value of the compiled schema can take. */
size_t lvc__avro_prog_min_size(const lvc__avro_prog_t *prog);

/*
 * Checks that buf[0..len) holds one value of the compiled schema: every
 * length and block count within the bytes present, varints at most 5 (int)
 * or 10 (long) bytes and in range, enum and union indexes in range, strings
 * valid UTF-8 without NUL bytes, floats, doubles and fixeds complete, array
 * and map block byte sizes equal to what their items take, item limits.
 *
 * consumed NULL: trailing bytes are refused; otherwise *consumed is set to
 * the bytes the value takes and trailing bytes are allowed.
 *
 * Returns LVC_OK; LVC_ERR_DECODE for malformed bytes, LVC_ERR_RANGE for an
 * item limit exceeded, with the path and the values in errstr, e.g.
 * "Trade.instrument: string length 209715200 exceeds the 12 bytes left".
 * Allocates nothing; prog may be shared by threads.
 */
lvc_err_t lvc__avro_check(const lvc__avro_prog_t *prog, const void *buf, size_t len,
                          size_t *consumed, char *errstr, size_t errstr_size);

/* What the check saw in one field of the root record: the value of a
 * primitive or enum field, or of the branch a union field took. */
struct lvc__avro_leaf {
	avro_type_t type; /* of the value read (a union's branch); AVRO_RECORD etc.
	                   * for a complex value, whose parts are not captured */
	int32_t branch;   /* the union branch taken, or -1 */
	int64_t l;        /* int, long, boolean, enum index */
	double d;         /* float, double */
	const uint8_t *s; /* string, bytes: into buf, not NUL-terminated */
	size_t n;         /* their length */
};

/*
 * lvc__avro_check (trailing bytes refused) that also captures, in
 * leaves[i], what field i of the root record holds, so that a flat record
 * is decoded in the same pass, without Avro C. The root must be a record
 * of at most leaves_n fields (else LVC_ERR_INVALID, checking nothing).
 * Allocates nothing.
 */
lvc_err_t lvc__avro_check_leaves(const lvc__avro_prog_t *prog, const void *buf, size_t len,
                                 struct lvc__avro_leaf *leaves, size_t leaves_n, char *errstr,
                                 size_t errstr_size);

/* lvc__avro_compile + lvc__avro_check + lvc__avro_prog_free, for one-off
 * checks (a container file's header). */
lvc_err_t lvc__avro_validate(avro_schema_t schema, const void *buf, size_t len,
                             const struct lvc__avro_limit *limits, size_t limits_n,
                             size_t *consumed, char *errstr, size_t errstr_size);

/* Reads one zigzag varint long at *p (end excluded) into *out and advances
 * *p. Returns LVC_OK or LVC_ERR_DECODE (truncated, longer than 10 bytes or
 * beyond 64 bits). */
lvc_err_t lvc__avro_read_long(const uint8_t **p, const uint8_t *end, int64_t *out);

#endif
