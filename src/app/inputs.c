/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event-time merge of replay files (see inputs.h). One head per file;
 * the next record is the smallest head by (ts_us, input tie class, file
 * order). Files are few (a handful of --input arguments), so a linear scan
 * over the heads is cheaper than a heap. The merge peeks each head's event
 * time with its own codec, so it never disturbs the pipeline's decoder.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/inputs.h"
#include "io/codec.h"
#include "core/errfmt.h"

typedef struct head_s {
	lvc_avro_file_t *f;
	const char *path;
	lvc_input_t input;
	lvc_rec_type_t type;
	int64_t index; /* of the record in buf */
	const void *buf;
	size_t len;
	int64_t ts_us; /* INT64_MIN: undecodable, returned at once */
	int live;      /* buf holds a record */
} head_t;

struct lvc_inputs_s {
	lvc_codec_t *codec;
	head_t *heads;
	size_t n;
	head_t *last; /* returned by the previous call: advance it first */
	uint64_t count;
};

static int input_of_type(lvc_rec_type_t t, lvc_input_t *out)
{
	switch (t) {
	case LVC_REC_TRADE:
		*out = LVC_IN_TRADES;
		return 0;
	case LVC_REC_PRICE:
		*out = LVC_IN_PRICES;
		return 0;
	case LVC_REC_POSITION:
		*out = LVC_IN_POSITIONS;
		return 0;
	case LVC_REC_BALANCE:
		*out = LVC_IN_BALANCES;
		return 0;
	default:
		return -1;
	}
}

/* Reads h's next record and peeks its event time. */
static lvc_err_t head_next(lvc_inputs_t *inp, head_t *h, char *errstr, size_t errstr_size)
{
	char why[512];
	lvc_err_t err = lvc_avro_file_next(h->f, &h->buf, &h->len, why, sizeof(why));

	if (err == LVC_ERR_NOT_FOUND) {
		h->live = 0;
		return LVC_OK;
	}
	if (err != LVC_OK) {
		LVC_ERRF("%s: record %" PRId64 ": %s", h->path, h->index + 2, why);
		return LVC_ERR_IO;
	}
	h->index++;
	h->live = 1;
	if (lvc_codec_peek_ts(inp->codec, h->type, h->buf, h->len, &h->ts_us) != LVC_OK) {
		h->ts_us = INT64_MIN;
	}
	return LVC_OK;
}

lvc_inputs_t *lvc_inputs_open(const char *const *paths, size_t n, char *errstr, size_t errstr_size)
{
	lvc_inputs_t *inp = calloc(1, sizeof(*inp));
	char why[512];

	if (inp == NULL || (inp->heads = calloc(n > 0 ? n : 1, sizeof(*inp->heads))) == NULL) {
		LVC_ERRF("out of memory");
		free(inp);
		return NULL;
	}
	if ((inp->codec = lvc_codec_new(errstr, errstr_size)) == NULL) {
		lvc_inputs_close(inp);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		head_t *h = &inp->heads[i];

		inp->n++;
		h->path = paths[i];
		h->index = -1;
		if ((h->f = lvc_avro_file_open(inp->codec, h->path, why, sizeof(why))) == NULL) {
			LVC_ERRF("%s: %s", h->path, why);
			goto fail;
		}
		h->type = lvc_avro_file_type(h->f);
		if (input_of_type(h->type, &h->input) != 0) {
			LVC_ERRF(
			    "%s: holds %s records; the inputs are Trade, PriceTick, Position and "
			    "AccountBalance files",
			    h->path, lvc_rec_type_names[h->type]);
			goto fail;
		}
		if (head_next(inp, h, errstr, errstr_size) != LVC_OK) {
			goto fail;
		}
	}
	return inp;
fail:
	lvc_inputs_close(inp);
	return NULL;
}

lvc_err_t lvc_inputs_next(lvc_inputs_t *inp, lvc_inrec_t *in, int64_t *ts_us, char *errstr,
                          size_t errstr_size)
{
	head_t *best = NULL;

	if (inp->last != NULL) {
		lvc_err_t err = head_next(inp, inp->last, errstr, errstr_size);

		inp->last = NULL;
		if (err != LVC_OK) {
			return err;
		}
	}
	for (size_t i = 0; i < inp->n; i++) {
		head_t *h = &inp->heads[i];

		if (h->live && (best == NULL || h->ts_us < best->ts_us ||
		                (h->ts_us == best->ts_us && h->input < best->input))) {
			best = h;
		}
	}
	if (best == NULL) {
		return LVC_ERR_NOT_FOUND;
	}
	memset(in, 0, sizeof(*in));
	in->input = best->input;
	in->topic = best->path;
	in->partition = 0;
	in->offset = best->index;
	in->value = best->buf;
	in->value_len = best->len;
	*ts_us = best->ts_us;
	inp->last = best;
	inp->count++;
	return LVC_OK;
}

uint64_t lvc_inputs_count(const lvc_inputs_t *inp)
{
	return inp->count;
}

void lvc_inputs_close(lvc_inputs_t *inp)
{
	if (inp == NULL) {
		return;
	}
	for (size_t i = 0; i < inp->n; i++) {
		lvc_avro_file_close(inp->heads[i].f);
	}
	free(inp->heads);
	lvc_codec_destroy(inp->codec);
	free(inp);
}
