/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks Avro binary against a schema before avro_value_read() sees it.
 * Avro C 1.11.1 trusts its input: a string that declares 200 MB is
 * allocated before the read finds the bytes missing (and then leaked), an
 * out-of-range enum index or union branch is stored as is, and trailing
 * bytes are ignored. This walker follows the Avro specification's binary
 * encoding over avro_schema_t (record fields in order, varints, lengths,
 * blocks), so that what reaches Avro C can only make it allocate in
 * proportion to the bytes present, and every refusal names the field path,
 * the value and what was allowed.
 *
 * Invariants: never reads outside buf[0..len); never allocates; recursion
 * bounded by LVC__AVRO_MAX_DEPTH. Cost: one pass over the bytes (a UTF-8
 * check over every string), a few ns per field.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/avro_validate.h"

struct lvc__frame {
	const char *name; /* record field name, or NULL for an item index */
	int64_t index;
};

struct lvc__walk {
	const uint8_t *p;
	const uint8_t *end;
	const struct lvc__avro_limit *limits;
	size_t limits_n;
	const char *root;
	int depth;
	struct lvc__frame path[LVC__AVRO_MAX_DEPTH];
	char *errstr;
	size_t errstr_size;
};

static size_t lvc__left(const struct lvc__walk *w)
{
	return (size_t)(w->end - w->p);
}

/* Formats "<path>: <message>" into errstr and returns err. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static lvc_err_t
lvc__fail(struct lvc__walk *w, lvc_err_t err, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;
	int n;

	if (w->errstr == NULL || w->errstr_size == 0) {
		return err;
	}
	n = snprintf(w->errstr, w->errstr_size, "%s", w->root);
	off = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < w->depth && off < w->errstr_size; i++) {
		if (w->path[i].name != NULL) {
			n = snprintf(w->errstr + off, w->errstr_size - off, ".%s", w->path[i].name);
		} else {
			n = snprintf(w->errstr + off, w->errstr_size - off, "[%" PRId64 "]",
			             w->path[i].index);
		}
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < w->errstr_size) {
		n = snprintf(w->errstr + off, w->errstr_size - off, ": ");
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < w->errstr_size) {
		va_start(ap, fmt);
		vsnprintf(w->errstr + off, w->errstr_size - off, fmt, ap);
		va_end(ap);
	}
	return err;
}

/*
 * Reads an unsigned varint of at most max_bytes bytes whose value fits in
 * max_bytes == 5 ? 32 : 64 bits. Returns 0 ok, 1 truncated, 2 too long,
 * 3 overflow.
 */
static int lvc__varint(const uint8_t **pp, const uint8_t *end, int max_bytes, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	int shift = 0;

	for (int i = 0; i < max_bytes; i++) {
		uint8_t b;

		if (p == end) {
			return 1;
		}
		b = *p++;
		if (i == max_bytes - 1) {
			/* The last byte may hold only the bits left of the width:
			 * 4 of an int's 32 after 28, 1 of a long's 64 after 63. */
			uint8_t room = max_bytes == 5 ? 0x0f : 0x01;

			if (b & 0x80) {
				return 2;
			}
			if (b > room) {
				return 3;
			}
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if ((b & 0x80) == 0) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return 2; /* not reached: the last byte returns above */
}

static int64_t lvc__zigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

lvc_err_t lvc__avro_read_long(const uint8_t **p, const uint8_t *end, int64_t *out)
{
	uint64_t u;

	if (lvc__varint(p, end, 10, &u) != 0) {
		return LVC_ERR_DECODE;
	}
	*out = lvc__zigzag(u);
	return LVC_OK;
}

/* Reads a zigzag int (bits 32) or long (bits 64) named what. */
static lvc_err_t lvc__read_zz(struct lvc__walk *w, const char *what, int bits, int64_t *out)
{
	int max_bytes = bits == 32 ? 5 : 10;
	uint64_t u;

	switch (lvc__varint(&w->p, w->end, max_bytes, &u)) {
	case 0:
		/* An int's varint holds at most 32 bits, so the 64-bit zigzag
		 * gives the int's value. */
		*out = lvc__zigzag(u);
		return LVC_OK;
	case 1:
		return lvc__fail(w, LVC_ERR_DECODE,
		                 "%s is truncated: the input ends inside its varint", what);
	case 2:
		return lvc__fail(w, LVC_ERR_DECODE, "%s varint is longer than %d bytes", what,
		                 max_bytes);
	default:
		return lvc__fail(w, LVC_ERR_DECODE, "%s varint overflows %d bits", what, bits);
	}
}

/* Returns the offset of the first byte that is not valid UTF-8, or len. */
static size_t lvc__utf8_bad(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return i;
		}
		if (len - i <= n) {
			return i;
		}
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return i;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return i;
		}
		i += n + 1;
	}
	return len;
}

