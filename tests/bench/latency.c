/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Latency probe of tests/bench/latency.py: the produce-to-event latency of
 * `levcal run`, from record timestamps, for every event the stage published
 * while the probe ran.
 *
 * It reads the output topics (leverage limits and liquidation warnings)
 * from their end offsets at start, read_committed, and keeps per event:
 * the input record it came from (the levcal-source header
 * topic:partition:offset), the output record's timestamp (LogAppendTime
 * when the topic is created so: the moment the broker appended the event),
 * the wall clock when the probe received it, and the event's ts_us (the
 * tick's event time; `levcal gen` stamps it with its wall clock just
 * before producing). When it stops (SIGINT/SIGTERM, --seconds, or
 * --idle-exit after the last event) it reads the input partitions over the
 * offsets the events name and takes each source record's CreateTime (set
 * by the producer when the record was produced). Then:
 *
 *   append_ms   output LogAppendTime - input CreateTime: produced tick to
 *               event in the log (both broker-visible timestamps, 1 ms
 *               resolution);
 *   visible_us  probe receive time - event ts_us: produced tick to event
 *               seen by a consumer (µs resolution; includes the probe's
 *               own fetch, and for exactly_once the wait for the commit).
 *
 *   bus_visible_ms  with --bus-every N: probe receive time - ts_us of every
 *               N-th input record, read by the same consumer: the bus's
 *               own produce-to-consume latency in the same run, the
 *               baseline of visible_ms (a stage cannot beat it);
 *
 * and prints one JSON line: counts, p50, p90, p99, p99.9 and max of each,
 * and the median of CreateTime - ts_us (how well the two clocks agree).
 * Events caused by the wall clock (STALE, source "wallclock:...") carry no
 * input record and are counted apart.
 *
 * The consumer takes the config's kafka section (bootstrap, and the same
 * low-latency fetch settings as the stage under test) and no group.
 *
 *   latency -c levcal.yaml [--seconds S] [--idle-exit S] [--samples FILE]
 *           [--bus-every N] [--since-us T]
 *
 * --since-us: events (and input records) with an event time before T
 * (µs since the epoch) are warm-up and not counted.
 * Prints "ready" on stderr once positioned at the end of the outputs.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "io/codec.h"
#include "io/config.h"

#define MAX_INPUTS 2
#define MAX_PARTS  1024

typedef struct sample_s {
	int32_t in_topic; /* index into inputs, -1: no input record (wallclock) */
	int32_t in_part;
	int64_t in_off;
	int64_t out_ts_ms; /* the output record's timestamp */
	int64_t recv_us;   /* probe's wall clock at receipt */
	int64_t event_us;  /* the event's ts_us */
	int64_t in_ts_ms;  /* the source record's CreateTime, -1 until found */
} sample_t;

typedef struct probe_s {
	lvc_config_t *cfg;
	lvc_codec_t *codec;
	const char *inputs[MAX_INPUTS];
	sample_t *s;
	size_t n, cap;
	size_t wallclock, undecodable, not_log_append;
	/* The bus baseline: receive time - ts_us of every bus_every-th input
	 * record, read by this same consumer. */
	int64_t *bus;
	size_t bus_n, bus_cap, bus_seen;
	long bus_every;
	int64_t since_us;
} probe_t;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static rd_kafka_t *consumer_new(const lvc_config_t *cfg)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char why[512];

	for (size_t i = 0; i < cfg->kafka_n; i++) {
		/* A group.id of the stage's is harmless: no subscribe, no commit. */
		if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, why,
		                      sizeof(why)) == RD_KAFKA_CONF_INVALID) {
			fprintf(stderr, "latency: kafka.%s: %s\n", cfg->kafka[i].key, why);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (rd_kafka_conf_set(conf, "isolation.level", "read_committed", why, sizeof(why)) !=
	        RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", why, sizeof(why)) !=
	        RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", "levcal-bench-latency", why, sizeof(why)) !=
	        RD_KAFKA_CONF_OK) {
		fprintf(stderr, "latency: %s\n", why);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL) {
		fprintf(stderr, "latency: consumer: %s\n", why);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Assigns every partition of topics[0..n) at its end offset. */
static int assign_all(rd_kafka_t *rk, const char *const *topics, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
	int rc = -1;

	for (size_t t = 0; t < n; t++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
		const struct rd_kafka_metadata *md = NULL;

		if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "latency: no metadata for topic %s\n", topics[t]);
			if (md != NULL) {
				rd_kafka_metadata_destroy(md);
			}
			rd_kafka_topic_destroy(rkt);
			goto out;
		}
		for (int p = 0; p < md->topics[0].partition_cnt; p++) {
			int64_t lo, hi;

			if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, 10000) !=
			    RD_KAFKA_RESP_ERR_NO_ERROR) {
				fprintf(stderr, "latency: end offset of %s [%d] unknown\n",
				        topics[t], p);
				rd_kafka_metadata_destroy(md);
				rd_kafka_topic_destroy(rkt);
				goto out;
			}
			rd_kafka_topic_partition_list_add(l, topics[t], p)->offset = hi;
		}
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
	}
	if (rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "latency: assign failed\n");
		goto out;
	}
	rc = 0;
