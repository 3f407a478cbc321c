/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operations endpoint on metrics.listen (libmicrohttpd, one internal
 * thread): GET /metrics (Prometheus text format 0.0.4 from a registry of
 * io/metrics.h), GET /healthz (liveness: the main loop's heartbeat) and
 * GET /readyz (readiness: assignment received and state restored).
 *
 *   /healthz  200 "ok" while the heartbeat is at most max_age old, else 503
 *             "unhealthy: main loop heartbeat is 42.0 s old (limit 30 s)".
 *   /readyz   200 "ready" after lvc_health_set_ready(h, 1), 503 "not ready"
 *             before and after lvc_health_set_ready(h, 0).
 *   other     404; methods other than GET and HEAD get 405.
 *
 * What the stage calls:
 *   lvc_health_init(&h, LVC_HEALTH_MAX_AGE_DEFAULT_US, sm->ready) once;
 *   srv = lvc_http_start(cfg->metrics.listen, sm->reg, &h, ...) (skip when
 *   metrics.listen is NULL or "");
 *   lvc_health_beat(&h) at the top of every main-loop iteration, and inside
 *   any wait that can last longer than a few seconds (flushes, transaction
 *   commits), so that a slow broker is not taken for a hung process;
 *   lvc_health_set_ready(&h, 1) once the consumer has its assignment and
 *   every assigned partition's state is restored, (&h, 0) when a rebalance
 *   revokes partitions, until the new assignment is restored;
 *   lvc_http_stop(srv) before lvc_stage_metrics_destroy().
 *
 * Thread rules: lvc_health_* may be called from any thread (atomics only);
 * the request handlers run on the server's thread and only read.
 */
#ifndef LVC_IO_HTTP_H
#define LVC_IO_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/metrics.h"

/* A heartbeat older than this makes /healthz fail (30 s: longer than any
 * normal wait of the loop; the liveness probe's failureThreshold adds
 * more). */
#define LVC_HEALTH_MAX_AGE_DEFAULT_US INT64_C(30000000)

typedef struct lvc_health_s {
	_Atomic int64_t heartbeat_us; /* monotonic clock, lvc_health_now_us() */
	atomic_int ready;
	int64_t max_age_us;
	lvc_gauge_t *ready_gauge; /* levcal_ready, mirrored; may be NULL */
} lvc_health_t;

/* The monotonic clock the heartbeat uses, in microseconds. */
int64_t lvc_health_now_us(void);

/* Initialises h: heartbeat now, not ready, heartbeats older than
 * max_age_us fail /healthz (<= 0: the default). ready_gauge (may be NULL)
 * is set to 0 or 1 with every readiness change. */
void lvc_health_init(lvc_health_t *h, int64_t max_age_us, lvc_gauge_t *ready_gauge);

/* Records a heartbeat now. */
void lvc_health_beat(lvc_health_t *h);

/* Records a heartbeat at mono_us (tests drive the age this way). */
void lvc_health_beat_at(lvc_health_t *h, int64_t mono_us);

/* Marks the stage ready (1) or not (0). */
void lvc_health_set_ready(lvc_health_t *h, int ready);

/* The age of the last heartbeat at mono_us, and whether it is within the
 * limit (1) or not (0). */
int lvc_health_alive(const lvc_health_t *h, int64_t mono_us, int64_t *age_us);

typedef struct lvc_http_s lvc_http_t;

/* Listens on listen ("host:port", "[v6addr]:port" or ":port" for every
 * address; port 0 picks a free port, see lvc_http_port) and serves reg and
 * h from an internal thread. reg and h are borrowed and must outlive the
 * server. Returns the server, owned by the caller, or NULL with e.g.
 * "metrics.listen 127.0.0.1:9464: address already in use" in errstr. */
lvc_http_t *lvc_http_start(const char *listen, lvc_metrics_t *reg, lvc_health_t *h, char *errstr,
                           size_t errstr_size);

/* The TCP port the server is bound to. */
int lvc_http_port(const lvc_http_t *srv);

/* Stops the server: waits for its thread, closes the listening socket (the
 * port is free again when this returns) and frees srv; accepts NULL. */
void lvc_http_stop(lvc_http_t *srv);

#endif
