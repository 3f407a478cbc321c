/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JSON text for JSON Lines outputs, with every double in its
 * shortest form that reads back to the same double ("0.04", not jansson's
 * "0.040000000000000001"), so backtest files are both exact and readable.
 * Object keys keep their insertion order.
 */
#ifndef LVC_APP_JSONL_H
#define LVC_APP_JSONL_H

#include <stdio.h>

#include <jansson.h>

/* Writes v as compact JSON to out (no newline). Returns 0, or -1 on a write
 * error. */
int lvc_json_write(FILE *out, const json_t *v);

/* Formats d in the shortest "%.*g" that parses back to d (up to 17 digits)
 * into buf; returns buf. */
char *lvc_json_double(double d, char *buf, size_t size);

#endif