out:
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Parses "topic:partition:offset" (topic names cannot hold ':'). */
static int parse_source(probe_t *pr, const char *v, size_t len, sample_t *s)
{
	char buf[512], *a, *b;

	if (len >= sizeof(buf)) {
		return -1;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
	if ((b = strrchr(buf, ':')) == NULL) {
		return -1;
	}
	*b++ = '\0';
	if ((a = strrchr(buf, ':')) == NULL) {
		return -1;
	}
	*a++ = '\0';
	s->in_topic = -1;
	for (int i = 0; i < MAX_INPUTS; i++) {
		if (pr->inputs[i] != NULL && strcmp(buf, pr->inputs[i]) == 0) {
			s->in_topic = i;
		}
	}
	s->in_part = (int32_t)strtol(a, NULL, 10);
	s->in_off = strtoll(b, NULL, 10);
	return s->in_topic >= 0 && s->in_part >= 0 && s->in_part < MAX_PARTS ? 0 : 1;
}

/* An input record seen by the probe: the bus's own produce-to-consume
 * latency, the baseline the stage's figures compare with. */
static int add_bus(probe_t *pr, const rd_kafka_message_t *m, int64_t recv_us)
{
	int64_t ts_us;
	lvc_rec_type_t type =
	    strcmp(rd_kafka_topic_name(m->rkt), pr->inputs[0]) == 0 ? LVC_REC_TRADE : LVC_REC_PRICE;

	if (pr->bus_every <= 0 || pr->bus_seen++ % (size_t)pr->bus_every != 0) {
		return 0;
	}
	if (m->payload == NULL ||
	    lvc_codec_peek_ts(pr->codec, type, m->payload, m->len, &ts_us) != LVC_OK ||
	    ts_us < pr->since_us) {
		return 0;
	}
	if (pr->bus_n == pr->bus_cap) {
		size_t cap = pr->bus_cap == 0 ? 65536 : pr->bus_cap * 2;
		int64_t *nb = realloc(pr->bus, cap * sizeof(*nb));

		if (nb == NULL) {
			return -1;
		}
		pr->bus = nb;
		pr->bus_cap = cap;
	}
	pr->bus[pr->bus_n++] = recv_us - ts_us;
	return 0;
}

static int add_sample(probe_t *pr, const rd_kafka_message_t *m, int64_t recv_us)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *hv = NULL;
	size_t hlen = 0;
	rd_kafka_timestamp_type_t tstype;
	sample_t s = { 0 };
	char why[256];
	int pr_rc;

	if (pr->inputs[0] != NULL && (strcmp(rd_kafka_topic_name(m->rkt), pr->inputs[0]) == 0 ||
	                              strcmp(rd_kafka_topic_name(m->rkt), pr->inputs[1]) == 0)) {
		return add_bus(pr, m, recv_us);
	}
	s.recv_us = recv_us;
	s.in_ts_ms = -1;
	s.out_ts_ms = rd_kafka_message_timestamp(m, &tstype);
	if (tstype != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME) {
		pr->not_log_append++;
	}
	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(hdrs, "levcal-source", &hv, &hlen) !=
	        RD_KAFKA_RESP_ERR_NO_ERROR) {
		pr->undecodable++;
		return 0;
	}
	pr_rc = parse_source(pr, hv, hlen, &s);
	if (pr_rc < 0) {
		pr->undecodable++;
		return 0;
	}
	if (pr_rc > 0) {
		pr->wallclock++;
		return 0;
	}
	if (strcmp(rd_kafka_topic_name(m->rkt), pr->cfg->topics.leverage_limits) == 0) {
		lvc_limit_t lim;

		if (lvc_codec_decode_limit(pr->codec, m->payload, m->len, &lim, why, sizeof(why)) !=
		    LVC_OK) {
			pr->undecodable++;
			return 0;
		}
		s.event_us = lim.ts_us;
	} else {
		lvc_warning_t w;

		if (lvc_codec_decode_warning(pr->codec, m->payload, m->len, &w, why, sizeof(why)) !=
		    LVC_OK) {
			pr->undecodable++;
			return 0;
		}
		s.event_us = w.ts_us;
	}
	if (s.event_us < pr->since_us) {
		return 0; /* warm-up */
	}
	if (pr->n == pr->cap) {
		size_t cap = pr->cap == 0 ? 65536 : pr->cap * 2;
		sample_t *ns = realloc(pr->s, cap * sizeof(*ns));

		if (ns == NULL) {
			return -1;
		}
		pr->s = ns;
		pr->cap = cap;
	}
	pr->s[pr->n++] = s;
	return 0;
}

