/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema resolution as a compiled transcoder (see codec_resolve.h for the
 * rules). lvc_resolver_new() walks the writer and reader schemas together
 * once and builds a tree of nodes, one per writer schema position, each
 * knowing how to read that writer value and what to write for our schema
 * (a copy, a promotion, an enum index map, a union branch, a default). At
 * run time a record is first checked against the writer schema by the
 * validator (avro_validate.c, so that lengths and indexes can be trusted),
 * then walked once per nesting level: a record node notes where each writer
 * field starts and ends, then writes our fields in our order from those
 * slices or from the precomputed binary of their default.
 *
 * Invariants: nodes reference no Avro C schema at run time (accessors are
 * as costly as a read); a record node's slice table is scratch reused per
 * record, which is safe because recursive writer schemas are refused, so no
 * node is active twice at once; the output buffer grows geometrically and
 * is capped at 16 MiB.
 *
 * Load: one resolver per writer schema id (made once, kept for the process
 * lifetime by io/framing.c); per record a validation pass and a transcoding
 * pass, no allocation once the output buffer has grown.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "io/avro_validate.h"
#include "io/codec_resolve.h"

#define LVC__RES_MAX_OUT   ((size_t)16 * 1024 * 1024)
#define LVC__RES_MAX_DEPTH LVC__AVRO_MAX_DEPTH
#define LVC__PATH          256

typedef enum rop_e {
	ROP_NULL,      /* nothing to read or write */
	ROP_BOOL,      /* one byte */
	ROP_VARINT,    /* int -> int, int -> long, long -> long: same bytes */
	ROP_VARINT_F,  /* int or long -> float */
	ROP_VARINT_D,  /* int or long -> double */
	ROP_F4,        /* float -> float */
	ROP_F4_D,      /* float -> double */
	ROP_F8,        /* double -> double */
	ROP_BYTES,     /* string or bytes, either way */
	ROP_FIXED,     /* fixed of `size` bytes */
	ROP_ENUM,      /* index through map[] */
	ROP_ARRAY,     /* items through child */
	ROP_MAP,       /* values through child */
	ROP_RECORD,    /* fields, see rnode */
	ROP_WUNION,    /* writer union: branch through branches[] */
	ROP_TO_RUNION, /* writer non-union into our union branch `rbranch` */
} rop_t;

struct rfield {
	int w; /* writer field index, -1: write def[] */
	uint8_t *def;
	size_t def_len;
};

typedef struct rnode_s {
	rop_t op;
	char *path;              /* "Trade.side" for messages */
	size_t size;             /* ROP_FIXED */
	int *map;                /* ROP_ENUM: writer index -> ours, -1: refused */
	char **wsyms;            /* ROP_ENUM: writer symbols (for messages) */
	size_t n;                /* ROP_ENUM: writer symbols; ROP_WUNION: branches;
	                          * ROP_RECORD: writer fields */
	struct rnode_s *child;   /* ROP_ARRAY, ROP_MAP, ROP_TO_RUNION */
	struct rnode_s **branch; /* ROP_WUNION: per writer branch, NULL: no match */
	char **why;              /* ROP_WUNION: per branch without a match, the reason */
	int64_t rbranch;         /* ROP_TO_RUNION, or ROP_WUNION per branch via bidx */
	int64_t *bidx;           /* ROP_WUNION into our union: our branch index per
	                          * writer branch, -1: ours is no union */
	struct rnode_s **wf;     /* ROP_RECORD: one node per writer field */
	struct rfield *rf;       /* ROP_RECORD: our fields in our order */
	size_t rn;
	const uint8_t **slices; /* ROP_RECORD: scratch, 2 per writer field */
} rnode_t;

/* A growing output buffer: a failed growth sets oom and drops what follows. */
typedef struct obuf_s {
	uint8_t *p;
	size_t n, cap;
	int oom;
} obuf_t;

struct lvc_resolver_s {
	lvc_rec_type_t type;
	int identity;
	avro_schema_t ws, rs;
	json_t *wjson, *rjson;
	lvc__avro_prog_t *wprog;
	rnode_t *root;
	obuf_t out; /* the re-encoded record of the last run */
};

/* ---- building ------------------------------------------------------------------ */

typedef struct bctx_s {
	json_t *wnamed, *rnamed; /* full and short name -> JSON of named types */
	char *errstr;
	size_t errstr_size;
	lvc_err_t err;
	int depth;
	avro_schema_t stack[LVC__RES_MAX_DEPTH + 2]; /* writer named types being built */
	int sp;
} bctx_t;

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL) {
		memcpy(d, s, n);
	}
	return d;
}

