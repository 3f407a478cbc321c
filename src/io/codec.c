/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Avro codec of SPEC §2: plain Avro binary <-> the record structs of
 * core/records.h, through the Avro C value API.
 *
 * lvc_codec_new() parses the schemas embedded from the schemas/ .avsc files once,
 * checks that every field we use is there with the type we expect and that
 * every enum's symbols are the C enum's names in order, and resolves field
 * indexes once; at run time fields are reached by index only. Each record
 * type keeps one value to decode into, one to encode from, one for
 * to_json, one memory reader, one memory writer and one output buffer, all
 * reused for the codec's lifetime: our code allocates nothing per record.
 * (Avro C's avro_value_read() itself allocates and frees two small blocks
 * per string field it reads; memory stays flat, which the tests check.)
 * Encoders hand Avro C our strings without a copy (a wrapped buffer with no
 * free function), so encoding allocates nothing once the arrays have grown.
 *
 * Decoding is safe against hostile bytes: avro_validate.c walks the bytes
 * against the schema before avro_value_read() runs, the allocator
 * (avro_alloc.c) caps what Avro C may hold, and after reading, value checks
 * refuse what the core must never see (SPEC §3: NaN, infinite, zero or
 * negative prices and quantities go to the dead letter).
 *
 * Load: one decode per input record, one encode per output event; a few
 * hundred ns each (tests/bench/bench_codec.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "io/avro_alloc.h"
#include "io/avro_validate.h"
#include "io/codec.h"
#include "io/codec_internal.h"
#include "io/schemas.h"
#include "core/grow.h"

/* The output buffer of one record type starts at this size and doubles. */
#define LVC__ENC_INITIAL 512
/* No record we encode comes near this; beyond it something is broken. */
#define LVC__ENC_MAX ((size_t)16 * 1024 * 1024)

const char *const lvc_rec_type_names[LVC_REC__COUNT] = {
	"levcal.Trade",          "levcal.PriceTick",     "levcal.Position",
	"levcal.AccountBalance", "levcal.LeverageLimit", "levcal.LiquidationWarning",
	"levcal.StateSnapshot",
};

/* Field indexes into lvc__rec.idx, in our order (not necessarily the
 * schema's: the schema order is resolved at lvc_codec_new()). */
enum { TR_INSTRUMENT, TR_TS_US, TR_PRICE, TR_QTY, TR_SIDE, TR_TRADE_ID, TR__N };
enum { PT_INSTRUMENT, PT_TS_US, PT_KIND, PT_PRICE, PT__N };
enum {
	PO_ACCOUNT,
	PO_INSTRUMENT,
	PO_TS_US,
	PO_SIZE,
	PO_ENTRY_PRICE,
	PO_MARGIN_MODE,
	PO_COLLATERAL,
	PO__N
};
enum { BA_ACCOUNT, BA_TS_US, BA_COLLATERAL, BA__N };
enum {
	LI_INSTRUMENT,
	LI_TS_US,
	LI_SEQ,
	LI_STATUS,
	LI_REASON,
	LI_ESTIMATOR,
	LI_SIGMA_ANN,
	LI_SIGMA_HORIZON,
	LI_IMR,
	LI_MMR,
	LI_MAX_LEVERAGE,
	LI_PREVIOUS_MAX_LEVERAGE,
	LI_TIERS,
	LI_COMPONENTS,
	LI_CONFIG_ID,
	LI__N
};
enum {
	WA_ACCOUNT,
	WA_INSTRUMENT,
	WA_TS_US,
	WA_SEQ,
	WA_LEVEL,
	WA_PREVIOUS_LEVEL,
	WA_MARK_PRICE,
	WA_LIQUIDATION_PRICE,
	WA_DISTANCE_SIGMA,
	WA_EQUITY,
	WA_MAINTENANCE_MARGIN,
	WA_MARGIN_RATIO,
	WA_SIZE,
	WA_SIGMA_ANN,
	WA_HIT_PROBABILITY,
	WA__N
};
enum { ST_KIND, ST_FORMAT_VERSION, ST_CONFIG_ID, ST_SOURCE, ST_DATA, ST__N };

/* What a field must look like in the schema. For AVRO_UNION, `branch` is
 * the type of the non-null second branch of a {null, X} union; for
 * AVRO_ENUM, the symbols must be `symbols[0..n)` in order; for AVRO_ARRAY,
 * the items must be a record. */
struct lvc__field_spec {
	const char *name;
	avro_type_t type;
	avro_type_t branch;
	const char *const *symbols;
	int n;
};

static const char *const lvc__state_kind_names[] = { "INSTRUMENT", "POSITION", "PARTITION" };

static const struct lvc__field_spec lvc__trade_fields[TR__N] = {
	{ "instrument", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "price", AVRO_DOUBLE, 0, NULL, 0 },
	{ "qty", AVRO_DOUBLE, 0, NULL, 0 },
	{ "side", AVRO_ENUM, 0, lvc_side_names, LVC_SIDE__COUNT },
	{ "trade_id", AVRO_UNION, AVRO_STRING, NULL, 0 },
};
static const struct lvc__field_spec lvc__price_fields[PT__N] = {
	{ "instrument", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "kind", AVRO_ENUM, 0, lvc_price_kind_names, LVC_PRICE__COUNT },
	{ "price", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__position_fields[PO__N] = {
	{ "account", AVRO_STRING, 0, NULL, 0 },
	{ "instrument", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "size", AVRO_DOUBLE, 0, NULL, 0 },
	{ "entry_price", AVRO_DOUBLE, 0, NULL, 0 },
	{ "margin_mode", AVRO_ENUM, 0, lvc_margin_mode_names, LVC_MARGIN__COUNT },
	{ "collateral", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__balance_fields[BA__N] = {
	{ "account", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "collateral", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__limit_fields[LI__N] = {
	{ "instrument", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "seq", AVRO_INT64, 0, NULL, 0 },
	{ "status", AVRO_ENUM, 0, lvc_limit_status_names, LVC_STATUS__COUNT },
	{ "reason", AVRO_ENUM, 0, lvc_limit_reason_names, LVC_REASON__COUNT },
	{ "estimator", AVRO_STRING, 0, NULL, 0 },
	{ "sigma_ann", AVRO_DOUBLE, 0, NULL, 0 },
	{ "sigma_horizon", AVRO_DOUBLE, 0, NULL, 0 },
	{ "imr", AVRO_DOUBLE, 0, NULL, 0 },
	{ "mmr", AVRO_DOUBLE, 0, NULL, 0 },
	{ "max_leverage", AVRO_DOUBLE, 0, NULL, 0 },
	{ "previous_max_leverage", AVRO_UNION, AVRO_DOUBLE, NULL, 0 },
	{ "tiers", AVRO_ARRAY, 0, NULL, 0 },
	{ "components", AVRO_ARRAY, 0, NULL, 0 },
	{ "config_id", AVRO_STRING, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__tier_fields[LVC__TI__N] = {
	{ "notional_cap", AVRO_DOUBLE, 0, NULL, 0 },
	{ "max_leverage", AVRO_DOUBLE, 0, NULL, 0 },
	{ "imr", AVRO_DOUBLE, 0, NULL, 0 },
	{ "mmr", AVRO_DOUBLE, 0, NULL, 0 },
	{ "maintenance_deduction", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__component_fields[LVC__CO__N] = {
	{ "estimator", AVRO_STRING, 0, NULL, 0 },
	{ "sigma_ann", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__warning_fields[WA__N] = {
	{ "account", AVRO_STRING, 0, NULL, 0 },
	{ "instrument", AVRO_STRING, 0, NULL, 0 },
	{ "ts_us", AVRO_INT64, 0, NULL, 0 },
	{ "seq", AVRO_INT64, 0, NULL, 0 },
	{ "level", AVRO_ENUM, 0, lvc_level_names, LVC_LEVEL__COUNT },
	{ "previous_level", AVRO_ENUM, 0, lvc_level_names, LVC_LEVEL__COUNT },
	{ "mark_price", AVRO_DOUBLE, 0, NULL, 0 },
	{ "liquidation_price", AVRO_UNION, AVRO_DOUBLE, NULL, 0 },
	{ "distance_sigma", AVRO_DOUBLE, 0, NULL, 0 },
	{ "equity", AVRO_DOUBLE, 0, NULL, 0 },
	{ "maintenance_margin", AVRO_DOUBLE, 0, NULL, 0 },
	{ "margin_ratio", AVRO_DOUBLE, 0, NULL, 0 },
	{ "size", AVRO_DOUBLE, 0, NULL, 0 },
	{ "sigma_ann", AVRO_DOUBLE, 0, NULL, 0 },
	{ "hit_probability", AVRO_DOUBLE, 0, NULL, 0 },
};
static const struct lvc__field_spec lvc__state_fields[ST__N] = {
	{ "kind", AVRO_ENUM, 0, lvc__state_kind_names, 3 },
	{ "format_version", AVRO_INT32, 0, NULL, 0 },
	{ "config_id", AVRO_STRING, 0, NULL, 0 },
	{ "source", AVRO_STRING, 0, NULL, 0 },
	{ "data", AVRO_BYTES, 0, NULL, 0 },
};

static const struct {
	const char *stem; /* file stem in schemas/ and the record's short name */
	const struct lvc__field_spec *fields;
	int n;
} lvc__types[LVC_REC__COUNT] = {
	{ "Trade", lvc__trade_fields, TR__N },
	{ "PriceTick", lvc__price_fields, PT__N },
	{ "Position", lvc__position_fields, PO__N },
	{ "AccountBalance", lvc__balance_fields, BA__N },
	{ "LeverageLimit", lvc__limit_fields, LI__N },
	{ "LiquidationWarning", lvc__warning_fields, WA__N },
	{ "StateSnapshot", lvc__state_fields, ST__N },
};

int lvc_rec_type_from_name(const char *name, lvc_rec_type_t *out)
{
	if (name == NULL) {
		return -1;
	}
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		if (strcmp(name, lvc_rec_type_names[t]) == 0 ||
		    strcmp(name, lvc__types[t].stem) == 0) {
			if (out != NULL) {
				*out = (lvc_rec_type_t)t;
			}
			return 0;
		}
	}
	return -1;
}

const char *lvc_codec_schema_json(lvc_rec_type_t type)
{
	if ((int)type < 0 || type >= LVC_REC__COUNT) {
		return NULL;
	}
	for (const struct lvc_embedded_schema *s = lvc_embedded_schemas; s->name != NULL; s++) {
		if (strcmp(s->name, lvc__types[type].stem) == 0) {
			return s->json;
		}
	}
	return NULL;
}

lvc_err_t lvc__codec_avro_fail(const char *what, const char *call, int rc, char *errstr,
                               size_t errstr_size)
{
	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size, "%s: %s: %s", what, call, avro_strerror());
	}
	return rc == ENOMEM ? LVC_ERR_NOMEM : LVC_ERR_DECODE;
}

lvc_err_t lvc__codec_write(avro_writer_t writer, avro_value_t *value, uint8_t **buf, size_t *cap,
                           size_t *len)
{
	for (;;) {
		int rc;

		avro_writer_memory_set_dest(writer, (const char *)*buf, (int64_t)*cap);
		rc = avro_value_write(writer, value);
		if (rc == 0) {
			*len = (size_t)avro_writer_tell(writer);
			return LVC_OK;
		}
		if (rc != ENOSPC) {
			return rc == ENOMEM ? LVC_ERR_NOMEM : LVC_ERR_INVALID;
		}
		/* The memory writer refuses a write that does not fit, whole;
		 * a bigger buffer and a new attempt is all it takes. */
		if (*cap >= LVC__ENC_MAX) {
			return LVC_ERR_RANGE;
		}
		{
			size_t ncap = *cap * 2;
			uint8_t *nbuf = realloc(*buf, ncap);

			if (nbuf == NULL) {
				return LVC_ERR_NOMEM;
			}
			*buf = nbuf;
			*cap = ncap;
		}
	}
}

/* Formats v the shortest way that reads back as the same double. */
static const char *lvc__fmt_double(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "nan");
	} else if (isinf(v)) {
		snprintf(buf, size, "%s", v < 0 ? "-inf" : "inf");
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v) {
				break;
			}
		}
	}
	return buf;
}

/* ---- lvc_codec_new ---------------------------------------------------- */

static lvc_err_t lvc__check_field(avro_schema_t record, const struct lvc__field_spec *spec,
                                  int *idx, char *errstr, size_t errstr_size)
{
	const char *rname = avro_schema_name(record);
	avro_schema_t fs;
	int i;

	i = avro_schema_record_field_get_index(record, spec->name);
	if (i < 0) {
		snprintf(errstr, errstr_size, "schema %s has no field %s", rname, spec->name);
		return LVC_ERR_INVALID;
	}
	fs = avro_schema_record_field_get_by_index(record, i);
	/* A second use of a named type (previous_level: "WarningLevel") is a
	 * link to its definition. */
	while (is_avro_link(fs)) {
		fs = avro_schema_link_target(fs);
	}
	if (avro_typeof(fs) != spec->type) {
		snprintf(errstr, errstr_size, "schema %s field %s is a %s, expected type %d", rname,
		         spec->name, avro_schema_type_name(fs), (int)spec->type);
		return LVC_ERR_INVALID;
	}
	if (spec->type == AVRO_ENUM) {
		if (avro_schema_enum_number_of_symbols(fs) != spec->n) {
			snprintf(errstr, errstr_size,
			         "schema %s field %s: enum %s has %d symbols, the C enum %d", rname,
			         spec->name, avro_schema_name(fs),
			         avro_schema_enum_number_of_symbols(fs), spec->n);
			return LVC_ERR_INVALID;
		}
		for (int k = 0; k < spec->n; k++) {
			const char *sym = avro_schema_enum_get(fs, k);

			if (sym == NULL || strcmp(sym, spec->symbols[k]) != 0) {
				snprintf(
				    errstr, errstr_size,
				    "schema %s field %s: enum %s symbol %d is %s, the C enum's %s",
				    rname, spec->name, avro_schema_name(fs), k,
				    sym != NULL ? sym : "(none)", spec->symbols[k]);
				return LVC_ERR_INVALID;
			}
		}
	}
	if (spec->type == AVRO_UNION) {
		if (avro_schema_union_size(fs) != 2 ||
		    avro_typeof(avro_schema_union_branch(fs, 0)) != AVRO_NULL ||
		    avro_typeof(avro_schema_union_branch(fs, 1)) != spec->branch) {
			snprintf(errstr, errstr_size,
			         "schema %s field %s: expected a union {null, %d}", rname,
			         spec->name, (int)spec->branch);
			return LVC_ERR_INVALID;
		}
	}
	if (spec->type == AVRO_ARRAY && avro_typeof(avro_schema_array_items(fs)) != AVRO_RECORD) {
		snprintf(errstr, errstr_size, "schema %s field %s: expected an array of records",
		         rname, spec->name);
		return LVC_ERR_INVALID;
	}
	*idx = i;
	return LVC_OK;
}

static lvc_err_t lvc__rec_init(struct lvc__rec *rec, lvc_rec_type_t type, char *errstr,
                               size_t errstr_size)
{
	const char *json = lvc_codec_schema_json(type);
	const char *stem = lvc__types[type].stem;

	rec->name = stem;
	if (json == NULL) {
		snprintf(errstr, errstr_size, "schema %s is not embedded", stem);
		return LVC_ERR_NOT_FOUND;
	}
	if (avro_schema_from_json_length(json, strlen(json), &rec->schema) != 0) {
		snprintf(errstr, errstr_size, "schema %s: %s", stem, avro_strerror());
		rec->schema = NULL;
		return LVC_ERR_INVALID;
	}
	if (!is_avro_record(rec->schema) || strcmp(avro_schema_name(rec->schema), stem) != 0 ||
	    avro_schema_namespace(rec->schema) == NULL ||
	    strcmp(avro_schema_namespace(rec->schema), "levcal") != 0) {
		snprintf(errstr, errstr_size, "schema %s: expected the record levcal.%s", stem,
		         stem);
		return LVC_ERR_INVALID;
	}
	for (int f = 0; f < lvc__types[type].n; f++) {
		lvc_err_t err = lvc__check_field(rec->schema, &lvc__types[type].fields[f],
		                                 &rec->idx[f], errstr, errstr_size);
		if (err != LVC_OK) {
			return err;
		}
	}
	if ((rec->iface = avro_generic_class_from_schema(rec->schema)) == NULL) {
		snprintf(errstr, errstr_size, "schema %s: %s", stem, avro_strerror());
		return LVC_ERR_NOMEM;
	}
	if (avro_generic_value_new(rec->iface, &rec->dec) != 0) {
		goto nomem;
	}
	rec->have_dec = 1;
	if (avro_generic_value_new(rec->iface, &rec->enc) != 0) {
		goto nomem;
	}
	rec->have_enc = 1;
	if (avro_generic_value_new(rec->iface, &rec->aux) != 0) {
		goto nomem;
	}
	rec->have_aux = 1;
	rec->cap = LVC__ENC_INITIAL;
	if ((rec->buf = malloc(rec->cap)) == NULL) {
		goto nomem;
	}
	rec->reader = avro_reader_memory((const char *)rec->buf, 0);
	rec->writer = avro_writer_memory((const char *)rec->buf, (int64_t)rec->cap);
	if (rec->reader == NULL || rec->writer == NULL) {
		goto nomem;
	}
	return LVC_OK;
nomem:
	snprintf(errstr, errstr_size, "schema %s: cannot allocate the reusable values: %s", stem,
	         avro_strerror());
	return LVC_ERR_NOMEM;
}

static void lvc__rec_done(struct lvc__rec *rec)
{
	if (rec->have_aux) {
		avro_value_decref(&rec->aux);
	}
	if (rec->have_enc) {
		avro_value_decref(&rec->enc);
	}
	if (rec->have_dec) {
		avro_value_decref(&rec->dec);
	}
	if (rec->writer != NULL) {
		avro_writer_free(rec->writer);
	}
	if (rec->reader != NULL) {
		avro_reader_free(rec->reader);
	}
	if (rec->iface != NULL) {
		avro_value_iface_decref(rec->iface);
	}
	if (rec->schema != NULL) {
		avro_schema_decref(rec->schema);
	}
	lvc__avro_prog_free(rec->prog);
	free(rec->buf);
	free(rec->strs);
	memset(rec, 0, sizeof(*rec));
}

lvc_codec_t *lvc_codec_new(char *errstr, size_t errstr_size)
{
	char scratch[1];
	lvc_codec_t *codec = NULL;
	struct lvc__rec *lim;
	avro_schema_t tiers, comps;

	if (errstr == NULL || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	lvc__avro_alloc_install();
	if ((codec = calloc(1, sizeof(*codec))) == NULL) {
		snprintf(errstr, errstr_size, "cannot allocate the codec");
		goto fail;
	}
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		if (lvc__rec_init(&codec->rec[t], (lvc_rec_type_t)t, errstr, errstr_size) !=
		    LVC_OK) {
			goto fail;
		}
	}
	lim = &codec->rec[LVC_REC_LIMIT];
	tiers = avro_schema_record_field_get_by_index(lim->schema, lim->idx[LI_TIERS]);
	comps = avro_schema_record_field_get_by_index(lim->schema, lim->idx[LI_COMPONENTS]);
	for (int f = 0; f < LVC__TI__N; f++) {
		if (lvc__check_field(avro_schema_array_items(tiers), &lvc__tier_fields[f],
		                     &codec->tier_idx[f], errstr, errstr_size) != LVC_OK) {
			goto fail;
		}
	}
	for (int f = 0; f < LVC__CO__N; f++) {
		if (lvc__check_field(avro_schema_array_items(comps), &lvc__component_fields[f],
		                     &codec->comp_idx[f], errstr, errstr_size) != LVC_OK) {
			goto fail;
		}
	}
	/* The arrays are refused before Avro C reads them when they hold more
	 * than our inline arrays can take. */
	lim->limits[0].schema = tiers;
	lim->limits[0].max_items = LVC_MAX_TIERS;
	lim->limits[1].schema = comps;
	lim->limits[1].max_items = LVC_MAX_COMPONENTS;
	lim->limits_n = 2;
	for (int t = 0; t < LVC_REC__COUNT; t++) {
		struct lvc__rec *rec = &codec->rec[t];

		rec->prog =
		    lvc__avro_compile(rec->schema, rec->limits, rec->limits_n, errstr, errstr_size);
		if (rec->prog == NULL) {
			goto fail;
		}
	}
	return codec;
fail:
	lvc_codec_destroy(codec);
	return NULL;
}

void lvc_codec_destroy(lvc_codec_t *codec)
{
	if (codec == NULL) {
		return;
	}
	for (int t = LVC_REC__COUNT - 1; t >= 0; t--) {
		lvc__rec_done(&codec->rec[t]);
	}
	free(codec);
}

/* ---- field access ----------------------------------------------------- */

/* Getters and setters return Avro C's code (0 ok); callers OR them together
 * and look once, since after a validated read they cannot fail short of a
 * bug. */

static int lvc__get_string(avro_value_t *rec, int idx, const char **out)
{
	avro_value_t f;
	size_t size;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_get_string(&f, out, &size);
}

static int lvc__get_long(avro_value_t *rec, int idx, int64_t *out)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_get_long(&f, out);
}

static int lvc__get_double(avro_value_t *rec, int idx, double *out)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_get_double(&f, out);
}

static int lvc__get_enum(avro_value_t *rec, int idx, int *out)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_get_enum(&f, out);
}

/* A {null, X} union: *present 0 for null, else *branch is the X value. */
static int lvc__get_union(avro_value_t *rec, int idx, int *present, avro_value_t *branch)
{
	avro_value_t f;
	int d = 0, rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	if (rc == 0) {
		rc = avro_value_get_discriminant(&f, &d);
	}
	if (rc == 0) {
		rc = avro_value_get_current_branch(&f, branch);
	}
	*present = rc == 0 && d == 1;
	return rc;
}

static int lvc__set_string(avro_value_t *rec, int idx, const char *s)
{
	avro_value_t f;
	avro_wrapped_buffer_t wb;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	if (rc != 0) {
		return rc;
	}
	/* No copy: Avro C gets our string in a buffer without a free function.
	 * It is written before the encoder returns; the next reset drops the
	 * pointer without touching it. The size includes the NUL, as Avro C's
	 * strings do. */
	avro_wrapped_buffer_new(&wb, s, strlen(s) + 1);
	return avro_value_give_string_len(&f, &wb);
}

static int lvc__set_long(avro_value_t *rec, int idx, int64_t v)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_set_long(&f, v);
}

static int lvc__set_double(avro_value_t *rec, int idx, double v)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_set_double(&f, v);
}

static int lvc__set_enum(avro_value_t *rec, int idx, int v)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	return rc != 0 ? rc : avro_value_set_enum(&f, v);
}

