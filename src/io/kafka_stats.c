/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka statistics JSON -> levcal's metrics (io/kafka_stats.h).
 *
 * The document is parsed with jansson once per statistics interval and kept
 * until the next parse, so that the broker and partition entries can point
 * at its strings instead of copying them. Only the members levcal uses are
 * read; their types are checked (a member of the wrong type is an error
 * naming its path), and anything else in the document is ignored, since
 * librdkafka adds members in most releases. rtt window values are integers
 * in microseconds (STATISTICS.md "Window stats") and become seconds here.
 *
 * Load: one parse of a few tens of kilobytes per statistics interval
 * (typically 5-60 s); the arrays grow geometrically and are reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/kafka_stats.h"
#include "core/errfmt.h"
#include "core/grow.h"

lvc_kafka_stats_t *lvc_kafka_stats_new(void)
{
	return calloc(1, sizeof(lvc_kafka_stats_t));
}

void lvc_kafka_stats_destroy(lvc_kafka_stats_t *st)
{
	if (st == NULL) {
		return;
	}
	json_decref(st->json_);
	free(st->brokers);
	free(st->partitions);
	free(st);
}

/* Member key of obj as a string: NULL when absent; -1 with errstr when
 * present with another type. */
static int get_str(const json_t *obj, const char *key, const char *path, const char **out,
                   char *errstr, size_t errstr_size)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_string(v)) {
		LVC_ERRF("kafka statistics: %s.%s: expected a string", path, key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Member key of obj as an integer; dflt when absent. */
static int get_int(const json_t *obj, const char *key, const char *path, int64_t dflt, int64_t *out,
                   char *errstr, size_t errstr_size)
{
	const json_t *v = json_object_get(obj, key);

	*out = dflt;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_integer(v)) {
		LVC_ERRF("kafka statistics: %s.%s: expected an integer", path, key);
		return -1;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* Member key of obj as an object, or NULL when absent. */
static int get_obj(const json_t *obj, const char *key, const char *path, const json_t **out,
                   char *errstr, size_t errstr_size)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL) {
		return 0;
	}
	if (!json_is_object(v)) {
		LVC_ERRF("kafka statistics: %s.%s: expected an object", path, key);
		return -1;
	}
	*out = v;
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	return lvc_grow(arr, cap, need, elem, 8);
}

static lvc_err_t parse_brokers(lvc_kafka_stats_t *st, const json_t *brokers, char *errstr,
                               size_t errstr_size)
{
	const char *key;
	json_t *b;

	if (grow((void **)&st->brokers, &st->brokers_cap_, json_object_size(brokers),
	         sizeof(*st->brokers)) != 0) {
		LVC_ERRF("kafka statistics: out of memory");
		return LVC_ERR_NOMEM;
	}
	json_object_foreach((json_t *)brokers, key, b)
	{
		lvc_broker_rtt_t *r = &st->brokers[st->brokers_n];
		const char *source;
		const json_t *rtt;
		int64_t nodeid, v;
		char path[320];

		snprintf(path, sizeof(path), "brokers[\"%.256s\"]", key);
		if (!json_is_object(b)) {
			LVC_ERRF("kafka statistics: %s: expected an object", path);
			return LVC_ERR_DECODE;
		}
		memset(r, 0, sizeof(*r));
		if (get_str(b, "source", path, &source, errstr, errstr_size) != 0 ||
		    get_str(b, "name", path, &r->name, errstr, errstr_size) != 0 ||
		    get_str(b, "state", path, &r->state, errstr, errstr_size) != 0 ||
		    get_int(b, "nodeid", path, -1, &nodeid, errstr, errstr_size) != 0 ||
		    get_obj(b, "rtt", path, &rtt, errstr, errstr_size) != 0) {
			return LVC_ERR_DECODE;
		}
		/* The coordinator entries are aliases of a real broker, and the
		 * internal broker has no network round trips. */
		if ((source != NULL &&
		     (strcmp(source, "logical") == 0 || strcmp(source, "internal") == 0)) ||
		    nodeid < 0) {
			continue;
		}
		if (r->name == NULL) {
			r->name = key;
		}
		if (r->state == NULL) {
			r->state = "";
		}
		r->nodeid = (int32_t)nodeid;
		if (rtt != NULL) {
			char rpath[330];

			snprintf(rpath, sizeof(rpath), "%s.rtt", path);
			if (get_int(rtt, "cnt", rpath, 0, &r->samples, errstr, errstr_size) != 0 ||
			    get_int(rtt, "avg", rpath, 0, &v, errstr, errstr_size) != 0) {
				return LVC_ERR_DECODE;
			}
			r->avg_s = (double)v / 1e6;
			if (get_int(rtt, "p99", rpath, 0, &v, errstr, errstr_size) != 0) {
				return LVC_ERR_DECODE;
			}
			r->p99_s = (double)v / 1e6;
		}
		st->brokers_n++;
	}
	return LVC_OK;
}

static lvc_err_t parse_partition(lvc_partition_stats_t *p, const char *topic, const json_t *o,
                                 const char *path, char *errstr, size_t errstr_size)
{
	int64_t part;

	memset(p, 0, sizeof(*p));
	p->topic = topic;
	if (get_int(o, "partition", path, -1, &part, errstr, errstr_size) != 0 ||
	    get_str(o, "fetch_state", path, &p->fetch_state, errstr, errstr_size) != 0 ||
	    get_int(o, "app_offset", path, LVC_OFFSET_INVALID, &p->app_offset, errstr,
	            errstr_size) != 0 ||
	    get_int(o, "committed_offset", path, LVC_OFFSET_INVALID, &p->committed_offset, errstr,
	            errstr_size) != 0 ||
	    get_int(o, "lo_offset", path, LVC_OFFSET_INVALID, &p->lo_offset, errstr, errstr_size) !=
	        0 ||
	    get_int(o, "hi_offset", path, LVC_OFFSET_INVALID, &p->hi_offset, errstr, errstr_size) !=
	        0 ||
	    get_int(o, "consumer_lag", path, -1, &p->consumer_lag, errstr, errstr_size) != 0) {
		return LVC_ERR_DECODE;
	}
	/* Brokers before 0.11 have no last stable offset; librdkafka then
	 * reports the high watermark for it, and so do we when it is absent. */
	if (get_int(o, "ls_offset", path, p->hi_offset, &p->ls_offset, errstr, errstr_size) != 0) {
		return LVC_ERR_DECODE;
	}
	if (p->fetch_state == NULL) {
		p->fetch_state = "";
	}
	p->partition = (int32_t)part;
	return LVC_OK;
}

static lvc_err_t parse_topics(lvc_kafka_stats_t *st, const json_t *topics, char *errstr,
                              size_t errstr_size)
{
	const char *tkey;
	json_t *t;

	json_object_foreach((json_t *)topics, tkey, t)
	{
		const json_t *parts;
		const char *topic, *pkey;
		json_t *po;
		char path[320];

		snprintf(path, sizeof(path), "topics[\"%.256s\"]", tkey);
		if (!json_is_object(t)) {
			LVC_ERRF("kafka statistics: %s: expected an object", path);
			return LVC_ERR_DECODE;
		}
		if (get_str(t, "topic", path, &topic, errstr, errstr_size) != 0 ||
		    get_obj(t, "partitions", path, &parts, errstr, errstr_size) != 0) {
			return LVC_ERR_DECODE;
		}
		if (topic == NULL) {
			topic = tkey;
		}
		if (parts == NULL) {
			continue;
		}
		if (grow((void **)&st->partitions, &st->partitions_cap_,
		         st->partitions_n + json_object_size(parts),
		         sizeof(*st->partitions)) != 0) {
			LVC_ERRF("kafka statistics: out of memory");
			return LVC_ERR_NOMEM;
		}
		json_object_foreach((json_t *)parts, pkey, po)
		{
			lvc_partition_stats_t *p = &st->partitions[st->partitions_n];
			char ppath[400];
			lvc_err_t err;

			snprintf(ppath, sizeof(ppath), "%s.partitions[\"%.32s\"]", path, pkey);
			if (!json_is_object(po)) {
				LVC_ERRF("kafka statistics: %s: expected an object", ppath);
				return LVC_ERR_DECODE;
			}
			if ((err = parse_partition(p, topic, po, ppath, errstr, errstr_size)) !=
			    LVC_OK) {
				return err;
			}
			/* -1 is librdkafka's UnAssigned partition of the producer. */
			if (p->partition >= 0) {
				st->partitions_n++;
			}
		}
	}
	return LVC_OK;
}

lvc_err_t lvc_kafka_stats_parse(lvc_kafka_stats_t *st, const char *json, size_t len, char *errstr,
                                size_t errstr_size)
{
	json_error_t jerr;
	json_t *doc;
	const json_t *brokers, *topics;
	lvc_err_t err = LVC_ERR_DECODE;

	json_decref(st->json_);
	st->json_ = NULL;
	st->name = st->type = NULL;
	st->brokers_n = st->partitions_n = 0;
	if ((doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		LVC_ERRF("kafka statistics: line %d column %d: %s", jerr.line, jerr.column,
		         jerr.text);
		return LVC_ERR_DECODE;
	}
	st->json_ = doc;
	if (!json_is_object(doc)) {
		LVC_ERRF("kafka statistics: expected an object at the top level");
		goto fail;
	}
	if (get_str(doc, "name", "$", &st->name, errstr, errstr_size) != 0 ||
	    get_str(doc, "type", "$", &st->type, errstr, errstr_size) != 0 ||
	    get_obj(doc, "brokers", "$", &brokers, errstr, errstr_size) != 0 ||
	    get_obj(doc, "topics", "$", &topics, errstr, errstr_size) != 0) {
		goto fail;
	}
	if (st->name == NULL) {
		st->name = "";
	}
	if (st->type == NULL) {
		st->type = "";
	}
	if (brokers != NULL && (err = parse_brokers(st, brokers, errstr, errstr_size)) != LVC_OK) {
		goto fail;
	}
	if (topics != NULL && (err = parse_topics(st, topics, errstr, errstr_size)) != LVC_OK) {
		goto fail;
	}
	return LVC_OK;
fail:
	st->brokers_n = st->partitions_n = 0;
	st->name = st->type = NULL;
	json_decref(st->json_);
	st->json_ = NULL;
	return err == LVC_OK ? LVC_ERR_DECODE : err;
}

int64_t lvc_consumer_lag(int64_t position, int64_t end_offset)
{
	if (position < 0 || end_offset < 0) {
		return -1;
	}
	return end_offset > position ? end_offset - position : 0;
}

int64_t lvc_partition_lag(const lvc_partition_stats_t *p, int read_committed)
{
	return lvc_consumer_lag(p->app_offset, read_committed ? p->ls_offset : p->hi_offset);
}

void lvc_kafka_stats_apply(const lvc_kafka_stats_t *st, lvc_stage_metrics_t *sm, int read_committed)
{
	const char *type = st->type != NULL ? st->type : "";

	if (strcmp(type, "producer") == 0) {
		for (size_t i = 0; i < st->brokers_n; i++) {
			const lvc_broker_rtt_t *b = &st->brokers[i];
			const char *v[1] = { b->name };
			lvc_gauge_t *g;

			if (b->samples <= 0) {
				continue;
			}
			if ((g = lvc_family_gauge(sm->broker_rtt, v)) != NULL) {
				lvc_gauge_set(g, b->avg_s);
			}
			if ((g = lvc_family_gauge(sm->broker_rtt_p99, v)) != NULL) {
				lvc_gauge_set(g, b->p99_s);
			}
		}
	} else if (strcmp(type, "consumer") == 0) {
		for (size_t i = 0; i < st->partitions_n; i++) {
			const lvc_partition_stats_t *p = &st->partitions[i];

			if (strcmp(p->fetch_state, "active") == 0) {
				(void)lvc_stage_metrics_set_lag(
				    sm, p->topic, p->partition,
				    lvc_partition_lag(p, read_committed));
			}
		}
	}
}
