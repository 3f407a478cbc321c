/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log lines on stderr. A line is formatted into a stack buffer (long
 * messages are truncated with "..." rather than allocated) and written with
 * one fwrite. Timestamps are UTC wall-clock with milliseconds: logs are for
 * people, event time lives in the data.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "io/log.h"

static atomic_int log_min = LVC_LOG_INFO;
static atomic_int log_json = 0;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const level_tags[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void lvc_log_setup(lvc_log_level_t min_level, int json)
{
	atomic_store(&log_min, (int)min_level);
	atomic_store(&log_json, json ? 1 : 0);
}

int lvc_log_level_from_name(const char *name, lvc_log_level_t *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (lvc_log_level_t)i;
			return 0;
		}
	}
	return -1;
}

int lvc_log_enabled(lvc_log_level_t level)
{
	return (int)level >= atomic_load(&log_min);
}

void lvc_logv(lvc_log_level_t level, const char *fmt, va_list ap)
{
	char msg[2048], ts[40], line[4096];
	struct timespec now;
	struct tm tm;
	int n;

	if (!lvc_log_enabled(level)) {
		return;
	}
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg)) {
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);
	if (atomic_load(&log_json)) {
		json_t *o =
		    json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "msg", msg);
		char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		n = snprintf(line, sizeof(line), "%s\n", s != NULL ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		n = snprintf(line, sizeof(line), "%s %-5s levcal: %s\n", ts, level_tags[level],
		             msg);
	}
	if (n >= (int)sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	fwrite(line, 1, (size_t)n, stderr);
}

void lvc_log(lvc_log_level_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lvc_logv(level, fmt, ap);
	va_end(ap);
}
