/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal: the codec's state, shared by codec.c (records), codec_json.c
 * (to_json) and codec_file.c (container files). src/io only.
 */
#ifndef LVC_IO_CODEC_INTERNAL_H
#define LVC_IO_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "io/avro_validate.h"
#include "io/codec.h"

#define LVC__MAX_FIELDS 16

/* Field indexes of the nested records of LeverageLimit. */
enum {
	LVC__TI_NOTIONAL_CAP,
	LVC__TI_MAX_LEVERAGE,
	LVC__TI_IMR,
	LVC__TI_MMR,
	LVC__TI_DEDUCTION,
	LVC__TI__N
};
enum { LVC__CO_ESTIMATOR, LVC__CO_SIGMA_ANN, LVC__CO__N };

/* One record type: its schema, value class, and the values, reader, writer
 * and output buffer reused for every record of the type. */
struct lvc__rec {
	const char *name; /* short name: "Trade" */
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t dec; /* decoders read into it; decoded strings point here */
	avro_value_t enc; /* encoders fill it */
	avro_value_t aux; /* lvc_codec_to_json reads into it */
	int have_dec, have_enc, have_aux;
	avro_reader_t reader;
	avro_writer_t writer;
	uint8_t *buf; /* encoder output, grown geometrically */
	size_t cap;
	int idx[LVC__MAX_FIELDS]; /* schema field index of each of our fields */
	struct lvc__avro_limit limits[2];
	size_t limits_n;
	lvc__avro_prog_t *prog; /* the schema compiled for lvc__avro_check */
	char *strs;             /* decoded strings of lvc__read_leaves, NUL-terminated */
	size_t strs_cap, strs_n;
};

struct lvc_codec_s {
	struct lvc__rec rec[LVC_REC__COUNT];
	int tier_idx[LVC__TI__N];
	int comp_idx[LVC__CO__N];
};

/* Formats "<what>: avro_value_read: <avro_strerror()>" after a failed Avro
 * C call with return code rc; LVC_ERR_NOMEM when the allocator refused. */
lvc_err_t lvc__codec_avro_fail(const char *what, const char *call, int rc, char *errstr,
                               size_t errstr_size);

/* Writes value into *buf (capacity *cap, grown with realloc() when Avro C
 * reports the buffer full) through writer; *len is the size written. */
lvc_err_t lvc__codec_write(avro_writer_t writer, avro_value_t *value, uint8_t **buf, size_t *cap,
                           size_t *len);

/* Validates buf[0..len) as a record of type (bytes only, no value checks)
 * and reads it into the type's to_json value, *out. */
lvc_err_t lvc__codec_read_aux(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                              avro_value_t **out, char *errstr, size_t errstr_size);

#endif
