/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The values of the levcal.state topic: StateSnapshot records
 * (schemas/StateSnapshot.avsc, embedded like every schema) wrapping the
 * core's snapshot bytes with their kind, format version, the config_id
 * that wrote them and the input that was applied last. Encoded with Avro
 * C; decoded after the bytes were checked against the schema (Avro C
 * trusts its input), so a corrupt state record is refused, never read
 * past its end.
 *
 * Thread rules: a codec is used by one thread at a time.
 */
#ifndef LVC_IO_STATE_CODEC_H
#define LVC_IO_STATE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* StateKind, in the schema's symbol order. */
typedef enum lvc_state_kind_e {
	LVC_STATE_INSTRUMENT,
	LVC_STATE_POSITION,
	LVC_STATE_PARTITION,
	LVC_STATE__COUNT
} lvc_state_kind_t;

/* One StateSnapshot. Decoded strings and data point into the codec and
 * stay valid until its next decode. */
typedef struct lvc_state_rec_s {
	lvc_state_kind_t kind;
	int32_t format_version;
	const char *config_id;
	const char *source;
	const void *data;
	size_t data_len;
} lvc_state_rec_t;

typedef struct lvc_state_codec_s lvc_state_codec_t;

/* Parses the embedded schema. NULL with errstr. The caller owns it. */
lvc_state_codec_t *lvc_state_codec_new(char *errstr, size_t errstr_size);

/* Frees sc; accepts NULL. */
void lvc_state_codec_destroy(lvc_state_codec_t *sc);

/* Encodes *in into a buffer owned by sc (valid until the next encode).
 * LVC_OK, LVC_ERR_INVALID (bad arguments) or LVC_ERR_NOMEM. */
lvc_err_t lvc_state_encode(lvc_state_codec_t *sc, const lvc_state_rec_t *in, const void **out,
                           size_t *out_len);

/* Decodes buf[0..len). LVC_OK, or LVC_ERR_DECODE with the reason. */
lvc_err_t lvc_state_decode(lvc_state_codec_t *sc, const void *buf, size_t len, lvc_state_rec_t *out,
                           char *errstr, size_t errstr_size);

#endif
