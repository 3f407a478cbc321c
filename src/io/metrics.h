/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small Prometheus registry: counters, gauges and histograms, optionally
 * with a fixed set of label names, rendered in the text exposition format
 * 0.0.4 (what GET /metrics serves, see io/http.h).
 *
 * The hot path never locks and never allocates: a caller looks up (or
 * creates) a series once, keeps the pointer, and increments through it with
 * one relaxed atomic operation. Series with labels are created on first use
 * under the registry mutex, up to the family's max_series; their pointers
 * stay valid until lvc_metrics_destroy(). Rendering takes the mutex and
 * reads the atomics, so a scrape sees each value whole, though not a
 * snapshot across series.
 *
 * Names follow Prometheus conventions: levcal_ prefix, base units
 * (seconds), counters end in _total, no per-instrument labels.
 *
 * The metric set of the stage is defined here too (lvc_stage_metrics_t), so
 * that its names are fixed in one place; the stage registers it once and
 * increments through the pointers of that struct. What the stage must call
 * is listed at lvc_stage_metrics_new().
 *
 * Thread rules: every function may be called from any thread.
 */
#ifndef LVC_IO_METRICS_H
#define LVC_IO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/config.h"

#define LVC_METRIC_MAX_LABELS  4  /* label names per family */
#define LVC_METRIC_MAX_BUCKETS 32 /* finite bucket bounds per histogram */

typedef enum lvc_metric_type_e {
	LVC_METRIC_COUNTER,
	LVC_METRIC_GAUGE,
	LVC_METRIC_HISTOGRAM,
} lvc_metric_type_t;

typedef struct lvc_metrics_s lvc_metrics_t;
typedef struct lvc_family_s lvc_family_t;
typedef struct lvc_counter_s lvc_counter_t;
typedef struct lvc_gauge_s lvc_gauge_t;
typedef struct lvc_histogram_s lvc_histogram_t;

/* A metric family: one name, one HELP text, one type, one set of label
 * names. */
typedef struct lvc_family_def_s {
	lvc_metric_type_t type;
	const char *name;          /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total */
	const char *help;          /* one line of text */
	const char *const *labels; /* label names, none starting with "__", not "le" */
	size_t labels_n;           /* 0 .. LVC_METRIC_MAX_LABELS */
	const double *bounds;      /* histograms: finite, strictly increasing upper bounds */
	size_t bounds_n;           /* 1 .. LVC_METRIC_MAX_BUCKETS; +Inf is implied */
	size_t max_series;         /* label sets kept; 0 means 64 (1 without labels) */
} lvc_family_def_t;

/* Creates an empty registry, owned by the caller. NULL when out of
 * memory. */
lvc_metrics_t *lvc_metrics_new(void);

/* Frees reg and every family and series in it; accepts NULL. No pointer
 * into reg may be used afterwards. */
void lvc_metrics_destroy(lvc_metrics_t *reg);

/* Registers a family. A family without labels gets its one series at once
 * (look it up with lvc_family_counter(f, NULL) and friends). Returns a
 * pointer owned by reg, or NULL with the reason in errstr (a name that is
 * not valid or already registered, bad bounds, too many labels). */
lvc_family_t *lvc_metrics_add(lvc_metrics_t *reg, const lvc_family_def_t *def, char *errstr,
                              size_t errstr_size);

/* Convenience: registers a family without labels and returns its one
 * series; NULL with errstr as above. */
lvc_counter_t *lvc_metrics_counter(lvc_metrics_t *reg, const char *name, const char *help,
                                   char *errstr, size_t errstr_size);
lvc_gauge_t *lvc_metrics_gauge(lvc_metrics_t *reg, const char *name, const char *help, char *errstr,
                               size_t errstr_size);
lvc_histogram_t *lvc_metrics_histogram(lvc_metrics_t *reg, const char *name, const char *help,
                                       const double *bounds, size_t bounds_n, char *errstr,
                                       size_t errstr_size);

/* The series of f for the label values values[0 .. labels_n) (NULL for a
 * family without labels), created on first use under the registry mutex.
 * A series hidden by lvc_family_forget() is shown again. Returns NULL when
 * f has another type or already holds max_series label sets. The pointer is
 * owned by the registry; keep it and increment through it. */
lvc_counter_t *lvc_family_counter(lvc_family_t *f, const char *const *values);
lvc_gauge_t *lvc_family_gauge(lvc_family_t *f, const char *const *values);
lvc_histogram_t *lvc_family_histogram(lvc_family_t *f, const char *const *values);

/* Hides the series of these label values from rendering and resets its
 * value to 0 (e.g. the lag of a partition that was revoked). Its pointer
 * stays valid; the next lvc_family_*() lookup of the same values shows it
 * again. Returns LVC_OK or LVC_ERR_NOT_FOUND. */
lvc_err_t lvc_family_forget(lvc_family_t *f, const char *const *values);

/* The sum of the values of the shown series of a counter or gauge family
 * (e.g. the total consumer lag over all partitions). */
double lvc_family_sum(const lvc_family_t *f);

