/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Avro object container files: the replay inputs (`levcal replay --input`)
 * and test fixtures. A reader takes the record type from the writer
 * schema's name, resolves the writer schema against ours
 * (avro_resolved_writer_new: the value it makes is read with the writer's
 * schema and fills a value of ours), and re-encodes every record as plain
 * Avro binary of our schema, so that the rest of the pipeline sees one
 * format and decodes it with the same checks as a Kafka value.
 *
 * Avro C 1.11.1's resolver does not fill reader fields that the writer
 * lacks from their defaults; for a top-level field of ours whose default is
 * null (a {null, X} union, e.g. Trade.trade_id) this module does: it
 * resolves against our schema without those fields and sets them to null.
 *
 * Avro C trusts a container file's framing too (a block that declares 1 GB
 * is allocated before it is read), so lvc_avro_file_open() first walks the
 * framing itself: magic, header metadata (the validator, as map<bytes>),
 * sync marker, then every block's count and byte size against the file's
 * size, and every block's sync marker. That pass also counts the records,
 * which is how the end of the file is found. Compressed block contents are
 * left to Avro C and zlib, under the allocation cap.
 *
 * Not on the stage's hot path: a file reader allocates when it opens, and
 * Avro C allocates per record read (strings).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <avro.h>
#include <jansson.h>

#include "io/avro_validate.h"
#include "io/codec.h"
#include "io/codec_internal.h"

/* The header (magic, metadata, sync) must fit in this many bytes. */
#define LVC__FILE_MAX_HEADER ((size_t)1024 * 1024)
/* A block declaring more is refused (Avro C writes 16 KiB blocks, Java
 * about 64 KiB). */
#define LVC__FILE_MAX_BLOCK ((int64_t)64 * 1024 * 1024)
/* Block size of the files we write: records are appended pre-encoded and
 * one must fit in a block. */
#define LVC__FILE_WRITE_BLOCK ((size_t)64 * 1024)
#define LVC__SYNC_SIZE        16

struct lvc_avro_file_s {
	lvc_codec_t *codec;
	lvc_rec_type_t type;
	char *path;
	avro_file_reader_t fr;
	avro_schema_t reduced; /* ours without the fields the writer lacks, or NULL */
	avro_value_iface_t *reduced_iface;
	avro_value_t reduced_val;
	int have_reduced_val;
	int map[LVC__MAX_FIELDS * 2]; /* our field i -> reduced field, -1: set null */
	size_t fields_n;
	avro_value_iface_t *resolver;
	avro_value_t resolved;
	int have_resolved;
	avro_value_t dest; /* a value of our schema */
	int have_dest;
	avro_writer_t writer;
	uint8_t *buf;
	size_t cap;
	uint64_t total; /* records in the file, from the framing walk */
	uint64_t done;
};

struct lvc_avro_writer_s {
	lvc_codec_t *codec;
	lvc_rec_type_t type;
	char *path;
	avro_file_writer_t fw;
	uint64_t records;
};

static char *lvc__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL) {
		memcpy(d, s, n);
	}
	return d;
}

static int lvc__read_at(FILE *fp, int64_t off, void *buf, size_t n)
{
	if (fseeko(fp, (off_t)off, SEEK_SET) != 0) {
		return -1;
	}
	return fread(buf, 1, n, fp) == n ? 0 : -1;
}

/* Walks the container framing of path (Avro spec, "Object Container
 * Files") and counts its records into *total. */
