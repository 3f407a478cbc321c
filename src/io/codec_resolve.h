/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema resolution (Avro specification, "Schema Resolution"): a writer
 * schema, e.g. fetched from a Schema Registry by id, resolved once against
 * our reader schema of a record type, then used per record to turn the
 * writer's Avro binary into plain Avro binary of our schema, which the codec
 * decodes with all its checks.
 *
 * What resolves: fields matched by name in any order; writer fields we do
 * not have are skipped; our fields the writer lacks take our default; int
 * to long, float or double, long to float or double, float to double,
 * string and bytes either way; enums by symbol name, a writer symbol we do
 * not know taking our enum's default, else the writer enum's default when
 * that is one of our symbols; unions on either side (first matching branch,
 * as the specification says); nested records, arrays, maps, fixed.
 * What does not: a field of ours that the writer lacks and that has no
 * default, types that cannot be promoted, recursive writer schemas. Those
 * are refused when the resolver is made, with the field named:
 * "Trade.price: the writer's string cannot be read as our double".
 *
 * Avro C 1.11.1's own resolver is not used: it passes enum indexes through
 * unchanged (a writer that adds or reorders symbols would be read wrong)
 * and fills no defaults.
 *
 * Thread rules: a resolver is used by one thread at a time.
 */
#ifndef LVC_IO_CODEC_RESOLVE_H
#define LVC_IO_CODEC_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/codec.h"

typedef struct lvc_resolver_s lvc_resolver_t;

/* Resolves the writer schema writer_json against our schema of `type`.
 * LVC_OK and *out (owned by the caller); LVC_ERR_DECODE when writer_json is
 * not a valid Avro schema, LVC_ERR_INVALID when it cannot be resolved
 * against ours (errstr names the field and the types), LVC_ERR_NOMEM. */
lvc_err_t lvc_resolver_new(lvc_rec_type_t type, const char *writer_json, lvc_resolver_t **out,
                           char *errstr, size_t errstr_size);

/* Frees r; accepts NULL. */
void lvc_resolver_destroy(lvc_resolver_t *r);

/* 1 when the writer schema is ours exactly (records pass through). */
int lvc_resolver_is_identity(const lvc_resolver_t *r);

/* Checks buf[0..len) against the writer schema (lengths, indexes, no
 * trailing bytes) and writes it as plain Avro binary of our schema into a
 * buffer owned by r (*out valid until the next call); for an identity
 * resolver *out is buf. LVC_ERR_DECODE with the writer's field path, or
 * LVC_ERR_INVALID for a value ours cannot hold (an enum symbol without a
 * default, a union branch without a match), or LVC_ERR_NOMEM. */
lvc_err_t lvc_resolver_run(lvc_resolver_t *r, const void *buf, size_t len, const void **out,
                           size_t *out_len, char *errstr, size_t errstr_size);

#endif