/* Counter operations: lock-free. */
void lvc_counter_inc(lvc_counter_t *c);
void lvc_counter_add(lvc_counter_t *c, uint64_t n);
uint64_t lvc_counter_value(const lvc_counter_t *c);

/* Gauge operations: lock-free (add is a compare-and-swap loop). */
void lvc_gauge_set(lvc_gauge_t *g, double v);
void lvc_gauge_add(lvc_gauge_t *g, double delta);
double lvc_gauge_value(const lvc_gauge_t *g);

/* Records one observation in base units (seconds for latencies): one
 * binary search over the bounds and two atomic updates. NaN is ignored. */
void lvc_histogram_observe(lvc_histogram_t *h, double v);

/* The bucket bounds of h (borrowed) and their number. */
size_t lvc_histogram_bounds(const lvc_histogram_t *h, const double **bounds);

/* Copies the per-bucket counts (not cumulative; counts[bounds_n] is the
 * +Inf bucket, so counts has bounds_n + 1 entries) and the sum. */
void lvc_histogram_read(const lvc_histogram_t *h, uint64_t *counts, double *sum);

/* The q-quantile (0 <= q <= 1) of a histogram given as per-bucket counts,
 * interpolated linearly inside the bucket it falls in, as PromQL's
 * histogram_quantile() does (the first bucket starts at 0; a quantile in
 * the +Inf bucket is the highest finite bound). NaN when there are no
 * observations. */
double lvc_histogram_quantile(const double *bounds, size_t bounds_n, const uint64_t *counts,
                              double q);

/* Renders every family in registration order, series in creation order, in
 * the text exposition format 0.0.4: "# HELP", "# TYPE", samples with
 * escaped label values; histograms as cumulative _bucket{le=...} lines
 * ending in le="+Inf", then _sum and _count. *out is a NUL-terminated
 * buffer allocated for the caller (free() it); *out_len its length.
 * Returns LVC_OK or LVC_ERR_NOMEM. */
lvc_err_t lvc_metrics_render(lvc_metrics_t *reg, char **out, size_t *out_len);

/* Formats v as the shortest text that reads back as the same double, in
 * the exposition format's float syntax ("NaN", "+Inf", "-Inf", "0.005",
 * "1e-07"). Returns buf. */
char *lvc_metrics_format_double(double v, char *buf, size_t size);

/*
 * The stage's metric set (SPEC §9, issue 8). Names, labels and units:
 *
 *   levcal_ticks_in_total{topic}              counter  input records read, by topic
 *   levcal_events_out_total{type}             counter  type=leverage_limit|liquidation_warning
 *   levcal_dead_letters_total{reason}         counter  reason=decode|invalid|tombstone|other
 *   levcal_ticks_late_total                   counter  ticks older than the instrument's newest
 *   levcal_transactions_committed_total       counter
 *   levcal_transactions_aborted_total         counter
 *   levcal_consumer_lag{topic,partition}      gauge    records: end offset - position
 *   levcal_processing_latency_seconds         histogram tick event time (ts_us) -> produce
 *   levcal_arrival_latency_seconds            histogram record arrival (poll) -> produce
 *   levcal_instruments                        gauge    instruments tracked
 *   levcal_positions                          gauge    open positions tracked
 *   levcal_broker_rtt_seconds{broker}         gauge    librdkafka rtt avg over the last
 *                                                      statistics interval (producer's)
 *   levcal_broker_rtt_p99_seconds{broker}     gauge    the same window's 99th percentile
 *   levcal_up                                 gauge    1 while the process runs
 *   levcal_ready                              gauge    1 when /readyz says ready
 *   levcal_build_info{version}                gauge    always 1
 */

/* Input topics, in the order of the ticks_in series. */
typedef enum lvc_sm_input_e {
	LVC_SM_IN_TRADES,
	LVC_SM_IN_PRICES,
	LVC_SM_IN_POSITIONS,
	LVC_SM_IN_BALANCES,
	LVC_SM_IN__COUNT
} lvc_sm_input_t;

/* Output event types: label values "leverage_limit", "liquidation_warning". */
typedef enum lvc_sm_output_e {
	LVC_SM_OUT_LIMIT,
	LVC_SM_OUT_WARNING,
	LVC_SM_OUT__COUNT
} lvc_sm_output_t;

/* Dead-letter reasons: label values "decode", "invalid", "tombstone",
 * "other". */
typedef enum lvc_dl_reason_e {
	LVC_DL_DECODE,    /* bytes are not a valid record (LVC_ERR_DECODE) */
	LVC_DL_INVALID,   /* a value not allowed, e.g. a NaN price (LVC_ERR_INVALID) */
	LVC_DL_TOMBSTONE, /* a null value on a topic that needs one */
	LVC_DL_OTHER,     /* anything else */
	LVC_DL__COUNT
} lvc_dl_reason_t;

/* The label value of a dead-letter reason ("decode", ...). */
const char *lvc_dl_reason_name(lvc_dl_reason_t r);

/* The reason for a decode/core error code: LVC_ERR_DECODE -> decode,
 * LVC_ERR_INVALID -> invalid, anything else -> other. */