static lvc_err_t lvc__scan(const char *path, uint64_t *total, char *errstr, size_t errstr_size)
{
	FILE *fp = NULL;
	uint8_t *head = NULL;
	avro_schema_t bytes_schema = NULL, meta_schema = NULL;
	uint8_t sync[LVC__SYNC_SIZE], bsync[LVC__SYNC_SIZE];
	struct stat st;
	size_t head_n, meta_len = 0;
	int64_t pos, size;
	lvc_err_t err = LVC_OK;
	char why[256];

	*total = 0;
	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
		err = errno == ENOENT ? LVC_ERR_NOT_FOUND : LVC_ERR_IO;
		goto exit;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errstr, errstr_size, "%s: not a regular file", path);
		err = LVC_ERR_IO;
		goto exit;
	}
	size = (int64_t)st.st_size;
	head_n = (uint64_t)size < LVC__FILE_MAX_HEADER ? (size_t)size : LVC__FILE_MAX_HEADER;
	if ((head = malloc(head_n > 0 ? head_n : 1)) == NULL) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	if (head_n < 4 || lvc__read_at(fp, 0, head, head_n) != 0 ||
	    memcmp(head, "Obj\x01", 4) != 0) {
		snprintf(errstr, errstr_size,
		         "%s: not an Avro container file (no \"Obj\\x01\" magic)", path);
		err = LVC_ERR_DECODE;
		goto exit;
	}
	bytes_schema = avro_schema_bytes();
	meta_schema = bytes_schema != NULL ? avro_schema_map(bytes_schema) : NULL;
	if (meta_schema == NULL) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	err = lvc__avro_validate(meta_schema, head + 4, head_n - 4, NULL, 0, &meta_len, why,
	                         sizeof(why));
	if (err != LVC_OK || 4 + meta_len + LVC__SYNC_SIZE > head_n) {
		snprintf(errstr, errstr_size, "%s: malformed container header%s%s%s", path,
		         err != LVC_OK ? " (" : "", err != LVC_OK ? why : "",
		         err != LVC_OK ? ")" : " (no sync marker)");
		err = LVC_ERR_DECODE;
		goto exit;
	}
	memcpy(sync, head + 4 + meta_len, LVC__SYNC_SIZE);
	pos = (int64_t)(4 + meta_len + LVC__SYNC_SIZE);
	while (pos < size) {
		uint8_t hdr[20];
		size_t hn =
		    (size - pos) < (int64_t)sizeof(hdr) ? (size_t)(size - pos) : sizeof(hdr);
		const uint8_t *p = hdr;
		int64_t count, bsize;

		if (lvc__read_at(fp, pos, hdr, hn) != 0 ||
		    lvc__avro_read_long(&p, hdr + hn, &count) != LVC_OK ||
		    lvc__avro_read_long(&p, hdr + hn, &bsize) != LVC_OK) {
			snprintf(errstr, errstr_size,
			         "%s: block at byte %lld: malformed or truncated block header",
			         path, (long long)pos);
			err = LVC_ERR_DECODE;
			goto exit;
		}
		if (count < 0 || bsize < 0 || bsize > LVC__FILE_MAX_BLOCK) {
			snprintf(
			    errstr, errstr_size,
			    "%s: block at byte %lld: %lld records in %lld bytes is not allowed "
			    "(counts >= 0, at most %lld bytes)",
			    path, (long long)pos, (long long)count, (long long)bsize,
			    (long long)LVC__FILE_MAX_BLOCK);
			err = LVC_ERR_DECODE;
			goto exit;
		}
		pos += p - hdr;
		if (bsize > size - pos || LVC__SYNC_SIZE > size - pos - bsize) {
			snprintf(
			    errstr, errstr_size,
			    "%s: block at byte %lld: %lld bytes and a sync marker exceed the %lld "
			    "bytes left (truncated file?)",
			    path, (long long)(pos - (p - hdr)), (long long)bsize,
			    (long long)(size - pos));
			err = LVC_ERR_DECODE;
			goto exit;
		}
		pos += bsize;
		if (lvc__read_at(fp, pos, bsync, LVC__SYNC_SIZE) != 0 ||
		    memcmp(bsync, sync, LVC__SYNC_SIZE) != 0) {
			snprintf(errstr, errstr_size, "%s: byte %lld: wrong sync marker", path,
			         (long long)pos);
			err = LVC_ERR_DECODE;
			goto exit;
		}
		pos += LVC__SYNC_SIZE;
		*total += (uint64_t)count;
	}
exit:
	if (meta_schema != NULL) {
		avro_schema_decref(meta_schema);
	}
	if (bytes_schema != NULL) {
		avro_schema_decref(bytes_schema);
	}
	free(head);
	if (fp != NULL) {
		fclose(fp);
	}
	return err;
}

