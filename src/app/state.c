/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The levcal.state topic (see state.h): writing the engine's changed
 * states into the open transaction, and restoring partitions from it.
 *
 * A restore reads each partition from its start to its last stable offset
 * into a table of the latest value per key (compaction leaves older
 * versions until the cleaner runs; a null value deletes a key), then hands
 * the table to the engine in the order its restore needs: partition
 * clocks, instruments, positions, then lvc_engine_restore_finish(). The
 * table lives for the restore only. Restores are rare (start, rebalance,
 * abort) and read at most the partition's uncompacted tail, so they favour
 * simplicity; writes happen every commit and reuse their buffers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/state.h"
#include "io/log.h"
#include "io/state_codec.h"
#include "core/errfmt.h"
#include "core/grow.h"

#define FORMAT_VERSION 1

struct lvc_state_s {
	const lvc_config_t *cfg;
	lvc_state_codec_t *codec;
	lvc_kafka_t *reader; /* read_committed, assigned while restoring */
	lvc_kafka_t *hwm;    /* read_uncommitted: high watermarks */
	uint8_t *snap;       /* snapshot scratch, grown */
	size_t snap_cap;
	char *key; /* key scratch, grown */
	size_t key_cap;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

lvc_state_t *lvc_state_new(const lvc_config_t *cfg, char *errstr, size_t errstr_size)
{
	lvc_state_t *st = calloc(1, sizeof(*st));
	lvc_kv_t rc[] = {
		{ "group.id", "levcal-state-reader", 0 },
		{ "enable.auto.commit", "false", 0 },
		{ "enable.partition.eof", "true", 0 },
		{ "isolation.level", "read_committed", 0 },
		/* A restore reads a partition to its end: do not let the broker
		 * hold each fetch for data that will not come. */
		{ "fetch.wait.max.ms", "10", 0 },
	};
	lvc_kv_t ru[] = {
		{ "group.id", "levcal-state-reader", 0 },
		{ "enable.auto.commit", "false", 0 },
		{ "isolation.level", "read_uncommitted", 0 },
	};

	if (st == NULL) {
		LVC_ERRF("out of memory");
		return NULL;
	}
	st->cfg = cfg;
	if ((st->codec = lvc_state_codec_new(errstr, errstr_size)) == NULL) {
		goto fail;
	}
	st->reader = lvc_consumer_new(cfg, NULL, 0, rc, sizeof(rc) / sizeof(rc[0]), NULL, 0, NULL,
	                              NULL, errstr, errstr_size);
	if (st->reader == NULL) {
		goto fail;
	}
	lvc_consumer_report_eof(st->reader, 1);
	st->hwm = lvc_consumer_new(cfg, NULL, 0, ru, sizeof(ru) / sizeof(ru[0]), NULL, 0, NULL,
	                           NULL, errstr, errstr_size);
	if (st->hwm == NULL) {
		goto fail;
	}
	return st;
fail:
	lvc_state_destroy(st);
	return NULL;
}

void lvc_state_destroy(lvc_state_t *st)
{
	if (st == NULL) {
		return;
	}
	lvc_consumer_close(st->reader);
	lvc_consumer_close(st->hwm);
	lvc_state_codec_destroy(st->codec);
	free(st->snap);
	free(st->key);
	free(st);
}

lvc_err_t lvc_state_ensure_topic(lvc_state_t *st, lvc_kafka_t *admin, int partitions, char *errstr,
                                 size_t errstr_size)
{
	const char *topic = st->cfg->topics.state;
	const char *keys[] = { "cleanup.policy" };
	char policy[128], *values[] = { policy };
	int have = 0;
	lvc_kv_t conf[] = {
		{ "cleanup.policy", "compact", 0 },
		{ "segment.bytes", "67108864", 0 },
		{ "segment.ms", "600000", 0 },
		{ "min.cleanable.dirty.ratio", "0.1", 0 },
	};
	lvc_err_t err;

	err = lvc_kafka_topic_describe(admin, topic, 15000, &have, keys, values, sizeof(policy), 1,
	                               errstr, errstr_size);
	if (err == LVC_ERR_NOT_FOUND) {
		err = lvc_kafka_topic_create(admin, topic, partitions, conf,
		                             sizeof(conf) / sizeof(conf[0]), 15000, errstr,
		                             errstr_size);
		if (err != LVC_OK) {
			return err;
		}
		lvc_info("state topic %s created: %d partition(s), cleanup.policy=compact", topic,
		         partitions);
		/* The broker may answer metadata for a new topic only a moment
		 * later. */
		for (int attempt = 0; attempt < 40; attempt++) {
			err = lvc_kafka_topic_describe(admin, topic, 15000, &have, keys, values,
			                               sizeof(policy), 1, errstr, errstr_size);
			if (err != LVC_ERR_NOT_FOUND) {
				break;
			}
			nanosleep(&(struct timespec){ 0, 250 * 1000 * 1000 }, NULL);
		}
	}
	if (err != LVC_OK) {
		return err;
	}
	if (have != partitions) {
		LVC_ERRF(
		    "state topic %s has %d partition(s) but the inputs have %d: it must be "
		    "co-partitioned with them (delete it to have levcal create it, or give it %d "
		    "partitions)",
		    topic, have, partitions, partitions);
		return LVC_ERR_CONFIG;
	}
	if (strstr(policy, "compact") == NULL) {
		LVC_ERRF(
		    "state topic %s has cleanup.policy=%s: it must be compacted, or old states are "
		    "lost to retention (set cleanup.policy=compact)",
		    topic, policy[0] != '\0' ? policy : "(unknown)");
		return LVC_ERR_CONFIG;
	}
	return LVC_OK;
}

/* ---- writing ---- */

static int grow(void **p, size_t *cap, size_t need)
{
	return lvc_grow(p, cap, need, 1, 4096);
}

typedef struct write_ctx_s {
	lvc_state_t *st;
	lvc_kafka_t *producer;
	const lvc_engine_t *eng;
	lvc_state_owned_fn *owned;
	lvc_state_source_fn *source;
	void *opaque;
	lvc_state_write_stats_t *stats;
	char *errstr;
	size_t errstr_size;
	lvc_err_t err;
} write_ctx_t;

static int write_one(void *opaque, const lvc_change_t *ch)
{
	write_ctx_t *w = opaque;
	lvc_state_t *st = w->st;
	lvc_state_rec_t rec = { 0 };
	const void *val;
	size_t val_len, n = 0, klen;
	char *errstr = w->errstr;
	size_t errstr_size = w->errstr_size;
	lvc_err_t err;

	if (ch->partition < 0 || !w->owned(w->opaque, ch->partition)) {
		w->stats->skipped++;
		return 0;
	}
	switch (ch->kind) {
	case LVC_CHANGE_INSTRUMENT:
		n = lvc_engine_snapshot_instrument(w->eng, ch->instrument, st->snap, st->snap_cap);
		if (n > st->snap_cap) {
			if (grow((void **)&st->snap, &st->snap_cap, n) != 0) {
				goto nomem;
			}
			lvc_engine_snapshot_instrument(w->eng, ch->instrument, st->snap, n);
		}
		klen = strlen(ch->instrument);
		if (grow((void **)&st->key, &st->key_cap, klen + 1) != 0) {
			goto nomem;
		}
		memcpy(st->key, ch->instrument, klen);
		rec.kind = LVC_STATE_INSTRUMENT;
		w->stats->instruments++;
		break;
	case LVC_CHANGE_POSITION:
		if (grow((void **)&st->snap, &st->snap_cap, LVC_ENGINE_POS_STATE_SIZE) != 0) {
			goto nomem;
		}
		if (lvc_engine_position_state(w->eng, ch->account, ch->instrument, st->snap) !=
		    LVC_OK) {
			return 0; /* nothing to keep */
		}
		n = LVC_ENGINE_POS_STATE_SIZE;
		klen = 4 + strlen(ch->account) + 1 + strlen(ch->instrument);
		if (grow((void **)&st->key, &st->key_cap, klen + 1) != 0) {
			goto nomem;
		}
		snprintf(st->key, klen + 1, "pos:%s|%s", ch->account, ch->instrument);
		rec.kind = LVC_STATE_POSITION;
		w->stats->positions++;
		break;
	case LVC_CHANGE_PARTITION:
	default:
		if (grow((void **)&st->snap, &st->snap_cap, 64) != 0 ||
		    grow((void **)&st->key, &st->key_cap, 32) != 0) {
			goto nomem;
		}
		n = lvc_engine_snapshot_partition(w->eng, ch->partition, st->snap, st->snap_cap);
		if (n == 0) {
			return 0;
		}
		klen = (size_t)snprintf(st->key, st->key_cap, "partition:%" PRId32, ch->partition);
		rec.kind = LVC_STATE_PARTITION;
		w->stats->partitions++;
		break;
	}
	rec.format_version = FORMAT_VERSION;
	rec.config_id = st->cfg->config_id;
	rec.source = w->source(w->opaque, ch->partition);
	rec.data = st->snap;
	rec.data_len = n;
	if ((err = lvc_state_encode(st->codec, &rec, &val, &val_len)) != LVC_OK) {
		LVC_ERRF("encoding a state snapshot of %.*s: %s", (int)klen, st->key,
		         lvc_err2str(err));
		w->err = err;
		return 1;
	}
	if ((err = lvc_produce(w->producer, st->cfg->topics.state, ch->partition, st->key, klen,
	                       val, val_len, NULL, 0, NULL, errstr, errstr_size)) != LVC_OK) {
		w->err = err;
		return 1;
	}
	w->stats->bytes += val_len;
	return 0;
nomem:
	LVC_ERRF("out of memory writing state snapshots");
	w->err = LVC_ERR_NOMEM;
	return 1;
}

lvc_err_t lvc_state_write_changes(lvc_state_t *st, lvc_kafka_t *producer, const lvc_engine_t *eng,
                                  lvc_state_owned_fn *owned, lvc_state_source_fn *source,
                                  void *opaque, lvc_state_write_stats_t *stats, char *errstr,
                                  size_t errstr_size)
{
	write_ctx_t w = { st, producer, eng, owned, source, opaque, stats, errstr, errstr_size, 0 };

	memset(stats, 0, sizeof(*stats));
	lvc_engine_changes(eng, 0, write_one, &w);
	return w.err;
}

/* ---- restoring ---- */

typedef struct entry_s {
	int32_t partition;
	lvc_state_kind_t kind;
	char *key; /* NUL-terminated copy */
	size_t key_len;
	uint8_t *data;
	size_t data_len;
	int stale_config;
	int used;
} entry_t;

typedef struct table_s {
	entry_t *e;
	size_t cap; /* power of two */
	size_t n;
} table_t;

static uint64_t hash_key(int32_t partition, const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uint32_t)partition;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 1099511628211ULL;
	}
	return h;
}