/* Sets a {null, X} union to null (present 0) or to X; *branch is the X
 * value to fill when present. */
static int lvc__set_union(avro_value_t *rec, int idx, int present, avro_value_t *branch)
{
	avro_value_t f;
	int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);

	if (rc != 0) {
		return rc;
	}
	rc = avro_value_set_branch(&f, present ? 1 : 0, branch);
	if (rc == 0 && !present) {
		rc = avro_value_set_null(branch);
	}
	return rc;
}

/* ---- value checks ----------------------------------------------------- */

static lvc_err_t lvc__bad_double(const char *rec, const char *field, double v, const char *rule,
                                 char *errstr, size_t errstr_size)
{
	char num[40];

	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size, "%s.%s: %s is not allowed: %s", rec, field,
		         lvc__fmt_double(num, sizeof(num), v), rule);
	}
	return LVC_ERR_INVALID;
}

/* Inputs: finite and > 0 (prices, quantities). */
static lvc_err_t lvc__need_positive(const char *rec, const char *field, double v, char *errstr,
                                    size_t errstr_size)
{
	if (isfinite(v) && v > 0) {
		return LVC_OK;
	}
	return lvc__bad_double(rec, field, v, "must be a finite number > 0", errstr, errstr_size);
}

/* Inputs: finite (sizes, collaterals: a wallet may be negative after
 * losses). */