static void node_free(rnode_t *n)
{
	if (n == NULL) {
		return;
	}
	free(n->path);
	free(n->map);
	if (n->wsyms != NULL) {
		for (size_t i = 0; i < n->n; i++) {
			free(n->wsyms[i]);
		}
		free(n->wsyms);
	}
	node_free(n->child);
	if (n->branch != NULL) {
		for (size_t i = 0; i < n->n; i++) {
			node_free(n->branch[i]);
		}
		free(n->branch);
	}
	if (n->why != NULL) {
		for (size_t i = 0; i < n->n; i++) {
			free(n->why[i]);
		}
		free(n->why);
	}
	free(n->bidx);
	if (n->wf != NULL) {
		for (size_t i = 0; i < n->n; i++) {
			node_free(n->wf[i]);
		}
		free(n->wf);
	}
	if (n->rf != NULL) {
		for (size_t i = 0; i < n->rn; i++) {
			free(n->rf[i].def);
		}
		free(n->rf);
	}
	free(n->slices);
	free(n);
}

static avro_schema_t deref(avro_schema_t s)
{
	while (s != NULL && is_avro_link(s)) {
		s = avro_schema_link_target(s);
	}
	return s;
}

static const char *tname(avro_schema_t s)
{
	s = deref(s);
	if (s == NULL) {
		return "?";
	}
	if (is_avro_named_type(s)) {
		return avro_schema_name(s);
	}
	return avro_schema_type_name(s);
}

