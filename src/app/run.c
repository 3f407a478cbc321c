/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal run`: the live stage (SPEC §6).
 *
 * Inputs. A consumer in the configured group reads the co-partitioned
 * trades and prices topics (read_committed). The group uses the range
 * assignor, forced: it gives the same partition numbers of both topics to
 * the same member, which the event-time merge needs (cooperative-sticky
 * does not). Records go into the merge (core/merge.h), one group per
 * partition number and one lane per topic, and leave in ts_us order with
 * SPEC §6's ties; an empty lane that reached its partition's end waits at
 * most processing.max_idle, one that is still fetching waits for its data
 * (up to STALL_US), so fetch timing never reorders a backlog. A lane
 * longer than LANE_HIGH pauses its partition until it drains to LANE_LOW.
 * A second consumer reads the positions and balances tables whole (every
 * partition, from the start, outside the group: every instance needs
 * every position) before the first tick, then applies their changes as
 * they come.
 *
 * exactly_once (default). A transactional producer (transactional.id
 * "levcal-<group.id>-<instance>", or kafka.transactional.id) holds one
 * transaction open at a time with the outputs, the dead letters, the state
 * snapshots of what changed (app/state.h) and the consumer offsets (next
 * offset after the last record processed, with the consumer's group
 * metadata), committed every processing.commit_interval. Partitions are
 * restored from levcal.state before their first record. After an
 * abortable error the transaction is aborted and the stage rewinds: the
 * engine is rebuilt (tables read again, every owned partition restored
 * from the state topic, which holds exactly what was committed) and the
 * consumer seeks to the committed offsets. Fatal errors (fenced by a newer
 * instance with the same id, ...) end the process with code 1, as does
 * the watchdog when a blocking call does not return in time, so that the
 * supervisor restarts it; the restart's init_transactions() aborts what
 * was left open.
 *
 * Partition states in this instance's engine: FRESH (nothing of it),
 * OWNED, CLEAN (revoked after a successful commit, engine == committed
 * state, valid until the next assignment) and TAINTED (the engine holds
 * uncommitted or foreign state for it: an abort, a lost assignment, or an
 * event for it while not owned). An assignment restores FRESH partitions,
 * keeps CLEAN ones as they are, and rebuilds the whole engine when any is
 * TAINTED (the position book cannot forget one instrument's state).
 *
 * Outputs caused by a positions or balances change belong to the
 * partition of the position's instrument: only its owner publishes them.
 * Table records are not offset-tracked (every instance reads the tables
 * whole): a poison table record is dead-lettered only when it arrives
 * while the stage runs, by the owner of input partition (its table
 * partition modulo the input partition count); during the initial load it
 * is only logged. A warning caused by a table change that was not
 * committed before a crash is published at the restart's restore (the
 * restored level differs from the table's), with the state topic as its
 * source.
 *
 * at_least_once: idempotent producer; input offsets are stored once every
 * output of the record and of every record before it in its partition was
 * delivered (tracker.c) and committed by auto-commit, and synchronously on
 * revoke and at shutdown. No state topic: a restart begins afresh.
 *
 * SIGINT/SIGTERM: processing stops, the open transaction is committed (or
 * aborted when that fails), the consumer leaves the group.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/pipeline.h"
#include "app/stage.h"
#include "app/state.h"
#include "app/tracker.h"
#include "app/version.h"
#include "core/merge.h"
#include "io/http.h"
#include "io/kafka.h"
#include "io/kafka_stats.h"
#include "io/log.h"
#include "io/metrics.h"

#define LANE_HIGH      10000    /* records queued in a blocked lane: pause its partition */
#define LANE_MAX       100000   /* records queued in any lane: pause its partition */
#define LANE_LOW       5000     /* ... and resume it */
#define STALL_US       60000000 /* a fetching lane blocks its partition at most this */
#define BATCH          4096     /* records processed between two polls */
#define DEFAULT_TXN_MS 10000    /* transaction.timeout.ms unless configured */

/*
 * librdkafka defaults for throughput and latency, under the config's kafka
 * section (a user overrides any of them there; see the README's tuning
 * section). Measured with tests/bench (e2e.py, latency.py):
 *
 * queued.min.messages: librdkafka 2.0.2 stops fetching for a fixed second
 * once the consumer queue holds this many records (all partitions of the
 * consumer together), so a stage that processes more than that per second
 * starves: the default 100000 held levcal to ~130k records/s. 500000 is a
 * second of the stage's target rate; the queue fills only while a backlog
 * is read (about 300 bytes per queued record with librdkafka's own
 * structures: up to ~150 MB more resident memory then).
 * fetch.wait.max.ms: a fetch request of only caught-up (or just resumed)
 * partitions waits this long at the broker before the next request can
 * fetch the others; 100 instead of 500.
 * socket.nagle.disable: no Nagle delay for small requests (a commit, one
 * event), as the Java clients do.
 */
static const lvc_kv_t cons_tuning[] = {
	{ "queued.min.messages", "500000", 0 },
	{ "fetch.wait.max.ms", "100", 0 },
	{ "socket.nagle.disable", "true", 0 },
};
static const lvc_kv_t prod_tuning[] = {
	{ "linger.ms", "5", 0 },
	{ "socket.nagle.disable", "true", 0 },
};
#define TUNING_N(t) (sizeof(t) / sizeof((t)[0]))

const lvc_kv_t *lvc_run_kafka_tuning(int consumer, size_t *n)
{
	*n = consumer ? TUNING_N(cons_tuning) : TUNING_N(prod_tuning);
	return consumer ? cons_tuning : prod_tuning;
}

/* dst[0..) = the tuning defaults then src[0..n); returns the count. */
static size_t with_tuning(lvc_kv_t *dst, size_t cap, int consumer, const lvc_kv_t *src, size_t n)
{
	size_t tn, k = 0;
	const lvc_kv_t *t = lvc_run_kafka_tuning(consumer, &tn);

	for (size_t i = 0; i < tn && k < cap; i++) {
		dst[k++] = t[i];
	}
	for (size_t i = 0; i < n && k < cap; i++) {
		dst[k++] = src[i];
	}
	return k;
}

enum { LN_PRICES, LN_TRADES, LN__N }; /* lanes of a partition */
enum { P_FRESH, P_OWNED, P_CLEAN, P_TAINTED };

typedef struct part_s {
	int status;
	int lane[LN__N]; /* merge lane, -1 when not assigned */
	int paused[LN__N];
	int64_t next[LN__N];  /* offset after the last record processed; -1: none */
	int64_t store[LN__N]; /* at_least_once: commit point not yet stored; -1: none */
	int64_t last_off;     /* the last record processed (state source) */
	int last_lane;
	int assigned_lanes;
} part_t;

typedef struct qrec_s {
	lvc_msg_t m;
	lvc_tick_t tick; /* decoded once, for the merge's event time */
	int ln;
	int64_t poll_us; /* when it was polled (the arrival latency metric) */
	struct qrec_s *next_free;
} qrec_t;

typedef struct stage_s {
	const lvc_config_t *cfg;
	const lvc_run_opts_t *opts;
	int eos;
	lvc_pipeline_t *pl;
	lvc_tracker_t *trk;
	lvc_kafka_t *consumer;
	lvc_kafka_t *tables; /* positions and balances, read whole (global tables) */
	lvc_kafka_t *producer;
	lvc_state_t *state;
	lvc_merge_t *merge;
	part_t *parts;
	int n_parts; /* of the co-partitioned inputs */
	qrec_t *free_q;
	void *cur_tok; /* at_least_once: token of the record being processed */
	int failed;    /* fatal: exit 1 */
	int loading;   /* reading the tables whole */
	int closing;   /* no new transaction */
	int in_gap;    /* between a revoke and the next assignment */
	int need_rebuild;
	int store_dirty; /* at_least_once: some parts[].store[] is set */
	uint64_t delivered;
	uint64_t produced;
	char errbuf[512];
	char srcbuf[512];

	/* Transactions. */
	int txn_open;
	int txn_work;   /* something produced or processed since it began */
	int txn_failed; /* a produce failed: the transaction must be aborted */
	int64_t txn_begun_us;
	int txn_ms;
	const lvc_tpo_t *offs; /* the offsets being sent */
	size_t offs_n;
	uint64_t txn_commits, txn_aborts;

	/* Watchdog: the blocking call in progress and since when. */
	pthread_t wd;
	int wd_started;
	atomic_int wd_stop;
	_Atomic int64_t wd_since_us; /* 0: none */
	const char *_Atomic wd_what;
	int64_t wd_limit_us;

	/* Operations: metrics, /healthz and /readyz (io/metrics, io/http). */
	lvc_stage_metrics_t *sm;
	lvc_health_t health;
	lvc_http_t *http;
	lvc_kafka_stats_t *kstats;
	int64_t poll_mono_us; /* when the record being processed was polled */
	uint64_t late_seen;   /* engine's late-tick count already added */
	size_t assigned;      /* partitions assigned now */
} stage_t;

static int64_t wall_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- watchdog ---- */

static void *watchdog(void *arg)
{
	stage_t *st = arg;

	while (!atomic_load(&st->wd_stop)) {
		int64_t since = atomic_load(&st->wd_since_us);
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		if (since != 0 && lvc_health_now_us() - since > st->wd_limit_us) {
			const char *what = atomic_load(&st->wd_what);

			lvc_error(
			    "watchdog: %s has not returned after %.0f s (limit %.0f s); exiting "
			    "with code 1 so that the supervisor restarts levcal (the next start "
			    "aborts the open transaction)",
			    what != NULL ? what : "a call",
			    (double)(lvc_health_now_us() - since) / 1e6,
			    (double)st->wd_limit_us / 1e6);
			/* The stuck call holds the main thread; only the process can
			 * end. */
			_exit(1);
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void wd_enter(stage_t *st, const char *what)
{
	atomic_store(&st->wd_what, what);
	atomic_store(&st->wd_since_us, lvc_health_now_us());
}

static void wd_leave(stage_t *st)
{
	atomic_store(&st->wd_since_us, 0);
}

/* ---- inputs and partitions ---- */

static lvc_input_t input_of(const stage_t *st, const char *topic)
{
	const lvc_topics_t *t = &st->cfg->topics;

	if (strcmp(topic, t->prices) == 0) {
		return LVC_IN_PRICES;
	}
	if (strcmp(topic, t->positions) == 0) {
		return LVC_IN_POSITIONS;
	}
	if (strcmp(topic, t->balances) == 0) {
		return LVC_IN_BALANCES;
	}
	return LVC_IN_TRADES;
}

static const char *lane_topic(const stage_t *st, int ln)
{
	return ln == LN_PRICES ? st->cfg->topics.prices : st->cfg->topics.trades;
}

static const int sm_input[LVC_IN__COUNT] = {
	[LVC_IN_TRADES] = LVC_SM_IN_TRADES,
	[LVC_IN_PRICES] = LVC_SM_IN_PRICES,
	[LVC_IN_POSITIONS] = LVC_SM_IN_POSITIONS,
	[LVC_IN_BALANCES] = LVC_SM_IN_BALANCES,
};

static int owned(void *opaque, int32_t partition)
{
	const stage_t *st = opaque;

	return partition >= 0 && partition < st->n_parts && st->parts[partition].status == P_OWNED;
}

static const char *last_source(void *opaque, int32_t partition)
{
	stage_t *st = opaque;
	const part_t *p;

	if (partition < 0 || partition >= st->n_parts || st->parts[partition].last_off < 0) {
		return "";
	}
	p = &st->parts[partition];
	snprintf(st->srcbuf, sizeof(st->srcbuf), "%s:%" PRId32 ":%" PRId64,
	         lane_topic(st, p->last_lane), partition, p->last_off);
	return st->srcbuf;
}

static qrec_t *qrec_get(stage_t *st)
{
	qrec_t *q = st->free_q;

	if (q != NULL) {
		st->free_q = q->next_free;
		return q;
	}
	return malloc(sizeof(*q));
}

static void qrec_put(stage_t *st, qrec_t *q)
{
	lvc_msg_release(&q->m);
	q->next_free = st->free_q;
	st->free_q = q;
}

static void qrec_drop(void *opaque, void *item)
{
	qrec_put(opaque, item);
}

/* ---- outputs ---- */

static void on_delivery(void *opaque, void *msg_opaque, lvc_err_t err, const char *reason)
{
	stage_t *st = opaque;

	if (err != LVC_OK) {
		if (st->eos) {
			/* The transaction fails with it; commit reports it. */
			lvc_warn("delivery failed: %s; the transaction will be aborted", reason);
			st->txn_failed = 1;
			return;
		}
		if (!st->failed) {
			lvc_error("delivery failed for good: %s; stopping so that the input is "
			          "read again after a restart",
			          reason);
		}
		st->failed = 1;
		return;
	}
	st->delivered++;
	if (!st->eos) {
		lvc_tracker_delivered(st->trk, msg_opaque);
	}
}

static void taint(stage_t *st, int32_t partition)
{
	if (partition >= 0 && partition < st->n_parts && st->parts[partition].status != P_OWNED) {
		st->parts[partition].status = P_TAINTED;
	}
}

static int sink(void *opaque, const lvc_outrec_t *out)
{
	stage_t *st = opaque;
	lvc_header_t h[2];
	size_t hn = 0;
	int32_t part = out->partition;

	if (out->kind == LVC_OUT_DEAD_LETTER) {
		const lvc_inrec_t *in = out->in;

		if (in != NULL && (in->input == LVC_IN_POSITIONS || in->input == LVC_IN_BALANCES)) {
			/* Tables are read whole by every instance at every start:
			 * one owner, and only for records that arrive live. */
			if (st->loading) {
				lvc_warn("%s: %s (a poison table record read at start: logged, not "
				         "dead-lettered again)",
				         out->source, out->error != NULL ? out->error : "refused");
				return 0;
			}
			part = st->n_parts > 0 ? in->partition % st->n_parts : -1;
		} else {
			part = in != NULL ? in->partition : -1;
		}
	}
	if (part >= 0 && !owned(st, part)) {
		/* The event belongs to a partition another instance owns (a
		 * table change of one of its instruments): it publishes it. */
		taint(st, part);
		return 0;
	}
	h[hn].name = "levcal-source";
	h[hn++].value = out->source;
	if (out->error != NULL) {
		h[hn].name = "levcal-error";
		h[hn++].value = out->error;
	}
	if (st->cur_tok != NULL) {
		lvc_tracker_add_output(st->trk, st->cur_tok);
	}
	if (lvc_produce(st->producer, out->topic, -1, out->key, out->key_len, out->value,
	                out->value_len, h, hn, st->cur_tok, st->errbuf,
	                sizeof(st->errbuf)) != LVC_OK) {
		if (st->eos && !lvc_kafka_fatal(st->producer)) {
			lvc_warn("%s; aborting the transaction", st->errbuf);
			st->txn_failed = 1;
			return 0;
		}
		lvc_error("%s", st->errbuf);
		return -1;
	}
	st->produced++;
	st->txn_work = 1;
	if (out->kind == LVC_OUT_DEAD_LETTER) {
		lvc_counter_inc(st->sm->dead_letters[out->in != NULL && out->in->value == NULL
		                                         ? LVC_DL_TOMBSTONE
		                                         : lvc_dl_reason_of(out->err)]);
	} else {
		lvc_counter_inc(
		    st->sm->events_out[out->kind == LVC_OUT_LIMIT ? LVC_SM_OUT_LIMIT
		                                                  : LVC_SM_OUT_WARNING]);
		lvc_histogram_observe(st->sm->processing_latency,
		                      (double)(wall_now_us() - out->event_ts_us) / 1e6);
		lvc_histogram_observe(st->sm->arrival_latency,
		                      (double)(lvc_health_now_us() - st->poll_mono_us) / 1e6);
	}
	return 0;
}

static void store_offset(stage_t *st, const char *topic, int32_t partition, int64_t next_offset)
{
	char why[512];

	if (lvc_consumer_store(st->consumer, topic, partition, next_offset, why, sizeof(why)) !=
	    LVC_OK) {
		/* The partition may have been revoked meanwhile: its records
		 * will be read again by its next owner, which is at-least-once. */
		lvc_debug("%s", why);
	}
}

/* at_least_once: the tracker's commit point for a partition. It moves on
 * almost every record; it is noted here and handed to librdkafka once per
 * loop (flush_stores), which auto-commits every commit_interval anyway. */
static void on_commit_point(void *opaque, lvc_input_t input, int32_t partition, int64_t next_offset)
{
	stage_t *st = opaque;
	int64_t held;

	if (lvc_pipeline_hold_offset(st->pl, input, partition, &held) && held < next_offset) {
		next_offset = held;
	}
	if (partition >= 0 && partition < st->n_parts) {
		st->parts[partition].store[input == LVC_IN_PRICES ? LN_PRICES : LN_TRADES] =
		    next_offset;
		st->store_dirty = 1;
		return;
	}
	store_offset(st, input == LVC_IN_PRICES ? st->cfg->topics.prices : st->cfg->topics.trades,
	             partition, next_offset);
}

/* at_least_once: the commit points noted since the last call, to
 * librdkafka's offset store (before every commit). */
static void flush_stores(stage_t *st)
{
	if (!st->store_dirty) {
		return;
	}
	for (int p = 0; p < st->n_parts; p++) {
		for (int ln = 0; ln < LN__N; ln++) {
			if (st->parts[p].store[ln] >= 0) {
				store_offset(st, lane_topic(st, ln), p, st->parts[p].store[ln]);
				st->parts[p].store[ln] = -1;
			}
		}
	}
	st->store_dirty = 0;
}

/* ---- records ---- */

/* The pipeline's view of a consumed message of the given input. */
static lvc_inrec_t inrec_of(const lvc_msg_t *m, lvc_input_t input)
{
	lvc_inrec_t in = { 0 };

	in.input = input;
	in.topic = m->topic;
	in.partition = m->partition;
	in.offset = m->offset;
	in.key = m->key;
	in.key_len = m->key_len;
	in.value = m->value;
	in.value_len = m->value_len;
	return in;
}

/* One record through the pipeline (tick: decoded already, or NULL). Tick
 * records are tracked for at-least-once commits; table records are not. */
static lvc_err_t process_msg(stage_t *st, const lvc_msg_t *m, const lvc_tick_t *tick, int tracked,
                             char *why, size_t why_size)
{
	lvc_inrec_t in = inrec_of(m, input_of(st, m->topic));
	lvc_err_t err;

	lvc_counter_inc(st->sm->ticks_in[sm_input[in.input]]);
	st->cur_tok = tracked && !st->eos
	                  ? lvc_tracker_begin(st->trk, in.input, in.partition, in.offset)
	                  : NULL;
	err = tick != NULL ? lvc_pipeline_process_tick(st->pl, &in, tick, why, why_size)
	                   : lvc_pipeline_process(st->pl, &in, why, why_size);
	if (st->cur_tok != NULL) {
		lvc_tracker_end(st->trk, st->cur_tok);
	}
	st->cur_tok = NULL;
	return err;
}

/* Reads what the table consumer has, without waiting: at most `max`
 * records, so that ticks are not starved. */
static lvc_err_t drain_tables(stage_t *st, int timeout_ms, int max, char *why, size_t why_size)
{
	for (int i = 0; i < max; i++) {
		lvc_msg_t m;
		lvc_err_t err =
		    lvc_consumer_poll(st->tables, i == 0 ? timeout_ms : 0, &m, why, why_size);

		if (err == LVC_ERR_NOT_FOUND) {
			return LVC_OK;
		}
		if (err == LVC_ERR_KAFKA) {
			lvc_warn("%s", why);
			continue;
		}
		if (err != LVC_OK) {
			return err;
		}
		st->poll_mono_us = lvc_health_now_us();
		err = process_msg(st, &m, NULL, 0, why, why_size);
		lvc_msg_release(&m);
		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

/* Reads the positions and balances tables up to their end offsets, so
 * that the first ticks are checked against the whole book. */
static int load_tables(stage_t *st)
{
	const char *tables[] = { st->cfg->topics.balances, st->cfg->topics.positions };
	lvc_kv_t forced[] = {
		{ "enable.auto.commit", "false", 0 },
		{ "enable.partition.eof", "true", 0 },
		{ "isolation.level", "read_committed", 0 },
	};
	int64_t t0 = lvc_health_now_us();
	char why[512];
	lvc_engine_stats_t es;
	size_t tuning_n;
	const lvc_kv_t *tuning = lvc_run_kafka_tuning(1, &tuning_n);
	int rc = -1;

	lvc_consumer_close(st->tables);
	/* The tables are a backlog at every start: the same prefetch. */
	st->tables =
	    lvc_consumer_new(st->cfg, tuning, tuning_n, forced, sizeof(forced) / sizeof(forced[0]),
	                     NULL, 0, NULL, NULL, why, sizeof(why));
	if (st->tables == NULL) {
		lvc_error("%s", why);
		return -1;
	}
	if (lvc_consumer_assign_tables(st->tables, tables, 2, 10000, why, sizeof(why)) != LVC_OK) {
		lvc_error("tables (topics.balances, topics.positions): %s", why);
		return -1;
	}
	st->loading = 1;
	while (!lvc_consumer_caught_up(st->tables)) {
		if (atomic_load(st->opts->stop) || st->failed) {
			goto out;
		}
		lvc_health_beat(&st->health);
		if (drain_tables(st, 100, 10000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
		lvc_producer_poll(st->producer, 0);
	}
	lvc_engine_stats(lvc_pipeline_engine(st->pl), &es);
	lvc_info("tables loaded in %.1f s: %zu open position(s), %zu account(s)",
	         (double)(lvc_health_now_us() - t0) / 1e6, es.positions, es.accounts);
	rc = 0;
out:
	st->loading = 0;
	return rc;
}

/* ---- transactions ---- */

static int txn_begin(stage_t *st)
{
	char why[512];

	if (!st->eos || st->txn_open || st->closing) {
		return 0;
	}
	if (lvc_txn_begin(st->producer, why, sizeof(why)) != LVC_OK) {
		lvc_error("%s", why);
		st->failed = 1;
		return -1;
	}
	st->txn_open = 1;
	st->txn_work = 0;
	st->txn_failed = 0;
	st->txn_begun_us = lvc_health_now_us();
	return 0;
}

/* Calls a transactional operation again while it fails retriably, for up
 * to twice transaction.timeout.ms. */
typedef lvc_err_t(txn_op_fn)(stage_t *st, char *why, size_t why_size);

static lvc_err_t txn_retry(stage_t *st, txn_op_fn *op, const char *what, char *why, size_t why_size)
{
	int64_t deadline = lvc_health_now_us() + 2 * (int64_t)st->txn_ms * 1000;
	lvc_err_t err;

	wd_enter(st, what);
	for (;;) {
		lvc_health_beat(&st->health);
		err = op(st, why, why_size);
		if (err != LVC_ERR_KAFKA) {
			break;
		}
		if (lvc_health_now_us() >= deadline) {
			size_t n = strlen(why);

			snprintf(why + n, why_size - n, "; still failing after %.0f s: giving up",
			         2.0 * st->txn_ms / 1000);
			err = LVC_ERR_FATAL;
			break;
		}
		lvc_warn("%s; retrying", why);
	}
	wd_leave(st);
	return err;
}

static lvc_err_t op_commit(stage_t *st, char *why, size_t why_size)
{
	return lvc_txn_commit(st->producer, st->txn_ms, why, why_size);
}

static lvc_err_t op_abort(stage_t *st, char *why, size_t why_size)
{
	return lvc_txn_abort(st->producer, st->txn_ms, why, why_size);
}

/* The offsets the open transaction commits: per owned partition and lane,
 * the offset after the last record processed. */
static size_t txn_offsets(stage_t *st, lvc_tpo_t *out, size_t cap)
{
	size_t n = 0;

	for (int p = 0; p < st->n_parts; p++) {
		for (int ln = 0; ln < LN__N; ln++) {
			int64_t held;

			if (st->parts[p].status == P_OWNED && st->parts[p].next[ln] >= 0 &&
			    n < cap) {
				out[n].topic = lane_topic(st, ln);
				out[n].partition = p;
				out[n].offset = st->parts[p].next[ln];
				/* A record the pipeline holds (its schema could not be
				 * fetched yet) is not processed: commit up to it. */
				if (lvc_pipeline_hold_offset(
				        st->pl, ln == LN_PRICES ? LVC_IN_PRICES : LVC_IN_TRADES, p,
				        &held) &&
				    held < out[n].offset) {
					out[n].offset = held;
				}
				n++;
			}
		}
	}
	return n;
}

static lvc_err_t op_send_offsets(stage_t *st, char *why, size_t why_size)
{
	return lvc_txn_send_offsets(st->producer, st->consumer, st->offs, st->offs_n, st->txn_ms,
	                            why, why_size);
}

static lvc_err_t clear_changes(lvc_engine_t *eng, void *opaque, char *errstr, size_t errstr_size)
{
	(void)opaque;
	(void)errstr;
	(void)errstr_size;
	lvc_engine_changes_clear(eng);
	return LVC_OK;
}

/* Aborts the open transaction. Returns 0, or -1 when that failed (fatal). */
static int txn_abort(stage_t *st, const char *reason)
{
	char why[512];
	lvc_err_t err;

	if (!st->txn_open) {
		return 0;
	}
	lvc_warn("aborting the transaction: %s", reason);
	err = txn_retry(st, op_abort, "aborting a transaction", why, sizeof(why));
	st->txn_open = 0;
	if (err != LVC_OK) {
		lvc_error("%s", why);
		st->failed = 1;
		return -1;
	}
	st->txn_aborts++;
	lvc_counter_inc(st->sm->txn_aborted);
	for (int p = 0; p < st->n_parts; p++) {
		if (st->parts[p].status == P_OWNED || st->parts[p].status == P_CLEAN) {
			st->parts[p].status = P_TAINTED;
		}
	}
	st->need_rebuild = 1;
	return 0;
}

/* Commits the open transaction: the state changes of owned partitions,
 * the offsets, the outputs produced since it began. Returns 0 when it
 * committed (or there was nothing to commit), 1 when it was aborted (the
 * stage rewinds), -1 on a fatal error. */
static int txn_commit(stage_t *st)
{
	lvc_state_write_stats_t ws;
	lvc_tpo_t offs[2 * 1024];
	char why[512];
	lvc_err_t err;
	size_t n;

	if (!st->eos || !st->txn_open) {
		return 0;
	}
	if (st->txn_failed) {
		return txn_abort(st, "a record of it could not be produced") == 0 ? 1 : -1;
	}
	n = txn_offsets(st, offs, sizeof(offs) / sizeof(offs[0]));
	if (!st->txn_work && n == 0) {
		return 0;
	}
	wd_enter(st, "writing state snapshots");
	err = lvc_state_write_changes(st->state, st->producer, lvc_pipeline_engine(st->pl), owned,
	                              last_source, st, &ws, why, sizeof(why));
	wd_leave(st);
	if (err != LVC_OK) {
		return txn_abort(st, why) == 0 ? 1 : -1;
	}
	if (n > 0) {
		st->offs = offs;
		st->offs_n = n;
		err = txn_retry(st, op_send_offsets, "sending offsets to the transaction", why,
		                sizeof(why));
		st->offs = NULL;
		if (err == LVC_ERR_STATE) {
			return txn_abort(st, why) == 0 ? 1 : -1;
		}
		if (err != LVC_OK) {
			lvc_error("%s", why);
			st->failed = 1;
			return -1;
		}
	}
	err = txn_retry(st, op_commit, "committing a transaction", why, sizeof(why));
	if (err == LVC_ERR_STATE) {
		return txn_abort(st, why) == 0 ? 1 : -1;
	}
	if (err != LVC_OK) {
		lvc_error("%s", why);
		st->txn_open = 0;
		st->failed = 1;
		return -1;
	}
	st->txn_open = 0;
	st->txn_commits++;
	lvc_counter_inc(st->sm->txn_committed);
	lvc_debug("transaction committed: %zu offset(s), %zu instrument, %zu position, %zu "
	          "partition state(s), %zu byte(s) of state",
	          n, ws.instruments, ws.positions, ws.partitions, ws.bytes);
	lvc_pipeline_engine_work(st->pl, "", -1, -1, clear_changes, NULL, why, sizeof(why));
	for (int p = 0; p < st->n_parts; p++) {
		st->parts[p].next[LN_PRICES] = st->parts[p].next[LN_TRADES] = -1;
	}
	return 0;
}

/* ---- the merge ---- */

static void lane_pause(stage_t *st, int p, int ln, int pause)
{
	char why[512];

	if (st->parts[p].paused[ln] == pause) {
		return;
	}
	if (lvc_consumer_pause(st->consumer, lane_topic(st, ln), p, pause, why, sizeof(why)) ==
	    LVC_OK) {
		st->parts[p].paused[ln] = pause;
	} else {
		lvc_warn("%s", why);
	}
}

/* Whether a lane holds too much. Pausing makes librdkafka drop what it
 * prefetched for the partition (up to queued.min.messages records), which
 * it then fetches again, so a lane is paused only when it cannot drain: its
 * group waits for the other lane, which is empty. A lane whose group can
 * release grows only by the bursts fetch responses bring (records of one
 * partition in a row, released in turns with the other partitions) and
 * drains by itself; LANE_MAX bounds it anyway. */
static int must_pause(const stage_t *st, const part_t *p, int ln)
{
	size_t len = lvc_merge_lane_len(st->merge, p->lane[ln]);

	if (len < LANE_HIGH) {
		return 0;
	}
	return len >= LANE_MAX || p->lane[1 - ln] < 0 ||
	       lvc_merge_lane_len(st->merge, p->lane[1 - ln]) == 0;
}

/* A polled message (or end of partition) into its lane; now is when the
 * poll that returned it ended. Returns the lane that got a record, or -1. */
static int enqueue(stage_t *st, lvc_msg_t *m, int64_t now)
{
	int ln = strcmp(m->topic, st->cfg->topics.prices) == 0 ? LN_PRICES : LN_TRADES;
	part_t *p;
	qrec_t *q;
	lvc_inrec_t in;
	int64_t ts;

	if (m->partition < 0 || m->partition >= st->n_parts ||
	    (p = &st->parts[m->partition])->lane[ln] < 0) {
		lvc_msg_release(m);
		return -1;
	}
	if (m->eof) {
		lvc_merge_lane_set(st->merge, p->lane[ln], LVC_LANE_CAUGHT_UP, now);
		lvc_msg_release(m);
		return -1;
	}
	in = inrec_of(m, ln == LN_PRICES ? LVC_IN_PRICES : LVC_IN_TRADES);
	if ((q = qrec_get(st)) == NULL) {
		lvc_error("out of memory queueing a record");
		lvc_msg_release(m);
		st->failed = 1;
		return -1;
	}
	/* Decoded here for its event time and kept, so that it is not
	 * decoded again when the merge releases it. */
	if (lvc_pipeline_peek_tick(st->pl, &in, &q->tick, &ts) != LVC_OK) {
		ts = INT64_MIN; /* undecodable: leaves at once, as a dead letter */
	}
	q->m = *m;
	q->ln = ln;
	q->poll_us = now;
	memset(m, 0, sizeof(*m));
	if (lvc_merge_push(st->merge, p->lane[ln], ts, q, now) != LVC_OK) {
		lvc_error("out of memory queueing a record");
		qrec_put(st, q);
		st->failed = 1;
		return -1;
	}
	if (must_pause(st, p, ln)) {
		lane_pause(st, (int)in.partition, ln, 1);
	}
	return p->lane[ln];
}

/* Processes what the merge releases at now, at most BATCH records: from
 * the group of lane only when lane >= 0 (what a push into it released),
 * else from every group in turn. The caller reads the clock once for many
 * records: a later reading would only release an idle lane's follower that
 * much sooner. */
static int process_released(stage_t *st, int64_t now, int lane, char *why, size_t why_size)
{
	lvc_merge_item_t it;
	int n = 0;

	while (n < BATCH && !st->failed && !st->need_rebuild &&
	       (lane >= 0 ? lvc_merge_pop_group_of(st->merge, lane, now, &it)
	                  : lvc_merge_pop(st->merge, now, &it))) {
		qrec_t *q = it.item;
		part_t *p = &st->parts[q->m.partition];
		lvc_err_t err;

		if (txn_begin(st) != 0) {
			qrec_put(st, q);
			return -1;
		}
		st->poll_mono_us = q->poll_us;
		err = process_msg(st, &q->m, &q->tick, 1, why, why_size);
		p->next[q->ln] = q->m.offset + 1;
		p->last_off = q->m.offset;
		p->last_lane = q->ln;
		st->txn_work = 1;
		if (p->paused[q->ln] && lvc_merge_lane_len(st->merge, it.lane) <= LANE_LOW) {
			lane_pause(st, q->m.partition, q->ln, 0);
		}
		qrec_put(st, q);
		n++;
		if (err != LVC_OK) {
			return -1;
		}
	}
	return 0;
}

static void lanes_drop(stage_t *st, int p)
{
	part_t *pt = &st->parts[p];

	for (int ln = 0; ln < LN__N; ln++) {
		if (pt->lane[ln] >= 0) {
			lvc_merge_lane_remove(st->merge, pt->lane[ln], qrec_drop, st);
			pt->lane[ln] = -1;
		}
		pt->paused[ln] = 0;
		pt->next[ln] = -1;
	}
}

/* Empties every lane (a rewind), resuming paused partitions. */
static void lanes_rewind(stage_t *st)
{
	for (int p = 0; p < st->n_parts; p++) {
		for (int ln = 0; ln < LN__N; ln++) {
			if (st->parts[p].lane[ln] >= 0) {
				lvc_merge_lane_clear(st->merge, st->parts[p].lane[ln],
				                     lvc_health_now_us(), qrec_drop, st);
				lane_pause(st, p, ln, 0);
			}
			st->parts[p].next[ln] = -1;
		}
	}
}

/* ---- restore, rebuild, rewind ---- */

static int restore(stage_t *st, const int32_t *parts, size_t n)
{
	lvc_state_restore_stats_t rs;
	char why[512];
	int64_t t0 = lvc_health_now_us();
	uint64_t produced0;
	lvc_err_t err;

	if (n == 0) {
		return 0;
	}
	if (txn_begin(st) != 0) {
		return -1;
	}
	produced0 = st->produced;
	wd_enter(st, "restoring state");
	err = lvc_state_restore(st->state, st->pl, parts, n, st->txn_ms + 30000, st->opts->stop,
	                        &st->health, &rs, why, sizeof(why));
	wd_leave(st);
	if (err != LVC_OK) {
		lvc_error("restoring state of %zu partition(s): %s", n, why);
		st->failed = 1;
		return -1;
	}
	{
		char list[256];
		size_t at = 0;

		list[0] = '\0';
		for (size_t i = 0; i < n && at + 16 < sizeof(list); i++) {
			at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%" PRId32,
			                       i > 0 ? "," : "", parts[i]);
		}
		lvc_info("state restored for partition(s) %s in %.2f s (waited %.2f s for open "
		         "transactions): %zu instrument(s), %zu position state(s), %zu partition "
		         "clock(s) from %" PRIu64 " record(s), %" PRIu64 " byte(s); %" PRIu64
		         " output(s) from the restore",
		         list, (double)(lvc_health_now_us() - t0) / 1e6, rs.wait_s, rs.instruments,
		         rs.positions, rs.partitions, rs.records, rs.bytes,
		         st->produced - produced0);
	}
	if (rs.stale_config > 0) {
		lvc_warn("%zu state record(s) were written under another config_id than %s: "
		         "restored as they are (estimators whose state does not fit start afresh: "
		         "%zu)",
		         rs.stale_config, st->cfg->config_id, rs.vol_reset);
	}
	return 0;
}

/* Seeks the assigned partitions of the owned lanes to their committed
 * offsets (the start of the log when none), and reports a committed offset
 * below the log start (records deleted by retention before they were
 * processed): the stage then starts at the log start. */
static int seek_committed(stage_t *st, int seek)
{
	lvc_tpo_t tps[2 * 1024];
	size_t n = 0;
	char why[512];

	for (int p = 0; p < st->n_parts && n + 2 <= sizeof(tps) / sizeof(tps[0]); p++) {
		for (int ln = 0; ln < LN__N; ln++) {
			if (st->parts[p].lane[ln] >= 0) {
				tps[n].topic = lane_topic(st, ln);
				tps[n].partition = p;
				tps[n].offset = -1;
				n++;
			}
		}
	}
	if (n == 0) {
		return 0;
	}
	wd_enter(st, "fetching committed offsets");
	if (lvc_consumer_committed(st->consumer, tps, n, st->txn_ms + 30000, why, sizeof(why)) !=
	    LVC_OK) {
		wd_leave(st);
		lvc_error("%s", why);
		st->failed = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t lo = 0, hi = 0;

		if (tps[i].offset < 0 ||
		    lvc_kafka_watermarks(st->consumer, tps[i].topic, tps[i].partition, 10000, &lo,
		                         &hi, why, sizeof(why)) != LVC_OK) {
			continue;
		}
		if (tps[i].offset < lo) {
			lvc_error("%s [%" PRId32 "]: the committed offset %" PRId64
			          " is below the log start offset %" PRId64 ": %" PRId64
			          " record(s) were deleted by retention before levcal "
			          "processed them (their events are lost); continuing from the log "
			          "start %" PRId64,
			          tps[i].topic, tps[i].partition, tps[i].offset, lo,
			          lo - tps[i].offset, lo);
			tps[i].offset = lo;
			seek = 1;
		}
	}
	if (seek && lvc_consumer_seek(st->consumer, tps, n, 30000, why, sizeof(why)) != LVC_OK) {
		wd_leave(st);
		lvc_error("%s", why);
		st->failed = 1;
		return -1;
	}
	wd_leave(st);
	return 0;
}

/* The engine forgets everything: a new pipeline, the tables read again,
 * every owned partition restored, the consumer at the committed offsets. */
static int rebuild(stage_t *st, int seek)
{
	int32_t parts[1024];
	size_t n = 0;
	char why[512];
	lvc_pipeline_t *pl;

	lvc_health_set_ready(&st->health, 0);
	lvc_info("rebuilding the engine from the tables and the state topic");
	lanes_rewind(st);
	if ((pl = lvc_pipeline_new(st->cfg, "", sink, st, why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		st->failed = 1;
		return -1;
	}
	lvc_pipeline_destroy(st->pl);
	st->pl = pl;
	st->need_rebuild = 0;
	for (int p = 0; p < st->n_parts; p++) {
		if (st->parts[p].lane[LN_PRICES] >= 0 || st->parts[p].lane[LN_TRADES] >= 0) {
			st->parts[p].status = P_OWNED;
			if (n < sizeof(parts) / sizeof(parts[0])) {
				parts[n++] = p;
			}
		} else {
			st->parts[p].status = P_FRESH;
		}
		st->parts[p].last_off = -1;
	}
	if (txn_begin(st) != 0 || load_tables(st) != 0 || restore(st, parts, n) != 0 ||
	    seek_committed(st, seek) != 0) {
		st->failed = 1;
		return -1;
	}
	lvc_health_set_ready(&st->health, 1);
	return 0;
}

/* ---- rebalances ---- */

static void on_revoke(stage_t *st, const lvc_tp_t *tps, size_t n)
{
	char why[512];
	int lost = lvc_consumer_assignment_lost(st->consumer);

	lvc_health_set_ready(&st->health, 0);
	if (st->eos) {
		if (lost) {
			txn_abort(st, "the assignment was lost (the group went on without this "
			              "member)");
		} else if (txn_commit(st) == 0) {
			for (int p = 0; p < st->n_parts; p++) {
				if (st->parts[p].status == P_OWNED) {
					st->parts[p].status = P_CLEAN;
				}
			}
		}
		txn_begin(st);
	} else {
		/* Deliver what is in flight, store, and commit before the
		 * partitions go to another instance. */
		if (lvc_producer_flush(st->producer, 30000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			st->failed = 1;
		}
		flush_stores(st);
		if (lvc_consumer_commit(st->consumer, why, sizeof(why)) != LVC_OK) {
			lvc_warn("%s", why);
		}
	}
	for (size_t i = 0; i < n; i++) {
		int32_t p = tps[i].partition;

		lvc_stage_metrics_forget_lag(st->sm, tps[i].topic, p);
		if (!st->eos) {
			lvc_tracker_reset(st->trk, input_of(st, tps[i].topic), p);
		}
		if (p >= 0 && p < st->n_parts) {
			int ln = strcmp(tps[i].topic, st->cfg->topics.prices) == 0 ? LN_PRICES
			                                                           : LN_TRADES;
			part_t *pt = &st->parts[p];

			if (pt->lane[ln] >= 0) {
				lvc_merge_lane_remove(st->merge, pt->lane[ln], qrec_drop, st);
				pt->lane[ln] = -1;
			}
			/* librdkafka keeps a partition paused across a rebalance. */
			lane_pause(st, p, ln, 0);
			pt->next[ln] = -1;
			pt->store[ln] = -1;
			if (pt->status == P_OWNED) {
				pt->status = st->eos ? P_TAINTED : P_FRESH;
			}
		}
	}
	st->assigned = st->assigned > n ? st->assigned - n : 0;
	st->in_gap = 1;
}

static void on_assign(stage_t *st, const lvc_tp_t *tps, size_t n)
{
	int32_t fresh[1024];
	size_t nf = 0;
	int tainted = st->need_rebuild;
	int64_t now = lvc_health_now_us();

	for (size_t i = 0; i < n; i++) {
		int32_t p = tps[i].partition;
		int ln = strcmp(tps[i].topic, st->cfg->topics.prices) == 0 ? LN_PRICES : LN_TRADES;
		part_t *pt;

		if (p < 0 || p >= st->n_parts) {
			lvc_error("assigned %s [%" PRId32
			          "] beyond the %d partitions seen at start: "
			          "restart levcal after changing partition counts",
			          tps[i].topic, p, st->n_parts);
			st->failed = 1;
			return;
		}
		pt = &st->parts[p];
		if (pt->lane[ln] < 0 &&
		    lvc_merge_lane_add(st->merge, (uint32_t)p,
		                       ln == LN_PRICES ? LVC_IN_PRICES : LVC_IN_TRADES, 0, now,
		                       &pt->lane[ln]) != LVC_OK) {
			lvc_error("out of memory adding a merge lane");
			st->failed = 1;
			return;
		}
	}
	/* What this member holds now, and what its engine knows of it. */
	for (int p = 0; p < st->n_parts; p++) {
		part_t *pt = &st->parts[p];
		int have = pt->lane[LN_PRICES] >= 0 || pt->lane[LN_TRADES] >= 0;

		if (have && (pt->lane[LN_PRICES] < 0 || pt->lane[LN_TRADES] < 0)) {
			lvc_warn(
			    "partition %d of only one of %s and %s is assigned to this member: "
			    "its events cannot be merged in event time",
			    p, st->cfg->topics.trades, st->cfg->topics.prices);
		}
		if (!have) {
			if (pt->status == P_CLEAN) {
				/* Given to another member, which will change it. */
				pt->status = P_TAINTED;
			}
			continue;
		}
		if (pt->status == P_TAINTED) {
			tainted = 1;
		}
	}
	st->assigned += n;
	st->in_gap = 0;
	{
		static const char *const names[] = { "fresh", "owned", "clean", "tainted" };
		char list[512];
		size_t at = 0;

		list[0] = '\0';
		for (int p = 0; p < st->n_parts && at + 24 < sizeof(list); p++) {
			if (st->parts[p].lane[LN_PRICES] >= 0 ||
			    st->parts[p].lane[LN_TRADES] >= 0) {
				at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%d (%s)",
				                       at > 0 ? ", " : "", p,
				                       names[st->parts[p].status]);
			}
		}
		lvc_info("assignment: partition(s) %s", at > 0 ? list : "none");
	}
	if (!st->eos) {
		/* No state to restore: what is assigned is owned. */
		for (int p = 0; p < st->n_parts; p++) {
			part_t *pt = &st->parts[p];

			pt->status = pt->lane[LN_PRICES] >= 0 || pt->lane[LN_TRADES] >= 0 ? P_OWNED
			                                                                  : P_FRESH;
		}
		lvc_health_set_ready(&st->health, 1);
		return;
	}
	if (tainted) {
		rebuild(st, 0);
		return;
	}
	for (int p = 0; p < st->n_parts; p++) {
		part_t *pt = &st->parts[p];

		if (pt->lane[LN_PRICES] < 0 && pt->lane[LN_TRADES] < 0) {
			continue;
		}
		if (pt->status == P_FRESH && nf < sizeof(fresh) / sizeof(fresh[0])) {
			fresh[nf++] = p;
		}
		pt->status = P_OWNED;
		pt->last_off = -1;
	}
	if (restore(st, fresh, nf) != 0 || seek_committed(st, 0) != 0) {
		return;
	}
	lvc_health_set_ready(&st->health, 1);
}

static void on_rebalance(void *opaque, int assigned, const lvc_tp_t *tps, size_t n)
{
	stage_t *st = opaque;

	if (assigned) {
		on_assign(st, tps, n);
	} else {
		on_revoke(st, tps, n);
	}
}

/* ---- metrics ---- */

static void on_stats(void *opaque, const char *json, size_t len, int consumer)
{
	stage_t *st = opaque;
	char why[256];

	/* Broker round-trip times come from the producer: a consumer's fetches
	 * wait at the end of the log and librdkafka counts that wait as rtt. */
	if (consumer || st->kstats == NULL) {
		return;
	}
	if (lvc_kafka_stats_parse(st->kstats, json, len, why, sizeof(why)) == LVC_OK) {
		lvc_kafka_stats_apply(st->kstats, st->sm, 0);
	} else {
		lvc_debug("kafka statistics: %s", why);
	}
}

static void on_lag(void *opaque, const char *topic, int32_t partition, int64_t lag)
{
	stage_t *st = opaque;

	lvc_stage_metrics_set_lag(st->sm, topic, partition, lag);
}

/* Once a second: gauges, lag, late ticks. */
static void update_metrics(stage_t *st)
{
	const lvc_engine_t *eng = lvc_pipeline_engine(st->pl);
	lvc_engine_stats_t es;

	lvc_engine_stats(eng, &es);
	lvc_gauge_set(st->sm->instruments, (double)es.instruments);
	lvc_gauge_set(st->sm->positions, (double)es.positions);
	if (es.ticks_late > st->late_seen) {
		lvc_counter_add(st->sm->ticks_late, es.ticks_late - st->late_seen);
		st->late_seen = es.ticks_late;
	}
	lvc_consumer_lags(st->consumer, on_lag, st);
}

/* ---- start ---- */

/* Checks that the topics exist and that trades and prices are co-partitioned
 * (SPEC §6): a mismatch would silently join the wrong streams. */
static int check_topics(stage_t *st)
{
	const lvc_topics_t *t = &st->cfg->topics;
	const char *outs[] = { t->leverage_limits, t->liquidation_warnings, t->dead_letter };
	int n_trades = 0, n_prices = 0, n;
	char why[512];

	if (lvc_kafka_partition_count(st->producer, t->trades, 10000, &n_trades, why,
	                              sizeof(why)) != LVC_OK) {
		lvc_error("input topic topics.trades: %s", why);
		return -1;
	}
	if (lvc_kafka_partition_count(st->producer, t->prices, 10000, &n_prices, why,
	                              sizeof(why)) != LVC_OK) {
		lvc_error("input topic topics.prices: %s", why);
		return -1;
	}
	if (n_trades != n_prices) {
		lvc_error(
		    "topics %s (%d partitions) and %s (%d partitions) must be co-partitioned: "
		    "give them the same partition count",
		    t->trades, n_trades, t->prices, n_prices);
		return -1;
	}
	for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		if (lvc_kafka_partition_count(st->producer, outs[i], 10000, &n, why, sizeof(why)) !=
		    LVC_OK) {
			lvc_error("output topic: %s", why);
			return -1;
		}
	}
	if (n_trades > 1024) {
		lvc_error("topics %s and %s have %d partitions; levcal supports up to 1024",
		          t->trades, t->prices, n_trades);
		return -1;
	}
	st->n_parts = n_trades;
	if (st->eos &&
	    lvc_state_ensure_topic(st->state, st->producer, n_trades, why, sizeof(why)) != LVC_OK) {
		lvc_error("%s", why);
		return -1;
	}
	return 0;
}

/* The transactional id: kafka.transactional.id, else levcal-<group>-<instance>. */
static int transactional_id(const lvc_config_t *cfg, char *buf, size_t size)
{
	const char *set = lvc_config_kafka_get(cfg, "transactional.id");
	const char *group = lvc_config_kafka_get(cfg, "group.id");

	if (set != NULL && set[0] != '\0') {
		snprintf(buf, size, "%s", set);
		return 0;
	}
	if (cfg->instance == NULL || cfg->instance[0] == '\0') {
		lvc_error("%s: processing.guarantee exactly_once needs a transactional id that is "
		          "stable per instance: set `instance` (e.g. the StatefulSet pod name, "
		          "${HOSTNAME}; the id is then levcal-<group.id>-<instance>) or "
		          "kafka.transactional.id, or choose processing.guarantee: at_least_once",
		          cfg->path != NULL ? cfg->path : "config");
		return -1;
	}
	snprintf(buf, size, "levcal-%s-%s", group != NULL ? group : "levcal", cfg->instance);
	return 0;
}

static void free_queued(stage_t *st)
{
	for (int p = 0; st->parts != NULL && p < st->n_parts; p++) {
		lanes_drop(st, p);
	}
	while (st->free_q != NULL) {
		qrec_t *q = st->free_q;

		st->free_q = q->next_free;
		free(q);
	}
}

int lvc_run(const lvc_config_t *cfg, const lvc_run_opts_t *opts)
{
	stage_t st = { 0 };
	const char *topics[2];
	char ms[32], txn_ms[32], tid[512], why[512], member[512] = "";
	const char *user_txn_ms = lvc_config_kafka_get(cfg, "transaction.timeout.ms");
	lvc_kv_t cons_defaults[] = {
		{ "group.id", "levcal", 0 },
		{ "auto.offset.reset", "earliest", 0 },
		{ "enable.auto.commit", "true", 0 },
		{ "auto.commit.interval.ms", ms, 0 },
		{ "isolation.level", "read_committed", 0 },
		/* Static membership: a restarted instance takes its partitions
		 * back at once instead of waiting out its old session. */
		{ "group.instance.id", member, 0 },
	};
	lvc_kv_t cons_forced_alo[] = {
		{ "enable.auto.offset.store", "false", 0 },
		{ "partition.assignment.strategy", "range", 0 },
		{ "enable.partition.eof", "true", 0 },
	};
	lvc_kv_t cons_forced_eos[] = {
		{ "enable.auto.commit", "false", 0 },
		{ "isolation.level", "read_committed", 0 },
		{ "partition.assignment.strategy", "range", 0 },
		{ "enable.partition.eof", "true", 0 },
	};
	lvc_kv_t prod_defaults[] = {
		{ "statistics.interval.ms", "5000", 0 },
		{ "transaction.timeout.ms", txn_ms, 0 },
	};
	lvc_kv_t prod_all[16], cons_all[24];
	size_t prod_n, cons_n;
	lvc_kv_t prod_forced[] = {
		{ "enable.idempotence", "true", 0 },
		{ "transactional.id", tid, 0 },
	};
	int rc = 1;
	int64_t last_log = lvc_health_now_us(), last_metrics = 0;
	lvc_summary_t summary = { 0 };

	snprintf(ms, sizeof(ms), "%" PRId64, cfg->processing.commit_interval_us / 1000);
	if (cfg->instance != NULL && cfg->instance[0] != '\0') {
		const char *g = lvc_config_kafka_get(cfg, "group.id");

		snprintf(member, sizeof(member), "levcal-%s-%s", g != NULL ? g : "levcal",
		         cfg->instance);
	}
	st.cfg = cfg;
	st.opts = opts;
	st.eos = cfg->processing.guarantee == LVC_EXACTLY_ONCE;
	st.txn_ms = user_txn_ms != NULL ? atoi(user_txn_ms) : DEFAULT_TXN_MS;
	if (st.txn_ms <= 0) {
		st.txn_ms = DEFAULT_TXN_MS;
	}
	snprintf(txn_ms, sizeof(txn_ms), "%d", st.txn_ms);
	if (st.eos && transactional_id(cfg, tid, sizeof(tid)) != 0) {
		return 2;
	}
	if ((st.sm = lvc_stage_metrics_new(cfg, lvc_version(), why, sizeof(why))) == NULL ||
	    (st.kstats = lvc_kafka_stats_new()) == NULL) {
		lvc_error("metrics: %s", st.sm == NULL ? why : "out of memory");
		goto out;
	}
	lvc_health_init(&st.health, 0, st.sm->ready);
	if (cfg->metrics.listen != NULL && cfg->metrics.listen[0] != '\0') {
		if ((st.http = lvc_http_start(cfg->metrics.listen, st.sm->reg, &st.health, why,
		                              sizeof(why))) == NULL) {
			lvc_error("%s", why);
			goto out;
		}
		lvc_info("metrics on http://%s (port %d): /metrics /healthz /readyz",
		         cfg->metrics.listen, lvc_http_port(st.http));
	}
	/* Limits for calls that must return: twice the longest wait levcal
	 * gives librdkafka, plus a margin. */
	st.wd_limit_us = (2 * ((int64_t)st.txn_ms + 30000) + 60000) * 1000;
	if (pthread_create(&st.wd, NULL, watchdog, &st) != 0) {
		lvc_error("cannot start the watchdog thread");
		goto out;
	}
	st.wd_started = 1;
	lvc_kafka_set_stats_hook(on_stats, &st);
	if ((st.merge = lvc_merge_new(cfg->processing.max_idle_us, STALL_US)) == NULL ||
	    (st.trk = lvc_tracker_new(on_commit_point, &st)) == NULL) {
		lvc_error("out of memory");
		goto out;
	}
	if ((st.pl = lvc_pipeline_new(cfg, "", sink, &st, why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	prod_n = with_tuning(prod_all, sizeof(prod_all) / sizeof(prod_all[0]), 0, prod_defaults,
	                     st.eos ? 2 : 1);
	st.producer = lvc_producer_new(cfg, prod_all, prod_n, prod_forced, st.eos ? 2 : 1,
	                               on_delivery, &st, why, sizeof(why));
	if (st.producer == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	if (st.eos && (st.state = lvc_state_new(cfg, why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	if (check_topics(&st) != 0) {
		goto out;
	}
	if ((st.parts = calloc((size_t)st.n_parts, sizeof(*st.parts))) == NULL) {
		lvc_error("out of memory");
		goto out;
	}
	for (int p = 0; p < st.n_parts; p++) {
		st.parts[p].lane[0] = st.parts[p].lane[1] = -1;
		st.parts[p].next[0] = st.parts[p].next[1] = -1;
		st.parts[p].store[0] = st.parts[p].store[1] = -1;
		st.parts[p].last_off = -1;
	}
	if (st.eos) {
		lvc_err_t err;

		/* Fences an earlier incarnation with the same id and aborts what
		 * it left open. */
		wd_enter(&st, "initializing transactions");
		do {
			err = lvc_txn_init(st.producer, st.txn_ms + 30000, why, sizeof(why));
			if (err == LVC_ERR_KAFKA) {
				lvc_warn("%s; retrying", why);
			}
			lvc_health_beat(&st.health);
		} while (err == LVC_ERR_KAFKA && !atomic_load(opts->stop));
		wd_leave(&st);
		if (err != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
		if (txn_begin(&st) != 0) {
			goto out;
		}
	}
	if (load_tables(&st) != 0) {
		goto out;
	}
	topics[0] = cfg->topics.trades;
	topics[1] = cfg->topics.prices;
	cons_n =
	    with_tuning(cons_all, sizeof(cons_all) / sizeof(cons_all[0]), 1, cons_defaults,
	                sizeof(cons_defaults) / sizeof(cons_defaults[0]) - (member[0] == '\0'));
	st.consumer =
	    lvc_consumer_new(cfg, cons_all, cons_n, st.eos ? cons_forced_eos : cons_forced_alo,
	                     st.eos ? sizeof(cons_forced_eos) / sizeof(cons_forced_eos[0])
	                            : sizeof(cons_forced_alo) / sizeof(cons_forced_alo[0]),
	                     topics, 2, on_rebalance, &st, why, sizeof(why));
	if (st.consumer == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	lvc_consumer_report_eof(st.consumer, 1);
	lvc_info("running: %s + %s -> %s, group consuming, %s%s%s", topics[0], topics[1],
	         cfg->topics.leverage_limits, st.eos ? "exactly_once, transactional.id " : "",
	         st.eos ? tid : "at_least_once", "");
	while (!atomic_load(opts->stop) && !st.failed) {
		lvc_msg_t m;
		lvc_err_t err;
		int64_t now = lvc_health_now_us(), deadline;
		int timeout, proc_failed = 0;

		lvc_health_beat(&st.health);
		if (st.need_rebuild) {
			if (rebuild(&st, 1) != 0) {
				break;
			}
			continue;
		}
		if (st.txn_failed && st.txn_open) {
			txn_abort(&st, "a record of it could not be produced");
			continue;
		}
		deadline = lvc_merge_deadline(st.merge, now);
		timeout = deadline == INT64_MAX || deadline - now > 100000
		              ? 100
		              : (int)((deadline - now + 999) / 1000);
		for (int i = 0; i < BATCH && !st.failed; i++) {
			err = lvc_consumer_poll(st.consumer, i == 0 ? timeout : 0, &m, why,
			                        sizeof(why));
			if (i == 0) {
				/* The rest of the batch is what was queued already. */
				now = lvc_health_now_us();
			}
			if (err == LVC_OK) {
				int lane = enqueue(&st, &m, now);

				/* What the record releases (most often itself: the
				 * other input is ahead) is processed now, while the
				 * record is in the caches, not after the whole batch
				 * has been queued. */
				if (lane >= 0 &&
				    process_released(&st, now, lane, why, sizeof(why)) != 0) {
					proc_failed = 1;
					break;
				}
				continue;
			}
			if (err == LVC_ERR_FATAL) {
				lvc_error("%s", why);
				st.failed = 1;
			} else if (err == LVC_ERR_KAFKA) {
				lvc_warn("%s", why);
			}
			break;
		}
		if (st.failed || st.need_rebuild) {
			continue;
		}
		if (proc_failed ||
		    process_released(&st, lvc_health_now_us(), -1, why, sizeof(why)) != 0) {
			if (!st.failed && !st.need_rebuild) {
				lvc_error("%s", why);
				st.failed = 1;
			}
			continue;
		}
		if (st.assigned > 0 && !st.in_gap) {
			if (txn_begin(&st) != 0) {
				break;
			}
			/* Records held for the registry do not wait for their lane's
			 * next record. */
			if (lvc_pipeline_retry_held(st.pl, why, sizeof(why)) != LVC_OK) {
				lvc_error("%s", why);
				st.failed = 1;
				continue;
			}
			if ((err = drain_tables(&st, 0, 1000, why, sizeof(why))) != LVC_OK) {
				lvc_error("%s", why);
				st.failed = 1;
				continue;
			}
		}
		lvc_producer_poll(st.producer, 0);
		if (!st.eos) {
			flush_stores(&st);
		}
		now = lvc_health_now_us();
		if (st.eos && st.txn_open &&
		    now - st.txn_begun_us >= cfg->processing.commit_interval_us) {
			if (txn_commit(&st) < 0) {
				break;
			}
			txn_begin(&st);
		}
		if (now - last_metrics >= 1000000) {
			update_metrics(&st);
			last_metrics = now;
		}
		if (now - last_log >= 10000000) {
			char line[512];

			lvc_stage_summary(st.sm, &summary, now, line, sizeof(line));
			lvc_info("%s", line);
			last_log = now;
		}
	}
	if (st.failed) {
		goto out;
	}
	/* Clean shutdown: finish the open transaction (or, at least once,
	 * deliver everything), then leave the group. */
	st.closing = 1;
	if (st.eos) {
		int r = txn_commit(&st);

		if (r != 0) {
			lvc_error("stopping: the open transaction was %s; its input is read again "
			          "after a restart",
			          r > 0 ? "aborted" : "not completed");
			goto out;
		}
		lvc_info("stopped cleanly: %" PRIu64 " record(s) produced, %" PRIu64
		         " transaction(s) committed, %" PRIu64 " aborted",
		         st.produced, st.txn_commits, st.txn_aborts);
	} else {
		if (lvc_producer_flush(st.producer, 30000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
		lvc_producer_poll(st.producer, 0);
		if (st.failed) {
			goto out;
		}
		flush_stores(&st);
		if (lvc_consumer_commit(st.consumer, why, sizeof(why)) != LVC_OK) {
			lvc_warn("%s", why);
		}
		lvc_info("stopped cleanly: %" PRIu64 " record(s) produced and delivered",
		         st.delivered);
	}
	rc = 0;
out:
	st.closing = 1;
	if (rc != 0 && st.eos && st.txn_open && st.producer != NULL &&
	    !lvc_kafka_fatal(st.producer)) {
		/* Never leave a transaction half-done on the way out. */
		char w2[512];

		wd_enter(&st, "aborting a transaction");
		if (lvc_txn_abort(st.producer, 5000, w2, sizeof(w2)) != LVC_OK) {
			lvc_warn("%s", w2);
		}
		wd_leave(&st);
		st.txn_open = 0;
	}
	lvc_consumer_close(st.consumer);
	st.consumer = NULL;
	lvc_consumer_close(st.tables);
	lvc_state_destroy(st.state);
	lvc_producer_close(st.producer, rc == 0 ? 30000 : 0);
	free_queued(&st);
	free(st.parts);
	lvc_merge_destroy(st.merge);
	lvc_pipeline_destroy(st.pl);
	lvc_tracker_destroy(st.trk);
	lvc_kafka_set_stats_hook(NULL, NULL);
	if (st.wd_started) {
		atomic_store(&st.wd_stop, 1);
		pthread_join(st.wd, NULL);
	}
	lvc_http_stop(st.http);
	lvc_kafka_stats_destroy(st.kstats);
	lvc_stage_metrics_destroy(st.sm);
	return rc;
}