static entry_t *table_slot(table_t *t, int32_t partition, const void *key, size_t len)
{
	size_t i = (size_t)hash_key(partition, key, len) & (t->cap - 1);

	while (t->e[i].used && !(t->e[i].partition == partition && t->e[i].key_len == len &&
	                         memcmp(t->e[i].key, key, len) == 0)) {
		i = (i + 1) & (t->cap - 1);
	}
	return &t->e[i];
}

static int table_grow(table_t *t)
{
	table_t nt = { calloc(t->cap * 2, sizeof(entry_t)), t->cap * 2, t->n };

	if (nt.e == NULL) {
		return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (t->e[i].used) {
			*table_slot(&nt, t->e[i].partition, t->e[i].key, t->e[i].key_len) = t->e[i];
		}
	}
	free(t->e);
	*t = nt;
	return 0;
}

static void table_free(table_t *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->e[i].used) {
			free(t->e[i].key);
			free(t->e[i].data);
		}
	}
	free(t->e);
	memset(t, 0, sizeof(*t));
}

/* Keeps the latest value of a key; a NULL value deletes the key (its
 * entry stays, unused for the restore, with no data). */
static lvc_err_t table_put(table_t *t, int32_t partition, const void *key, size_t len,
                           const lvc_state_rec_t *rec, int stale_config)
{
	entry_t *e;
	uint8_t *data = NULL;

	if ((t->n + 1) * 2 > t->cap && table_grow(t) != 0) {
		return LVC_ERR_NOMEM;
	}
	if (rec != NULL && rec->data_len > 0) {
		if ((data = malloc(rec->data_len)) == NULL) {
			return LVC_ERR_NOMEM;
		}
		memcpy(data, rec->data, rec->data_len);
	}
	e = table_slot(t, partition, key, len);
	if (!e->used) {
		if ((e->key = malloc(len + 1)) == NULL) {
			free(data);
			return LVC_ERR_NOMEM;
		}
		memcpy(e->key, key, len);
		e->key[len] = '\0';
		e->key_len = len;
		e->partition = partition;
		e->used = 1;
		t->n++;
	}
	free(e->data);
	e->data = data;
	e->data_len = rec != NULL ? rec->data_len : 0;
	e->kind = rec != NULL ? rec->kind : LVC_STATE__COUNT;
	e->stale_config = stale_config;
	return LVC_OK;
}

