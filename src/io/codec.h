/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Avro codec for the records of SPEC §2 (plain Avro binary, no framing).
 * Wraps Apache Avro C once: the schemas embedded from the .avsc files in schemas/ are
 * parsed at lvc_codec_new(), field indexes resolved once, and one value,
 * reader and writer per record type are reused for the codec's lifetime, so
 * that neither decode nor encode allocates per record.
 *
 * Avro C 1.11.1 trusts its input. Before a buffer reaches avro_value_read()
 * the codec walks it against the schema and refuses: lengths longer than the
 * bytes present, negative lengths, out-of-range enum and union indexes,
 * trailing bytes, strings with NUL bytes; after decoding it refuses
 * non-finite or non-positive prices and non-finite quantities. Avro C's
 * allocations are capped (lvc_codec_set_memory_cap), so poison records cannot
 * grow memory.
 *
 * Thread rules: a codec is used by one thread at a time.
 */
#ifndef LVC_IO_CODEC_H
#define LVC_IO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "core/records.h"

typedef enum lvc_rec_type_e {
	LVC_REC_TRADE,
	LVC_REC_PRICE,
	LVC_REC_POSITION,
	LVC_REC_BALANCE,
	LVC_REC_LIMIT,
	LVC_REC_WARNING,
	LVC_REC_STATE,
	LVC_REC__COUNT
} lvc_rec_type_t;

/* Avro full names ("levcal.Trade", ...), indexed by lvc_rec_type_t. */
extern const char *const lvc_rec_type_names[LVC_REC__COUNT];

/* Finds the record type of an Avro full or short name; -1 if none. */
int lvc_rec_type_from_name(const char *name, lvc_rec_type_t *out);

typedef struct lvc_codec_s lvc_codec_t;

/* Parses the embedded schemas. Returns a codec owned by the caller, or NULL
 * with the reason in errstr. */
lvc_codec_t *lvc_codec_new(char *errstr, size_t errstr_size);

/* Frees codec; accepts NULL. */
void lvc_codec_destroy(lvc_codec_t *codec);

/* The embedded schema JSON text of a record type (static storage). */
const char *lvc_codec_schema_json(lvc_rec_type_t type);

/* Decoders: validate buf[0..len) and fill *out. Strings in *out point into
 * the codec and stay valid until the next decode of the same type. On
 * failure return LVC_ERR_DECODE (bad bytes) or LVC_ERR_INVALID (a value not
 * allowed, e.g. a NaN price), with a reason such as
 * "Trade.price: -1 is not a positive finite number" in errstr. */
lvc_err_t lvc_codec_decode_trade(lvc_codec_t *codec, const void *buf, size_t len, lvc_trade_t *out,
                                 char *errstr, size_t errstr_size);
lvc_err_t lvc_codec_decode_price(lvc_codec_t *codec, const void *buf, size_t len, lvc_price_t *out,
                                 char *errstr, size_t errstr_size);
lvc_err_t lvc_codec_decode_position(lvc_codec_t *codec, const void *buf, size_t len,
                                    lvc_position_t *out, char *errstr, size_t errstr_size);
lvc_err_t lvc_codec_decode_balance(lvc_codec_t *codec, const void *buf, size_t len,
                                   lvc_balance_t *out, char *errstr, size_t errstr_size);
lvc_err_t lvc_codec_decode_limit(lvc_codec_t *codec, const void *buf, size_t len, lvc_limit_t *out,
                                 char *errstr, size_t errstr_size);
lvc_err_t lvc_codec_decode_warning(lvc_codec_t *codec, const void *buf, size_t len,
                                   lvc_warning_t *out, char *errstr, size_t errstr_size);

/* Encoders: write the Avro binary of *in into a buffer owned by the codec;
 * *out and *out_len stay valid until the next encode of the same type. */
lvc_err_t lvc_codec_encode_trade(lvc_codec_t *codec, const lvc_trade_t *in, const void **out,
                                 size_t *out_len);
lvc_err_t lvc_codec_encode_price(lvc_codec_t *codec, const lvc_price_t *in, const void **out,
                                 size_t *out_len);
lvc_err_t lvc_codec_encode_position(lvc_codec_t *codec, const lvc_position_t *in, const void **out,
                                    size_t *out_len);
lvc_err_t lvc_codec_encode_balance(lvc_codec_t *codec, const lvc_balance_t *in, const void **out,
                                   size_t *out_len);
lvc_err_t lvc_codec_encode_limit(lvc_codec_t *codec, const lvc_limit_t *in, const void **out,
                                 size_t *out_len);
lvc_err_t lvc_codec_encode_warning(lvc_codec_t *codec, const lvc_warning_t *in, const void **out,
                                   size_t *out_len);

/* Decodes a record of `type` (validated as above) into a new JSON object in
 * the form of SPEC §7 --out: Avro field names in schema order, enums as
 * symbol strings, unions as the plain value or null. The caller owns *out. */
lvc_err_t lvc_codec_to_json(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                            json_t **out, char *errstr, size_t errstr_size);

/* data[0..len) as a JSON string in base64 (RFC 4648, padded): how
 * lvc_codec_to_json writes bytes, and how --out writes a dead letter's
 * original value. NULL when out of memory. */
json_t *lvc_json_base64(const void *data, size_t len);

/* The ts_us of an encoded Trade, PriceTick, Position or AccountBalance (the
 * record is validated as by its decoder). LVC_OK, or the decoder's error;
 * LVC_ERR_INVALID for other types. */
lvc_err_t lvc_codec_peek_ts(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                            int64_t *ts_us);

/* Caps the bytes Avro C may hold allocated at once, process-wide (Avro C's
 * allocator is global). 0 removes the cap. Returns the previous cap. */
size_t lvc_codec_set_memory_cap(size_t bytes);

/* Bytes Avro C holds allocated now, process-wide. */
size_t lvc_codec_memory_in_use(void);

/*
 * Avro object container files (replay inputs, test fixtures). A reader
 * resolves the file's writer schema against ours, so files written with an
 * evolved schema are read too; the record type comes from the writer
 * schema's name.
 */
typedef struct lvc_avro_file_s lvc_avro_file_t;

/* Opens path for reading; NULL with the reason in errstr. */
lvc_avro_file_t *lvc_avro_file_open(lvc_codec_t *codec, const char *path, char *errstr,
                                    size_t errstr_size);

/* The record type the file holds. */
lvc_rec_type_t lvc_avro_file_type(const lvc_avro_file_t *f);

/* Reads the next record as plain Avro binary of our schema into a buffer
 * owned by the file (valid until the next call). Returns LVC_OK, or
 * LVC_ERR_NOT_FOUND at the end of the file, or an error with errstr. */
lvc_err_t lvc_avro_file_next(lvc_avro_file_t *f, const void **buf, size_t *len, char *errstr,
                             size_t errstr_size);

/* Closes f; accepts NULL. */
void lvc_avro_file_close(lvc_avro_file_t *f);

/* Writes container files of one record type (tests, `levcal gen`). */
typedef struct lvc_avro_writer_s lvc_avro_writer_t;
lvc_avro_writer_t *lvc_avro_writer_open(lvc_codec_t *codec, const char *path, lvc_rec_type_t type,
                                        char *errstr, size_t errstr_size);
/* Appends one record given as plain Avro binary of our schema. */
lvc_err_t lvc_avro_writer_append(lvc_avro_writer_t *w, const void *buf, size_t len, char *errstr,
                                 size_t errstr_size);
/* Flushes and closes w; accepts NULL. */
lvc_err_t lvc_avro_writer_close(lvc_avro_writer_t *w);

#endif