lvc_dl_reason_t lvc_dl_reason_of(lvc_err_t err);

/* Default bounds of the latency histograms, in seconds. */
extern const double lvc_latency_bounds_s[];
extern const size_t lvc_latency_bounds_n;

typedef struct lvc_stage_metrics_s {
	lvc_metrics_t *reg; /* owned; served by io/http */

	lvc_counter_t *ticks_in[LVC_SM_IN__COUNT];
	lvc_counter_t *events_out[LVC_SM_OUT__COUNT];
	lvc_counter_t *dead_letters[LVC_DL__COUNT];
	lvc_counter_t *ticks_late;
	lvc_counter_t *txn_committed;
	lvc_counter_t *txn_aborted;
	lvc_histogram_t *processing_latency;
	lvc_histogram_t *arrival_latency;
	lvc_gauge_t *instruments;
	lvc_gauge_t *positions;
	lvc_gauge_t *up;
	lvc_gauge_t *ready;

	lvc_family_t *consumer_lag;   /* {topic, partition}: see lvc_stage_metrics_set_lag() */
	lvc_family_t *broker_rtt;     /* {broker}: see io/kafka_stats.h */
	lvc_family_t *broker_rtt_p99; /* {broker} */
	lvc_family_t *dead_letter_family;
} lvc_stage_metrics_t;

/*
 * Creates a registry with the whole stage metric set, ticks_in labelled
 * with cfg's topic names and build_info with version; levcal_up is 1.
 * Returns a struct owned by the caller (lvc_stage_metrics_destroy), or NULL
 * with errstr.
 *
 * What the stage calls, and where:
 *   - per input record read:      lvc_counter_inc(sm->ticks_in[LVC_SM_IN_TRADES]) (...)
 *   - per event produced:         lvc_counter_inc(sm->events_out[LVC_SM_OUT_LIMIT]) (...)
 *   - per dead letter:            lvc_counter_inc(sm->dead_letters[lvc_dl_reason_of(err)])
 *   - per late tick:              lvc_counter_add(sm->ticks_late, n) (from the engine's
 *                                 ticks_late counter, as the difference since last time)
 *   - per transaction:            lvc_counter_inc(sm->txn_committed / txn_aborted)
 *   - per event produced:         lvc_histogram_observe(sm->processing_latency,
 *                                 (now_wall_us - tick ts_us) / 1e6) and
 *                                 lvc_histogram_observe(sm->arrival_latency,
 *                                 (now_mono_us - poll_mono_us) / 1e6)
 *   - every loop or so:           lvc_gauge_set(sm->instruments / positions, n)
 *   - on each statistics JSON:    lvc_kafka_stats_apply() (io/kafka_stats.h): broker rtt
 *                                 and, for the consumer, lag per partition
 *   - or from its own positions:  lvc_stage_metrics_set_lag(sm, topic, p, lvc_consumer_lag(...))
 *   - on revoke:                  lvc_stage_metrics_forget_lag(sm, topic, p)
 *   - every N seconds:            lvc_stage_summary() into the log
 * and for /healthz and /readyz the functions of io/http.h.
 */
lvc_stage_metrics_t *lvc_stage_metrics_new(const lvc_config_t *cfg, const char *version,
                                           char *errstr, size_t errstr_size);

/* Frees sm and its registry; accepts NULL. Stop the HTTP server first. */
void lvc_stage_metrics_destroy(lvc_stage_metrics_t *sm);

/* Sets levcal_consumer_lag{topic, partition} to lag records; a negative
 * lag (unknown, see lvc_consumer_lag()) leaves the series as it is. Takes
 * the registry mutex (a lookup): call it per statistics interval or per
 * second, not per record. Returns LVC_OK, or LVC_ERR_RANGE when the family
 * is full (1024 partitions). */
lvc_err_t lvc_stage_metrics_set_lag(lvc_stage_metrics_t *sm, const char *topic, int32_t partition,
                                    int64_t lag);

/* Hides the lag series of a revoked partition. */
void lvc_stage_metrics_forget_lag(lvc_stage_metrics_t *sm, const char *topic, int32_t partition);

/* State of the periodic summary between two calls (zero it once). */
typedef struct lvc_summary_s {
	int64_t prev_us; /* monotonic time of the previous call; 0 before the first */
	uint64_t prev_in;
	uint64_t prev_buckets[LVC_METRIC_MAX_BUCKETS + 1];
} lvc_summary_t;

/* Formats the one-line log summary, e.g.
 *   "in trades=1200 prices=400 positions=0 balances=0 (160/s) out limits=3
 *    warnings=1 dead_letters=0 late=2 lag=12 p99=4.2ms txn=10/0"
 * (one line): totals since start, the input rate and the processing
 * latency p99 over the interval since the previous call ("p99=-" when
 * nothing was produced), txn committed/aborted. now_us is a monotonic
 * time in microseconds. Updates *st. */
void lvc_stage_summary(const lvc_stage_metrics_t *sm, lvc_summary_t *st, int64_t now_us, char *buf,
                       size_t size);

#endif
