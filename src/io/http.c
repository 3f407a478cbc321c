/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operations HTTP endpoint (io/http.h) on libmicrohttpd.
 *
 * levcal opens the listening socket itself (getaddrinfo, bind, listen) and
 * hands it to libmicrohttpd with MHD_OPTION_LISTEN_SOCKET: so that a port
 * in use is reported with its errno as "address already in use" rather
 * than libmicrohttpd's generic failure, and so that the bound port of
 * "host:0" can be read back with getsockname(). libmicrohttpd closes the
 * socket in MHD_stop_daemon().
 *
 * Handlers run on libmicrohttpd's one internal thread and only read: the
 * registry under its mutex (io/metrics.c), the health atomics. A scrape
 * allocates the rendered text and hands it to libmicrohttpd, which frees
 * it. Load: a scrape every few seconds and probes every few seconds; a
 * small connection limit and timeout keep a misbehaving client from
 * holding resources.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <microhttpd.h>

#include "io/http.h"
#include "io/log.h"
#include "core/errfmt.h"

#define CONNECTION_LIMIT     32
#define CONNECTION_TIMEOUT_S 10

struct lvc_http_s {
	struct MHD_Daemon *mhd;
	lvc_metrics_t *reg;
	lvc_health_t *health;
	int port;
};

/* ---- health ------------------------------------------------------------ */

int64_t lvc_health_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void lvc_health_init(lvc_health_t *h, int64_t max_age_us, lvc_gauge_t *ready_gauge)
{
	atomic_store(&h->heartbeat_us, lvc_health_now_us());
	atomic_store(&h->ready, 0);
	h->max_age_us = max_age_us > 0 ? max_age_us : LVC_HEALTH_MAX_AGE_DEFAULT_US;
	h->ready_gauge = ready_gauge;
	if (ready_gauge != NULL) {
		lvc_gauge_set(ready_gauge, 0);
	}
}

void lvc_health_beat(lvc_health_t *h)
{
	atomic_store_explicit(&h->heartbeat_us, lvc_health_now_us(), memory_order_relaxed);
}

void lvc_health_beat_at(lvc_health_t *h, int64_t mono_us)
{
	atomic_store_explicit(&h->heartbeat_us, mono_us, memory_order_relaxed);
}

void lvc_health_set_ready(lvc_health_t *h, int ready)
{
	atomic_store(&h->ready, ready != 0);
	if (h->ready_gauge != NULL) {
		lvc_gauge_set(h->ready_gauge, ready != 0 ? 1 : 0);
	}
}

int lvc_health_alive(const lvc_health_t *h, int64_t mono_us, int64_t *age_us)
{
	int64_t age = mono_us - atomic_load_explicit(&h->heartbeat_us, memory_order_relaxed);

	if (age < 0) {
		age = 0;
	}
	if (age_us != NULL) {
		*age_us = age;
	}
	return age <= h->max_age_us;
}

/* ---- requests ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode, const char *content_type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE) {
			free(body);
		}
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *text)
{
	return reply(conn, status, (char *)text, strlen(text), MHD_RESPMEM_MUST_COPY,
	             "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	lvc_http_t *srv = cls;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	}
	/* A GET with a body is answered without reading it. */
	*upload_data_size = 0;
	if (strcmp(url, "/metrics") == 0) {
		char *text;
		size_t len;

		if (lvc_metrics_render(srv->reg, &text, &len) != LVC_OK) {
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			                  "rendering the metrics failed: out of memory\n");
		}
		return reply(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE,
		             "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/healthz") == 0) {
		int64_t age;
		char msg[160];

		if (lvc_health_alive(srv->health, lvc_health_now_us(), &age)) {
			return reply_text(conn, MHD_HTTP_OK, "ok\n");
		}
		snprintf(msg, sizeof(msg),
		         "unhealthy: main loop heartbeat is %.1f s old (limit %.0f s)\n",
		         (double)age / 1e6, (double)srv->health->max_age_us / 1e6);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	if (strcmp(url, "/readyz") == 0) {
		if (atomic_load(&srv->health->ready)) {
			return reply_text(conn, MHD_HTTP_OK, "ready\n");
		}
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "not ready: waiting for the partition assignment and state "
		                  "restore\n");
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz, /readyz\n");
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* libmicrohttpd's messages end in a newline; ours do not. */
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n') {
		line[--n] = '\0';
	}
	lvc_warn("metrics http: %s", line);
}

