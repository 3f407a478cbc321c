/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Avro records as JSON in the form of SPEC §7 `--out`: an object with the
 * Avro field names in schema order (jansson keeps insertion order), enums
 * as their symbol strings, unions as the plain value or null, arrays of
 * records as arrays of objects, bytes and fixed as base64 strings (RFC 4648,
 * with padding; StateSnapshot.data). Doubles become JSON reals that
 * round-trip when the caller dumps with JSON_REAL_PRECISION(17); a NaN or
 * an infinity cannot be JSON and becomes null.
 *
 * The bytes are validated like a decoder's (lengths, indexes, UTF-8,
 * trailing bytes) but the values are not checked: this is how produced
 * records are shown, and an event may carry an infinity. Not on the hot
 * path of the stage; it allocates the JSON tree (jansson, not Avro C).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "io/codec.h"
#include "io/codec_internal.h"

json_t *lvc_json_base64(const void *data, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	size_t out_len = 4 * ((len + 2) / 3);
	char *out = malloc(out_len + 1);
	size_t o = 0;
	json_t *j;

	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len) {
			v |= (uint32_t)in[i + 1] << 8;
		}
		if (i + 2 < len) {
			v |= in[i + 2];
		}
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	j = json_stringn(out, o);
	free(out);
	return j;
}

static json_t *lvc__real(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Converts v; NULL when jansson cannot allocate or Avro C fails. */
static json_t *lvc__to_json(avro_value_t *v)
{
	switch (avro_value_get_type(v)) {
	case AVRO_NULL:
		return json_null();
	case AVRO_BOOLEAN: {
		int b = 0;

		return avro_value_get_boolean(v, &b) == 0 ? json_boolean(b) : NULL;
	}
	case AVRO_INT32: {
		int32_t i = 0;

		return avro_value_get_int(v, &i) == 0 ? json_integer(i) : NULL;
	}
	case AVRO_INT64: {
		int64_t i = 0;

		return avro_value_get_long(v, &i) == 0 ? json_integer((json_int_t)i) : NULL;
	}
	case AVRO_FLOAT: {
		float f = 0;

		return avro_value_get_float(v, &f) == 0 ? lvc__real(f) : NULL;
	}
	case AVRO_DOUBLE: {
		double d = 0;

		return avro_value_get_double(v, &d) == 0 ? lvc__real(d) : NULL;
	}
	case AVRO_STRING: {
		const char *s = NULL;
		size_t size = 0;

		/* Avro C's string size counts the NUL terminator. The bytes were
		 * checked to be UTF-8 without NUL, which jansson requires. */
		if (avro_value_get_string(v, &s, &size) != 0) {
			return NULL;
		}
		return json_stringn(s, size > 0 ? size - 1 : 0);
	}
	case AVRO_BYTES:
	case AVRO_FIXED: {
		const void *b = NULL;
		size_t size = 0;
		int rc = avro_value_get_type(v) == AVRO_BYTES ? avro_value_get_bytes(v, &b, &size)
		                                              : avro_value_get_fixed(v, &b, &size);

		return rc == 0 ? lvc_json_base64(b, size) : NULL;
	}
	case AVRO_ENUM: {
		int i = 0;
		const char *sym;

		if (avro_value_get_enum(v, &i) != 0) {
			return NULL;
		}
		sym = avro_schema_enum_get(avro_value_get_schema(v), i);
		return sym != NULL ? json_string(sym) : NULL;
	}
	case AVRO_UNION: {
		avro_value_t branch;

		if (avro_value_get_current_branch(v, &branch) != 0) {
			return NULL;
		}
		return lvc__to_json(&branch);
	}
	case AVRO_RECORD:
	case AVRO_MAP: {
		json_t *obj = json_object();
		size_t n = 0;

		if (obj == NULL || avro_value_get_size(v, &n) != 0) {
			json_decref(obj);
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			avro_value_t child;
			const char *name = NULL;
			json_t *cj;

			if (avro_value_get_by_index(v, i, &child, &name) != 0 || name == NULL ||
			    (cj = lvc__to_json(&child)) == NULL ||
			    json_object_set_new(obj, name, cj) != 0) {
				json_decref(obj);
				return NULL;
			}
		}
		return obj;
	}
	case AVRO_ARRAY: {
		json_t *arr = json_array();
		size_t n = 0;

		if (arr == NULL || avro_value_get_size(v, &n) != 0) {
			json_decref(arr);
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			avro_value_t child;
			json_t *cj;

			if (avro_value_get_by_index(v, i, &child, NULL) != 0 ||
			    (cj = lvc__to_json(&child)) == NULL ||
			    json_array_append_new(arr, cj) != 0) {
				json_decref(arr);
				return NULL;
			}
		}
		return arr;
	}
	default:
		return NULL;
	}
}

lvc_err_t lvc_codec_to_json(lvc_codec_t *codec, lvc_rec_type_t type, const void *buf, size_t len,
                            json_t **out, char *errstr, size_t errstr_size)
{
	avro_value_t *v = NULL;
	lvc_err_t err;

	if (codec == NULL || out == NULL || (int)type < 0 || type >= LVC_REC__COUNT) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "no codec, no output or no such record type");
		}
		return LVC_ERR_INVALID;
	}
	*out = NULL;
	err = lvc__codec_read_aux(codec, type, buf, len, &v, errstr, errstr_size);
	if (err != LVC_OK) {
		return err;
	}
	if ((*out = lvc__to_json(v)) == NULL) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: cannot build the JSON object",
			         codec->rec[type].name);
		}
		return LVC_ERR_NOMEM;
	}
	return LVC_OK;
}
