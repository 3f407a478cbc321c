/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The YAML configuration of SPEC §8, loaded with libyaml against one
 * declarative table of keys. Every error names FILE:LINE:COL (1-based), the
 * key, the bad value and what is allowed; unknown and duplicate keys are
 * errors. `${VAR}` and `${VAR:-default}` are replaced from the environment in
 * scalar values; a key `NAME_file` reads the value of NAME from a file
 * (trailing newline stripped), so secrets stay out of config files. Values
 * that came from a `*_file` key or that a librdkafka property marks secret
 * (sasl.password, ssl.key.password, ...) are never printed.
 */
#ifndef LVC_IO_CONFIG_H
#define LVC_IO_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/params.h"
#include "io/log.h"

typedef struct lvc_kv_s {
	char *key;
	char *value;
	int secret; /* never print the value */
} lvc_kv_t;

typedef enum lvc_wire_format_e { LVC_WIRE_PLAIN, LVC_WIRE_CONFLUENT } lvc_wire_format_t;

/* Subject names for our schemas (schema.subject_strategy): topic_name
 * "<topic>-value", record_name "levcal.LeverageLimit". */
typedef enum lvc_subject_strategy_e {
	LVC_SUBJECT_TOPIC_NAME,
	LVC_SUBJECT_RECORD_NAME
} lvc_subject_strategy_t;

typedef enum lvc_guarantee_e { LVC_EXACTLY_ONCE, LVC_AT_LEAST_ONCE } lvc_guarantee_t;

typedef struct lvc_topics_s {
	char *trades;
	char *prices;
	char *positions;
	char *balances;
	char *leverage_limits;
	char *liquidation_warnings;
	char *dead_letter;
	char *state;
	char *replay_prefix;
} lvc_topics_t;

typedef struct lvc_config_s {
	char *path; /* as given to lvc_config_load(), or the name for strings */

	lvc_kv_t *kafka; /* librdkafka properties, in file order */
	size_t kafka_n;
	int kafka_allow_unsafe;

	lvc_topics_t topics;

	struct {
		lvc_wire_format_t wire_format;
		/* Added for the Confluent wire format (io/framing.h,
		 * io/registry.h); strings are "" when unset. */
		char *registry_url;          /* schema.registry.url */
		char *registry_user;         /* schema.registry.basic_auth.user */
		char *registry_password;     /* schema.registry.basic_auth.password (secret) */
		char *registry_ca_file;      /* schema.registry.tls.ca_file */
		char *registry_cert_file;    /* schema.registry.tls.cert_file */
		char *registry_key_file;     /* schema.registry.tls.key_file */
		char *registry_key_password; /* schema.registry.tls.key_password (secret) */
		int registry_verify;         /* schema.registry.tls.verify */
		int64_t registry_timeout_us; /* schema.registry.timeout */
		lvc_subject_strategy_t subject_strategy; /* schema.subject_strategy */
		int auto_register;                       /* schema.auto_register */
		/* schema.ids.<record>: a registry id that stands for our own
		 * schema of the record (0: none). Inputs framed with it are read
		 * without a registry; outputs are framed with it instead of a
		 * registered id. */
		struct {
			int64_t trade, price_tick, position, account_balance;
			int64_t leverage_limit, liquidation_warning;
		} ids;
	} schema;

	struct {
		lvc_guarantee_t guarantee;
		int64_t commit_interval_us;
		int64_t max_idle_us;
	} processing;

	lvc_params_t defaults;          /* volatility, leverage, warnings */
	lvc_inst_params_t *instruments; /* overrides merged onto defaults */
	size_t instruments_n;

	struct {
		char *listen; /* "host:port"; NULL or "" disables the endpoint */
	} metrics;

	/* Hex FNV-1a 64 of the effective config (secrets excluded), so that an
	 * event names the config that produced it. */
	char config_id[17];

	/* Not in SPEC §8 yet: the instance name (e.g. for transactional.id;
	 * "" when unset) and the `log` section. */
	char *instance;
	struct {
		lvc_log_level_t level; /* log.level: debug | info | warn | error */
		int json;              /* log.format: 0 text, 1 json */
	} log;
} lvc_config_t;

/* Loads and validates the file at path. Returns a config owned by the caller,
 * or NULL with "FILE:LINE:COL: message" in errstr. Relative NAME_file paths
 * are taken from path's directory (from the working directory for
 * lvc_config_load_string()). Configs are made only by these constructors and
 * freed only by lvc_config_destroy(). */
lvc_config_t *lvc_config_load(const char *path, char *errstr, size_t errstr_size);

/* As lvc_config_load(), from a NUL-terminated YAML text; name stands in for
 * the file name in errors. */
lvc_config_t *lvc_config_load_string(const char *yaml, const char *name, char *errstr,
                                     size_t errstr_size);

/* A config with every default of SPEC §8 and no kafka properties. */
lvc_config_t *lvc_config_new_default(void);

/* Frees cfg; accepts NULL. */
void lvc_config_destroy(lvc_config_t *cfg);

/* Writes the effective config as YAML that lvc_config_load() accepts, with
 * secret values replaced by "<redacted>". */
lvc_err_t lvc_config_dump(const lvc_config_t *cfg, FILE *out);

/* The model parameters that apply to instrument: its overrides merged onto
 * the global block, or the global block when it has none. Borrowed from cfg.
 * O(instruments): look it up once per new instrument, not per tick. */
const lvc_params_t *lvc_config_params_for(const lvc_config_t *cfg, const char *instrument);

/* The value of the kafka property key (after `${VAR}` and `*_file`), or NULL
 * when the config does not set it. Borrowed from cfg. */
const char *lvc_config_kafka_get(const lvc_config_t *cfg, const char *key);

/* Parses a duration such as "500ms", "1s", "15m", "1h", "7d" (also "250us")
 * into microseconds. Returns 0 or -1. */
int lvc_parse_duration(const char *s, int64_t *out_us);

#endif