typedef struct apply_ctx_s {
	table_t *t;
	lvc_state_restore_stats_t *stats;
} apply_ctx_t;

static lvc_err_t apply_kind(lvc_engine_t *eng, apply_ctx_t *a, lvc_state_kind_t kind, char *errstr,
                            size_t errstr_size)
{
	table_t *t = a->t;

	for (size_t i = 0; i < t->cap; i++) {
		entry_t *e = &t->e[i];
		lvc_err_t err = LVC_OK;

		if (!e->used || e->kind != kind) {
			continue;
		}
		switch (kind) {
		case LVC_STATE_PARTITION:
			err = lvc_engine_restore_partition(eng, e->partition, e->data, e->data_len,
			                                   errstr, errstr_size);
			a->stats->partitions++;
			break;
		case LVC_STATE_INSTRUMENT:
			err = lvc_engine_restore_instrument(eng, e->key, e->data, e->data_len,
			                                    errstr, errstr_size);
			if (err == LVC_ERR_CONFIG) {
				lvc_warn("%s", errstr);
				a->stats->vol_reset++;
				err = LVC_OK;
			}
			a->stats->instruments++;
			break;
		case LVC_STATE_POSITION: {
			char *bar = strrchr(e->key, '|');

			if (e->key_len < 5 || strncmp(e->key, "pos:", 4) != 0 || bar == NULL ||
			    bar == e->key + 4 || bar[1] == '\0') {
				LVC_ERRF("state key \"%.200s\" in partition %" PRId32
				         " is not pos:ACCOUNT|INSTRUMENT",
				         e->key, e->partition);
				return LVC_ERR_DECODE;
			}
			*bar = '\0';
			err = lvc_engine_restore_position(eng, e->key + 4, bar + 1, e->data,
			                                  e->data_len, errstr, errstr_size);
			*bar = '|';
			a->stats->positions++;
			break;
		}
		default:
			break;
		}
		if (err != LVC_OK) {
			return err == LVC_ERR_INVALID ? LVC_ERR_DECODE : err;
		}
	}
	return LVC_OK;
}

