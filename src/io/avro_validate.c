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
 * The schema is compiled once (lvc__avro_compile) into a flat array of
 * nodes, so that a check costs no Avro C call: Avro C's schema accessors
 * look fields up in hash tables, which made a walk over avro_schema_t cost
 * as much as the read it protects.
 *
 * Invariants: never reads outside buf[0..len); a check never allocates;
 * recursion bounded by LVC__AVRO_MAX_DEPTH. Cost: one pass over the bytes
 * (a UTF-8 check over every string), a few ns per field.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/avro_validate.h"
#include "core/grow.h"

struct lvc__frame {
	const char *name; /* record field name, or NULL for an item index */
	int64_t index;
};

/* One node of a compiled schema: what the walker needs, without Avro C's
 * hash-table lookups per field. */
struct lvc__node {
	avro_type_t type;
	uint32_t n;    /* record fields, union branches, enum symbols, fixed bytes */
	uint32_t kids; /* first index into prog->kids and prog->names */
	size_t min_size;
	size_t max_items;     /* arrays and maps: 0 for no limit but the bytes */
	const char *name;     /* named types: the short name */
	avro_schema_t schema; /* named types: found again through links */
	int in_progress;      /* compiling: a link back to it must not recurse */
};

struct lvc__avro_prog {
	struct lvc__node *nodes;
	size_t nodes_n, nodes_cap;
	uint32_t *kids;     /* child node indexes */
	const char **names; /* record field names, parallel to kids */
	size_t kids_n, kids_cap;
	const char *root;
};