static int by_source(const void *a, const void *b)
{
	const sample_t *x = a, *y = b;

	if (x->in_topic != y->in_topic) {
		return x->in_topic < y->in_topic ? -1 : 1;
	}
	if (x->in_part != y->in_part) {
		return x->in_part < y->in_part ? -1 : 1;
	}
	return x->in_off < y->in_off ? -1 : x->in_off > y->in_off;
}

/* Fills in_ts_ms of samples[lo..hi) (one input partition, sorted by
 * offset) from the input records' CreateTime. */
static int fill_partition(probe_t *pr, rd_kafka_t *rk, sample_t *s, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t want_last = s[n - 1].in_off;
	size_t i = 0;
	double deadline = mono_s() + 120;
	int rc = -1;

	rd_kafka_topic_partition_list_add(l, pr->inputs[s[0].in_topic], s[0].in_part)->offset =
	    s[0].in_off;
	if (rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		goto out;
	}
	while (i < n && mono_s() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);

		if (m == NULL) {
			continue;
		}
		/* A record of the previous assignment may still be queued. */
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition == s[0].in_part &&
		    strcmp(rd_kafka_topic_name(m->rkt), pr->inputs[s[0].in_topic]) == 0) {
			while (i < n && s[i].in_off < m->offset) {
				i++; /* not in the log (aborted): stays -1 */
			}
			while (i < n && s[i].in_off == m->offset) {
				s[i++].in_ts_ms = rd_kafka_message_timestamp(m, NULL);
			}
			if (m->offset >= want_last) {
				i = n;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rc = 0;
out:
	rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints "name": {count, p50, p90, p99, p999, max} of v[0..n) (sorted
 * here), in the unit given. */
static void print_dist(const char *name, int64_t *v, size_t n, const char *unit, double scale,
                       int last)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	static const char *const qn[] = { "p50", "p90", "p99", "p999" };

	qsort(v, n, sizeof(*v), cmp_i64);
	printf("\"%s\": {\"count\": %zu, \"unit\": \"%s\"", name, n, unit);
	for (size_t q = 0; q < 4; q++) {
		/* Nearest rank. */
		size_t r = n == 0 ? 0 : (size_t)(qs[q] * (double)n + 0.999999);

		r = r == 0 ? 1 : r;
		if (n > 0) {
			printf(", \"%s\": %.3f", qn[q], (double)v[r - 1] * scale);
		}
	}
	if (n > 0) {
		printf(", \"max\": %.3f", (double)v[n - 1] * scale);
	}
	printf("}%s", last ? "" : ", ");
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: latency -c levcal.yaml [--seconds S] [--idle-exit S] [--samples FILE] "
	        "[--bus-every N] [--since-us T]\n");
	return 2;
}