/* 1 if our schema's field `name` has "default": null (we only fill null
 * defaults, and only of {null, X} unions, which the schema check enforces
 * for every union field we know). */
static int lvc__default_is_null(lvc_rec_type_t type, const char *name)
{
	json_t *root = json_loads(lvc_codec_schema_json(type), 0, NULL);
	json_t *fields = root != NULL ? json_object_get(root, "fields") : NULL;
	int yes = 0;

	for (size_t i = 0; fields != NULL && i < json_array_size(fields); i++) {
		json_t *f = json_array_get(fields, i);
		json_t *d = json_object_get(f, "default");
		json_t *t = json_object_get(f, "type");

		if (json_is_string(json_object_get(f, "name")) &&
		    strcmp(json_string_value(json_object_get(f, "name")), name) == 0) {
			yes = d != NULL && json_is_null(d) && json_is_array(t) &&
			      json_is_string(json_array_get(t, 0)) &&
			      strcmp(json_string_value(json_array_get(t, 0)), "null") == 0;
			break;
		}
	}
	json_decref(root);
	return yes;
}

/* Sets up the resolution of writer schema ws against our schema. */
static lvc_err_t lvc__resolve(lvc_avro_file_t *f, avro_schema_t ws, char *errstr,
                              size_t errstr_size)
{
	struct lvc__rec *rec = &f->codec->rec[f->type];
	avro_schema_t ours = rec->schema;
	avro_schema_t target = ours;
	int missing = 0;

	f->fields_n = avro_schema_record_size(ours);
	if (f->fields_n > sizeof(f->map) / sizeof(f->map[0])) {
		snprintf(errstr, errstr_size, "%s: schema %s has too many fields", f->path,
		         rec->name);
		return LVC_ERR_RANGE;
	}
	for (size_t i = 0; i < f->fields_n; i++) {
		const char *name = avro_schema_record_field_name(ours, (int)i);

		if (avro_schema_record_field_get_index(ws, name) >= 0) {
			f->map[i] = 0;
			continue;
		}
		if (!lvc__default_is_null(f->type, name)) {
			snprintf(
			    errstr, errstr_size,
			    "%s: the writer schema of levcal.%s has no field %s, and ours gives "
			    "it no default",
			    f->path, rec->name, name);
			return LVC_ERR_DECODE;
		}
		f->map[i] = -1;
		missing++;
	}
	if (missing > 0) {
		int k = 0;

		f->reduced =
		    avro_schema_record(avro_schema_name(ours), avro_schema_namespace(ours));
		if (f->reduced == NULL) {
			goto nomem;
		}
		for (size_t i = 0; i < f->fields_n; i++) {
			if (f->map[i] < 0) {
				continue;
			}
			if (avro_schema_record_field_append(
			        f->reduced, avro_schema_record_field_name(ours, (int)i),
			        avro_schema_record_field_get_by_index(ours, (int)i)) != 0) {
				goto nomem;
			}
			f->map[i] = k++;
		}
		if ((f->reduced_iface = avro_generic_class_from_schema(f->reduced)) == NULL ||
		    avro_generic_value_new(f->reduced_iface, &f->reduced_val) != 0) {
			goto nomem;
		}
		f->have_reduced_val = 1;
		target = f->reduced;
	}
	if ((f->resolver = avro_resolved_writer_new(ws, target)) == NULL) {
		snprintf(errstr, errstr_size,
		         "%s: the writer schema is not compatible with levcal.%s: %s", f->path,
		         rec->name, avro_strerror());
		return LVC_ERR_DECODE;
	}
	if (avro_resolved_writer_new_value(f->resolver, &f->resolved) != 0) {
		goto nomem;
	}
	f->have_resolved = 1;
	avro_resolved_writer_set_dest(&f->resolved, missing > 0 ? &f->reduced_val : &f->dest);
	return LVC_OK;
nomem:
	snprintf(errstr, errstr_size, "%s: cannot set up the schema resolution: %s", f->path,
	         avro_strerror());
	return LVC_ERR_NOMEM;
}