struct lvc__walk {
	const uint8_t *p;
	const uint8_t *end;
	const struct lvc__avro_prog *prog;
	const char *root;
	int depth;
	struct lvc__frame path[LVC__AVRO_MAX_DEPTH];
	struct lvc__avro_leaf *leaves; /* lvc__avro_check_leaves: one per root field */
	struct lvc__avro_leaf *leaf;   /* where the value being walked goes, or NULL */
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

/* ---- compiling ---------------------------------------------------------- */

struct lvc__compile {
	struct lvc__avro_prog *prog;
	const struct lvc__avro_limit *limits;
	size_t limits_n;
	char *errstr;
	size_t errstr_size;
	int depth;
};

static int lvc__grow(void **p, size_t *cap, size_t need, size_t elem)
{
	return lvc_grow(p, cap, need, elem, 16);
}

static lvc_err_t lvc__compile_fail(struct lvc__compile *c, lvc_err_t err, const char *what)
{
	if (c->errstr != NULL && c->errstr_size > 0) {
		snprintf(c->errstr, c->errstr_size, "compiling the schema: %s", what);
	}
	return err;
}

/* Compiles schema into a node; *out is its index. Named types are compiled
 * once: a link, or a second reference, finds the node already there. */
static lvc_err_t lvc__compile_node(struct lvc__compile *c, avro_schema_t schema, uint32_t *out)
{
	struct lvc__avro_prog *prog = c->prog;
	struct lvc__node *node;
	uint32_t idx, first = 0, n = 0;
	avro_type_t type;
	lvc_err_t err;

	while (is_avro_link(schema)) {
		schema = avro_schema_link_target(schema);
	}
	type = avro_typeof(schema);
	if (is_avro_named_type(schema)) {
		/* Linear search: schemas hold a handful of named types, and this
		 * runs once per codec. */
		for (size_t i = 0; i < prog->nodes_n; i++) {
			if (prog->nodes[i].schema == schema) {
				*out = (uint32_t)i;
				return LVC_OK;
			}
		}
	}
	if (++c->depth > 2 * LVC__AVRO_MAX_DEPTH) {
		return lvc__compile_fail(c, LVC_ERR_RANGE, "nesting too deep");
	}
	if (lvc__grow((void **)&prog->nodes, &prog->nodes_cap, prog->nodes_n + 1,
	              sizeof(*prog->nodes)) != 0) {
		return lvc__compile_fail(c, LVC_ERR_NOMEM, "out of memory");
	}
	idx = (uint32_t)prog->nodes_n++;
	node = &prog->nodes[idx];
	memset(node, 0, sizeof(*node));
	node->type = type;
	node->name = is_avro_named_type(schema) ? avro_schema_name(schema) : NULL;
	node->schema = is_avro_named_type(schema) ? schema : NULL;
	node->in_progress = 1;
	switch (type) {
	case AVRO_RECORD:
		n = (uint32_t)avro_schema_record_size(schema);
		break;
	case AVRO_UNION:
		n = (uint32_t)avro_schema_union_size(schema);
		break;
	case AVRO_ARRAY:
	case AVRO_MAP:
		n = 1;
		break;
	case AVRO_ENUM:
		node->n = (uint32_t)avro_schema_enum_number_of_symbols(schema);
		break;
	case AVRO_FIXED:
		node->n = (uint32_t)avro_schema_fixed_size(schema);
		break;
	case AVRO_NULL:
	case AVRO_BOOLEAN:
	case AVRO_INT32:
	case AVRO_INT64:
	case AVRO_FLOAT:
	case AVRO_DOUBLE:
	case AVRO_STRING:
	case AVRO_BYTES:
		break;
	default:
		return lvc__compile_fail(c, LVC_ERR_INVALID, "unsupported schema type");
	}
	if (n > 0) {
		/* Reserve the children's slots before compiling them: they
		 * append their own after ours. */
		if (lvc__grow((void **)&prog->kids, &prog->kids_cap, prog->kids_n + n,
		              sizeof(*prog->kids)) != 0) {
			return lvc__compile_fail(c, LVC_ERR_NOMEM, "out of memory");
		}
		{
			size_t cap = prog->kids_cap;
			void *names = realloc(prog->names, cap * sizeof(*prog->names));

			if (names == NULL) {
				return lvc__compile_fail(c, LVC_ERR_NOMEM, "out of memory");
			}
			prog->names = names;
		}
		first = (uint32_t)prog->kids_n;
		prog->kids_n += n;
		prog->nodes[idx].kids = first;
		prog->nodes[idx].n = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		avro_schema_t kid;
		uint32_t kidx;

		switch (type) {
		case AVRO_RECORD:
			kid = avro_schema_record_field_get_by_index(schema, (int)i);
			prog->names[first + i] = avro_schema_record_field_name(schema, (int)i);
			break;
		case AVRO_UNION:
			kid = avro_schema_union_branch(schema, (int)i);
			prog->names[first + i] = NULL;
			break;
		case AVRO_ARRAY:
			kid = avro_schema_array_items(schema);
			prog->names[first + i] = NULL;
			break;
		default:
			kid = avro_schema_map_values(schema);
			prog->names[first + i] = NULL;
			break;
		}
		if ((err = lvc__compile_node(c, kid, &kidx)) != LVC_OK) {
			return err;
		}
		prog->kids[first + i] = kidx;
	}
	/* prog->nodes may have moved while the children compiled. */
	node = &prog->nodes[idx];
	switch (type) {
	case AVRO_NULL:
		node->min_size = 0;
		break;
	case AVRO_FLOAT:
		node->min_size = 4;
		break;
	case AVRO_DOUBLE:
		node->min_size = 8;
		break;
	case AVRO_FIXED:
		node->min_size = node->n;
		break;
	case AVRO_RECORD:
		/* A child still in progress (recursion) counts 0: a lower bound. */
		for (uint32_t i = 0; i < n; i++) {
			const struct lvc__node *k = &prog->nodes[prog->kids[first + i]];

			node->min_size += k->in_progress ? 0 : k->min_size;
		}
		break;
	case AVRO_UNION: {
		size_t best = SIZE_MAX;

		for (uint32_t i = 0; i < n; i++) {
			const struct lvc__node *k = &prog->nodes[prog->kids[first + i]];
			size_t m = k->in_progress ? 0 : k->min_size;

			best = m < best ? m : best;
		}
		node->min_size = 1 + (best == SIZE_MAX ? 0 : best);
		break;
	}
	default:
		/* boolean, int, long, string, bytes, enum, array, map */
		node->min_size = 1;
		break;
	}
	if (type == AVRO_ARRAY || type == AVRO_MAP) {
		for (size_t i = 0; i < c->limits_n; i++) {
			if (c->limits[i].schema == schema) {
				node->max_items = c->limits[i].max_items;
			}
		}
	}
	node->in_progress = 0;
	c->depth--;
	*out = idx;
	return LVC_OK;
}

lvc__avro_prog_t *lvc__avro_compile(avro_schema_t schema, const struct lvc__avro_limit *limits,
                                    size_t limits_n, char *errstr, size_t errstr_size)
{
	struct lvc__compile c;
	uint32_t root;

	memset(&c, 0, sizeof(c));
	c.limits = limits;
	c.limits_n = limits_n;
	c.errstr = errstr;
	c.errstr_size = errstr_size;
	if ((c.prog = calloc(1, sizeof(*c.prog))) == NULL) {
		lvc__compile_fail(&c, LVC_ERR_NOMEM, "out of memory");
		return NULL;
	}
	c.prog->root =
	    is_avro_named_type(schema) ? avro_schema_name(schema) : avro_schema_type_name(schema);
	if (lvc__compile_node(&c, schema, &root) != LVC_OK) {
		lvc__avro_prog_free(c.prog);
		return NULL;
	}
	return c.prog;
}

void lvc__avro_prog_free(lvc__avro_prog_t *prog)
{
	if (prog == NULL) {
		return;
	}
	free(prog->nodes);
	free(prog->kids);
	free(prog->names);
	free(prog);
}

size_t lvc__avro_prog_min_size(const lvc__avro_prog_t *prog)
{
	return prog->nodes[0].min_size;
}

/* ---- walking ------------------------------------------------------------ */

static lvc_err_t lvc__walk(struct lvc__walk *w, uint32_t idx);

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
	if (w->leaf != NULL) {
		w->leaf->s = w->p;
		w->leaf->n = (size_t)n;
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

/* Arrays and maps: blocks of items until a zero count (Avro spec, "Complex
 * Types"); a negative count is followed by the block's byte size. */
static lvc_err_t lvc__walk_blocks(struct lvc__walk *w, const struct lvc__node *node)
{
	int is_map = node->type == AVRO_MAP;
	const char *what_count = is_map ? "map block count" : "array block count";
	const char *what_size = is_map ? "map block byte size" : "array block byte size";
	uint32_t items = w->prog->kids[node->kids];
	size_t item_min = w->prog->nodes[items].min_size + (is_map ? 1 : 0);
	size_t max_items = node->max_items;
	uint64_t total = 0;
	lvc_err_t err;

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

/* Avro's float and double: IEEE 754, little-endian. */
static double lvc__le_double(const uint8_t *p, int is_float)
{
	uint64_t u = 0;

	for (int i = is_float ? 3 : 7; i >= 0; i--) {
		u = u << 8 | p[i];
	}
	if (is_float) {
		uint32_t u32 = (uint32_t)u;
		float f;

		memcpy(&f, &u32, sizeof(f));
		return f;
	}
	{
		double d;

		memcpy(&d, &u, sizeof(d));
		return d;
	}
}

static lvc_err_t lvc__walk_real(struct lvc__walk *w, int is_float)
{
	const uint8_t *p = w->p;
	lvc_err_t err = lvc__walk_fixed(w, is_float ? "float" : "double", is_float ? 4 : 8);

	if (err == LVC_OK && w->leaf != NULL) {
		w->leaf->d = lvc__le_double(p, is_float);
	}
	return err;
}

static lvc_err_t lvc__walk(struct lvc__walk *w, uint32_t idx)
{
	const struct lvc__node *node = &w->prog->nodes[idx];
	struct lvc__avro_leaf *leaf = w->leaf;
	int64_t v;
	lvc_err_t err;

	if (leaf != NULL && node->type != AVRO_UNION) {
		leaf->type = node->type;
	}
	switch (node->type) {
	case AVRO_NULL:
		return LVC_OK;
	case AVRO_BOOLEAN:
		if (lvc__left(w) < 1) {
			return lvc__fail(w, LVC_ERR_DECODE, "boolean needs 1 byte, 0 left");
		}
		if (*w->p > 1) {
			return lvc__fail(w, LVC_ERR_DECODE, "boolean byte %u is not 0 or 1", *w->p);
		}
		if (leaf != NULL) {
			leaf->l = *w->p;
		}
		w->p++;
		return LVC_OK;
	case AVRO_INT32:
	case AVRO_INT64:
		err = lvc__read_zz(w, node->type == AVRO_INT32 ? "int" : "long",
		                   node->type == AVRO_INT32 ? 32 : 64, &v);
		if (err == LVC_OK && leaf != NULL) {
			leaf->l = v;
		}
		return err;
	case AVRO_FLOAT:
	case AVRO_DOUBLE:
		return lvc__walk_real(w, node->type == AVRO_FLOAT);
	case AVRO_STRING:
		return lvc__walk_string(w, 1);
	case AVRO_BYTES:
		return lvc__walk_string(w, 0);
	case AVRO_FIXED:
		return lvc__walk_fixed(w, "fixed", node->n);
	case AVRO_ENUM:
		if ((err = lvc__read_zz(w, "enum index", 32, &v)) != LVC_OK) {
			return err;
		}
		if (v < 0 || v >= (int64_t)node->n) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "enum index %" PRId64
			                 " is out of range: %s has %u symbols",
			                 v, node->name, (unsigned)node->n);
		}
		if (leaf != NULL) {
			leaf->l = v;
		}
		return LVC_OK;
	case AVRO_UNION:
		if ((err = lvc__read_zz(w, "union branch", 64, &v)) != LVC_OK) {
			return err;
		}
		if (v < 0 || v >= (int64_t)node->n) {
			return lvc__fail(w, LVC_ERR_DECODE,
			                 "union branch %" PRId64
			                 " is out of range: the union has %u "
			                 "branches",
			                 v, (unsigned)node->n);
		}
		if (leaf != NULL) {
			leaf->branch = (int32_t)v;
		}
		return lvc__walk(w, w->prog->kids[node->kids + (uint32_t)v]);
	case AVRO_RECORD:
		for (uint32_t i = 0; i < node->n; i++) {
			/* Values are captured in the root record's fields only. */
			w->leaf = w->leaves != NULL && w->depth == 0 ? &w->leaves[i] : NULL;
			if (w->leaf != NULL) {
				w->leaf->branch = -1;
			}
			if ((err = lvc__push(w, w->prog->names[node->kids + i], -1)) != LVC_OK) {
				return err;
			}
			if ((err = lvc__walk(w, w->prog->kids[node->kids + i])) != LVC_OK) {
				return err;
			}
			w->depth--;
		}
		w->leaf = NULL;
		return LVC_OK;
	case AVRO_ARRAY:
	case AVRO_MAP:
		w->leaf = NULL; /* items and keys are not captured */
		return lvc__walk_blocks(w, node);
	default:
		return lvc__fail(w, LVC_ERR_DECODE, "schema type %d is not supported",
		                 (int)node->type);
	}
}

static lvc_err_t lvc__check(const lvc__avro_prog_t *prog, const void *buf, size_t len,
                            size_t *consumed, struct lvc__avro_leaf *leaves, char *errstr,
                            size_t errstr_size)
{
	static const uint8_t empty[1];
	struct lvc__walk w;
	lvc_err_t err;

	/* Pointer arithmetic on NULL is undefined even for an offset of 0. */
	w.p = buf != NULL ? (const uint8_t *)buf : empty;
	w.end = buf != NULL ? w.p + len : empty;
	w.prog = prog;
	w.root = prog->root;
	w.depth = 0;
	w.leaves = leaves;
	w.leaf = NULL;
	w.errstr = errstr;
	w.errstr_size = errstr_size;
	if (buf == NULL && len != 0) {
		return lvc__fail(&w, LVC_ERR_INVALID, "no buffer");
	}
	if ((err = lvc__walk(&w, 0)) != LVC_OK) {
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

lvc_err_t lvc__avro_check(const lvc__avro_prog_t *prog, const void *buf, size_t len,
                          size_t *consumed, char *errstr, size_t errstr_size)
{
	return lvc__check(prog, buf, len, consumed, NULL, errstr, errstr_size);
}

lvc_err_t lvc__avro_check_leaves(const lvc__avro_prog_t *prog, const void *buf, size_t len,
                                 struct lvc__avro_leaf *leaves, size_t leaves_n, char *errstr,
                                 size_t errstr_size)
{
	const struct lvc__node *root = &prog->nodes[0];

	if (root->type != AVRO_RECORD || root->n > leaves_n || leaves == NULL) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: not a record of at most %zu fields",
			         prog->root, leaves_n);
		}
		return LVC_ERR_INVALID;
	}
	return lvc__check(prog, buf, len, NULL, leaves, errstr, errstr_size);
}

lvc_err_t lvc__avro_validate(avro_schema_t schema, const void *buf, size_t len,
                             const struct lvc__avro_limit *limits, size_t limits_n,
                             size_t *consumed, char *errstr, size_t errstr_size)
{
	lvc__avro_prog_t *prog = lvc__avro_compile(schema, limits, limits_n, errstr, errstr_size);
	lvc_err_t err;

	if (prog == NULL) {
		return LVC_ERR_NOMEM;
	}
	err = lvc__avro_check(prog, buf, len, consumed, errstr, errstr_size);
	lvc__avro_prog_free(prog);
	return err;
}