static size_t lvc__min_size(avro_schema_t schema, int depth)
{
	size_t n = 0;

	if (depth > LVC__AVRO_MAX_DEPTH) {
		return 0;
	}
	switch (avro_typeof(schema)) {
	case AVRO_NULL:
	case AVRO_LINK:
		/* A link's target is already being measured: 0 is a lower bound. */
		return 0;
	case AVRO_FLOAT:
		return 4;
	case AVRO_DOUBLE:
		return 8;
	case AVRO_FIXED:
		return (size_t)avro_schema_fixed_size(schema);
	case AVRO_RECORD:
		for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
			n += lvc__min_size(avro_schema_record_field_get_by_index(schema, (int)i),
			                   depth + 1);
		}
		return n;
	case AVRO_UNION: {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < avro_schema_union_size(schema); i++) {
			size_t m =
			    lvc__min_size(avro_schema_union_branch(schema, (int)i), depth + 1);

			best = m < best ? m : best;
		}
		return 1 + (best == SIZE_MAX ? 0 : best);
	}
	default:
		/* boolean, int, long, string, bytes, enum, array, map: one byte. */
		return 1;
	}
}

size_t lvc__avro_min_size(avro_schema_t schema)
{
	return lvc__min_size(schema, 0);
}

static lvc_err_t lvc__walk(struct lvc__walk *w, avro_schema_t schema);

static lvc_err_t lvc__push(struct lvc__walk *w, const char *name, int64_t index)
{
	if (w->depth >= LVC__AVRO_MAX_DEPTH) {
		return lvc__fail(w, LVC_ERR_DECODE, "nesting deeper than %d levels",
		                 LVC__AVRO_MAX_DEPTH);
	}
	w->path[w->depth].name = name;
	w->path[w->depth].index = index;
	w->depth++;
	return LVC_OK;
}

static lvc_err_t lvc__walk_string(struct lvc__walk *w, int is_string)
{
	const char *what = is_string ? "string length" : "bytes length";
	int64_t n;
	lvc_err_t err;
	size_t bad;

	if ((err = lvc__read_zz(w, what, 64, &n)) != LVC_OK) {
		return err;
	}
	if (n < 0) {
		return lvc__fail(w, LVC_ERR_DECODE, "%s %" PRId64 " is negative", what, n);
	}
	if ((uint64_t)n > lvc__left(w)) {
		return lvc__fail(w, LVC_ERR_DECODE, "%s %" PRId64 " exceeds the %zu bytes left",
		                 what, n, lvc__left(w));
	}
	if (is_string) {
		const uint8_t *nul = memchr(w->p, 0, (size_t)n);

		if (nul != NULL) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "string contains a NUL byte at offset %zu",
			                 (size_t)(nul - w->p));
		}
		bad = lvc__utf8_bad(w->p, (size_t)n);
		if (bad != (size_t)n) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "string is not valid UTF-8 at offset %zu", bad);
		}
	}
	w->p += n;
	return LVC_OK;
}

static lvc_err_t lvc__walk_fixed(struct lvc__walk *w, const char *what, size_t n)
{
	if (lvc__left(w) < n) {
		return lvc__fail(w, LVC_ERR_DECODE, "%s needs %zu bytes, %zu left", what, n,
		                 lvc__left(w));
	}
	w->p += n;
	return LVC_OK;
}