static lvc_err_t bfail(bctx_t *b, lvc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lvc_err_t bfail(bctx_t *b, lvc_err_t err, const char *fmt, ...)
{
	va_list ap;

	if (b->err == LVC_OK) {
		va_start(ap, fmt);
		vsnprintf(b->errstr, b->errstr_size, fmt, ap);
		va_end(ap);
		b->err = err;
	}
	return err;
}

/* Records every named type of a schema JSON under its full and short
 * names (defaults and enum defaults are read from the JSON: Avro C does
 * not keep them). */
static void collect_named(json_t *node, const char *ns, json_t *out)
{
	if (json_is_array(node)) {
		size_t i;
		json_t *v;

		json_array_foreach(node, i, v)
		{
			collect_named(v, ns, out);
		}
		return;
	}
	if (!json_is_object(node)) {
		return;
	}
	{
		const char *type = json_string_value(json_object_get(node, "type"));
		const char *name = json_string_value(json_object_get(node, "name"));
		const char *nns = json_string_value(json_object_get(node, "namespace"));
		char full[512], nsbuf[512];

		if (type != NULL &&
		    (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 ||
		     strcmp(type, "fixed") == 0 || strcmp(type, "error") == 0) &&
		    name != NULL) {
			const char *dot = strrchr(name, '.');
			const char *use_ns = nns != NULL ? nns : ns;

			if (dot != NULL) {
				snprintf(full, sizeof(full), "%s", name);
			} else if (use_ns != NULL && use_ns[0] != '\0') {
				snprintf(full, sizeof(full), "%s.%s", use_ns, name);
			} else {
				snprintf(full, sizeof(full), "%s", name);
			}
			json_object_set(out, full, node);
			json_object_set(out, dot != NULL ? dot + 1 : name, node);
			if (dot != NULL) {
				/* A dotted name sets the namespace of what it holds. */
				snprintf(nsbuf, sizeof(nsbuf), "%.*s", (int)(dot - name), name);
				ns = nsbuf;
			} else if (nns != NULL) {
				ns = nns;
			}
		}
		collect_named(json_object_get(node, "type"), ns, out);
		collect_named(json_object_get(node, "fields"), ns, out);
		collect_named(json_object_get(node, "items"), ns, out);
		collect_named(json_object_get(node, "values"), ns, out);
	}
}

/* The JSON object of named schema s in table named, or NULL. */
static json_t *named_json(json_t *named, avro_schema_t s)
{
	char full[512];
	const char *ns = avro_schema_namespace(s);
	json_t *j;

	if (ns != NULL && ns[0] != '\0') {
		snprintf(full, sizeof(full), "%s.%s", ns, avro_schema_name(s));
		if ((j = json_object_get(named, full)) != NULL) {
			return j;
		}
	}
	return json_object_get(named, avro_schema_name(s));
}

/* Whether writer schema w can be read as reader schema r at the top (type
 * and name; deeper mismatches are found when building). */
static int matches(avro_schema_t w, avro_schema_t r)
{
	avro_type_t wt, rt;

	w = deref(w);
	r = deref(r);
	wt = avro_typeof(w);
	rt = avro_typeof(r);
	if (wt == rt) {
		if (is_avro_named_type(w)) {
			return strcmp(avro_schema_name(w), avro_schema_name(r)) == 0;
		}
		return 1;
	}
	switch (wt) {
	case AVRO_INT32:
		return rt == AVRO_INT64 || rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
	case AVRO_INT64:
		return rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
	case AVRO_FLOAT:
		return rt == AVRO_DOUBLE;
	case AVRO_STRING:
		return rt == AVRO_BYTES;
	case AVRO_BYTES:
		return rt == AVRO_STRING;
	default:
		return 0;
	}
}

/* ---- defaults as binary ---- */

static void ob_put(obuf_t *o, const void *src, size_t n)
{
	if (o->oom) {
		return;
	}
	if (o->n + n > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		uint8_t *p;

		while (cap < o->n + n) {
			cap *= 2;
		}
		if (cap > LVC__RES_MAX_OUT || (p = realloc(o->p, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, src, n);
	o->n += n;
}

static void ob_long(obuf_t *o, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	uint8_t b[10];
	size_t n = 0;

	while (z >= 0x80) {
		b[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	b[n++] = (uint8_t)z;
	ob_put(o, b, n);
}

static void ob_float(obuf_t *o, float f)
{
	uint32_t u;
	uint8_t b[4];

	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++) {
		b[i] = (uint8_t)(u >> (8 * i));
	}
	ob_put(o, b, 4);
}

static void ob_double(obuf_t *o, double d)
{
	uint64_t u;
	uint8_t b[8];

	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(u >> (8 * i));
	}
	ob_put(o, b, 8);
}

/* Encodes JSON default def as a value of our schema r (specification:
 * "Default values for union fields correspond to the first schema in the
 * union"). 0, or -1 when def does not fit r. */
static int encode_default(bctx_t *b, avro_schema_t r, json_t *def, obuf_t *o, int depth)
{
	r = deref(r);
	if (depth > LVC__RES_MAX_DEPTH) {
		return -1;
	}
	switch (avro_typeof(r)) {
	case AVRO_NULL:
		return json_is_null(def) ? 0 : -1;
	case AVRO_BOOLEAN: {
		uint8_t v = json_is_true(def) ? 1 : 0;

		if (!json_is_boolean(def)) {
			return -1;
		}
		ob_put(o, &v, 1);
		return 0;
	}
	case AVRO_INT32:
	case AVRO_INT64:
		if (!json_is_integer(def)) {
			return -1;
		}
		ob_long(o, (int64_t)json_integer_value(def));
		return 0;
	case AVRO_FLOAT:
	case AVRO_DOUBLE:
		if (!json_is_number(def)) {
			return -1;
		}
		if (avro_typeof(r) == AVRO_FLOAT) {
			ob_float(o, (float)json_number_value(def));
		} else {
			ob_double(o, json_number_value(def));
		}
		return 0;
	case AVRO_STRING:
	case AVRO_BYTES:
		if (!json_is_string(def)) {
			return -1;
		}
		ob_long(o, (int64_t)json_string_length(def));
		ob_put(o, json_string_value(def), json_string_length(def));
		return 0;
	case AVRO_FIXED:
		if (!json_is_string(def) ||
		    (int64_t)json_string_length(def) != avro_schema_fixed_size(r)) {
			return -1;
		}
		ob_put(o, json_string_value(def), json_string_length(def));
		return 0;
	case AVRO_ENUM: {
		int idx = json_is_string(def)
		              ? avro_schema_enum_get_by_name(r, json_string_value(def))
		              : -1;

		if (idx < 0) {
			return -1;
		}
		ob_long(o, idx);
		return 0;
	}
	case AVRO_ARRAY: {
		size_t i;
		json_t *v;

		if (!json_is_array(def)) {
			return -1;
		}
		if (json_array_size(def) > 0) {
			ob_long(o, (int64_t)json_array_size(def));
			json_array_foreach(def, i, v)
			{
				if (encode_default(b, avro_schema_array_items(r), v, o,
				                   depth + 1) != 0) {
					return -1;
				}
			}
		}
		ob_long(o, 0);
		return 0;
	}
	case AVRO_MAP: {
		const char *k;
		json_t *v;

		if (!json_is_object(def)) {
			return -1;
		}
		if (json_object_size(def) > 0) {
			ob_long(o, (int64_t)json_object_size(def));
			json_object_foreach(def, k, v)
			{
				ob_long(o, (int64_t)strlen(k));
				ob_put(o, k, strlen(k));
				if (encode_default(b, avro_schema_map_values(r), v, o, depth + 1) !=
				    0) {
					return -1;
				}
			}
		}
		ob_long(o, 0);
		return 0;
	}
	case AVRO_UNION:
		if (avro_schema_union_size(r) == 0) {
			return -1;
		}
		ob_long(o, 0);
		return encode_default(b, avro_schema_union_branch(r, 0), def, o, depth + 1);
	case AVRO_RECORD: {
		json_t *rj = named_json(b->rnamed, r);
		json_t *fields = rj != NULL ? json_object_get(rj, "fields") : NULL;

		if (!json_is_object(def)) {
			return -1;
		}
		for (size_t i = 0; i < avro_schema_record_size(r); i++) {
			const char *fname = avro_schema_record_field_name(r, (int)i);
			json_t *v = json_object_get(def, fname);

			if (v == NULL && fields != NULL) {
				v = json_object_get(json_array_get(fields, i), "default");
			}
			if (v == NULL ||
			    encode_default(b, avro_schema_record_field_get_by_index(r, (int)i), v,
			                   o, depth + 1) != 0) {
				return -1;
			}
		}
		return 0;
	}
	default:
		return -1;
	}
}

static rnode_t *build(bctx_t *b, avro_schema_t w, avro_schema_t r, const char *path);

static rnode_t *node_new(bctx_t *b, rop_t op, const char *path)
{
	rnode_t *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->path = xstrdup(path)) == NULL) {
		free(n);
		bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
		return NULL;
	}
	n->op = op;
	return n;
}

static rnode_t *build_enum(bctx_t *b, avro_schema_t w, avro_schema_t r, const char *path)
{
	rnode_t *n = node_new(b, ROP_ENUM, path);
	json_t *rj = named_json(b->rnamed, r), *wj = named_json(b->wnamed, w);
	const char *rdef = rj != NULL ? json_string_value(json_object_get(rj, "default")) : NULL;
	const char *wdef = wj != NULL ? json_string_value(json_object_get(wj, "default")) : NULL;
	int fallback = -1;

	if (n == NULL) {
		return NULL;
	}
	/* Our enum's default first (the specification's rule), else the
	 * writer's default when it is one of our symbols. */
	if (rdef != NULL) {
		fallback = avro_schema_enum_get_by_name(r, rdef);
	}
	if (fallback < 0 && wdef != NULL) {
		fallback = avro_schema_enum_get_by_name(r, wdef);
	}
	n->n = (size_t)avro_schema_enum_number_of_symbols(w);
	n->map = calloc(n->n > 0 ? n->n : 1, sizeof(*n->map));
	n->wsyms = calloc(n->n > 0 ? n->n : 1, sizeof(*n->wsyms));
	if (n->map == NULL || n->wsyms == NULL) {
		bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
		node_free(n);
		return NULL;
	}
	for (size_t i = 0; i < n->n; i++) {
		const char *sym = avro_schema_enum_get(w, (int)i);
		int idx = avro_schema_enum_get_by_name(r, sym);

		n->map[i] = idx >= 0 ? idx : fallback;
		if ((n->wsyms[i] = xstrdup(sym)) == NULL) {
			bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
			node_free(n);
			return NULL;
		}
	}
	return n;
}

static rnode_t *build_record(bctx_t *b, avro_schema_t w, avro_schema_t r, const char *path)
{
	rnode_t *n = node_new(b, ROP_RECORD, path);
	json_t *rj = named_json(b->rnamed, r);
	json_t *rfields = rj != NULL ? json_object_get(rj, "fields") : NULL;
	char sub[LVC__PATH];

	if (n == NULL) {
		return NULL;
	}
	n->n = avro_schema_record_size(w);
	n->rn = avro_schema_record_size(r);
	n->wf = calloc(n->n > 0 ? n->n : 1, sizeof(*n->wf));
	n->rf = calloc(n->rn > 0 ? n->rn : 1, sizeof(*n->rf));
	n->slices = calloc(2 * n->n + 2, sizeof(*n->slices));
	if (n->wf == NULL || n->rf == NULL || n->slices == NULL) {
		bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
		goto fail;
	}
	/* Writer fields: read as our field of the same name, or skipped (read
	 * as themselves, the output discarded). */
	for (size_t i = 0; i < n->n; i++) {
		const char *fname = avro_schema_record_field_name(w, (int)i);
		avro_schema_t wft = avro_schema_record_field_get_by_index(w, (int)i);
		int ri = avro_schema_record_field_get_index(r, fname);
		avro_schema_t rft = ri >= 0 ? avro_schema_record_field_get_by_index(r, ri) : wft;

		snprintf(sub, sizeof(sub), "%s.%s", path, fname);
		if ((n->wf[i] = build(b, wft, rft, sub)) == NULL) {
			goto fail;
		}
	}
	for (size_t j = 0; j < n->rn; j++) {
		const char *fname = avro_schema_record_field_name(r, (int)j);
		int wi = avro_schema_record_field_get_index(w, fname);
		json_t *def = NULL;
		obuf_t o = { 0 };

		n->rf[j].w = wi;
		if (wi >= 0) {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.%s", path, fname);
		if (rfields != NULL) {
			def = json_object_get(json_array_get(rfields, j), "default");
		}
		if (def == NULL) {
			bfail(b, LVC_ERR_INVALID,
			      "%s: the writer schema has no field %s, and ours gives it no default",
			      sub, fname);
			goto fail;
		}
		if (encode_default(b, avro_schema_record_field_get_by_index(r, (int)j), def, &o,
		                   0) != 0 ||
		    o.oom) {
			free(o.p);
			if (o.oom) {
				bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
			} else {
				bfail(b, LVC_ERR_INVALID, "%s: our default does not fit our type",
				      sub);
			}
			goto fail;
		}
		n->rf[j].def = o.p;
		n->rf[j].def_len = o.n;
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

static rnode_t *build_wunion(bctx_t *b, avro_schema_t w, avro_schema_t r, const char *path)
{
	rnode_t *n = node_new(b, ROP_WUNION, path);
	int r_union = is_avro_union(r);

	if (n == NULL) {
		return NULL;
	}
	n->n = avro_schema_union_size(w);
	n->branch = calloc(n->n > 0 ? n->n : 1, sizeof(*n->branch));
	n->why = calloc(n->n > 0 ? n->n : 1, sizeof(*n->why));
	n->bidx = calloc(n->n > 0 ? n->n : 1, sizeof(*n->bidx));
	if (n->branch == NULL || n->why == NULL || n->bidx == NULL) {
		bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
		node_free(n);
		return NULL;
	}
	for (size_t i = 0; i < n->n; i++) {
		avro_schema_t wb = avro_schema_union_branch(w, (int)i);
		avro_schema_t target = NULL;
		char msg[LVC__PATH + 160];

		n->bidx[i] = -1;
		if (r_union) {
			/* The first of our branches that matches; an exact type
			 * first, so that a null goes to null and a long to long. */
			for (int pass = 0; pass < 2 && target == NULL; pass++) {
				for (size_t k = 0; k < avro_schema_union_size(r); k++) {
					avro_schema_t rb = avro_schema_union_branch(r, (int)k);

					if ((pass == 0 &&
					     avro_typeof(deref(rb)) == avro_typeof(deref(wb)) &&
					     matches(wb, rb)) ||
					    (pass == 1 && matches(wb, rb))) {
						target = rb;
						n->bidx[i] = (int64_t)k;
						break;
					}
				}
			}
		} else if (matches(wb, r)) {
			target = r;
		}
		if (target == NULL) {
			snprintf(msg, sizeof(msg),
			         "%s: the writer's union branch %s has no match in our type %s",
			         path, tname(wb), tname(r));
			if ((n->why[i] = xstrdup(msg)) == NULL) {
				bfail(b, LVC_ERR_NOMEM, "out of memory resolving a writer schema");
				node_free(n);
				return NULL;
			}
			continue;
		}
		if ((n->branch[i] = build(b, wb, target, path)) == NULL) {
			node_free(n);
			return NULL;
		}
	}
	return n;
}

static rnode_t *build(bctx_t *b, avro_schema_t w, avro_schema_t r, const char *path)
{
	avro_type_t wt, rt;
	rnode_t *n = NULL;

	w = deref(w);
	r = deref(r);
	if (w == NULL || r == NULL) {
		bfail(b, LVC_ERR_INVALID, "%s: unresolved schema reference", path);
		return NULL;
	}
	if (++b->depth > LVC__RES_MAX_DEPTH) {
		bfail(b, LVC_ERR_INVALID, "%s: nested deeper than %d levels", path,
		      LVC__RES_MAX_DEPTH);
		goto out;
	}
	if (is_avro_named_type(w)) {
		for (int i = 0; i < b->sp; i++) {
			if (b->stack[i] == w) {
				bfail(b, LVC_ERR_INVALID,
				      "%s: the writer schema is recursive (%s), which is not "
				      "supported",
				      path, avro_schema_name(w));
				goto out;
			}
		}
		b->stack[b->sp++] = w;
	}
	wt = avro_typeof(w);
	rt = avro_typeof(r);
	if (wt == AVRO_UNION) {
		n = build_wunion(b, w, r, path);
		goto pop;
	}
	if (rt == AVRO_UNION) {
		size_t k, nb = avro_schema_union_size(r);

		for (int pass = 0; pass < 2; pass++) {
			for (k = 0; k < nb; k++) {
				avro_schema_t rb = avro_schema_union_branch(r, (int)k);

				if ((pass == 0 && avro_typeof(deref(rb)) == wt && matches(w, rb)) ||
				    (pass == 1 && matches(w, rb))) {
					goto found;
				}
			}
		}
		bfail(b, LVC_ERR_INVALID, "%s: the writer's %s matches no branch of our union",
		      path, tname(w));
		goto pop;
	found:
		if ((n = node_new(b, ROP_TO_RUNION, path)) == NULL) {
			goto pop;
		}
		n->rbranch = (int64_t)k;
		if ((n->child = build(b, w, avro_schema_union_branch(r, (int)k), path)) == NULL) {
			node_free(n);
			n = NULL;
		}
		goto pop;
	}
	if (!matches(w, r)) {
		bfail(b, LVC_ERR_INVALID, "%s: the writer's %s cannot be read as our %s", path,
		      tname(w), tname(r));
		goto pop;
	}
	switch (wt) {
	case AVRO_NULL:
		n = node_new(b, ROP_NULL, path);
		break;
	case AVRO_BOOLEAN:
		n = node_new(b, ROP_BOOL, path);
		break;
	case AVRO_INT32:
	case AVRO_INT64:
		n = node_new(b,
		             rt == AVRO_FLOAT    ? ROP_VARINT_F
		             : rt == AVRO_DOUBLE ? ROP_VARINT_D
		                                 : ROP_VARINT,
		             path);
		break;
	case AVRO_FLOAT:
		n = node_new(b, rt == AVRO_DOUBLE ? ROP_F4_D : ROP_F4, path);
		break;
	case AVRO_DOUBLE:
		n = node_new(b, ROP_F8, path);
		break;
	case AVRO_STRING:
	case AVRO_BYTES:
		n = node_new(b, ROP_BYTES, path);
		break;
	case AVRO_FIXED:
		if (avro_schema_fixed_size(w) != avro_schema_fixed_size(r)) {
			bfail(b, LVC_ERR_INVALID,
			      "%s: fixed of %" PRId64 " bytes, ours has %" PRId64, path,
			      avro_schema_fixed_size(w), avro_schema_fixed_size(r));
			break;
		}
		if ((n = node_new(b, ROP_FIXED, path)) != NULL) {
			n->size = (size_t)avro_schema_fixed_size(w);
		}
		break;
	case AVRO_ENUM:
		n = build_enum(b, w, r, path);
		break;
	case AVRO_ARRAY:
	case AVRO_MAP: {
		char sub[LVC__PATH];

		snprintf(sub, sizeof(sub), "%s[]", path);
		if ((n = node_new(b, wt == AVRO_ARRAY ? ROP_ARRAY : ROP_MAP, path)) == NULL) {
			break;
		}
		n->child =
		    wt == AVRO_ARRAY
		        ? build(b, avro_schema_array_items(w), avro_schema_array_items(r), sub)
		        : build(b, avro_schema_map_values(w), avro_schema_map_values(r), sub);
		if (n->child == NULL) {
			node_free(n);
			n = NULL;
		}
		break;
	}
	case AVRO_RECORD:
		n = build_record(b, w, r, path);
		break;
	default:
		bfail(b, LVC_ERR_INVALID, "%s: the writer's type %s is not supported", path,
		      tname(w));
		break;
	}
pop:
	if (is_avro_named_type(w) && b->sp > 0 && b->stack[b->sp - 1] == w) {
		b->sp--;
	}
out:
	b->depth--;
	return n;
}

/* ---- running ------------------------------------------------------------------- */

typedef struct rctx_s {
	lvc_resolver_t *r;
	char *errstr;
	size_t errstr_size;
} rctx_t;

/* The bytes were validated against the writer schema; the bounds checks
 * here only keep a bug from reading past the end. */
static int rd_long(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	return lvc__avro_read_long(p, end, v) == LVC_OK ? 0 : -1;
}

static lvc_err_t run_node(rctx_t *c, const rnode_t *n, const uint8_t **p, const uint8_t *end,
                          int emit);

static lvc_err_t rtrunc(rctx_t *c, const rnode_t *n)
{
	snprintf(c->errstr, c->errstr_size, "%s: truncated value", n->path);
	return LVC_ERR_DECODE;
}

/* Arrays and maps: blocks of items (a negative count carries a byte size,
 * which is skipped: we walk the items). Written as one block per block. */
static lvc_err_t run_blocks(rctx_t *c, const rnode_t *n, const uint8_t **p, const uint8_t *end,
                            int emit)
{
	lvc_err_t err;

	for (;;) {
		int64_t count, bytes;

		if (rd_long(p, end, &count) != 0) {
			return rtrunc(c, n);
		}
		if (count == 0) {
			break;
		}
		if (count < 0) {
			if (count == INT64_MIN || rd_long(p, end, &bytes) != 0) {
				return rtrunc(c, n);
			}
			count = -count;
		}
		if (emit) {
			ob_long(&c->r->out, count);
		}
		for (int64_t i = 0; i < count; i++) {
			if (n->op == ROP_MAP) {
				int64_t kl;

				if (rd_long(p, end, &kl) != 0 || kl < 0 || kl > end - *p) {
					return rtrunc(c, n);
				}
				if (emit) {
					ob_long(&c->r->out, kl);
					ob_put(&c->r->out, *p, (size_t)kl);
				}
				*p += kl;
			}
			if ((err = run_node(c, n->child, p, end, emit)) != LVC_OK) {
				return err;
			}
		}
	}
	if (emit) {
		ob_long(&c->r->out, 0);
	}
	return LVC_OK;
}

static lvc_err_t run_record(rctx_t *c, const rnode_t *n, const uint8_t **p, const uint8_t *end,
                            int emit)
{
	const uint8_t **sl = n->slices;
	lvc_err_t err;

	for (size_t i = 0; i < n->n; i++) {
		sl[2 * i] = *p;
		if ((err = run_node(c, n->wf[i], p, end, 0)) != LVC_OK) {
			return err;
		}
		sl[2 * i + 1] = *p;
	}
	if (!emit) {
		return LVC_OK;
	}
	for (size_t j = 0; j < n->rn; j++) {
		const struct rfield *f = &n->rf[j];

		if (f->w < 0) {
			ob_put(&c->r->out, f->def, f->def_len);
			continue;
		}
		{
			const uint8_t *q = sl[2 * f->w];

			if ((err = run_node(c, n->wf[f->w], &q, sl[2 * f->w + 1], 1)) != LVC_OK) {
				return err;
			}
		}
	}
	return LVC_OK;
}

static lvc_err_t run_node(rctx_t *c, const rnode_t *n, const uint8_t **p, const uint8_t *end,
                          int emit)
{
	int64_t v;
	lvc_resolver_t *r = c->r;

	switch (n->op) {
	case ROP_NULL:
		return LVC_OK;
	case ROP_BOOL:
		if (end - *p < 1) {
			return rtrunc(c, n);
		}
		if (emit) {
			ob_put(&r->out, *p, 1);
		}
		*p += 1;
		return LVC_OK;
	case ROP_VARINT:
	case ROP_VARINT_F:
	case ROP_VARINT_D: {
		const uint8_t *s = *p;

		if (rd_long(p, end, &v) != 0) {
			return rtrunc(c, n);
		}
		if (emit) {
			uint8_t b[8];
			double d = (double)v;
			float f = (float)v;
			uint64_t u = 0;

			if (n->op == ROP_VARINT) {
				ob_put(&r->out, s, (size_t)(*p - s));
			} else if (n->op == ROP_VARINT_F) {
				uint32_t u4;

				memcpy(&u4, &f, 4);
				for (int i = 0; i < 4; i++) {
					b[i] = (uint8_t)(u4 >> (8 * i));
				}
				ob_put(&r->out, b, 4);
			} else {
				memcpy(&u, &d, 8);
				for (int i = 0; i < 8; i++) {
					b[i] = (uint8_t)(u >> (8 * i));
				}
				ob_put(&r->out, b, 8);
			}
		}
		return LVC_OK;
	}
	case ROP_F4:
	case ROP_F4_D:
		if (end - *p < 4) {
			return rtrunc(c, n);
		}
		if (emit) {
			if (n->op == ROP_F4) {
				ob_put(&r->out, *p, 4);
			} else {
				uint32_t u4 = 0;
				uint64_t u;
				float f;
				double d;
				uint8_t b[8];

				for (int i = 0; i < 4; i++) {
					u4 |= (uint32_t)(*p)[i] << (8 * i);
				}
				memcpy(&f, &u4, 4);
				d = (double)f;
				memcpy(&u, &d, 8);
				for (int i = 0; i < 8; i++) {
					b[i] = (uint8_t)(u >> (8 * i));
				}
				ob_put(&r->out, b, 8);
			}
		}
		*p += 4;
		return LVC_OK;
	case ROP_F8:
		if (end - *p < 8) {
			return rtrunc(c, n);
		}
		if (emit) {
			ob_put(&r->out, *p, 8);
		}
		*p += 8;
		return LVC_OK;
	case ROP_BYTES: {
		const uint8_t *s = *p;

		if (rd_long(p, end, &v) != 0 || v < 0 || v > end - *p) {
			return rtrunc(c, n);
		}
		*p += v;
		if (emit) {
			ob_put(&r->out, s, (size_t)(*p - s));
		}
		return LVC_OK;
	}
	case ROP_FIXED:
		if ((size_t)(end - *p) < n->size) {
			return rtrunc(c, n);
		}
		if (emit) {
			ob_put(&r->out, *p, n->size);
		}
		*p += n->size;
		return LVC_OK;
	case ROP_ENUM:
		if (rd_long(p, end, &v) != 0 || v < 0 || (uint64_t)v >= n->n) {
			return rtrunc(c, n);
		}
		if (emit) {
			if (n->map[v] < 0) {
				snprintf(
				    c->errstr, c->errstr_size,
				    "%s: the writer's symbol %s is not one of ours, and neither "
				    "our enum nor the writer's gives a default we have",
				    n->path, n->wsyms[v]);
				return LVC_ERR_INVALID;
			}
			ob_long(&r->out, n->map[v]);
		}
		return LVC_OK;
	case ROP_ARRAY:
	case ROP_MAP:
		return run_blocks(c, n, p, end, emit);
	case ROP_RECORD:
		return run_record(c, n, p, end, emit);
	case ROP_WUNION:
		if (rd_long(p, end, &v) != 0 || v < 0 || (uint64_t)v >= n->n) {
			return rtrunc(c, n);
		}
		if (n->branch[v] == NULL) {
			/* Skipping a value needs its node; a branch without a
			 * match has none, so the record cannot be read. */
			snprintf(c->errstr, c->errstr_size, "%s", n->why[v]);
			return LVC_ERR_INVALID;
		}
		if (emit && n->bidx[v] >= 0) {
			ob_long(&r->out, n->bidx[v]);
		}
		return run_node(c, n->branch[v], p, end, emit);
	case ROP_TO_RUNION:
		if (emit) {
			ob_long(&r->out, n->rbranch);
		}
		return run_node(c, n->child, p, end, emit);
	}
	return LVC_ERR_INVALID;
}

/* ---- public --------------------------------------------------------------------- */

lvc_err_t lvc_resolver_new(lvc_rec_type_t type, const char *writer_json, lvc_resolver_t **out,
                           char *errstr, size_t errstr_size)
{
	lvc_resolver_t *r = NULL;
	bctx_t b = { 0 };
	const char *ours;
	char why[512];
	lvc_err_t err = LVC_OK;

	*out = NULL;
	if ((int)type < 0 || type >= LVC_REC__COUNT || writer_json == NULL) {
		snprintf(errstr, errstr_size, "no such record type or no writer schema");
		return LVC_ERR_INVALID;
	}
	ours = lvc_codec_schema_json(type);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	r->type = type;
	if (avro_schema_from_json_length(writer_json, strlen(writer_json), &r->ws) != 0) {
		snprintf(errstr, errstr_size, "the writer schema is not valid Avro: %s",
		         avro_strerror());
		r->ws = NULL;
		err = LVC_ERR_DECODE;
		goto exit;
	}
	if (avro_schema_from_json_length(ours, strlen(ours), &r->rs) != 0) {
		snprintf(errstr, errstr_size, "our schema %s does not parse: %s",
		         lvc_rec_type_names[type], avro_strerror());
		r->rs = NULL;
		err = LVC_ERR_INVALID;
		goto exit;
	}
	if (!is_avro_record(r->ws)) {
		snprintf(errstr, errstr_size, "the writer schema is a %s, not a record like %s",
		         avro_schema_type_name(r->ws), lvc_rec_type_names[type]);
		err = LVC_ERR_INVALID;
		goto exit;
	}
	if (strcmp(avro_schema_name(r->ws), avro_schema_name(r->rs)) != 0) {
		snprintf(errstr, errstr_size,
		         "the writer schema is the record %s, not %s (the names must match)",
		         avro_schema_name(r->ws), lvc_rec_type_names[type]);
		err = LVC_ERR_INVALID;
		goto exit;
	}
	if ((r->wprog = lvc__avro_compile(r->ws, NULL, 0, why, sizeof(why))) == NULL) {
		snprintf(errstr, errstr_size, "the writer schema cannot be checked: %s", why);
		err = LVC_ERR_INVALID;
		goto exit;
	}
	if (avro_schema_equal(r->ws, r->rs)) {
		r->identity = 1;
		goto exit;
	}
	r->wjson = json_loads(writer_json, 0, NULL);
	r->rjson = json_loads(ours, 0, NULL);
	b.wnamed = json_object();
	b.rnamed = json_object();
	if (r->wjson == NULL || r->rjson == NULL || b.wnamed == NULL || b.rnamed == NULL) {
		json_decref(b.wnamed);
		json_decref(b.rnamed);
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	collect_named(r->wjson, NULL, b.wnamed);
	collect_named(r->rjson, NULL, b.rnamed);
	b.errstr = errstr;
	b.errstr_size = errstr_size;
	r->root = build(&b, r->ws, r->rs, avro_schema_name(r->rs));
	json_decref(b.wnamed);
	json_decref(b.rnamed);
	if (r->root == NULL) {
		err = b.err != LVC_OK ? b.err : LVC_ERR_INVALID;
		goto exit;
	}
exit:
	if (err == LVC_ERR_NOMEM && b.err != LVC_ERR_NOMEM) {
		snprintf(errstr, errstr_size, "out of memory resolving a writer schema");
	}
	if (err != LVC_OK) {
		lvc_resolver_destroy(r);
		return err;
	}
	*out = r;
	return LVC_OK;
}

void lvc_resolver_destroy(lvc_resolver_t *r)
{
	if (r == NULL) {
		return;
	}
	node_free(r->root);
	lvc__avro_prog_free(r->wprog);
	if (r->ws != NULL) {
		avro_schema_decref(r->ws);
	}
	if (r->rs != NULL) {
		avro_schema_decref(r->rs);
	}
	json_decref(r->wjson);
	json_decref(r->rjson);
	free(r->out.p);
	free(r);
}

int lvc_resolver_is_identity(const lvc_resolver_t *r)
{
	return r->identity;
}

lvc_err_t lvc_resolver_run(lvc_resolver_t *r, const void *buf, size_t len, const void **out,
                           size_t *out_len, char *errstr, size_t errstr_size)
{
	rctx_t c = { r, errstr, errstr_size };
	const uint8_t *p = buf, *end = p + len;
	lvc_err_t err;

	if (r->identity) {
		/* The codec checks the bytes against our (= the writer's)
		 * schema itself. */
		*out = buf;
		*out_len = len;
		return LVC_OK;
	}
	if ((err = lvc__avro_check(r->wprog, buf, len, NULL, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	r->out.n = 0;
	r->out.oom = 0;
	if ((err = run_node(&c, r->root, &p, end, 1)) != LVC_OK) {
		return err;
	}
	if (r->out.oom) {
		snprintf(errstr, errstr_size, "out of memory re-encoding a record");
		return LVC_ERR_NOMEM;
	}
	*out = r->out.p;
	*out_len = r->out.n;
	return LVC_OK;
}