/* ---- listening ----------------------------------------------------------- */

/* Splits "host:port", "[v6]:port" or ":port" into host (NULL: every
 * address) and port. 0 or -1. */
static int split_listen(const char *addr, char *host, size_t host_size, char *port,
                        size_t port_size)
{
	const char *colon;
	size_t hn;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (end == NULL || end[1] != ':') {
			return -1;
		}
		hn = (size_t)(end - addr - 1);
		if (hn == 0 || hn >= host_size) {
			return -1;
		}
		memcpy(host, addr + 1, hn);
		host[hn] = '\0';
		colon = end + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL) {
			return -1;
		}
		hn = (size_t)(colon - addr);
		if (hn >= host_size || memchr(addr, ':', hn) != NULL) {
			return -1;
		}
		memcpy(host, addr, hn);
		host[hn] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= port_size) {
		return -1;
	}
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return -1;
		}
	}
	if (strtol(colon + 1, NULL, 10) > 65535) {
		return -1;
	}
	strcpy(port, colon + 1);
	return 0;
}

static int open_listener(const char *addr, int *port_out, char *errstr, size_t errstr_size)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[8];
	int fd = -1, one = 1, rc;

	if (split_listen(addr, host, sizeof(host), port, sizeof(port)) != 0) {
		LVC_ERRF(
		    "metrics.listen %s: not an address; allowed: HOST:PORT, [IPV6]:PORT or :PORT "
		    "with PORT 0 to 65535",
		    addr);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &ai)) != 0) {
		LVC_ERRF("metrics.listen %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
		LVC_ERRF("metrics.listen %s: socket: %s", addr, strerror(errno));
		goto fail;
	}
	/* Lets a restarted process bind while old connections linger in
	 * TIME_WAIT; a port with a live listener still fails (EADDRINUSE). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		int e = errno;

		LVC_ERRF("metrics.listen %s: %s", addr,
		         e == EADDRINUSE ? "address already in use" : strerror(e));
		goto fail;
	}
	if (listen(fd, 64) != 0) {
		LVC_ERRF("metrics.listen %s: listen: %s", addr, strerror(errno));
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		LVC_ERRF("metrics.listen %s: getsockname: %s", addr, strerror(errno));
		goto fail;
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd >= 0) {
		close(fd);
	}
	freeaddrinfo(ai);
	return -1;
}

lvc_http_t *lvc_http_start(const char *addr, lvc_metrics_t *reg, lvc_health_t *h, char *errstr,
                           size_t errstr_size)
{
	lvc_http_t *srv = NULL;
	int fd = -1;

	if (addr == NULL || addr[0] == '\0') {
		LVC_ERRF("metrics.listen is empty: the endpoint is disabled");
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		LVC_ERRF("metrics.listen %s: out of memory", addr);
		return NULL;
	}
	srv->reg = reg;
	srv->health = h;
	if ((fd = open_listener(addr, &srv->port, errstr, errstr_size)) < 0) {
		goto fail;
	}
	srv->mhd = MHD_start_daemon(
	    MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		LVC_ERRF("metrics.listen %s: libmicrohttpd could not start its server thread",
		         addr);
		goto fail;
	}
	return srv;
fail:
	if (fd >= 0) {
		close(fd);
	}
	free(srv);
	return NULL;
}

int lvc_http_port(const lvc_http_t *srv)
{
	return srv->port;
}

void lvc_http_stop(lvc_http_t *srv)
{
	if (srv == NULL) {
		return;
	}
	MHD_stop_daemon(srv->mhd);
	free(srv);
}