static size_t lvc__limit_of(const struct lvc__walk *w, avro_schema_t schema)
{
	for (size_t i = 0; i < w->limits_n; i++) {
		if (w->limits[i].schema == schema) {
			return w->limits[i].max_items;
		}
	}
	return 0;
}

/* Arrays and maps: blocks of items until a zero count (Avro spec, "Complex
 * Types"); a negative count is followed by the block's byte size. */
static lvc_err_t lvc__walk_blocks(struct lvc__walk *w, avro_schema_t schema, int is_map)
{
	const char *kind = is_map ? "map" : "array";
	avro_schema_t items =
	    is_map ? avro_schema_map_values(schema) : avro_schema_array_items(schema);
	size_t item_min = lvc__min_size(items, 0) + (is_map ? 1 : 0);
	size_t max_items = lvc__limit_of(w, schema);
	uint64_t total = 0;
	char what_count[32], what_size[32];
	lvc_err_t err;

	snprintf(what_count, sizeof(what_count), "%s block count", kind);
	snprintf(what_size, sizeof(what_size), "%s block byte size", kind);
	for (;;) {
		int64_t count, bsize = -1;
		const uint8_t *block_start;

		if ((err = lvc__read_zz(w, what_count, 64, &count)) != LVC_OK) {
			return err;
		}
		if (count == 0) {
			return LVC_OK;
		}
		if (count < 0) {
			if (count == INT64_MIN) {
				return lvc__fail(w, LVC_ERR_DECODE,
				                 "%s %" PRId64 " cannot be negated", what_count,
				                 count);
			}
			count = -count;
			if ((err = lvc__read_zz(w, what_size, 64, &bsize)) != LVC_OK) {
				return err;
			}
			if (bsize < 0) {
				return lvc__fail(w, LVC_ERR_DECODE, "%s %" PRId64 " is negative",
				                 what_size, bsize);
			}
			if ((uint64_t)bsize > lvc__left(w)) {
				return lvc__fail(w, LVC_ERR_DECODE,
				                 "%s %" PRId64 " exceeds the %zu bytes left",
				                 what_size, bsize, lvc__left(w));
			}
		}
		if (item_min > 0) {
			if ((uint64_t)count > lvc__left(w) / item_min) {
				uint64_t need = (uint64_t)count <= UINT64_MAX / item_min
				                    ? (uint64_t)count * item_min
				                    : UINT64_MAX;

				return lvc__fail(w, LVC_ERR_DECODE,
				                 "%s %" PRId64 " needs at least %" PRIu64
				                 " bytes, %zu left",
				                 what_count, count, need, lvc__left(w));
			}
		} else if ((uint64_t)count > LVC__AVRO_MAX_ZERO_SIZE_ITEMS - total) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "%s %" PRId64 " exceeds the %d items of zero size allowed",
			                 what_count, count, LVC__AVRO_MAX_ZERO_SIZE_ITEMS);
		}
		if (max_items != 0 && (uint64_t)count > max_items - total) {
			return lvc__fail(w, LVC_ERR_RANGE,
			                 "%" PRIu64 " items exceed the %zu supported",
			                 total + (uint64_t)count, max_items);
		}
		block_start = w->p;
		for (int64_t i = 0; i < count; i++) {
			if ((err = lvc__push(w, NULL, (int64_t)total + i)) != LVC_OK) {
				return err;
			}
			if (is_map && (err = lvc__walk_string(w, 1)) != LVC_OK) {
				return err;
			}
			if ((err = lvc__walk(w, items)) != LVC_OK) {
				return err;
			}
			w->depth--;
		}
		total += (uint64_t)count;
		if (bsize >= 0 && (size_t)(w->p - block_start) != (size_t)bsize) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "%s %" PRId64
			                 " does not match the %zu bytes its items take",
			                 what_size, bsize, (size_t)(w->p - block_start));
		}
	}
}