static lvc_err_t lvc__need_finite(const char *rec, const char *field, double v, char *errstr,
                                  size_t errstr_size)
{
	if (isfinite(v)) {
		return LVC_OK;
	}
	return lvc__bad_double(rec, field, v, "must be a finite number", errstr, errstr_size);
}

/* Outputs: any number but NaN. An event may carry an infinity (say, the
 * distance to a liquidation price that does not exist), never a NaN. */
static lvc_err_t lvc__need_number(const char *rec, const char *field, double v, char *errstr,
                                  size_t errstr_size)
{
	if (!isnan(v)) {
		return LVC_OK;
	}
	return lvc__bad_double(rec, field, v, "must be a number", errstr, errstr_size);
}

static lvc_err_t lvc__need_min(const char *rec, const char *field, int64_t v, int64_t min,
                               char *errstr, size_t errstr_size)
{
	if (v >= min) {
		return LVC_OK;
	}
	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size,
		         "%s.%s: %" PRId64 " is not allowed: must be >= %" PRId64, rec, field, v,
		         min);
	}
	return LVC_ERR_INVALID;
}

/* Keys (instrument, account) must not be empty. */
static lvc_err_t lvc__need_text(const char *rec, const char *field, const char *s, char *errstr,
                                size_t errstr_size)
{
	if (s[0] != '\0') {
		return LVC_OK;
	}
	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size, "%s.%s: an empty string is not allowed", rec, field);
	}
	return LVC_ERR_INVALID;
}