int main(int argc, char **argv)
{
	probe_t pr = { 0 };
	const char *path = NULL, *samples_path = NULL;
	double seconds = 0, idle_exit = 0, t0, last_event = 0;
	rd_kafka_t *rk = NULL;
	int64_t *app = NULL, *vis = NULL, *skew = NULL;
	size_t n_app = 0, n_vis = 0, n_skew = 0, missing = 0;
	char why[512];
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			return usage();
		}
		if (strcmp(a, "-c") == 0) {
			path = v;
		} else if (strcmp(a, "--seconds") == 0) {
			seconds = strtod(v, NULL);
		} else if (strcmp(a, "--idle-exit") == 0) {
			idle_exit = strtod(v, NULL);
		} else if (strcmp(a, "--samples") == 0) {
			samples_path = v;
		} else if (strcmp(a, "--bus-every") == 0) {
			pr.bus_every = strtol(v, NULL, 10);
		} else if (strcmp(a, "--since-us") == 0) {
			pr.since_us = strtoll(v, NULL, 10);
		} else {
			return usage();
		}
		i++;
	}
	if (path == NULL) {
		return usage();
	}
	if ((pr.cfg = lvc_config_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "latency: %s\n", why);
		return 2;
	}
	if ((pr.codec = lvc_codec_new(why, sizeof(why))) == NULL) {
		fprintf(stderr, "latency: %s\n", why);
		goto out;
	}
	pr.inputs[0] = pr.cfg->topics.trades;
	pr.inputs[1] = pr.cfg->topics.prices;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((rk = consumer_new(pr.cfg)) == NULL) {
		goto out;
	}
	{
		const char *outs[] = { pr.cfg->topics.leverage_limits,
			               pr.cfg->topics.liquidation_warnings, pr.cfg->topics.trades,
			               pr.cfg->topics.prices };

		if (assign_all(rk, outs, pr.bus_every > 0 ? 4 : 2) != 0) {
			goto out;
		}
	}
	fprintf(stderr, "ready\n");
	t0 = mono_s();
	while (!stop_flag) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int64_t now_us = wall_us();
		double now = mono_s();

		if (m != NULL) {
			if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				if (add_sample(&pr, m, now_us) != 0) {
					fprintf(stderr, "latency: out of memory\n");
					rd_kafka_message_destroy(m);
					goto out;
				}
				last_event = now;
			}
			rd_kafka_message_destroy(m);
		}
		if (seconds > 0 && now - t0 >= seconds) {
			break;
		}
		if (idle_exit > 0 && last_event > 0 && now - last_event >= idle_exit) {
			break;
		}
	}
	/* The source records' CreateTime, partition by partition. */
	qsort(pr.s, pr.n, sizeof(*pr.s), by_source);
	for (size_t i = 0; i < pr.n;) {
		size_t j = i;

		while (j < pr.n && pr.s[j].in_topic == pr.s[i].in_topic &&
		       pr.s[j].in_part == pr.s[i].in_part) {
			j++;
		}
		if (fill_partition(&pr, rk, pr.s + i, j - i) != 0) {
			fprintf(stderr, "latency: reading input partition %s [%d] failed\n",
			        pr.inputs[pr.s[i].in_topic], (int)pr.s[i].in_part);
			goto out;
		}
		i = j;
	}
	app = malloc((pr.n + 1) * sizeof(*app));
	vis = malloc((pr.n + 1) * sizeof(*vis));
	skew = malloc((pr.n + 1) * sizeof(*skew));
	if (app == NULL || vis == NULL || skew == NULL) {
		fprintf(stderr, "latency: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < pr.n; i++) {
		const sample_t *s = &pr.s[i];

		vis[n_vis++] = s->recv_us - s->event_us;
		if (s->in_ts_ms < 0) {
			missing++;
			continue;
		}
		app[n_app++] = s->out_ts_ms - s->in_ts_ms;
		skew[n_skew++] = s->in_ts_ms * 1000 - s->event_us;
	}
	if (samples_path != NULL) {
		FILE *f = fopen(samples_path, "w");

		if (f == NULL) {
			fprintf(stderr, "latency: cannot write %s\n", samples_path);
			goto out;
		}
		fprintf(f, "in_topic,in_partition,in_offset,in_create_ms,event_ts_us,out_ts_ms,"
		           "recv_us\n");
		for (size_t i = 0; i < pr.n; i++) {
			const sample_t *s = &pr.s[i];

			fprintf(f,
			        "%s,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			        "\n",
			        pr.inputs[s->in_topic], (int)s->in_part, s->in_off, s->in_ts_ms,
			        s->event_us, s->out_ts_ms, s->recv_us);
		}
		fclose(f);
	}
	printf("{\"events\": %zu, \"wallclock_events\": %zu, \"undecodable\": %zu, "
	       "\"not_log_append_time\": %zu, \"source_not_found\": %zu, ",
	       pr.n, pr.wallclock, pr.undecodable, pr.not_log_append, missing);
	print_dist("append_ms", app, n_app, "ms", 1.0, 0);
	print_dist("visible_ms", vis, n_vis, "ms", 1e-3, 0);
	print_dist("bus_visible_ms", pr.bus, pr.bus_n, "ms", 1e-3, 0);
	print_dist("create_minus_event_ms", skew, n_skew, "ms", 1e-3, 1);
	printf("}\n");
	fflush(stdout);
	rc = 0;
out:
	if (rk != NULL) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	free(app);
	free(vis);
	free(skew);
	free(pr.s);
	free(pr.bus);
	lvc_codec_destroy(pr.codec);
	lvc_config_destroy(pr.cfg);
	return rc;
}