static lvc_err_t lvc__walk(struct lvc__walk *w, avro_schema_t schema)
{
	int64_t v;
	lvc_err_t err;

	switch (avro_typeof(schema)) {
	case AVRO_NULL:
		return LVC_OK;
	case AVRO_BOOLEAN:
		if (lvc__left(w) < 1) {
			return lvc__fail(w, LVC_ERR_DECODE, "boolean needs 1 byte, 0 left");
		}
		if (*w->p > 1) {
			return lvc__fail(w, LVC_ERR_DECODE, "boolean byte %u is not 0 or 1", *w->p);
		}
		w->p++;
		return LVC_OK;
	case AVRO_INT32:
		return lvc__read_zz(w, "int", 32, &v);
	case AVRO_INT64:
		return lvc__read_zz(w, "long", 64, &v);
	case AVRO_FLOAT:
		return lvc__walk_fixed(w, "float", 4);
	case AVRO_DOUBLE:
		return lvc__walk_fixed(w, "double", 8);
	case AVRO_STRING:
		return lvc__walk_string(w, 1);
	case AVRO_BYTES:
		return lvc__walk_string(w, 0);
	case AVRO_FIXED:
		return lvc__walk_fixed(w, "fixed", (size_t)avro_schema_fixed_size(schema));
	case AVRO_ENUM: {
		int n = avro_schema_enum_number_of_symbols(schema);

		if ((err = lvc__read_zz(w, "enum index", 32, &v)) != LVC_OK) {
			return err;
		}
		if (v < 0 || v >= n) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "enum index %" PRId64
			                 " is out of range: %s has %d symbols",
			                 v, avro_schema_name(schema), n);
		}
		return LVC_OK;
	}
	case AVRO_UNION: {
		size_t n = avro_schema_union_size(schema);

		if ((err = lvc__read_zz(w, "union branch", 64, &v)) != LVC_OK) {
			return err;
		}
		if (v < 0 || (uint64_t)v >= n) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "union branch %" PRId64
			                 " is out of range: the union has %zu "
			                 "branches",
			                 v, n);
		}
		return lvc__walk(w, avro_schema_union_branch(schema, (int)v));
	}
	case AVRO_RECORD:
		for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
			if ((err = lvc__push(w, avro_schema_record_field_name(schema, (int)i),
			                     -1)) != LVC_OK) {
				return err;
			}
			err = lvc__walk(w, avro_schema_record_field_get_by_index(schema, (int)i));
			if (err != LVC_OK) {
				return err;
			}
			w->depth--;
		}
		return LVC_OK;
	case AVRO_ARRAY:
		return lvc__walk_blocks(w, schema, 0);
	case AVRO_MAP:
		return lvc__walk_blocks(w, schema, 1);
	case AVRO_LINK:
		if (w->depth >= LVC__AVRO_MAX_DEPTH) {
			return lvc__fail(w, LVC_ERR_DECODE, "nesting deeper than %d levels",
			                 LVC__AVRO_MAX_DEPTH);
		}
		return lvc__walk(w, avro_schema_link_target(schema));
	default:
		return lvc__fail(w, LVC_ERR_DECODE, "schema type %d is not supported",
		                 (int)avro_typeof(schema));
	}
}

lvc_err_t lvc__avro_validate(avro_schema_t schema, const void *buf, size_t len,
                             const struct lvc__avro_limit *limits, size_t limits_n,
                             size_t *consumed, char *errstr, size_t errstr_size)
{
	static const uint8_t empty[1];
	struct lvc__walk w;
	lvc_err_t err;

	/* Pointer arithmetic on NULL is undefined even for an offset of 0. */
	w.p = buf != NULL ? (const uint8_t *)buf : empty;
	w.end = buf != NULL ? w.p + len : empty;
	w.limits = limits;
	w.limits_n = limits_n;
	w.root =
	    is_avro_named_type(schema) ? avro_schema_name(schema) : avro_schema_type_name(schema);
	w.depth = 0;
	w.errstr = errstr;
	w.errstr_size = errstr_size;
	if (buf == NULL && len != 0) {
		return lvc__fail(&w, LVC_ERR_INVALID, "no buffer");
	}
	if ((err = lvc__walk(&w, schema)) != LVC_OK) {
		return err;
	}
	if (consumed != NULL) {
		*consumed = len - lvc__left(&w);
	} else if (w.p != w.end) {
		return lvc__fail(&w, LVC_ERR_DECODE, "%zu trailing bytes after the record",
		                 lvc__left(&w));
	}
	return LVC_OK;
}