/* ---- decoding --------------------------------------------------------- */

/* Validates buf and reads it into rec->dec. */
static lvc_err_t lvc__read(struct lvc__rec *rec, avro_value_t *dst, const void *buf, size_t len,
                           char *errstr, size_t errstr_size)
{
	lvc_err_t err;
	int rc;

	err = lvc__avro_check(rec->prog, buf, len, NULL, errstr, errstr_size);
	if (err != LVC_OK) {
		return err;
	}
	avro_reader_memory_set_source(rec->reader, (const char *)buf, (int64_t)len);
	rc = avro_value_read(rec->reader, dst);
	if (rc != 0) {
		return lvc__codec_avro_fail(rec->name, "avro_value_read", rc, errstr, errstr_size);
	}
	return LVC_OK;
}

/*
 * Validates buf and decodes its fields in the same pass (the hot inputs,
 * Trade and PriceTick: flat records of our own schema), without Avro C's
 * generic value, whose read allocated four times per Trade and took most
 * of a decode. Strings are copied NUL-terminated into rec->strs (a string
 * has no NUL byte: the walk refuses them), valid until the next decode of
 * the type, as Avro C's were.
 */
static lvc_err_t lvc__read_leaves(struct lvc__rec *rec, const void *buf, size_t len,
                                  struct lvc__avro_leaf *lf, char *errstr, size_t errstr_size)
{
	lvc_err_t err =
	    lvc__avro_check_leaves(rec->prog, buf, len, lf, LVC__MAX_FIELDS, errstr, errstr_size);

	if (err != LVC_OK) {
		return err;
	}
	/* The strings take at most the record's bytes, plus a NUL each. */
	if (lvc_grow((void **)&rec->strs, &rec->strs_cap, len + LVC__MAX_FIELDS, 1, 256) != 0) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: out of memory decoding %zu bytes",
			         rec->name, len);
		}
		return LVC_ERR_NOMEM;
	}
	rec->strs_n = 0;
	return LVC_OK;
}

/* A string leaf of lvc__read_leaves, NUL-terminated in rec->strs. */
static const char *lvc__leaf_str(struct lvc__rec *rec, const struct lvc__avro_leaf *lf)
{
	char *s = rec->strs + rec->strs_n;

	memcpy(s, lf->s, lf->n);
	s[lf->n] = '\0';
	rec->strs_n += lf->n + 1;
	return s;
}