static lvc_err_t apply_all(lvc_engine_t *eng, void *opaque, char *errstr, size_t errstr_size)
{
	apply_ctx_t *a = opaque;
	lvc_err_t err;

	if ((err = apply_kind(eng, a, LVC_STATE_PARTITION, errstr, errstr_size)) != LVC_OK ||
	    (err = apply_kind(eng, a, LVC_STATE_INSTRUMENT, errstr, errstr_size)) != LVC_OK ||
	    (err = apply_kind(eng, a, LVC_STATE_POSITION, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	return lvc_engine_restore_finish(eng, errstr, errstr_size);
}

/* Waits until no transaction is open on a partition and returns its end
 * (last stable offset) and start. */
static lvc_err_t wait_stable(lvc_state_t *st, int32_t p, int64_t deadline_us, atomic_int *stop,
                             lvc_health_t *health, int64_t *lo, int64_t *end, char *errstr,
                             size_t errstr_size)
{
	const char *topic = st->cfg->topics.state;
	int64_t hw = 0, lo2 = 0, waited_log = 0, t0 = mono_us();
	lvc_err_t err;

	for (;;) {
		if (health != NULL) {
			lvc_health_beat(health);
		}
		if ((err = lvc_kafka_watermarks(st->reader, topic, p, 10000, lo, end, errstr,
		                                errstr_size)) != LVC_OK ||
		    (err = lvc_kafka_watermarks(st->hwm, topic, p, 10000, &lo2, &hw, errstr,
		                                errstr_size)) != LVC_OK) {
			return err;
		}
		if (*end >= hw) {
			return LVC_OK;
		}
		if (mono_us() >= deadline_us) {
			LVC_ERRF("state topic %s [%" PRId32
			         "]: a transaction has been open for over %.0f s "
			         "(last stable offset %" PRId64 ", high watermark %" PRId64
			         "); cannot restore the partition's state",
			         topic, p, (double)(mono_us() - t0) / 1e6, *end, hw);
			return LVC_ERR_KAFKA;
		}
		if (stop != NULL && atomic_load(stop)) {
			LVC_ERRF("interrupted while waiting for the state of partition %" PRId32,
			         p);
			return LVC_ERR_STATE;
		}
		if (mono_us() - t0 >= waited_log + 5000000) {
			waited_log = mono_us() - t0;
			lvc_info("state topic %s [%" PRId32
			         "]: waiting for an open transaction to end "
			         "(the previous owner's: aborted by the broker after "
			         "transaction.timeout.ms): last stable offset %" PRId64
			         ", high watermark %" PRId64,
			         topic, p, *end, hw);
		}
		/* Pace the re-query on the reader's poll (it has nothing assigned). */
		{
			lvc_msg_t m;
			char why[256];

			if (lvc_consumer_poll(st->reader, 200, &m, why, sizeof(why)) == LVC_OK) {
				lvc_msg_release(&m);
			}
		}
	}
}

lvc_err_t lvc_state_restore(lvc_state_t *st, lvc_pipeline_t *pl, const int32_t *parts, size_t n,
                            int wait_ms, atomic_int *stop, lvc_health_t *health,
                            lvc_state_restore_stats_t *stats, char *errstr, size_t errstr_size)
{
	const char *topic = st->cfg->topics.state;
	lvc_tpo_t *tps = calloc(n > 0 ? n : 1, sizeof(*tps));
	int64_t *ends = calloc(n > 0 ? n : 1, sizeof(*ends));
	int *done = calloc(n > 0 ? n : 1, sizeof(*done));
	table_t t = { calloc(64, sizeof(entry_t)), 64, 0 };
	int64_t t0 = mono_us(), deadline = t0 + (int64_t)wait_ms * 1000, t1;
	size_t left = 0, assigned = 0;
	apply_ctx_t a = { &t, stats };
	lvc_err_t err = LVC_ERR_NOMEM;

	memset(stats, 0, sizeof(*stats));
	if (tps == NULL || ends == NULL || done == NULL || t.e == NULL) {
		LVC_ERRF("out of memory restoring state");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t lo = 0;

		if ((err = wait_stable(st, parts[i], deadline, stop, health, &lo, &ends[i], errstr,
		                       errstr_size)) != LVC_OK) {
			goto out;
		}
		done[i] = ends[i] <= lo;
		if (!done[i]) {
			tps[assigned].topic = topic;
			tps[assigned].partition = parts[i];
			tps[assigned].offset = LVC_TPO_BEGINNING;
			assigned++;
			left++;
		}
	}
	t1 = mono_us();
	stats->wait_s = (double)(t1 - t0) / 1e6;
	if (assigned > 0 &&
	    (err = lvc_consumer_assign(st->reader, tps, assigned, errstr, errstr_size)) != LVC_OK) {
		goto out;
	}
	while (left > 0) {
		lvc_msg_t m;
		char why[512];
		size_t i;

		if (health != NULL) {
			lvc_health_beat(health);
		}
		if (stop != NULL && atomic_load(stop)) {
			LVC_ERRF("interrupted while reading state");
			err = LVC_ERR_STATE;
			goto out;
		}
		if (mono_us() >= deadline + 120000000) {
			LVC_ERRF("reading state topic %s: not at its end after %.0f s", topic,
			         (double)(mono_us() - t0) / 1e6);
			err = LVC_ERR_KAFKA;
			goto out;
		}
		err = lvc_consumer_poll(st->reader, 200, &m, why, sizeof(why));
		if (err == LVC_ERR_NOT_FOUND) {
			continue;
		}
		if (err == LVC_ERR_KAFKA) {
			lvc_warn("reading state: %s", why);
			continue;
		}
		if (err != LVC_OK) {
			LVC_ERRF("reading state: %s", why);
			goto out;
		}
		for (i = 0; i < n && parts[i] != m.partition; i++) {
		}
		if (i == n || done[i] || m.offset >= ends[i]) {
			if (i < n && !done[i] && m.eof && m.offset >= ends[i]) {
				done[i] = 1;
				left--;
			}
			lvc_msg_release(&m);
			continue;
		}
		if (!m.eof) {
			lvc_state_rec_t rec;

			stats->records++;
			stats->bytes += m.value_len;
			if (m.value == NULL) {
				err = table_put(&t, m.partition, m.key, m.key_len, NULL, 0);
			} else if (lvc_state_decode(st->codec, m.value, m.value_len, &rec, why,
			                            sizeof(why)) != LVC_OK) {
				LVC_ERRF("state topic %s [%" PRId32 "] offset %" PRId64 ": %s",
				         topic, m.partition, m.offset, why);
				err = LVC_ERR_DECODE;
			} else if (rec.format_version != FORMAT_VERSION) {
				LVC_ERRF("state topic %s [%" PRId32 "] offset %" PRId64
				         ": format_version %d; this levcal reads %d",
				         topic, m.partition, m.offset, (int)rec.format_version,
				         FORMAT_VERSION);
				err = LVC_ERR_DECODE;
			} else {
				err = table_put(&t, m.partition, m.key, m.key_len, &rec,
				                strcmp(rec.config_id, st->cfg->config_id) != 0);
			}
			if (err != LVC_OK) {
				lvc_msg_release(&m);
				if (err == LVC_ERR_NOMEM) {
					LVC_ERRF("out of memory restoring state");
				}
				goto out;
			}
		}
		if (!m.eof && m.offset + 1 >= ends[i]) {
			done[i] = 1;
			left--;
		}
		lvc_msg_release(&m);
	}
	stats->read_s = (double)(mono_us() - t1) / 1e6;
	for (size_t i = 0; i < t.cap; i++) {
		stats->stale_config += t.e[i].used && t.e[i].data != NULL && t.e[i].stale_config;
	}
	err = lvc_pipeline_engine_work(pl, topic, n > 0 ? parts[0] : 0, -1, apply_all, &a, errstr,
	                               errstr_size);
out:
	if (assigned > 0) {
		char why[256];

		lvc_consumer_assign(st->reader, NULL, 0, why, sizeof(why));
	}
	table_free(&t);
	free(tps);
	free(ends);
	free(done);
	return err;
}
