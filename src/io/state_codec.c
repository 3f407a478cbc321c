/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StateSnapshot values with Avro C (see state_codec.h). The schema is parsed
 * once, field indexes are resolved by name once, and one value for
 * encoding, one for decoding and one output buffer (grown geometrically)
 * are reused, so a commit that writes thousands of snapshots allocates
 * nothing per record. Decoding first walks the bytes with the schema
 * checker (io/avro_validate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "io/avro_validate.h"
#include "io/codec.h"
#include "io/state_codec.h"
#include "core/errfmt.h"

enum { F_KIND, F_FORMAT, F_CONFIG_ID, F_SOURCE, F_DATA, F__N };

static const char *const field_names[F__N] = { "kind", "format_version", "config_id", "source",
	                                       "data" };

struct lvc_state_codec_s {
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t enc, dec;
	int have_enc, have_dec;
	avro_reader_t reader;
	avro_writer_t writer;
	lvc__avro_prog_t *prog;
	size_t idx[F__N];
	char *buf;
	size_t cap;
};

void lvc_state_codec_destroy(lvc_state_codec_t *sc)
{
	if (sc == NULL) {
		return;
	}
	if (sc->have_enc) {
		avro_value_decref(&sc->enc);
	}
	if (sc->have_dec) {
		avro_value_decref(&sc->dec);
	}
	if (sc->iface != NULL) {
		avro_value_iface_decref(sc->iface);
	}
	if (sc->reader != NULL) {
		avro_reader_free(sc->reader);
	}
	if (sc->writer != NULL) {
		avro_writer_free(sc->writer);
	}
	lvc__avro_prog_free(sc->prog);
	if (sc->schema != NULL) {
		avro_schema_decref(sc->schema);
	}
	free(sc->buf);
	free(sc);
}

lvc_state_codec_t *lvc_state_codec_new(char *errstr, size_t errstr_size)
{
	lvc_state_codec_t *sc = calloc(1, sizeof(*sc));
	const char *json = lvc_codec_schema_json(LVC_REC_STATE);

	if (sc == NULL) {
		LVC_ERRF("out of memory creating the state codec");
		return NULL;
	}
	if (json == NULL || avro_schema_from_json_length(json, strlen(json), &sc->schema) != 0) {
		LVC_ERRF("schema StateSnapshot: %s",
		         json == NULL ? "not embedded" : avro_strerror());
		sc->schema = NULL;
		goto fail;
	}
	for (int f = 0; f < F__N; f++) {
		int i = avro_schema_record_field_get_index(sc->schema, field_names[f]);

		if (i < 0) {
			LVC_ERRF("schema StateSnapshot: no field %s", field_names[f]);
			goto fail;
		}
		sc->idx[f] = (size_t)i;
	}
	if ((sc->prog = lvc__avro_compile(sc->schema, NULL, 0, errstr, errstr_size)) == NULL) {
		goto fail;
	}
	if ((sc->iface = avro_generic_class_from_schema(sc->schema)) == NULL ||
	    avro_generic_value_new(sc->iface, &sc->enc) != 0) {
		LVC_ERRF("schema StateSnapshot: %s", avro_strerror());
		goto fail;
	}
	sc->have_enc = 1;
	if (avro_generic_value_new(sc->iface, &sc->dec) != 0) {
		LVC_ERRF("schema StateSnapshot: %s", avro_strerror());
		goto fail;
	}
	sc->have_dec = 1;
	sc->cap = 8192;
	if ((sc->buf = malloc(sc->cap)) == NULL ||
	    (sc->reader = avro_reader_memory(sc->buf, 0)) == NULL ||
	    (sc->writer = avro_writer_memory(sc->buf, (int64_t)sc->cap)) == NULL) {
		LVC_ERRF("out of memory creating the state codec");
		goto fail;
	}
	return sc;
fail:
	lvc_state_codec_destroy(sc);
	return NULL;
}

static int field(avro_value_t *v, size_t idx, avro_value_t *out)
{
	return avro_value_get_by_index(v, idx, out, NULL);
}

lvc_err_t lvc_state_encode(lvc_state_codec_t *sc, const lvc_state_rec_t *in, const void **out,
                           size_t *out_len)
{
	avro_value_t f;
	size_t need = 0;
	int rc = 0;

	if (sc == NULL || in == NULL || (unsigned)in->kind >= LVC_STATE__COUNT ||
	    in->config_id == NULL || in->source == NULL || (in->data == NULL && in->data_len > 0)) {
		return LVC_ERR_INVALID;
	}
	rc |= avro_value_reset(&sc->enc);
	rc |= field(&sc->enc, sc->idx[F_KIND], &f) || avro_value_set_enum(&f, (int)in->kind);
	rc |= field(&sc->enc, sc->idx[F_FORMAT], &f) || avro_value_set_int(&f, in->format_version);
	rc |= field(&sc->enc, sc->idx[F_CONFIG_ID], &f) || avro_value_set_string(&f, in->config_id);
	rc |= field(&sc->enc, sc->idx[F_SOURCE], &f) || avro_value_set_string(&f, in->source);
	rc |= field(&sc->enc, sc->idx[F_DATA], &f) ||
	      avro_value_set_bytes(&f, (void *)(in->data != NULL ? in->data : ""), in->data_len);
	if (rc != 0 || avro_value_sizeof(&sc->enc, &need) != 0) {
		return LVC_ERR_NOMEM;
	}
	if (need > sc->cap) {
		size_t cap = sc->cap;
		char *nb;

		while (cap < need) {
			cap *= 2;
		}
		if ((nb = realloc(sc->buf, cap)) == NULL) {
			return LVC_ERR_NOMEM;
		}
		sc->buf = nb;
		sc->cap = cap;
	}
	avro_writer_memory_set_dest(sc->writer, sc->buf, (int64_t)sc->cap);
	if (avro_value_write(sc->writer, &sc->enc) != 0) {
		return LVC_ERR_NOMEM;
	}
	*out = sc->buf;
	*out_len = (size_t)avro_writer_tell(sc->writer);
	return LVC_OK;
}

lvc_err_t lvc_state_decode(lvc_state_codec_t *sc, const void *buf, size_t len, lvc_state_rec_t *out,
                           char *errstr, size_t errstr_size)
{
	avro_value_t f;
	int kind = 0;
	const char *s;
	const void *b;
	size_t n;
	lvc_err_t err;

	memset(out, 0, sizeof(*out));
	if (buf == NULL) {
		LVC_ERRF("StateSnapshot: a null value");
		return LVC_ERR_DECODE;
	}
	if ((err = lvc__avro_check(sc->prog, buf, len, NULL, errstr, errstr_size)) != LVC_OK) {
		return LVC_ERR_DECODE;
	}
	avro_reader_memory_set_source(sc->reader, (const char *)buf, (int64_t)len);
	if (avro_value_read(sc->reader, &sc->dec) != 0) {
		LVC_ERRF("StateSnapshot: %s", avro_strerror());
		return LVC_ERR_DECODE;
	}
	if (field(&sc->dec, sc->idx[F_KIND], &f) != 0 || avro_value_get_enum(&f, &kind) != 0 ||
	    kind < 0 || kind >= LVC_STATE__COUNT) {
		LVC_ERRF("StateSnapshot.kind: not a known kind");
		return LVC_ERR_DECODE;
	}
	out->kind = (lvc_state_kind_t)kind;
	if (field(&sc->dec, sc->idx[F_FORMAT], &f) != 0 ||
	    avro_value_get_int(&f, &out->format_version) != 0) {
		LVC_ERRF("StateSnapshot.format_version: %s", avro_strerror());
		return LVC_ERR_DECODE;
	}
	if (field(&sc->dec, sc->idx[F_CONFIG_ID], &f) != 0 ||
	    avro_value_get_string(&f, &s, &n) != 0) {
		LVC_ERRF("StateSnapshot.config_id: %s", avro_strerror());
		return LVC_ERR_DECODE;
	}
	out->config_id = s;
	if (field(&sc->dec, sc->idx[F_SOURCE], &f) != 0 || avro_value_get_string(&f, &s, &n) != 0) {
		LVC_ERRF("StateSnapshot.source: %s", avro_strerror());
		return LVC_ERR_DECODE;
	}
	out->source = s;
	if (field(&sc->dec, sc->idx[F_DATA], &f) != 0 || avro_value_get_bytes(&f, &b, &n) != 0) {
		LVC_ERRF("StateSnapshot.data: %s", avro_strerror());
		return LVC_ERR_DECODE;
	}
	out->data = b;
	out->data_len = n;
	return LVC_OK;
}