lvc_err_t lvc__codec_read_aux(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                              avro_value_t **out, char *errstr, size_t errstr_size)
{
	struct lvc__rec *rec = &codec->rec[type];
	lvc_err_t err = lvc__read(rec, &rec->aux, buf, len, errstr, errstr_size);

	*out = &rec->aux;
	return err;
}

static lvc_err_t lvc__internal(const char *what, char *errstr, size_t errstr_size)
{
	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size, "%s: reading the decoded value failed: %s", what,
		         avro_strerror());
	}
	return LVC_ERR_DECODE;
}

static lvc_err_t lvc__args(const lvc_codec_t *codec, const void *out, char *errstr,
                           size_t errstr_size)
{
	if (codec != NULL && out != NULL) {
		return LVC_OK;
	}
	if (errstr != NULL && errstr_size > 0) {
		snprintf(errstr, errstr_size, "no codec or no output record");
	}
	return LVC_ERR_INVALID;
}

lvc_err_t lvc_codec_decode_trade(lvc_codec_t *codec, const void *buf, size_t len, lvc_trade_t *out,
                                 char *errstr, size_t errstr_size)
{
	struct lvc__avro_leaf lf[LVC__MAX_FIELDS];
	const struct lvc__avro_leaf *tid;
	struct lvc__rec *rec;
	lvc_err_t err;

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_TRADE];
	if ((err = lvc__read_leaves(rec, buf, len, lf, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	tid = &lf[rec->idx[TR_TRADE_ID]];
	out->instrument = lvc__leaf_str(rec, &lf[rec->idx[TR_INSTRUMENT]]);
	out->ts_us = lf[rec->idx[TR_TS_US]].l;
	out->price = lf[rec->idx[TR_PRICE]].d;
	out->qty = lf[rec->idx[TR_QTY]].d;
	out->side = (lvc_side_t)lf[rec->idx[TR_SIDE]].l;
	/* {null, string}: branch 1 holds the id. */
	out->trade_id = tid->branch == 1 ? lvc__leaf_str(rec, tid) : NULL;
	if ((err = lvc__need_text("Trade", "instrument", out->instrument, errstr, errstr_size)) ||
	    (err = lvc__need_min("Trade", "ts_us", out->ts_us, 0, errstr, errstr_size)) ||
	    (err = lvc__need_positive("Trade", "price", out->price, errstr, errstr_size)) ||
	    (err = lvc__need_positive("Trade", "qty", out->qty, errstr, errstr_size))) {
		return err;
	}
	return LVC_OK;
}

lvc_err_t lvc_codec_decode_price(lvc_codec_t *codec, const void *buf, size_t len, lvc_price_t *out,
                                 char *errstr, size_t errstr_size)
{
	struct lvc__avro_leaf lf[LVC__MAX_FIELDS];
	struct lvc__rec *rec;
	lvc_err_t err;

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_PRICE];
	if ((err = lvc__read_leaves(rec, buf, len, lf, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	out->instrument = lvc__leaf_str(rec, &lf[rec->idx[PT_INSTRUMENT]]);
	out->ts_us = lf[rec->idx[PT_TS_US]].l;
	out->kind = (lvc_price_kind_t)lf[rec->idx[PT_KIND]].l;
	out->price = lf[rec->idx[PT_PRICE]].d;
	if ((err =
	         lvc__need_text("PriceTick", "instrument", out->instrument, errstr, errstr_size)) ||
	    (err = lvc__need_min("PriceTick", "ts_us", out->ts_us, 0, errstr, errstr_size)) ||
	    (err = lvc__need_positive("PriceTick", "price", out->price, errstr, errstr_size))) {
		return err;
	}
	return LVC_OK;
}

lvc_err_t lvc_codec_decode_position(lvc_codec_t *codec, const void *buf, size_t len,
                                    lvc_position_t *out, char *errstr, size_t errstr_size)
{
	struct lvc__rec *rec;
	avro_value_t *v;
	int mode = 0, rc = 0;
	lvc_err_t err;

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_POSITION];
	v = &rec->dec;
	if ((err = lvc__read(rec, v, buf, len, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rc |= lvc__get_string(v, rec->idx[PO_ACCOUNT], &out->account);
	rc |= lvc__get_string(v, rec->idx[PO_INSTRUMENT], &out->instrument);
	rc |= lvc__get_long(v, rec->idx[PO_TS_US], &out->ts_us);
	rc |= lvc__get_double(v, rec->idx[PO_SIZE], &out->size);
	rc |= lvc__get_double(v, rec->idx[PO_ENTRY_PRICE], &out->entry_price);
	rc |= lvc__get_enum(v, rec->idx[PO_MARGIN_MODE], &mode);
	rc |= lvc__get_double(v, rec->idx[PO_COLLATERAL], &out->collateral);
	if (rc != 0) {
		return lvc__internal("Position", errstr, errstr_size);
	}
	out->margin_mode = (lvc_margin_mode_t)mode;
	if ((err = lvc__need_text("Position", "account", out->account, errstr, errstr_size)) ||
	    (err =
	         lvc__need_text("Position", "instrument", out->instrument, errstr, errstr_size)) ||
	    (err = lvc__need_min("Position", "ts_us", out->ts_us, 0, errstr, errstr_size)) ||
	    (err = lvc__need_finite("Position", "size", out->size, errstr, errstr_size))) {
		return err;
	}
	/* A closed position (size 0) may carry any finite entry price. */
	if (out->size != 0) {
		err = lvc__need_positive("Position", "entry_price", out->entry_price, errstr,
		                         errstr_size);
	} else {
		err = lvc__need_finite("Position", "entry_price", out->entry_price, errstr,
		                       errstr_size);
	}
	if (err != LVC_OK) {
		return err;
	}
	return lvc__need_finite("Position", "collateral", out->collateral, errstr, errstr_size);
}

lvc_err_t lvc_codec_decode_balance(lvc_codec_t *codec, const void *buf, size_t len,
                                   lvc_balance_t *out, char *errstr, size_t errstr_size)
{
	struct lvc__rec *rec;
	avro_value_t *v;
	int rc = 0;
	lvc_err_t err;

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_BALANCE];
	v = &rec->dec;
	if ((err = lvc__read(rec, v, buf, len, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rc |= lvc__get_string(v, rec->idx[BA_ACCOUNT], &out->account);
	rc |= lvc__get_long(v, rec->idx[BA_TS_US], &out->ts_us);
	rc |= lvc__get_double(v, rec->idx[BA_COLLATERAL], &out->collateral);
	if (rc != 0) {
		return lvc__internal("AccountBalance", errstr, errstr_size);
	}
	if ((err =
	         lvc__need_text("AccountBalance", "account", out->account, errstr, errstr_size)) ||
	    (err = lvc__need_min("AccountBalance", "ts_us", out->ts_us, 0, errstr, errstr_size))) {
		return err;
	}
	return lvc__need_finite("AccountBalance", "collateral", out->collateral, errstr,
	                        errstr_size);
}

/* Reads the items of LeverageLimit.tiers or .components into out. */
static lvc_err_t lvc__get_items(avro_value_t *v, int idx, size_t max, size_t *n, const char *what,
                                char *errstr, size_t errstr_size)
{
	avro_value_t arr;

	if (avro_value_get_by_index(v, (size_t)idx, &arr, NULL) != 0 ||
	    avro_value_get_size(&arr, n) != 0) {
		return lvc__internal(what, errstr, errstr_size);
	}
	if (*n > max) {
		/* The validator refuses this first; kept so that the inline
		 * arrays cannot overflow whatever changes upstream. */
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: %zu items exceed the %zu supported",
			         what, *n, max);
		}
		return LVC_ERR_RANGE;
	}
	return LVC_OK;
}

lvc_err_t lvc_codec_decode_limit(lvc_codec_t *codec, const void *buf, size_t len, lvc_limit_t *out,
                                 char *errstr, size_t errstr_size)
{
	static const char *const tier_names[LVC__TI__N] = { "notional_cap", "max_leverage", "imr",
		                                            "mmr", "maintenance_deduction" };
	struct lvc__rec *rec;
	avro_value_t *v, br, arr, item;
	int status = 0, reason = 0, present = 0, rc = 0;
	lvc_err_t err;
	char field[64];

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_LIMIT];
	v = &rec->dec;
	if ((err = lvc__read(rec, v, buf, len, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rc |= lvc__get_string(v, rec->idx[LI_INSTRUMENT], &out->instrument);
	rc |= lvc__get_long(v, rec->idx[LI_TS_US], &out->ts_us);
	rc |= lvc__get_long(v, rec->idx[LI_SEQ], &out->seq);
	rc |= lvc__get_enum(v, rec->idx[LI_STATUS], &status);
	rc |= lvc__get_enum(v, rec->idx[LI_REASON], &reason);
	rc |= lvc__get_string(v, rec->idx[LI_ESTIMATOR], &out->estimator);
	rc |= lvc__get_double(v, rec->idx[LI_SIGMA_ANN], &out->sigma_ann);
	rc |= lvc__get_double(v, rec->idx[LI_SIGMA_HORIZON], &out->sigma_horizon);
	rc |= lvc__get_double(v, rec->idx[LI_IMR], &out->imr);
	rc |= lvc__get_double(v, rec->idx[LI_MMR], &out->mmr);
	rc |= lvc__get_double(v, rec->idx[LI_MAX_LEVERAGE], &out->max_leverage);
	rc |= lvc__get_union(v, rec->idx[LI_PREVIOUS_MAX_LEVERAGE], &present, &br);
	out->has_previous_max_leverage = present;
	out->previous_max_leverage = 0;
	if (rc == 0 && present) {
		rc |= avro_value_get_double(&br, &out->previous_max_leverage);
	}
	rc |= lvc__get_string(v, rec->idx[LI_CONFIG_ID], &out->config_id);
	if (rc != 0) {
		return lvc__internal("LeverageLimit", errstr, errstr_size);
	}
	out->status = (lvc_limit_status_t)status;
	out->reason = (lvc_limit_reason_t)reason;
	if ((err = lvc__get_items(v, rec->idx[LI_TIERS], LVC_MAX_TIERS, &out->tiers_n,
	                          "LeverageLimit.tiers", errstr, errstr_size)) ||
	    (err =
	         lvc__get_items(v, rec->idx[LI_COMPONENTS], LVC_MAX_COMPONENTS, &out->components_n,
	                        "LeverageLimit.components", errstr, errstr_size))) {
		return err;
	}
	rc |= avro_value_get_by_index(v, (size_t)rec->idx[LI_TIERS], &arr, NULL);
	for (size_t i = 0; rc == 0 && i < out->tiers_n; i++) {
		lvc_tier_t *t = &out->tiers[i];

		rc |= avro_value_get_by_index(&arr, i, &item, NULL);
		rc |=
		    lvc__get_double(&item, codec->tier_idx[LVC__TI_NOTIONAL_CAP], &t->notional_cap);
		rc |=
		    lvc__get_double(&item, codec->tier_idx[LVC__TI_MAX_LEVERAGE], &t->max_leverage);
		rc |= lvc__get_double(&item, codec->tier_idx[LVC__TI_IMR], &t->imr);
		rc |= lvc__get_double(&item, codec->tier_idx[LVC__TI_MMR], &t->mmr);
		rc |= lvc__get_double(&item, codec->tier_idx[LVC__TI_DEDUCTION],
		                      &t->maintenance_deduction);
	}
	rc |= avro_value_get_by_index(v, (size_t)rec->idx[LI_COMPONENTS], &arr, NULL);
	for (size_t i = 0; rc == 0 && i < out->components_n; i++) {
		lvc_component_t *c = &out->components[i];

		rc |= avro_value_get_by_index(&arr, i, &item, NULL);
		rc |= lvc__get_string(&item, codec->comp_idx[LVC__CO_ESTIMATOR], &c->estimator);
		rc |= lvc__get_double(&item, codec->comp_idx[LVC__CO_SIGMA_ANN], &c->sigma_ann);
	}
	if (rc != 0) {
		return lvc__internal("LeverageLimit", errstr, errstr_size);
	}
	if ((err = lvc__need_min("LeverageLimit", "ts_us", out->ts_us, 0, errstr, errstr_size)) ||
	    (err = lvc__need_min("LeverageLimit", "seq", out->seq, 1, errstr, errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "sigma_ann", out->sigma_ann, errstr,
	                            errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "sigma_horizon", out->sigma_horizon, errstr,
	                            errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "imr", out->imr, errstr, errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "mmr", out->mmr, errstr, errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "max_leverage", out->max_leverage, errstr,
	                            errstr_size)) ||
	    (err = lvc__need_number("LeverageLimit", "previous_max_leverage",
	                            out->previous_max_leverage, errstr, errstr_size))) {
		return err;
	}
	for (size_t i = 0; i < out->tiers_n; i++) {
		const lvc_tier_t *t = &out->tiers[i];
		const double vals[LVC__TI__N] = { t->notional_cap, t->max_leverage, t->imr, t->mmr,
			                          t->maintenance_deduction };

		for (int f = 0; f < LVC__TI__N; f++) {
			/* The field name is formatted only for the message. */
			if (isnan(vals[f])) {
				snprintf(field, sizeof(field), "tiers[%zu].%s", i, tier_names[f]);
				return lvc__need_number("LeverageLimit", field, vals[f], errstr,
				                        errstr_size);
			}
		}
	}
	for (size_t i = 0; i < out->components_n; i++) {
		if (isnan(out->components[i].sigma_ann)) {
			snprintf(field, sizeof(field), "components[%zu].sigma_ann", i);
			return lvc__need_number("LeverageLimit", field,
			                        out->components[i].sigma_ann, errstr, errstr_size);
		}
	}
	return LVC_OK;
}

lvc_err_t lvc_codec_decode_warning(lvc_codec_t *codec, const void *buf, size_t len,
                                   lvc_warning_t *out, char *errstr, size_t errstr_size)
{
	struct lvc__rec *rec;
	avro_value_t *v, br;
	int level = 0, prev = 0, present = 0, rc = 0;
	lvc_err_t err;

	if ((err = lvc__args(codec, out, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rec = &codec->rec[LVC_REC_WARNING];
	v = &rec->dec;
	if ((err = lvc__read(rec, v, buf, len, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	rc |= lvc__get_string(v, rec->idx[WA_ACCOUNT], &out->account);
	rc |= lvc__get_string(v, rec->idx[WA_INSTRUMENT], &out->instrument);
	rc |= lvc__get_long(v, rec->idx[WA_TS_US], &out->ts_us);
	rc |= lvc__get_long(v, rec->idx[WA_SEQ], &out->seq);
	rc |= lvc__get_enum(v, rec->idx[WA_LEVEL], &level);
	rc |= lvc__get_enum(v, rec->idx[WA_PREVIOUS_LEVEL], &prev);
	rc |= lvc__get_double(v, rec->idx[WA_MARK_PRICE], &out->mark_price);
	rc |= lvc__get_union(v, rec->idx[WA_LIQUIDATION_PRICE], &present, &br);
	out->has_liquidation_price = present;
	out->liquidation_price = 0;
	if (rc == 0 && present) {
		rc |= avro_value_get_double(&br, &out->liquidation_price);
	}
	rc |= lvc__get_double(v, rec->idx[WA_DISTANCE_SIGMA], &out->distance_sigma);
	rc |= lvc__get_double(v, rec->idx[WA_EQUITY], &out->equity);
	rc |= lvc__get_double(v, rec->idx[WA_MAINTENANCE_MARGIN], &out->maintenance_margin);
	rc |= lvc__get_double(v, rec->idx[WA_MARGIN_RATIO], &out->margin_ratio);
	rc |= lvc__get_double(v, rec->idx[WA_SIZE], &out->size);
	rc |= lvc__get_double(v, rec->idx[WA_SIGMA_ANN], &out->sigma_ann);
	rc |= lvc__get_double(v, rec->idx[WA_HIT_PROBABILITY], &out->hit_probability);
	if (rc != 0) {
		return lvc__internal("LiquidationWarning", errstr, errstr_size);
	}
	out->level = (lvc_level_t)level;
	out->previous_level = (lvc_level_t)prev;
	{
		const char *const names[] = {
			"mark_price", "liquidation_price",  "distance_sigma",
			"equity",     "maintenance_margin", "margin_ratio",
			"size",       "sigma_ann",          "hit_probability"
		};
		const double vals[] = {
			out->mark_price, out->liquidation_price,  out->distance_sigma,
			out->equity,     out->maintenance_margin, out->margin_ratio,
			out->size,       out->sigma_ann,          out->hit_probability
		};

		if ((err = lvc__need_min("LiquidationWarning", "ts_us", out->ts_us, 0, errstr,
		                         errstr_size)) ||
		    (err = lvc__need_min("LiquidationWarning", "seq", out->seq, 1, errstr,
		                         errstr_size))) {
			return err;
		}
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			if ((err = lvc__need_number("LiquidationWarning", names[i], vals[i], errstr,
			                            errstr_size)) != LVC_OK) {
				return err;
			}
		}
	}
	return LVC_OK;
}

/* ---- encoding --------------------------------------------------------- */

static lvc_err_t lvc__finish(struct lvc__rec *rec, int rc, const void **out, size_t *out_len)
{
	size_t len = 0;
	lvc_err_t err;

	if (rc != 0) {
		return rc == ENOMEM ? LVC_ERR_NOMEM : LVC_ERR_INVALID;
	}
	err = lvc__codec_write(rec->writer, &rec->enc, &rec->buf, &rec->cap, &len);
	if (err != LVC_OK) {
		return err;
	}
	*out = rec->buf;
	*out_len = len;
	return LVC_OK;
}

static int lvc__enc_args(const lvc_codec_t *codec, const void *in, const void **out,
                         const size_t *out_len)
{
	return codec != NULL && in != NULL && out != NULL && out_len != NULL;
}

lvc_err_t lvc_codec_encode_trade(lvc_codec_t *codec, const lvc_trade_t *in, const void **out,
                                 size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v, br;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->instrument == NULL ||
	    (unsigned)in->side >= LVC_SIDE__COUNT) {
		return LVC_ERR_INVALID;
	}
	rec = &codec->rec[LVC_REC_TRADE];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[TR_INSTRUMENT], in->instrument);
	rc |= lvc__set_long(v, rec->idx[TR_TS_US], in->ts_us);
	rc |= lvc__set_double(v, rec->idx[TR_PRICE], in->price);
	rc |= lvc__set_double(v, rec->idx[TR_QTY], in->qty);
	rc |= lvc__set_enum(v, rec->idx[TR_SIDE], (int)in->side);
	rc |= lvc__set_union(v, rec->idx[TR_TRADE_ID], in->trade_id != NULL, &br);
	if (rc == 0 && in->trade_id != NULL) {
		avro_wrapped_buffer_t wb;

		avro_wrapped_buffer_new(&wb, in->trade_id, strlen(in->trade_id) + 1);
		rc |= avro_value_give_string_len(&br, &wb);
	}
	return lvc__finish(rec, rc, out, out_len);
}

lvc_err_t lvc_codec_encode_price(lvc_codec_t *codec, const lvc_price_t *in, const void **out,
                                 size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->instrument == NULL ||
	    (unsigned)in->kind >= LVC_PRICE__COUNT) {
		return LVC_ERR_INVALID;
	}
	rec = &codec->rec[LVC_REC_PRICE];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[PT_INSTRUMENT], in->instrument);
	rc |= lvc__set_long(v, rec->idx[PT_TS_US], in->ts_us);
	rc |= lvc__set_enum(v, rec->idx[PT_KIND], (int)in->kind);
	rc |= lvc__set_double(v, rec->idx[PT_PRICE], in->price);
	return lvc__finish(rec, rc, out, out_len);
}

lvc_err_t lvc_codec_encode_position(lvc_codec_t *codec, const lvc_position_t *in, const void **out,
                                    size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->account == NULL ||
	    in->instrument == NULL || (unsigned)in->margin_mode >= LVC_MARGIN__COUNT) {
		return LVC_ERR_INVALID;
	}
	rec = &codec->rec[LVC_REC_POSITION];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[PO_ACCOUNT], in->account);
	rc |= lvc__set_string(v, rec->idx[PO_INSTRUMENT], in->instrument);
	rc |= lvc__set_long(v, rec->idx[PO_TS_US], in->ts_us);
	rc |= lvc__set_double(v, rec->idx[PO_SIZE], in->size);
	rc |= lvc__set_double(v, rec->idx[PO_ENTRY_PRICE], in->entry_price);
	rc |= lvc__set_enum(v, rec->idx[PO_MARGIN_MODE], (int)in->margin_mode);
	rc |= lvc__set_double(v, rec->idx[PO_COLLATERAL], in->collateral);
	return lvc__finish(rec, rc, out, out_len);
}

lvc_err_t lvc_codec_encode_balance(lvc_codec_t *codec, const lvc_balance_t *in, const void **out,
                                   size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->account == NULL) {
		return LVC_ERR_INVALID;
	}
	rec = &codec->rec[LVC_REC_BALANCE];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[BA_ACCOUNT], in->account);
	rc |= lvc__set_long(v, rec->idx[BA_TS_US], in->ts_us);
	rc |= lvc__set_double(v, rec->idx[BA_COLLATERAL], in->collateral);
	return lvc__finish(rec, rc, out, out_len);
}

lvc_err_t lvc_codec_encode_limit(lvc_codec_t *codec, const lvc_limit_t *in, const void **out,
                                 size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v, br, arr, item;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->instrument == NULL ||
	    in->estimator == NULL || in->config_id == NULL ||
	    (unsigned)in->status >= LVC_STATUS__COUNT ||
	    (unsigned)in->reason >= LVC_REASON__COUNT || in->tiers_n > LVC_MAX_TIERS ||
	    in->components_n > LVC_MAX_COMPONENTS) {
		return LVC_ERR_INVALID;
	}
	for (size_t i = 0; i < in->components_n; i++) {
		if (in->components[i].estimator == NULL) {
			return LVC_ERR_INVALID;
		}
	}
	rec = &codec->rec[LVC_REC_LIMIT];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[LI_INSTRUMENT], in->instrument);
	rc |= lvc__set_long(v, rec->idx[LI_TS_US], in->ts_us);
	rc |= lvc__set_long(v, rec->idx[LI_SEQ], in->seq);
	rc |= lvc__set_enum(v, rec->idx[LI_STATUS], (int)in->status);
	rc |= lvc__set_enum(v, rec->idx[LI_REASON], (int)in->reason);
	rc |= lvc__set_string(v, rec->idx[LI_ESTIMATOR], in->estimator);
	rc |= lvc__set_double(v, rec->idx[LI_SIGMA_ANN], in->sigma_ann);
	rc |= lvc__set_double(v, rec->idx[LI_SIGMA_HORIZON], in->sigma_horizon);
	rc |= lvc__set_double(v, rec->idx[LI_IMR], in->imr);
	rc |= lvc__set_double(v, rec->idx[LI_MMR], in->mmr);
	rc |= lvc__set_double(v, rec->idx[LI_MAX_LEVERAGE], in->max_leverage);
	rc |= lvc__set_union(v, rec->idx[LI_PREVIOUS_MAX_LEVERAGE], in->has_previous_max_leverage,
	                     &br);
	if (rc == 0 && in->has_previous_max_leverage) {
		rc |= avro_value_set_double(&br, in->previous_max_leverage);
	}
	/* The reset above emptied the arrays; their storage stays allocated,
	 * so appending allocates only when a record has more items than any
	 * before it. */
	rc |= avro_value_get_by_index(v, (size_t)rec->idx[LI_TIERS], &arr, NULL);
	for (size_t i = 0; rc == 0 && i < in->tiers_n; i++) {
		const lvc_tier_t *t = &in->tiers[i];

		rc |= avro_value_append(&arr, &item, NULL);
		rc |=
		    lvc__set_double(&item, codec->tier_idx[LVC__TI_NOTIONAL_CAP], t->notional_cap);
		rc |=
		    lvc__set_double(&item, codec->tier_idx[LVC__TI_MAX_LEVERAGE], t->max_leverage);
		rc |= lvc__set_double(&item, codec->tier_idx[LVC__TI_IMR], t->imr);
		rc |= lvc__set_double(&item, codec->tier_idx[LVC__TI_MMR], t->mmr);
		rc |= lvc__set_double(&item, codec->tier_idx[LVC__TI_DEDUCTION],
		                      t->maintenance_deduction);
	}
	rc |= avro_value_get_by_index(v, (size_t)rec->idx[LI_COMPONENTS], &arr, NULL);
	for (size_t i = 0; rc == 0 && i < in->components_n; i++) {
		const lvc_component_t *c = &in->components[i];

		rc |= avro_value_append(&arr, &item, NULL);
		rc |= lvc__set_string(&item, codec->comp_idx[LVC__CO_ESTIMATOR], c->estimator);
		rc |= lvc__set_double(&item, codec->comp_idx[LVC__CO_SIGMA_ANN], c->sigma_ann);
	}
	rc |= lvc__set_string(v, rec->idx[LI_CONFIG_ID], in->config_id);
	return lvc__finish(rec, rc, out, out_len);
}

lvc_err_t lvc_codec_encode_warning(lvc_codec_t *codec, const lvc_warning_t *in, const void **out,
                                   size_t *out_len)
{
	struct lvc__rec *rec;
	avro_value_t *v, br;
	int rc = 0;

	if (!lvc__enc_args(codec, in, out, out_len) || in->account == NULL ||
	    in->instrument == NULL || (unsigned)in->level >= LVC_LEVEL__COUNT ||
	    (unsigned)in->previous_level >= LVC_LEVEL__COUNT) {
		return LVC_ERR_INVALID;
	}
	rec = &codec->rec[LVC_REC_WARNING];
	v = &rec->enc;
	rc |= avro_value_reset(v);
	rc |= lvc__set_string(v, rec->idx[WA_ACCOUNT], in->account);
	rc |= lvc__set_string(v, rec->idx[WA_INSTRUMENT], in->instrument);
	rc |= lvc__set_long(v, rec->idx[WA_TS_US], in->ts_us);
	rc |= lvc__set_long(v, rec->idx[WA_SEQ], in->seq);
	rc |= lvc__set_enum(v, rec->idx[WA_LEVEL], (int)in->level);
	rc |= lvc__set_enum(v, rec->idx[WA_PREVIOUS_LEVEL], (int)in->previous_level);
	rc |= lvc__set_double(v, rec->idx[WA_MARK_PRICE], in->mark_price);
	rc |= lvc__set_union(v, rec->idx[WA_LIQUIDATION_PRICE], in->has_liquidation_price, &br);
	if (rc == 0 && in->has_liquidation_price) {
		rc |= avro_value_set_double(&br, in->liquidation_price);
	}
	rc |= lvc__set_double(v, rec->idx[WA_DISTANCE_SIGMA], in->distance_sigma);
	rc |= lvc__set_double(v, rec->idx[WA_EQUITY], in->equity);
	rc |= lvc__set_double(v, rec->idx[WA_MAINTENANCE_MARGIN], in->maintenance_margin);
	rc |= lvc__set_double(v, rec->idx[WA_MARGIN_RATIO], in->margin_ratio);
	rc |= lvc__set_double(v, rec->idx[WA_SIZE], in->size);
	rc |= lvc__set_double(v, rec->idx[WA_SIGMA_ANN], in->sigma_ann);
	rc |= lvc__set_double(v, rec->idx[WA_HIT_PROBABILITY], in->hit_probability);
	return lvc__finish(rec, rc, out, out_len);
}
