/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON writer for JSON Lines (see jsonl.h). Strings are escaped by jansson
 * itself (json_dumps of the string with JSON_ENCODE_ANY); only numbers are
 * formatted here. Non-finite doubles cannot occur: the codec turns them
 * into null before they reach a json_t.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/jsonl.h"

char *lvc_json_double(double d, char *buf, size_t size)
{
	/* Whole numbers of a size people read print as such: 20.0, not 2e+01. */
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, size, "%.1f", d);
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d) {
			break;
		}
	}
	/* Keep it a JSON real: "25" would read back as an integer. */
	if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 2 < size) {
		strcat(buf, ".0");
	}
	return buf;
}

static int put(FILE *out, const char *s)
{
	return fputs(s, out) < 0 ? -1 : 0;
}

int lvc_json_write(FILE *out, const json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		int first = 1;

		if (put(out, "{") != 0) {
			return -1;
		}
		json_object_foreach((json_t *)v, key, val)
		{
			json_t *k = json_string(key);
			char *ks = k != NULL ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
			int rc = ks == NULL || (!first && put(out, ",") != 0) ||
			         put(out, ks) != 0 || put(out, ":") != 0 ||
			         lvc_json_write(out, val) != 0;

			free(ks);
			json_decref(k);
			if (rc) {
				return -1;
			}
			first = 0;
		}
		return put(out, "}");
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;

		if (put(out, "[") != 0) {
			return -1;
		}
		json_array_foreach((json_t *)v, i, val)
		{
			if ((i > 0 && put(out, ",") != 0) || lvc_json_write(out, val) != 0) {
				return -1;
			}
		}
		return put(out, "]");
	}
	case JSON_REAL:
		return put(out, lvc_json_double(json_real_value(v), buf, sizeof(buf)));
	default: {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		int rc = s != NULL ? put(out, s) : -1;

		free(s);
		return rc;
	}
	}
}
