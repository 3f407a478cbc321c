/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one line per event on stderr, "TIME LEVEL levcal: message" or a
 * JSON object per line. Process-wide settings (logging is the one
 * process-global concern); each line is written with a single fwrite, so
 * lines from several threads never interleave. Callers never pass secrets.
 */
#ifndef LVC_IO_LOG_H
#define LVC_IO_LOG_H

#include <stdarg.h>

typedef enum lvc_log_level_e {
	LVC_LOG_DEBUG,
	LVC_LOG_INFO,
	LVC_LOG_WARN,
	LVC_LOG_ERROR,
} lvc_log_level_t;

/* Sets the lowest level written and the format (json 1: JSON lines). */
void lvc_log_setup(lvc_log_level_t min_level, int json);

/* Parses "debug", "info", "warn", "error"; returns 0 or -1. */
int lvc_log_level_from_name(const char *name, lvc_log_level_t *out);

/* Whether a message at level would be written. */
int lvc_log_enabled(lvc_log_level_t level);

/* Writes one line. */
void lvc_log(lvc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lvc_logv(lvc_log_level_t level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define lvc_debug(...) lvc_log(LVC_LOG_DEBUG, __VA_ARGS__)
#define lvc_info(...)  lvc_log(LVC_LOG_INFO, __VA_ARGS__)
#define lvc_warn(...)  lvc_log(LVC_LOG_WARN, __VA_ARGS__)
#define lvc_error(...) lvc_log(LVC_LOG_ERROR, __VA_ARGS__)

#endif
