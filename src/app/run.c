/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal run`: the live stage. A consumer in the configured group reads the
 * co-partitioned trades and prices topics; a second consumer reads the
 * positions and balances tables whole (every partition, from the start,
 * outside the group: every instance needs every position), first up to
 * their end offsets at start, then as they change. Each record goes through
 * the pipeline step; outputs are produced with the levcal-source header.
 *
 * At-least-once: the producer is idempotent; input offsets are stored only
 * once every output of the record and of every record before it in its
 * partition was delivered (tracker.c), and committed by the consumer's
 * auto-commit every commit_interval, and synchronously on revoke and at
 * shutdown. A delivery that fails for good stops the stage with exit code 1
 * before its offset can be committed, so a restart reprocesses it.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/pipeline.h"
#include "app/stage.h"
#include "app/tracker.h"
#include "app/version.h"
#include "io/http.h"
#include "io/kafka.h"
#include "io/kafka_stats.h"
#include "io/log.h"
#include "io/metrics.h"

typedef struct stage_s {
	const lvc_config_t *cfg;
	lvc_pipeline_t *pl;
	lvc_tracker_t *trk;
	lvc_kafka_t *consumer;
	lvc_kafka_t *tables; /* positions and balances, read whole (global tables) */
	lvc_kafka_t *producer;
	void *cur_tok; /* token of the record being processed */
	int failed;    /* a delivery failed for good */
	uint64_t delivered;
	uint64_t produced;
	char errbuf[512];

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

static const int sm_input[LVC_IN__COUNT] = {
	[LVC_IN_TRADES] = LVC_SM_IN_TRADES,
	[LVC_IN_PRICES] = LVC_SM_IN_PRICES,
	[LVC_IN_POSITIONS] = LVC_SM_IN_POSITIONS,
	[LVC_IN_BALANCES] = LVC_SM_IN_BALANCES,
};

/* One polled record through the pipeline. Tick records are tracked for
 * at-least-once commits; table records are not (the tables are read whole
 * from their start by every instance, nothing of them is committed). */
static lvc_err_t process_msg(stage_t *st, const lvc_msg_t *m, int tracked, char *why,
                             size_t why_size)
{
	lvc_inrec_t in = { 0 };
	lvc_err_t err;

	in.input = input_of(st, m->topic);
	in.topic = m->topic;
	in.partition = m->partition;
	in.offset = m->offset;
	in.key = m->key;
	in.key_len = m->key_len;
	in.value = m->value;
	in.value_len = m->value_len;
	st->poll_mono_us = lvc_health_now_us();
	lvc_counter_inc(st->sm->ticks_in[sm_input[in.input]]);
	st->cur_tok =
	    tracked ? lvc_tracker_begin(st->trk, in.input, in.partition, in.offset) : NULL;
	err = lvc_pipeline_process(st->pl, &in, why, why_size);
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
		err = process_msg(st, &m, 0, why, why_size);
		lvc_msg_release(&m);
		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

/* Reads the positions and balances tables up to their end offsets at start,
 * so that the first ticks are checked against the whole book. */
static int load_tables(stage_t *st, const lvc_run_opts_t *opts)
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

	st->tables =
	    lvc_consumer_new(st->cfg, NULL, 0, forced, 3, NULL, 0, NULL, NULL, why, sizeof(why));
	if (st->tables == NULL) {
		lvc_error("%s", why);
		return -1;
	}
	if (lvc_consumer_assign_tables(st->tables, tables, 2, 10000, why, sizeof(why)) != LVC_OK) {
		lvc_error("tables (topics.balances, topics.positions): %s", why);
		return -1;
	}
	while (!lvc_consumer_caught_up(st->tables)) {
		if (atomic_load(opts->stop) || st->failed) {
			return -1;
		}
		lvc_health_beat(&st->health);
		if (drain_tables(st, 100, 10000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			return -1;
		}
		lvc_producer_poll(st->producer, 0);
	}
	lvc_engine_stats(lvc_pipeline_engine(st->pl), &es);
	lvc_info("tables loaded in %.1f s: %zu open position(s), %zu account(s)",
	         (double)(lvc_health_now_us() - t0) / 1e6, es.positions, es.accounts);
	return 0;
}

static const char *topic_of(const stage_t *st, lvc_input_t in)
{
	return in == LVC_IN_PRICES ? st->cfg->topics.prices : st->cfg->topics.trades;
}

static void on_commit_point(void *opaque, lvc_input_t input, int32_t partition, int64_t next_offset)
{
	stage_t *st = opaque;
	char why[512];

	if (lvc_consumer_store(st->consumer, topic_of(st, input), partition, next_offset, why,
	                       sizeof(why)) != LVC_OK) {
		/* The partition may have been revoked meanwhile: its records
		 * will be read again by its next owner, which is at-least-once. */
		lvc_debug("%s", why);
	}
}

static void on_delivery(void *opaque, void *msg_opaque, lvc_err_t err, const char *reason)
{
	stage_t *st = opaque;

	if (err != LVC_OK) {
		if (!st->failed) {
			lvc_error("delivery failed for good: %s; stopping so that the input is "
			          "read again after a restart",
			          reason);
		}
		st->failed = 1;
		return;
	}
	st->delivered++;
	lvc_tracker_delivered(st->trk, msg_opaque);
}

static int sink(void *opaque, const lvc_outrec_t *out)
{
	stage_t *st = opaque;
	lvc_header_t h[2];
	size_t hn = 0;

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
		lvc_error("%s", st->errbuf);
		return -1;
	}
	st->produced++;
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

static void on_rebalance(void *opaque, int assigned, const lvc_tp_t *tps, size_t n)
{
	stage_t *st = opaque;
	char why[512];

	if (assigned) {
		st->assigned += n;
	} else {
		st->assigned = st->assigned > n ? st->assigned - n : 0;
		for (size_t i = 0; i < n; i++) {
			lvc_stage_metrics_forget_lag(st->sm, tps[i].topic, tps[i].partition);
		}
	}
	/* Ready once the consumer holds an assignment (there is no state to
	 * restore in at-least-once mode). */
	lvc_health_set_ready(&st->health, st->assigned > 0);
	if (!assigned) {
		/* Deliver what is in flight, store, and commit before the
		 * partitions go to another instance. */
		if (lvc_producer_flush(st->producer, 30000, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", why);
			st->failed = 1;
		}
		if (lvc_consumer_commit(st->consumer, why, sizeof(why)) != LVC_OK) {
			lvc_warn("%s", why);
		}
	}
	for (size_t i = 0; i < n; i++) {
		lvc_tracker_reset(st->trk, input_of(st, tps[i].topic), tps[i].partition);
	}
}

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
	return 0;
}

int lvc_run(const lvc_config_t *cfg, const lvc_run_opts_t *opts)
{
	stage_t st = { 0 };
	const char *topics[2];
	char ms[32], why[512];
	lvc_kv_t cons_defaults[] = {
		{ "group.id", "levcal", 0 },
		{ "auto.offset.reset", "earliest", 0 },
		{ "enable.auto.commit", "true", 0 },
		{ "auto.commit.interval.ms", ms, 0 },
		{ "isolation.level", "read_committed", 0 },
		{ "partition.assignment.strategy", "cooperative-sticky", 0 },
	};
	lvc_kv_t cons_forced[] = {
		{ "enable.auto.offset.store", "false", 0 },
	};
	lvc_kv_t prod_defaults[] = {
		{ "linger.ms", "5", 0 },
		{ "statistics.interval.ms", "5000", 0 },
	};
	lvc_kv_t prod_forced[] = {
		{ "enable.idempotence", "true", 0 },
	};
	int rc = 1;
	int64_t last_log = lvc_health_now_us(), last_metrics = 0;
	lvc_summary_t summary = { 0 };

	snprintf(ms, sizeof(ms), "%" PRId64, cfg->processing.commit_interval_us / 1000);
	st.cfg = cfg;
	if (cfg->processing.guarantee != LVC_AT_LEAST_ONCE) {
		lvc_warn("processing.guarantee exactly_once is not implemented in this version; "
		         "running at_least_once");
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
	lvc_kafka_set_stats_hook(on_stats, &st);
	if ((st.trk = lvc_tracker_new(on_commit_point, &st)) == NULL) {
		lvc_error("out of memory");
		goto out;
	}
	if ((st.pl = lvc_pipeline_new(cfg, "", sink, &st, why, sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	st.producer = lvc_producer_new(cfg, prod_defaults, 2, prod_forced, 1, on_delivery, &st, why,
	                               sizeof(why));
	if (st.producer == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	if (check_topics(&st) != 0) {
		goto out;
	}
	if (load_tables(&st, opts) != 0) {
		goto out;
	}
	topics[0] = cfg->topics.trades;
	topics[1] = cfg->topics.prices;
	st.consumer =
	    lvc_consumer_new(cfg, cons_defaults, sizeof(cons_defaults) / sizeof(cons_defaults[0]),
	                     cons_forced, 1, topics, 2, on_rebalance, &st, why, sizeof(why));
	if (st.consumer == NULL) {
		lvc_error("%s", why);
		goto out;
	}
	lvc_info("running: %s + %s -> %s, group consuming, at_least_once", topics[0], topics[1],
	         cfg->topics.leverage_limits);
	while (!atomic_load(opts->stop) && !st.failed) {
		lvc_msg_t m;
		lvc_err_t err;
		int64_t now;

		lvc_health_beat(&st.health);
		err = lvc_consumer_poll(st.consumer, 100, &m, why, sizeof(why));
		if (err == LVC_OK) {
			err = process_msg(&st, &m, 1, why, sizeof(why));
			lvc_msg_release(&m);
			if (err != LVC_OK) {
				lvc_error("%s", why);
				goto out;
			}
		} else if (err == LVC_ERR_FATAL) {
			lvc_error("%s", why);
			goto out;
		} else if (err == LVC_ERR_KAFKA) {
			lvc_warn("%s", why);
		}
		if ((err = drain_tables(&st, 0, 1000, why, sizeof(why))) != LVC_OK) {
			lvc_error("%s", why);
			goto out;
		}
		lvc_producer_poll(st.producer, 0);
		now = lvc_health_now_us();
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
	/* Clean shutdown: deliver everything, then commit what it completed. */
	if (lvc_producer_flush(st.producer, 30000, why, sizeof(why)) != LVC_OK) {
		lvc_error("%s", why);
		goto out;
	}
	lvc_producer_poll(st.producer, 0);
	if (st.failed) {
		goto out;
	}
	if (lvc_consumer_commit(st.consumer, why, sizeof(why)) != LVC_OK) {
		lvc_warn("%s", why);
	}
	lvc_info("stopped cleanly: %" PRIu64 " record(s) produced and delivered", st.delivered);
	rc = 0;
out:
	lvc_consumer_close(st.consumer);
	lvc_consumer_close(st.tables);
	lvc_producer_close(st.producer, rc == 0 ? 30000 : 0);
	lvc_pipeline_destroy(st.pl);
	lvc_tracker_destroy(st.trk);
	lvc_kafka_set_stats_hook(NULL, NULL);
	lvc_http_stop(st.http);
	lvc_kafka_stats_destroy(st.kstats);
	lvc_stage_metrics_destroy(st.sm);
	return rc;
}