lvc_avro_file_t *lvc_avro_file_open(lvc_codec_t *codec, const char *path, char *errstr,
                                    size_t errstr_size)
{
	char scratch[1];
	lvc_avro_file_t *f = NULL;
	avro_schema_t ws;
	const char *name, *ns;
	char full[256];
	int rc;

	if (errstr == NULL || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (codec == NULL || path == NULL) {
		snprintf(errstr, errstr_size, "no codec or no path");
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->path = lvc__strdup(path)) == NULL) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		goto fail;
	}
	f->codec = codec;
	if (lvc__scan(path, &f->total, errstr, errstr_size) != LVC_OK) {
		goto fail;
	}
	if ((rc = avro_file_reader(path, &f->fr)) != 0) {
		snprintf(errstr, errstr_size, "%s: %s", path, avro_strerror());
		f->fr = NULL;
		goto fail;
	}
	ws = avro_file_reader_get_writer_schema(f->fr);
	if (ws == NULL || !is_avro_record(ws)) {
		snprintf(errstr, errstr_size, "%s: the writer schema is not a record", path);
		goto fail;
	}
	name = avro_schema_name(ws);
	ns = avro_schema_namespace(ws);
	snprintf(full, sizeof(full), "%s%s%s", ns != NULL && ns[0] != '\0' ? ns : "",
	         ns != NULL && ns[0] != '\0' ? "." : "", name);
	if (lvc_rec_type_from_name(full, &f->type) != 0) {
		snprintf(
		    errstr, errstr_size,
		    "%s: holds records of %s, which is none of levcal.Trade, levcal.PriceTick, "
		    "levcal.Position, levcal.AccountBalance, levcal.LeverageLimit, "
		    "levcal.LiquidationWarning, levcal.StateSnapshot",
		    path, full);
		goto fail;
	}
	if (avro_generic_value_new(codec->rec[f->type].iface, &f->dest) != 0) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		goto fail;
	}
	f->have_dest = 1;
	if (lvc__resolve(f, ws, errstr, errstr_size) != LVC_OK) {
		goto fail;
	}
	f->cap = 512;
	if ((f->buf = malloc(f->cap)) == NULL ||
	    (f->writer = avro_writer_memory((const char *)f->buf, (int64_t)f->cap)) == NULL) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		goto fail;
	}
	return f;
fail:
	lvc_avro_file_close(f);
	return NULL;
}

lvc_rec_type_t lvc_avro_file_type(const lvc_avro_file_t *f)
{
	return f->type;
}

/* Copies the reduced value into dest and sets the fields the writer lacks
 * to their null default. */
static int lvc__fill(lvc_avro_file_t *f)
{
	int rc = avro_value_reset(&f->dest);

	for (size_t i = 0; rc == 0 && i < f->fields_n; i++) {
		avro_value_t src, dst, branch;

		rc = avro_value_get_by_index(&f->dest, i, &dst, NULL);
		if (rc != 0) {
			break;
		}
		if (f->map[i] < 0) {
			rc = avro_value_set_branch(&dst, 0, &branch);
			if (rc == 0) {
				rc = avro_value_set_null(&branch);
			}
			continue;
		}
		rc = avro_value_get_by_index(&f->reduced_val, (size_t)f->map[i], &src, NULL);
		if (rc == 0) {
			rc = avro_value_copy_fast(&dst, &src);
		}
	}
	return rc;
}

lvc_err_t lvc_avro_file_next(lvc_avro_file_t *f, const void **buf, size_t *len, char *errstr,
                             size_t errstr_size)
{
	lvc_err_t err;
	int rc;

	if (f == NULL || buf == NULL || len == NULL) {
		return LVC_ERR_INVALID;
	}
	if (f->done >= f->total) {
		return LVC_ERR_NOT_FOUND;
	}
	rc = avro_file_reader_read_value(f->fr, &f->resolved);
	if (rc == 0 && f->reduced != NULL) {
		rc = lvc__fill(f);
	}
	if (rc != 0) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: record %llu: %s", f->path,
			         (unsigned long long)f->done + 1, avro_strerror());
		}
		return rc == ENOMEM ? LVC_ERR_NOMEM : LVC_ERR_DECODE;
	}
	f->done++;
	err = lvc__codec_write(f->writer, &f->dest, &f->buf, &f->cap, len);
	if (err != LVC_OK) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: record %llu: cannot re-encode it (%s)",
			         f->path, (unsigned long long)f->done, lvc_err2str(err));
		}
		return err;
	}
	*buf = f->buf;
	return LVC_OK;
}

void lvc_avro_file_close(lvc_avro_file_t *f)
{
	if (f == NULL) {
		return;
	}
	if (f->writer != NULL) {
		avro_writer_free(f->writer);
	}
	free(f->buf);
	if (f->have_resolved) {
		avro_value_decref(&f->resolved);
	}
	if (f->resolver != NULL) {
		avro_value_iface_decref(f->resolver);
	}
	if (f->have_reduced_val) {
		avro_value_decref(&f->reduced_val);
	}
	if (f->reduced_iface != NULL) {
		avro_value_iface_decref(f->reduced_iface);
	}
	if (f->reduced != NULL) {
		avro_schema_decref(f->reduced);
	}
	if (f->have_dest) {
		avro_value_decref(&f->dest);
	}
	if (f->fr != NULL) {
		avro_schema_t ws = avro_file_reader_get_writer_schema(f->fr);

		/* Avro C 1.11.1's reader holds two references to the writer
		 * schema and drops one at close, which leaks the schema. Our
		 * own references are gone by now, so every reference beyond
		 * the one close drops is that extra one. */
		while (ws != NULL && ws->refcount > 1) {
			avro_schema_decref(ws);
		}
		avro_file_reader_close(f->fr);
	}
	free(f->path);
	free(f);
}

lvc_avro_writer_t *lvc_avro_writer_open(lvc_codec_t *codec, const char *path, lvc_rec_type_t type,
                                        char *errstr, size_t errstr_size)
{
	char scratch[1];
	lvc_avro_writer_t *w = NULL;
	int rc;

	if (errstr == NULL || errstr_size == 0) {
		errstr = scratch;
		errstr_size = sizeof(scratch);
	}
	if (codec == NULL || path == NULL || (int)type < 0 || type >= LVC_REC__COUNT) {
		snprintf(errstr, errstr_size, "no codec, no path or no such record type");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->path = lvc__strdup(path)) == NULL) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		goto fail;
	}
	w->codec = codec;
	w->type = type;
	rc = avro_file_writer_create_with_codec(path, codec->rec[type].schema, &w->fw, "deflate",
	                                        LVC__FILE_WRITE_BLOCK);
	if (rc != 0) {
		snprintf(errstr, errstr_size, "%s: cannot create: %s", path, avro_strerror());
		w->fw = NULL;
		goto fail;
	}
	return w;
fail:
	if (w != NULL) {
		free(w->path);
		free(w);
	}
	return NULL;
}

lvc_err_t lvc_avro_writer_append(lvc_avro_writer_t *w, const void *buf, size_t len, char *errstr,
                                 size_t errstr_size)
{
	struct lvc__rec *rec;
	lvc_err_t err;

	if (w == NULL || buf == NULL) {
		return LVC_ERR_INVALID;
	}
	rec = &w->codec->rec[w->type];
	/* A container file must hold only well-formed records; values are not
	 * checked, so that tests can write the poison that replay must
	 * dead-letter. */
	err = lvc__avro_check(rec->prog, buf, len, NULL, errstr, errstr_size);
	if (err != LVC_OK) {
		return err;
	}
	if (avro_file_writer_append_encoded(w->fw, buf, (int64_t)len) != 0) {
		if (errstr != NULL && errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: record %llu: %s", w->path,
			         (unsigned long long)w->records + 1, avro_strerror());
		}
		return LVC_ERR_IO;
	}
	w->records++;
	return LVC_OK;
}

lvc_err_t lvc_avro_writer_close(lvc_avro_writer_t *w)
{
	lvc_err_t err = LVC_OK;

	if (w == NULL) {
		return LVC_OK;
	}
	if (avro_file_writer_close(w->fw) != 0) {
		err = LVC_ERR_IO;
	}
	free(w->path);
	free(w);
	return err;
}
