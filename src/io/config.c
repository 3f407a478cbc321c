/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration loader (SPEC §8). One declarative table, keys[], names
 * every key by its dotted path with its type, where it lives (in
 * lvc_config_t, or in lvc_params_t so that it may also be overridden per
 * instrument), its range and, for config-level keys, its default (the model
 * defaults come from lvc_params_defaults()). The loader, the defaults, the
 * dump, the canonical form behind config_id and the "allowed keys" of every
 * error are all driven by that table, so adding a key is one line there plus
 * its struct field.
 *
 * Loading: libyaml's document API (after an event pass that bounds nesting,
 * because libyaml's composer recurses), then one walk over the tree that
 * stops at the first error. Sections map to path prefixes; a leaf is parsed
 * by its kind. `instruments` is walked after the whole file, so that each
 * instrument starts from the final global block whatever the key order, and
 * lvc_params_check() (the one place of cross-key rules) then runs on the
 * global block and on every merged instrument. The position of every key is
 * kept during the walk so that a rule broken in lvc_params_check() is
 * reported at the key it names (or its section).
 *
 * Invariants: every error is "FILE:LINE:COL: PATH: what, the value, what is
 * allowed" with 1-based positions; a secret value (from a *_file key or a
 * librdkafka property whose name says so) is never written to an error or a
 * dump; every string the config holds is owned by it and wiped before free
 * when secret. A config is only made by the constructors here (it is the
 * first member of a private struct). Load happens once at start-up: nothing
 * here is on a hot path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <yaml.h>

#include "io/config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define US_S   INT64_C(1000000)
#define US_MIN (60 * US_S)
#define US_H   (3600 * US_S)
#define US_D   (86400 * US_S)

#define MAX_DUR_US       (3650 * US_D) /* ten years: room for any window */
#define MAX_CONFIG_BYTES (4u << 20)
#define MAX_SECRET_BYTES (1u << 20)
#define MAX_VALUE_BYTES  (1u << 20) /* one scalar after ${VAR} substitution */
#define MAX_DEPTH        64         /* YAML nesting; libyaml's composer recurses */
#define MAX_NAME_BYTES   200        /* instrument and instance names */
#define PATH_LEN         320
#define SHOW_LEN         96 /* longest user text quoted in an error */

_Static_assert(sizeof(lvc_estimator_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_vol_source_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_tail_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_wire_format_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_guarantee_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_subject_strategy_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lvc_log_level_t) == sizeof(int), "enums are stored as int");

/* ------------------------------------------------------------------------
 * The table
 */

typedef enum kind_e {
	K_STR,         /* char *, owned */
	K_BOOL,        /* int 0/1 */
	K_INT,         /* int64_t */
	K_DOUBLE,      /* double */
	K_DUR,         /* int64_t microseconds */
	K_ENUM,        /* an enum stored as int: the index into syms */
	K_DLIST,       /* double[cap] with a size_t count at off_n */
	K_ELIST,       /* enum (int)[cap] with a size_t count at off_n */
	K_RECLIST,     /* records of rec_size bytes with fields sub[] */
	K_KAFKA,       /* lvc_config_t.kafka: librdkafka properties */
	K_INSTRUMENTS, /* lvc_config_t.instruments: per-instrument overrides */
} kind_t;

typedef enum base_e {
	B_NONE,   /* kafka and instruments: handled by their own walkers */
	B_CFG,    /* offset into lvc_config_t: global only */
	B_PARAMS, /* offset into lvc_params_t: global and per instrument */
	B_REC,    /* offset into one record of a K_RECLIST */
} base_t;

#define F_EMPTY_OK 1 /* K_STR: "" (or null) is allowed */
#define F_SECRET   2 /* K_STR: never printed, also when set inline */
#define F_HIDE_BAD 4 /* K_STR: a refused value is not quoted (it may hold credentials) */

/* A string check returns NULL when v is allowed, else the description of
 * what is; check(NULL) returns the description. */
typedef const char *str_check_fn(const char *v);

typedef struct cfg_key_s {
	const char *path;
	kind_t kind;
	base_t base;
	size_t off;
	size_t off_n; /* lists: offset of the size_t count */
	size_t cap;   /* lists: capacity */
	const char *const *syms;
	size_t nsyms;
	const char *excl; /* a symbol of syms that this key does not accept */
	double lo, hi;    /* range of numbers and durations (microseconds) */
	int lo_open, hi_open;
	const char *def_str; /* defaults of B_CFG keys */
	double def_num;
	int flags;
	str_check_fn *check;
	const struct cfg_key_s *sub; /* K_RECLIST: the fields of one record */
	size_t nsub;
	size_t rec_size;
} cfg_key_t;

static const char *check_topic(const char *v);
static const char *check_prefix(const char *v);
static const char *check_instance(const char *v);
static const char *check_listen(const char *v);
static const char *check_url(const char *v);
static const char *check_path(const char *v);

static const char *const wire_syms[] = {
	[LVC_WIRE_PLAIN] = "plain",
	[LVC_WIRE_CONFLUENT] = "confluent",
};
static const char *const guarantee_syms[] = {
	[LVC_EXACTLY_ONCE] = "exactly_once",
	[LVC_AT_LEAST_ONCE] = "at_least_once",
};
static const char *const source_syms[] = {
	[LVC_SOURCE_TRADES] = "trades",
	[LVC_SOURCE_MARK] = "mark",
};
static const char *const tail_syms[] = {
	[LVC_TAIL_NORMAL] = "normal",
	[LVC_TAIL_STUDENT_T] = "student_t",
};
static const char *const level_syms[] = {
	[LVC_LOG_DEBUG] = "debug",
	[LVC_LOG_INFO] = "info",
	[LVC_LOG_WARN] = "warn",
	[LVC_LOG_ERROR] = "error",
};
static const char *const format_syms[] = { "text", "json" };
static const char *const subject_syms[] = {
	[LVC_SUBJECT_TOPIC_NAME] = "topic_name",
	[LVC_SUBJECT_RECORD_NAME] = "record_name",
};

#define CFG(f)      .base = B_CFG, .off = offsetof(lvc_config_t, f)
#define PAR(f)      .base = B_PARAMS, .off = offsetof(lvc_params_t, f)
#define REC(t, f)   .base = B_REC, .off = offsetof(t, f)
#define SYMS(a)     .syms = (a), .nsyms = ARRAY_LEN(a)
#define IN(a, b)    .lo = (a), .hi = (b), .lo_open = 0, .hi_open = 0 /* [a, b] */
#define IN_OC(a, b) .lo = (a), .hi = (b), .lo_open = 1, .hi_open = 0 /* (a, b] */
#define IN_CO(a, b) .lo = (a), .hi = (b), .lo_open = 0, .hi_open = 1 /* [a, b) */
#define IN_OO(a, b) .lo = (a), .hi = (b), .lo_open = 1, .hi_open = 1 /* (a, b) */
#define TOPIC(n, d)                                                               \
	{                                                                         \
		.path = "topics." #n, .kind = K_STR, CFG(topics.n), .def_str = d, \
		.check = check_topic                                              \
	}

/* schema.ids.<record>: a Confluent schema id is a 32-bit integer; 0 = none. */
#define SCHEMA_ID(n)                                                                           \
	{                                                                                      \
		.path = "schema.ids." #n, .kind = K_INT, CFG(schema.ids.n), IN(0, 2147483647), \
		.def_num = 0                                                                   \
	}

static const cfg_key_t tier_keys[] = {
	{ .path = "notional_cap",
	  .kind = K_DOUBLE,
	  REC(lvc_tier_param_t, notional_cap),
	  IN_OC(0, 1e18) },
	{ .path = "multiplier", .kind = K_DOUBLE, REC(lvc_tier_param_t, multiplier), IN(1, 1e6) },
};

/* Every key of the config, in dump order; sections are the path prefixes
 * and must be contiguous. Ranges are the bounds of one value; rules that tie
 * keys together live in lvc_params_check(). */
static const cfg_key_t keys[] = {
	{ .path = "kafka", .kind = K_KAFKA },
	{ .path = "kafka_allow_unsafe", .kind = K_BOOL, CFG(kafka_allow_unsafe), .def_num = 0 },
	{ .path = "instance",
	  .kind = K_STR,
	  CFG(instance),
	  .def_str = "",
	  .flags = F_EMPTY_OK,
	  .check = check_instance },
	TOPIC(trades, "market.trades"),
	TOPIC(prices, "market.prices"),
	TOPIC(positions, "risk.positions"),
	TOPIC(balances, "risk.balances"),
	TOPIC(leverage_limits, "risk.leverage-limits"),
	TOPIC(liquidation_warnings, "risk.liquidation-warnings"),
	TOPIC(dead_letter, "levcal.deadletter"),
	TOPIC(state, "levcal.state"),
	{ .path = "topics.replay_prefix",
	  .kind = K_STR,
	  CFG(topics.replay_prefix),
	  .def_str = "backtest.",
	  .flags = F_EMPTY_OK,
	  .check = check_prefix },
	{ .path = "schema.wire_format",
	  .kind = K_ENUM,
	  CFG(schema.wire_format),
	  SYMS(wire_syms),
	  .def_num = LVC_WIRE_PLAIN },
	{ .path = "schema.registry.url",
	  .kind = K_STR,
	  CFG(schema.registry_url),
	  .def_str = "",
	  .flags = F_EMPTY_OK | F_HIDE_BAD,
	  .check = check_url },
	{ .path = "schema.registry.basic_auth.user",
	  .kind = K_STR,
	  CFG(schema.registry_user),
	  .def_str = "",
	  .flags = F_EMPTY_OK },
	{ .path = "schema.registry.basic_auth.password",
	  .kind = K_STR,
	  CFG(schema.registry_password),
	  .def_str = "",
	  .flags = F_EMPTY_OK | F_SECRET },
	{ .path = "schema.registry.tls.ca_file",
	  .kind = K_STR,
	  CFG(schema.registry_ca_file),
	  .def_str = "",
	  .flags = F_EMPTY_OK,
	  .check = check_path },
	{ .path = "schema.registry.tls.cert_file",
	  .kind = K_STR,
	  CFG(schema.registry_cert_file),
	  .def_str = "",
	  .flags = F_EMPTY_OK,
	  .check = check_path },
	{ .path = "schema.registry.tls.key_file",
	  .kind = K_STR,
	  CFG(schema.registry_key_file),
	  .def_str = "",
	  .flags = F_EMPTY_OK,
	  .check = check_path },
	{ .path = "schema.registry.tls.key_password",
	  .kind = K_STR,
	  CFG(schema.registry_key_password),
	  .def_str = "",
	  .flags = F_EMPTY_OK | F_SECRET },
	{ .path = "schema.registry.tls.verify",
	  .kind = K_BOOL,
	  CFG(schema.registry_verify),
	  .def_num = 1 },
	{ .path = "schema.registry.timeout",
	  .kind = K_DUR,
	  CFG(schema.registry_timeout_us),
	  IN_OC(0, (double)(10 * US_MIN)),
	  .def_num = 5000000 },
	{ .path = "schema.subject_strategy",
	  .kind = K_ENUM,
	  CFG(schema.subject_strategy),
	  SYMS(subject_syms),
	  .def_num = LVC_SUBJECT_TOPIC_NAME },
	{ .path = "schema.auto_register", .kind = K_BOOL, CFG(schema.auto_register), .def_num = 1 },
	SCHEMA_ID(trade),
	SCHEMA_ID(price_tick),
	SCHEMA_ID(position),
	SCHEMA_ID(account_balance),
	SCHEMA_ID(leverage_limit),
	SCHEMA_ID(liquidation_warning),
	{ .path = "processing.guarantee",
	  .kind = K_ENUM,
	  CFG(processing.guarantee),
	  SYMS(guarantee_syms),
	  .def_num = LVC_EXACTLY_ONCE },
	{ .path = "processing.commit_interval",
	  .kind = K_DUR,
	  CFG(processing.commit_interval_us),
	  IN_OC(0, (double)US_H),
	  .def_num = 100000 },
	{ .path = "processing.max_idle",
	  .kind = K_DUR,
	  CFG(processing.max_idle_us),
	  IN(0, (double)US_H),
	  .def_num = 50000 },
	{ .path = "volatility.source", .kind = K_ENUM, PAR(vol.source), SYMS(source_syms) },
	{ .path = "volatility.estimator",
	  .kind = K_ENUM,
	  PAR(vol.estimator),
	  .syms = lvc_estimator_names,
	  .nsyms = LVC_EST__COUNT },
	{ .path = "volatility.max_of",
	  .kind = K_ELIST,
	  PAR(vol.max_of),
	  .off_n = offsetof(lvc_params_t, vol.max_of_n),
	  .cap = LVC_EST__COUNT,
	  .syms = lvc_estimator_names,
	  .nsyms = LVC_EST__COUNT,
	  .excl = "max" },
	{ .path = "volatility.sample_interval",
	  .kind = K_DUR,
	  PAR(vol.sample_interval_us),
	  IN_OC(0, (double)US_D) },
	{ .path = "volatility.bar_interval",
	  .kind = K_DUR,
	  PAR(vol.bar_interval_us),
	  IN_OC(0, (double)US_D) },
	{ .path = "volatility.window",
	  .kind = K_DUR,
	  PAR(vol.window_us),
	  IN_OC(0, (double)MAX_DUR_US) },
	{ .path = "volatility.half_life",
	  .kind = K_DUR,
	  PAR(vol.half_life_us),
	  IN_OC(0, (double)MAX_DUR_US) },
	{ .path = "volatility.garch.omega", .kind = K_DOUBLE, PAR(vol.garch_omega), IN_OO(0, 1) },
	{ .path = "volatility.garch.alpha", .kind = K_DOUBLE, PAR(vol.garch_alpha), IN_CO(0, 1) },
	{ .path = "volatility.garch.beta", .kind = K_DOUBLE, PAR(vol.garch_beta), IN_CO(0, 1) },
	{ .path = "volatility.annualization_days",
	  .kind = K_DOUBLE,
	  PAR(vol.annualization_days),
	  IN_OC(0, 366) },
	{ .path = "leverage.confidence", .kind = K_DOUBLE, PAR(lev.confidence), IN_OO(0.5, 1) },
	{ .path = "leverage.tail", .kind = K_ENUM, PAR(lev.tail), SYMS(tail_syms) },
	{ .path = "leverage.tail_nu", .kind = K_DOUBLE, PAR(lev.tail_nu), IN_OC(2, 1e6) },
	{ .path = "leverage.horizon",
	  .kind = K_DUR,
	  PAR(lev.horizon_us),
	  IN_OC(0, (double)MAX_DUR_US) },
	{ .path = "leverage.im_multiplier",
	  .kind = K_DOUBLE,
	  PAR(lev.im_multiplier),
	  IN_OC(0, 1000) },
	{ .path = "leverage.mm_ratio", .kind = K_DOUBLE, PAR(lev.mm_ratio), IN_OC(0, 1) },
	{ .path = "leverage.min_imr", .kind = K_DOUBLE, PAR(lev.min_imr), IN_OC(0, 1) },
	{ .path = "leverage.max_imr", .kind = K_DOUBLE, PAR(lev.max_imr), IN_OC(0, 1) },
	{ .path = "leverage.steps",
	  .kind = K_DLIST,
	  PAR(lev.steps),
	  .off_n = offsetof(lvc_params_t, lev.steps_n),
	  .cap = LVC_MAX_STEPS,
	  IN(1, 1e6) },
	{ .path = "leverage.max_leverage_cap",
	  .kind = K_DOUBLE,
	  PAR(lev.max_leverage_cap),
	  IN(1, 1e6) },
	{ .path = "leverage.tiers",
	  .kind = K_RECLIST,
	  PAR(lev.tiers),
	  .off_n = offsetof(lvc_params_t, lev.tiers_n),
	  .cap = LVC_MAX_TIERS,
	  .sub = tier_keys,
	  .nsub = ARRAY_LEN(tier_keys),
	  .rec_size = sizeof(lvc_tier_param_t) },
	{ .path = "leverage.relax_after",
	  .kind = K_DUR,
	  PAR(lev.relax_after_us),
	  IN(0, (double)MAX_DUR_US) },
	{ .path = "leverage.warmup_samples", .kind = K_INT, PAR(lev.warmup_samples), IN(0, 1e9) },
	{ .path = "leverage.prior_sigma_ann",
	  .kind = K_DOUBLE,
	  PAR(lev.prior_sigma_ann),
	  IN_OC(0, 100) },
	{ .path = "leverage.stale_after",
	  .kind = K_DUR,
	  PAR(lev.stale_after_us),
	  IN_OC(0, (double)MAX_DUR_US) },
	{ .path = "warnings.watch", .kind = K_DOUBLE, PAR(warn.watch), IN_OC(0, 1000) },
	{ .path = "warnings.warning", .kind = K_DOUBLE, PAR(warn.warning), IN_OC(0, 1000) },
	{ .path = "warnings.critical", .kind = K_DOUBLE, PAR(warn.critical), IN_OC(0, 1000) },
	{ .path = "warnings.hysteresis", .kind = K_DOUBLE, PAR(warn.hysteresis), IN(0, 1000) },
	{ .path = "instruments", .kind = K_INSTRUMENTS },
	{ .path = "metrics.listen",
	  .kind = K_STR,
	  CFG(metrics.listen),
	  .def_str = "127.0.0.1:9464",
	  .flags = F_EMPTY_OK,
	  .check = check_listen },
	{ .path = "log.level",
	  .kind = K_ENUM,
	  CFG(log.level),
	  SYMS(level_syms),
	  .def_num = LVC_LOG_INFO },
	{ .path = "log.format", .kind = K_ENUM, CFG(log.json), SYMS(format_syms), .def_num = 0 },
};

#define KEYS_N ARRAY_LEN(keys)

/* librdkafka 2.0.2 properties that load code or run commands
 * (CONFIGURATION.md): refused unless kafka_allow_unsafe is true, and never
 * set on a probe configuration (setting plugin.library.paths dlopen()s). */
static const char *const unsafe_props[] = {
	"plugin.library.paths",    /* dlopen()s plugin libraries */
	"sasl.kerberos.kinit.cmd", /* a shell command, run at start and periodically */
	"ssl.engine.location",     /* loads an OpenSSL engine library */
	"ssl.providers",           /* loads OpenSSL 3 provider modules */
};

/* Substituted unquoted (principal) or in double quotes (keytab) into the
 * default sasl.kerberos.kinit.cmd, which a shell runs: only characters that
 * the shell takes literally are allowed unless kafka_allow_unsafe is true. */
static const char *const shell_props[] = {
	"sasl.kerberos.principal",
	"sasl.kerberos.keytab",
};

/* ------------------------------------------------------------------------
 * Private config, context, small helpers
 */

typedef struct cfg_priv_s {
	lvc_config_t pub;             /* first: lvc_config_t * is a cfg_priv_t * */
	unsigned char secret[KEYS_N]; /* a K_STR key set from NAME_file */
} cfg_priv_t;

typedef struct mark_rec_s {
	int scope; /* -1 global, else an instrument index */
	char *path;
	yaml_mark_t mark;
} mark_rec_t;

typedef struct ctx_s {
	const char *name; /* file name in errors */
	const char *dir;  /* directory for relative *_file paths; NULL: cwd */
	const char *text;
	size_t text_len;
	yaml_document_t *doc;
	cfg_priv_t *priv;
	char *errstr;
	size_t errstr_size;
	int scope;              /* -1 global, else the instrument being walked */
	char dprefix[PATH_LEN]; /* "" or "instruments.NAME." in errors */
	mark_rec_t *marks;
	size_t marks_n, marks_cap;
	yaml_mark_t *kmarks; /* position of each kafka property */
	yaml_node_t *inst_node;
	yaml_mark_t root_mark;
} ctx_t;

typedef struct sb_s {
	char *p;
	size_t n, cap;
	int oom;
} sb_t;

static void sb_putn(sb_t *b, const char *s, size_t n)
{
	if (b->oom) {
		return;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->n + n + 1) {
			cap *= 2;
		}
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(sb_t *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	sb_putn(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Overwrites a secret before it is freed, in a way the compiler keeps. */
static void wipe(char *s)
{
	volatile char *p = s;

	if (s == NULL) {
		return;
	}
	while (*p != '\0') {
		*p++ = '\0';
	}
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
	unsigned char c = s[*i];
	uint32_t v;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		*i += 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return -1;
	}
	if (*i + len > n) {
		return -1;
	}
	for (size_t k = 1; k < len; k++) {
		if ((s[*i + k] & 0xc0) != 0x80) {
			return -1;
		}
		v = (v << 6) | (s[*i + k] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff)) {
		return -1;
	}
	*cp = v;
	*i += len;
	return 0;
}

static int utf8_valid(const char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		if (utf8_next((const unsigned char *)s, n, &i, &cp) != 0) {
			return 0;
		}
	}
	return 1;
}

/* Writes s as a YAML double-quoted scalar that libyaml reads back as s:
 * quotes, backslashes, line breaks (also NEL, LS, PS, which libyaml folds)
 * and every code point that YAML does not allow raw are escaped; with
 * dollars, `$` is doubled so that ${VAR} substitution gives s back. */
static void sb_quote(sb_t *b, const char *s, int dollars)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	sb_putn(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t start = i;
		uint32_t cp;

		if (utf8_next(u, n, &i, &cp) != 0) {
			/* Not reachable for loaded values (checked); keep the dump
			 * valid YAML anyway. */
			sb_printf(b, "\\x%02x", u[i]);
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			sb_putn(b, "\\", 1);
			sb_putn(b, s + start, 1);
		} else if (cp == '$' && dollars) {
			sb_putn(b, "$$", 2);
		} else if (cp == '\n') {
			sb_putn(b, "\\n", 2);
		} else if (cp == '\t') {
			sb_putn(b, "\\t", 2);
		} else if (cp == '\r') {
			sb_putn(b, "\\r", 2);
		} else if (cp == 0x85) {
			sb_putn(b, "\\N", 2);
		} else if (cp == 0x2028) {
			sb_putn(b, "\\L", 2);
		} else if (cp == 0x2029) {
			sb_putn(b, "\\P", 2);
		} else if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
		           (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) ||
		           (cp >= 0x10000 && cp <= 0x10ffff)) {
			sb_putn(b, s + start, i - start);
		} else if (cp < 0x100) {
			sb_printf(b, "\\x%02" PRIx32, cp);
		} else if (cp < 0x10000) {
			sb_printf(b, "\\u%04" PRIx32, cp);
		} else {
			sb_printf(b, "\\U%08" PRIx32, cp);
		}
	}
	sb_putn(b, "\"", 1);
}

/* User text for an error: quoted, escaped, cut at SHOW_LEN bytes. */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
	sb_t b = { 0 };
	char *cut = xstrndup(s, n < SHOW_LEN ? n : SHOW_LEN);

	if (cut != NULL && !utf8_valid(cut, strlen(cut))) {
		/* The cut may split a character: show bytes as escapes. */
		for (size_t i = 0; cut[i] != '\0'; i++) {
			if ((unsigned char)cut[i] >= 0x80) {
				cut[i] = '?';
			}
		}
	}
	if (cut != NULL) {
		sb_quote(&b, cut, 0);
	}
	if (b.p != NULL && !b.oom && n > SHOW_LEN) {
		b.n--; /* the closing quote */
		sb_puts(&b, "...\"");
	}
	snprintf(buf, size, "%s", b.p != NULL && !b.oom ? b.p : "\"?\"");
	free(b.p);
	free(cut);
	return buf;
}

/* A key as it appears in a path: printable ASCII as is, anything else as
 * an escape, cut at SHOW_LEN. Table paths are plain ASCII, so a key with
 * anything unusual simply matches no key. */
static void key_disp(const char *s, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	if (n == 0 && size >= 3) {
		memcpy(buf, "\"\"", 3);
		return;
	}
	for (size_t i = 0; i < n && i < SHOW_LEN && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		}
	}
	if (n > SHOW_LEN && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

static lvc_err_t failf(ctx_t *c, yaml_mark_t m, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static lvc_err_t failf(ctx_t *c, yaml_mark_t m, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->errstr_size > 0) {
		if (path != NULL && path[0] != '\0') {
			snprintf(c->errstr, c->errstr_size, "%s:%zu:%zu: %s%s: %s", c->name,
			         m.line + 1, m.column + 1, c->dprefix, path, msg);
		} else {
			snprintf(c->errstr, c->errstr_size, "%s:%zu:%zu: %s", c->name, m.line + 1,
			         m.column + 1, msg);
		}
	}
	return LVC_ERR_CONFIG;
}

static lvc_err_t nomem(ctx_t *c)
{
	if (c->errstr_size > 0) {
		snprintf(c->errstr, c->errstr_size, "%s: out of memory", c->name);
	}
	return LVC_ERR_NOMEM;
}

/* snprintf for paths, where cutting a user's overlong key is intended. */
static void pathf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void join(char *out, const char *prefix, const char *k)
{
	if (prefix[0] == '\0') {
		pathf(out, PATH_LEN, "%s", k);
	} else {
		pathf(out, PATH_LEN, "%s.%s", prefix, k);
	}
}

static int in_scope(const ctx_t *c, const cfg_key_t *e)
{
	return c->scope < 0 || e->base == B_PARAMS;
}

static const cfg_key_t *find_key(const ctx_t *c, const char *path)
{
	for (size_t i = 0; i < KEYS_N; i++) {
		if (in_scope(c, &keys[i]) && strcmp(keys[i].path, path) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

static int is_section(const ctx_t *c, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < KEYS_N; i++) {
		if (in_scope(c, &keys[i]) && strncmp(keys[i].path, path, n) == 0 &&
		    keys[i].path[n] == '.') {
			return 1;
		}
	}
	return 0;
}

/* The keys allowed directly under prefix ("" for the top level), in table
 * order, comma-separated. */
static void children(const ctx_t *c, const char *prefix, sb_t *b)
{
	size_t pn = strlen(prefix), count = 0;
	const char *seen[KEYS_N];
	size_t seen_len[KEYS_N];

	for (size_t i = 0; i < KEYS_N; i++) {
		const char *p = keys[i].path, *child, *end;
		size_t len, j;

		if (!in_scope(c, &keys[i])) {
			continue;
		}
		if (pn > 0) {
			if (strncmp(p, prefix, pn) != 0 || p[pn] != '.') {
				continue;
			}
			child = p + pn + 1;
		} else {
			child = p;
		}
		end = strchr(child, '.');
		len = end != NULL ? (size_t)(end - child) : strlen(child);
		for (j = 0; j < count; j++) {
			if (seen_len[j] == len && strncmp(seen[j], child, len) == 0) {
				break;
			}
		}
		if (j < count) {
			continue;
		}
		seen[count] = child;
		seen_len[count] = len;
		if (count++ > 0) {
			sb_puts(b, ", ");
		}
		sb_putn(b, child, len);
	}
}

static int is_null(const yaml_node_t *n)
{
	const char *v;
	size_t len;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return 0;
	}
	v = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	                     memcmp(v, "NULL", 4) == 0));
}

static const char *node_what(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_NO_NODE:
		break;
	}
	return "an empty node";
}

/* What a node is, for "X is not allowed here": a scalar shows its text. */
static const char *node_desc(const yaml_node_t *n, char *buf, size_t size)
{
	if (n->type == YAML_SCALAR_NODE) {
		return show((const char *)n->data.scalar.value, n->data.scalar.length, buf, size);
	}
	return node_what(n);
}

static void record_mark(ctx_t *c, const char *path, yaml_mark_t m)
{
	mark_rec_t *r;

	if (c->marks_n == c->marks_cap) {
		size_t cap = c->marks_cap ? 2 * c->marks_cap : 64;
		mark_rec_t *p = realloc(c->marks, cap * sizeof(*p));

		if (p == NULL) {
			return; /* positions are a nicety: an error then points at the section */
		}
		c->marks = p;
		c->marks_cap = cap;
	}
	r = &c->marks[c->marks_n];
	if ((r->path = xstrdup(path)) == NULL) {
		return;
	}
	r->scope = c->scope;
	r->mark = m;
	c->marks_n++;
}

/* ------------------------------------------------------------------------
 * Describing what is allowed
 */

static void fmt_bound(const cfg_key_t *e, double v, char *buf, size_t size)
{
	if (e->kind == K_DUR) {
		lvc_duration_format((int64_t)v, buf, size);
	} else {
		snprintf(buf, size, "%.15g", v);
	}
}

static void describe_range(const cfg_key_t *e, sb_t *b)
{
	char lo[32], hi[32];

	fmt_bound(e, e->lo, lo, sizeof(lo));
	fmt_bound(e, e->hi, hi, sizeof(hi));
	sb_printf(b, "in %c%s, %s%c", e->lo_open ? '(' : '[', lo, hi, e->hi_open ? ')' : ']');
}

static void describe_syms(const cfg_key_t *e, sb_t *b)
{
	size_t count = 0;

	for (size_t i = 0; i < e->nsyms; i++) {
		if (e->excl != NULL && strcmp(e->syms[i], e->excl) == 0) {
			continue;
		}
		sb_printf(b, "%s%s", count++ > 0 ? ", " : "", e->syms[i]);
	}
}

static void describe(const cfg_key_t *e, sb_t *b)
{
	switch (e->kind) {
	case K_STR:
		sb_puts(b, e->check != NULL ? e->check(NULL) : "a string");
		break;
	case K_BOOL:
		sb_puts(b, "true or false");
		break;
	case K_INT:
		sb_puts(b, "an integer ");
		describe_range(e, b);
		break;
	case K_DOUBLE:
		sb_puts(b, "a number ");
		describe_range(e, b);
		break;
	case K_DUR:
		sb_puts(b, "a duration ");
		describe_range(e, b);
		sb_puts(b, ": integers with units us, ms, s, m, h, d, largest first "
		           "(e.g. 500ms, 15m, 1h30m)");
		break;
	case K_ENUM:
		sb_puts(b, "one of ");
		describe_syms(e, b);
		break;
	case K_DLIST:
		sb_printf(b, "a list of at most %zu numbers, each ", e->cap);
		describe_range(e, b);
		break;
	case K_ELIST:
		sb_printf(b, "a list of at most %zu of ", e->cap);
		describe_syms(e, b);
		break;
	case K_RECLIST:
		sb_printf(b, "a list of at most %zu mappings with keys ", e->cap);
		for (size_t i = 0; i < e->nsub; i++) {
			sb_printf(b, "%s%s", i > 0 ? ", " : "", e->sub[i].path);
		}
		break;
	case K_KAFKA:
		sb_puts(b, "a mapping of librdkafka property names to values");
		break;
	case K_INSTRUMENTS:
		sb_puts(b, "a mapping of instrument names to overrides of volatility, leverage, "
		           "warnings");
		break;
	}
}

static lvc_err_t fail_expect(ctx_t *c, yaml_mark_t m, const char *path, const cfg_key_t *e,
                             const char *what)
{
	sb_t b = { 0 };
	lvc_err_t err;

	describe(e, &b);
	err = failf(c, m, path, "%s; allowed: %s", what, b.p != NULL ? b.p : "?");
	free(b.p);
	return err;
}

/* ------------------------------------------------------------------------
 * Scalars: ${VAR} substitution, files
 */

static int is_var_start(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static int is_var_char(char ch)
{
	return is_var_start(ch) || (ch >= '0' && ch <= '9');
}

/* Replaces ${VAR}, ${VAR:-default} (default also when VAR is empty) and $$
 * in in[0..n); the result is malloc'd into *out. A default is literal text
 * up to the first '}'; an environment value is not scanned again. */
static lvc_err_t expand(ctx_t *c, yaml_mark_t m, const char *path, const char *in, size_t n,
                        char **out)
{
	sb_t b = { 0 };
	char show_buf[SHOW_LEN + 16];
	lvc_err_t err = LVC_OK;

	sb_putn(&b, "", 0);
	for (size_t i = 0; i < n;) {
		const char *name, *def = NULL, *val;
		size_t name_n, def_n = 0, j;
		char var[256];

		if (in[i] != '$' || i + 1 >= n || (in[i + 1] != '$' && in[i + 1] != '{')) {
			size_t k = i + 1;

			while (k < n && in[k] != '$') {
				k++;
			}
			sb_putn(&b, in + i, k - i);
			i = k;
			continue;
		}
		if (in[i + 1] == '$') {
			sb_putn(&b, "$", 1);
			i += 2;
			continue;
		}
		name = in + i + 2;
		for (j = i + 2; j < n && is_var_char(in[j]); j++) {
		}
		name_n = (size_t)(in + j - name);
		if (j + 1 < n && in[j] == ':' && in[j + 1] == '-') {
			def = in + j + 2;
			for (j += 2; j < n && in[j] != '}'; j++) {
			}
			def_n = (size_t)(in + j - def);
		}
		if (j >= n || in[j] != '}' || name_n == 0 || !is_var_start(name[0]) ||
		    name_n >= sizeof(var)) {
			size_t end = j < n ? j + 1 : n;

			err = failf(c, m, path,
			            "%s is not a valid substitution; allowed: ${NAME} or "
			            "${NAME:-default} with NAME of letters, digits and _ (not "
			            "starting with a digit), and $$ for a literal $",
			            show(in + i, end - i, show_buf, sizeof(show_buf)));
			goto exit;
		}
		memcpy(var, name, name_n);
		var[name_n] = '\0';
		val = getenv(var);
		if (val != NULL && (def == NULL || val[0] != '\0')) {
			sb_puts(&b, val);
		} else if (def != NULL) {
			sb_putn(&b, def, def_n);
		} else {
			err = failf(c, m, path,
			            "environment variable %s is not set; set it, or write "
			            "${%s:-default} to give a default",
			            var, var);
			goto exit;
		}
		i = j + 1;
		if (b.n > MAX_VALUE_BYTES) {
			break;
		}
	}
	if (b.oom) {
		err = nomem(c);
		goto exit;
	}
	if (b.n > MAX_VALUE_BYTES) {
		err = failf(c, m, path, "the value is longer than %u bytes after substitution",
		            MAX_VALUE_BYTES);
		goto exit;
	}
	*out = b.p;
	b.p = NULL;
exit:
	free(b.p);
	return err;
}

/* The text of a scalar value after substitution, malloc'd into *out;
 * *null is set for a plain null (empty, ~, null). Anything but a scalar is
 * a type error naming what e expects. */
static lvc_err_t scalar(ctx_t *c, const yaml_node_t *n, const char *path, const cfg_key_t *e,
                        char **out, int *null)
{
	const char *v = (const char *)n->data.scalar.value;
	char what[64];
	lvc_err_t err;

	*out = NULL;
	if (n->type != YAML_SCALAR_NODE) {
		snprintf(what, sizeof(what), "%s is not allowed here", node_what(n));
		return e != NULL
		           ? fail_expect(c, n->start_mark, path, e, what)
		           : failf(c, n->start_mark, path, "%s; a single value is expected", what);
	}
	*null = is_null(n);
	if (memchr(v, '\0', n->data.scalar.length) != NULL) {
		return failf(c, n->start_mark, path, "a NUL character is not allowed in a value");
	}
	if ((err = expand(c, n->start_mark, path, v, n->data.scalar.length, out)) != LVC_OK) {
		return err;
	}
	if (!utf8_valid(*out, strlen(*out))) {
		free(*out);
		*out = NULL;
		return failf(c, n->start_mark, path,
		             "the value after substitution is not valid UTF-8");
	}
	return LVC_OK;
}

/* Reads a whole regular file of at most max bytes into a NUL-terminated
 * malloc'd buffer. On failure returns -1 with the reason in why. */
static int read_file(const char *path, size_t max, char **out, size_t *out_n, char *why,
                     size_t why_size)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = -1;

	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		goto exit;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "not a regular file");
		goto exit;
	}
	if ((uintmax_t)st.st_size > max) {
		snprintf(why, why_size, "larger than %zu bytes", max);
		goto exit;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		snprintf(why, why_size, "out of memory");
		goto exit;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			snprintf(why, why_size, "%s", strerror(errno));
			goto exit;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (n > max) {
			snprintf(why, why_size, "larger than %zu bytes", max);
			goto exit;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_n = n;
	buf = NULL;
	rc = 0;
exit:
	free(buf);
	close(fd);
	return rc;
}

/* The content of the file that a NAME_file value names (relative paths are
 * taken from the config file's directory), without one trailing newline. */
static lvc_err_t read_secret(ctx_t *c, const yaml_node_t *vn, const char *path, char **out)
{
	char *file = NULL, *full = NULL, *data = NULL;
	char why[128], shown[SHOW_LEN + 16];
	size_t n = 0;
	int null;
	lvc_err_t err;

	*out = NULL;
	if ((err = scalar(c, vn, path, NULL, &file, &null)) != LVC_OK) {
		goto exit;
	}
	if (null || file[0] == '\0') {
		err = failf(c, vn->start_mark, path, "a file path is required");
		goto exit;
	}
	if (file[0] != '/' && c->dir != NULL) {
		size_t len = strlen(c->dir) + strlen(file) + 2;

		if ((full = malloc(len)) == NULL) {
			err = nomem(c);
			goto exit;
		}
		snprintf(full, len, "%s/%s", c->dir, file);
	}
	if (read_file(full != NULL ? full : file, MAX_SECRET_BYTES, &data, &n, why, sizeof(why)) !=
	    0) {
		err = failf(c, vn->start_mark, path, "cannot read %s: %s",
		            show(full != NULL ? full : file, strlen(full != NULL ? full : file),
		                 shown, sizeof(shown)),
		            why);
		goto exit;
	}
	if (n > 0 && data[n - 1] == '\n') {
		data[--n] = '\0';
		if (n > 0 && data[n - 1] == '\r') {
			data[--n] = '\0';
		}
	}
	if (memchr(data, '\0', n) != NULL || !utf8_valid(data, n)) {
		err = failf(c, vn->start_mark, path,
		            "the content of %s is not allowed: a secret file must hold UTF-8 "
		            "text without NUL bytes",
		            show(file, strlen(file), shown, sizeof(shown)));
		goto exit;
	}
	*out = data;
	data = NULL;
exit:
	if (data != NULL) {
		wipe(data);
		free(data);
	}
	free(full);
	free(file);
	return err;
}

/* ------------------------------------------------------------------------
 * String checks
 */

static int name_chars(const char *v)
{
	for (const char *p = v; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
			return 0;
		}
	}
	return 1;
}

static const char *check_topic(const char *v)
{
	static const char *const what = "a Kafka topic name: 1 to 249 of letters, digits, '.', "
	                                "'_', '-' (not \".\" or \"..\")";

	if (v == NULL || v[0] == '\0' || strlen(v) > 249 || !name_chars(v) || strcmp(v, ".") == 0 ||
	    strcmp(v, "..") == 0) {
		return what;
	}
	return NULL;
}

static const char *check_prefix(const char *v)
{
	static const char *const what = "a topic name prefix: up to 200 of letters, digits, '.', "
	                                "'_', '-' (may be empty)";

	if (v == NULL || strlen(v) > 200 || !name_chars(v)) {
		return what;
	}
	return NULL;
}

static const char *check_instance(const char *v)
{
	static const char *const what = "an instance name: up to 200 of letters, digits, '.', "
	                                "'_', '-' (may be empty)";

	if (v == NULL || strlen(v) > MAX_NAME_BYTES || !name_chars(v)) {
		return what;
	}
	return NULL;
}

static const char *check_listen(const char *v)
{
	static const char *const what = "\"HOST:PORT\" with a port in [0, 65535] (e.g. "
	                                "\"127.0.0.1:9464\", \"[::1]:9464\"; 0 picks a free port, "
	                                "logged at start), or \"\" to disable";
	const char *colon;
	long port = 0;

	if (v == NULL) {
		return what;
	}
	if (v[0] == '\0') {
		return NULL;
	}
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v || colon[1] == '\0' || strlen(colon + 1) > 5) {
		return what;
	}
	for (const char *p = v; p < colon; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			return what;
		}
	}
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return what;
		}
		port = port * 10 + (*p - '0');
	}
	return port <= 65535 ? NULL : what;
}

static const char *check_url(const char *v)
{
	static const char *const what =
	    "an http:// or https:// URL of the Schema Registry without user:password@ "
	    "(credentials go in schema.registry.basic_auth), e.g. \"http://127.0.0.1:8081\", "
	    "or \"\" for none";
	const char *host;

	if (v == NULL) {
		return what;
	}
	if (v[0] == '\0') {
		return NULL;
	}
	if (strncmp(v, "http://", 7) == 0) {
		host = v + 7;
	} else if (strncmp(v, "https://", 8) == 0) {
		host = v + 8;
	} else {
		return what;
	}
	if (host[0] == '\0' || host[0] == '/' || strlen(v) > 1024) {
		return what;
	}
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			return what;
		}
	}
	/* userinfo would put a password into logs and errors */
	if (strchr(host, '@') != NULL &&
	    (strchr(host, '/') == NULL || strchr(host, '@') < strchr(host, '/'))) {
		return what;
	}
	return NULL;
}

static const char *check_path(const char *v)
{
	static const char *const what = "a file path (up to 4096 bytes), or \"\" for none";

	if (v == NULL || strlen(v) > 4096) {
		return what;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Leaves
 */

static int in_range(const cfg_key_t *e, double v)
{
	return (e->lo_open ? v > e->lo : v >= e->lo) && (e->hi_open ? v < e->hi : v <= e->hi);
}

static int parse_double(const char *s, double *out)
{
	char *end;

	/* strtod also takes hex floats, inf and nan, and skips blanks: none of
	 * those is a config number. */
	if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || strpbrk(s, "xXnN") != NULL) {
		return -1;
	}
	errno = 0;
	*out = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(*out)) {
		return -1;
	}
	return 0;
}

static int parse_int(const char *s, int64_t *out)
{
	const char *p = s[0] == '-' ? s + 1 : s;
	char *end;

	if (*p < '0' || *p > '9') {
		return -1;
	}
	errno = 0;
	*out = strtoll(s, &end, 10);
	return *end != '\0' || errno == ERANGE ? -1 : 0;
}

static int parse_duration(const char *s, int64_t *out_us);

static int parse_sym(const cfg_key_t *e, const char *s)
{
	for (size_t i = 0; i < e->nsyms; i++) {
		if (strcmp(e->syms[i], s) == 0) {
			return e->excl != NULL && strcmp(e->excl, s) == 0 ? -1 : (int)i;
		}
	}
	return -1;
}

/* Parses one scalar of kind e->kind (a number, duration, enum or bool) into
 * the field at p. K_DLIST and K_ELIST items use the scalar kind of their
 * elements. */
static lvc_err_t leaf_scalar(ctx_t *c, const cfg_key_t *e, kind_t kind, const char *path,
                             const yaml_node_t *vn, void *p)
{
	char *s = NULL;
	char shown[SHOW_LEN + 16];
	int null = 0;
	lvc_err_t err;

	if ((err = scalar(c, vn, path, e, &s, &null)) != LVC_OK) {
		goto exit;
	}
	show(s, strlen(s), shown, sizeof(shown));
	if (null) {
		err = fail_expect(c, vn->start_mark, path, e, "a value is required");
		goto exit;
	}
	switch (kind) {
	case K_BOOL: {
		int v;

		if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
			v = 1;
		} else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
		           strcmp(s, "FALSE") == 0) {
			v = 0;
		} else {
			char what[SHOW_LEN + 48];

			snprintf(what, sizeof(what), "%s is not a boolean", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_INT: {
		int64_t v;
		char what[SHOW_LEN + 48];

		if (parse_int(s, &v) != 0) {
			snprintf(what, sizeof(what), "%s is not an integer", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		if (!in_range(e, (double)v)) {
			snprintf(what, sizeof(what), "%s is out of range", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_DOUBLE:
	case K_DLIST: {
		double v;
		char what[SHOW_LEN + 48];

		if (parse_double(s, &v) != 0) {
			snprintf(what, sizeof(what), "%s is not a number", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		if (!in_range(e, v)) {
			snprintf(what, sizeof(what), "%s is out of range", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_DUR: {
		int64_t v;
		char what[SHOW_LEN + 48];

		int rc = parse_duration(s, &v);

		if (rc == -1) {
			snprintf(what, sizeof(what), "%s is not a duration", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		if (rc == -2 || !in_range(e, (double)v)) {
			snprintf(what, sizeof(what), "%s is out of range", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_ENUM:
	case K_ELIST: {
		int v = parse_sym(e, s);

		if (v < 0) {
			char what[SHOW_LEN + 48];

			snprintf(what, sizeof(what), "%s is not allowed", shown);
			err = fail_expect(c, vn->start_mark, path, e, what);
			goto exit;
		}
		memcpy(p, &v, sizeof(v));
		break;
	}
	default:
		err = failf(c, vn->start_mark, path, "internal error: kind %d is not a scalar",
		            (int)kind);
		goto exit;
	}
exit:
	free(s);
	return err;
}

static lvc_err_t set_string(ctx_t *c, const cfg_key_t *e, const char *path, yaml_mark_t m,
                            char *value, int secret, char *base)
{
	char **fp = (char **)(void *)(base + e->off);
	char shown[SHOW_LEN + 16];
	const char *bad;
	char what[SHOW_LEN + 48];
	size_t idx = (size_t)(e - keys);

	/* An empty secret has nothing to hide, and a dump must load back equal. */
	secret = secret || ((e->flags & F_SECRET) != 0 && value[0] != '\0');
	if (value[0] == '\0' && !(e->flags & F_EMPTY_OK)) {
		return fail_expect(c, m, path, e, "\"\" is not allowed");
	}
	if (e->check != NULL && (bad = e->check(value)) != NULL) {
		if (!secret && (e->flags & F_HIDE_BAD)) {
			return failf(c, m, path,
			             "the value (not shown: it may hold credentials) is not "
			             "allowed; allowed: %s",
			             bad);
		}
		if (secret) {
			return failf(c, m, path,
			             "the value read from the file is not allowed; "
			             "allowed: %s",
			             bad);
		}
		snprintf(what, sizeof(what), "%s is not allowed",
		         show(value, strlen(value), shown, sizeof(shown)));
		return failf(c, m, path, "%s; allowed: %s", what, bad);
	}
	if (c->priv->secret[idx]) {
		wipe(*fp);
	}
	free(*fp);
	*fp = value;
	c->priv->secret[idx] = (unsigned char)secret;
	return LVC_OK;
}

static lvc_err_t check_dups(ctx_t *c, const yaml_node_t *map, const char *prefix);

/* A list of mappings (leverage.tiers): every field of e->sub is required. */
static lvc_err_t leaf_records(ctx_t *c, const cfg_key_t *e, const char *path, const yaml_node_t *vn,
                              char *p)
{
	const yaml_node_item_t *it;
	size_t n = 0;
	lvc_err_t err = LVC_OK;

	for (it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++, n++) {
		const yaml_node_t *in = yaml_document_get_node(c->doc, *it);
		char ipath[PATH_LEN];
		int have[8] = { 0 };

		pathf(ipath, sizeof(ipath), "%s[%zu]", path, n);
		if (n >= e->cap) {
			char what[64];

			snprintf(
			    what, sizeof(what), "%zu entries are too many",
			    (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start));
			return fail_expect(c, in->start_mark, path, e, what);
		}
		if (in->type != YAML_MAPPING_NODE) {
			char what[SHOW_LEN + 48], shown[SHOW_LEN + 16];

			snprintf(what, sizeof(what), "%s is not allowed as an entry",
			         node_desc(in, shown, sizeof(shown)));
			return fail_expect(c, in->start_mark, ipath, e, what);
		}
		record_mark(c, ipath, in->start_mark);
		if ((err = check_dups(c, in, ipath)) != LVC_OK) {
			return err;
		}
		for (const yaml_node_pair_t *pr = in->data.mapping.pairs.start;
		     pr < in->data.mapping.pairs.top; pr++) {
			const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
			const yaml_node_t *fv = yaml_document_get_node(c->doc, pr->value);
			char kd[PATH_LEN / 2], fpath[PATH_LEN];
			size_t f;

			if (kn->type != YAML_SCALAR_NODE) {
				return failf(c, kn->start_mark, ipath,
				             "%s is not allowed as a key; keys are plain names",
				             node_what(kn));
			}
			key_disp((const char *)kn->data.scalar.value, kn->data.scalar.length, kd,
			         sizeof(kd));
			pathf(fpath, sizeof(fpath), "%s.%s", ipath, kd);
			for (f = 0; f < e->nsub; f++) {
				if (strcmp(e->sub[f].path, kd) == 0) {
					break;
				}
			}
			if (f == e->nsub) {
				sb_t b = { 0 };

				for (size_t k = 0; k < e->nsub; k++) {
					sb_printf(&b, "%s%s", k > 0 ? ", " : "", e->sub[k].path);
				}
				err = failf(c, kn->start_mark, fpath,
				            "unknown key; allowed keys of %s%s: %s", c->dprefix,
				            ipath, b.p != NULL ? b.p : "?");
				free(b.p);
				return err;
			}
			record_mark(c, fpath, kn->start_mark);
			if ((err = leaf_scalar(c, &e->sub[f], e->sub[f].kind, fpath, fv,
			                       p + n * e->rec_size + e->sub[f].off)) != LVC_OK) {
				return err;
			}
			have[f] = 1;
		}
		for (size_t f = 0; f < e->nsub; f++) {
			if (!have[f]) {
				return failf(c, in->start_mark, ipath,
				             "%s is required in every entry", e->sub[f].path);
			}
		}
	}
	return LVC_OK;
}

static lvc_err_t walk_kafka(ctx_t *c, const yaml_node_t *map);

/* Sets the leaf e (path) from the value node vn. */
static lvc_err_t leaf(ctx_t *c, const cfg_key_t *e, const char *path, const yaml_node_t *vn,
                      char *cfg_base, char *par_base)
{
	char *base = e->base == B_CFG ? cfg_base : par_base;
	lvc_err_t err = LVC_OK;

	switch (e->kind) {
	case K_STR: {
		char *s = NULL;
		int null = 0;

		if ((err = scalar(c, vn, path, e, &s, &null)) != LVC_OK) {
			return err;
		}
		if (null && !(e->flags & F_EMPTY_OK)) {
			free(s);
			return fail_expect(c, vn->start_mark, path, e, "a value is required");
		}
		if (null) {
			s[0] = '\0';
		}
		if ((err = set_string(c, e, path, vn->start_mark, s, 0, base)) != LVC_OK) {
			free(s);
		}
		return err;
	}
	case K_BOOL:
	case K_INT:
	case K_DOUBLE:
	case K_DUR:
	case K_ENUM:
		return leaf_scalar(c, e, e->kind, path, vn, base + e->off);
	case K_DLIST:
	case K_ELIST:
	case K_RECLIST: {
		size_t n = 0, elem = e->kind == K_DLIST ? sizeof(double) : sizeof(int);
		const yaml_node_item_t *it;
		size_t count;
		char tmp[LVC_MAX_TIERS * sizeof(lvc_tier_param_t) + LVC_MAX_STEPS * sizeof(double)];

		if (vn->type != YAML_SEQUENCE_NODE) {
			char what[SHOW_LEN + 48];

			if (vn->type == YAML_SCALAR_NODE && !is_null(vn)) {
				char shown[SHOW_LEN + 16];

				snprintf(what, sizeof(what), "%s is not a list",
				         show((const char *)vn->data.scalar.value,
				              vn->data.scalar.length, shown, sizeof(shown)));
			} else {
				snprintf(what, sizeof(what), "%s is not allowed here",
				         is_null(vn) ? "an empty value" : node_what(vn));
			}
			return fail_expect(c, vn->start_mark, path, e, what);
		}
		count = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
		/* Parse into a scratch copy so that a failed list leaves nothing
		 * half-set (the loader stops at the first error anyway). */
		memcpy(tmp, base + e->off,
		       e->kind == K_RECLIST ? e->cap * e->rec_size : e->cap * elem);
		if (e->kind == K_RECLIST) {
			if ((err = leaf_records(c, e, path, vn, tmp)) != LVC_OK) {
				return err;
			}
			memcpy(base + e->off, tmp, e->cap * e->rec_size);
			memcpy(base + e->off_n, &count, sizeof(count));
			return LVC_OK;
		}
		for (it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
		     it++, n++) {
			const yaml_node_t *in = yaml_document_get_node(c->doc, *it);
			char ipath[PATH_LEN];

			pathf(ipath, sizeof(ipath), "%s[%zu]", path, n);
			if (n >= e->cap) {
				char what[64];

				snprintf(what, sizeof(what), "%zu entries are too many", count);
				return fail_expect(c, in->start_mark, path, e, what);
			}
			if ((err = leaf_scalar(c, e, e->kind, ipath, in, tmp + n * elem)) !=
			    LVC_OK) {
				return err;
			}
		}
		memcpy(base + e->off, tmp, e->cap * elem);
		memcpy(base + e->off_n, &count, sizeof(count));
		return LVC_OK;
	}
	case K_KAFKA:
		return walk_kafka(c, vn);
	case K_INSTRUMENTS:
		if (!is_null(vn) && vn->type != YAML_MAPPING_NODE) {
			char what[SHOW_LEN + 48], shown[SHOW_LEN + 16];

			snprintf(what, sizeof(what), "%s is not allowed here",
			         node_desc(vn, shown, sizeof(shown)));
			return fail_expect(c, vn->start_mark, path, e, what);
		}
		c->inst_node = (yaml_node_t *)vn;
		return LVC_OK;
	}
	return err;
}

/* ------------------------------------------------------------------------
 * Mappings
 */

typedef struct keyref_s {
	const char *s;
	size_t n;
	size_t idx;
	yaml_mark_t mark;
} keyref_t;

static int keyref_cmp(const void *a, const void *b)
{
	const keyref_t *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int r = memcmp(x->s, y->s, n);

	if (r != 0) {
		return r;
	}
	if (x->n != y->n) {
		return x->n < y->n ? -1 : 1;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Refuses a key that occurs twice in map, naming the first occurrence. When
 * several keys repeat, the repetition earliest in the file is reported.
 * Sorting keeps this O(n log n) for large kafka or instruments maps. */
static lvc_err_t check_dups(ctx_t *c, const yaml_node_t *map, const char *prefix)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start), m = 0;
	keyref_t *refs;
	const keyref_t *best_first = NULL, *best = NULL;
	lvc_err_t err = LVC_OK;

	if (n < 2) {
		return LVC_OK;
	}
	if ((refs = malloc(n * sizeof(*refs))) == NULL) {
		return nomem(c);
	}
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *kn =
		    yaml_document_get_node(c->doc, map->data.mapping.pairs.start[i].key);

		if (kn->type == YAML_SCALAR_NODE) {
			refs[m].s = (const char *)kn->data.scalar.value;
			refs[m].n = kn->data.scalar.length;
			refs[m].idx = i;
			refs[m].mark = kn->start_mark;
			m++;
		}
	}
	qsort(refs, m, sizeof(*refs), keyref_cmp);
	for (size_t i = 1; i < m; i++) {
		if (refs[i].n == refs[i - 1].n &&
		    memcmp(refs[i].s, refs[i - 1].s, refs[i].n) == 0 &&
		    (i < 2 || refs[i - 2].n != refs[i].n ||
		     memcmp(refs[i].s, refs[i - 2].s, refs[i].n) != 0)) {
			/* refs[i] is the second occurrence of its key. */
			if (best == NULL || refs[i].idx < best->idx) {
				best = &refs[i];
				best_first = &refs[i - 1];
			}
		}
	}
	if (best != NULL) {
		char kd[PATH_LEN / 2], path[PATH_LEN];

		key_disp(best->s, best->n, kd, sizeof(kd));
		join(path, prefix, kd);
		err = failf(c, best->mark, path, "duplicate key; first set at %zu:%zu",
		            best_first->mark.line + 1, best_first->mark.column + 1);
	}
	free(refs);
	return err;
}

/* The pair of map whose key is the n bytes at s, or NULL. */
static const yaml_node_t *map_find(ctx_t *c, const yaml_node_t *map, const char *s, size_t n)
{
	for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);

		if (kn->type == YAML_SCALAR_NODE && kn->data.scalar.length == n &&
		    memcmp(kn->data.scalar.value, s, n) == 0) {
			return kn;
		}
	}
	return NULL;
}

/* A key node as text: it must be a scalar without NUL. */
static lvc_err_t key_of(ctx_t *c, const yaml_node_t *kn, const char *prefix)
{
	char where[PATH_LEN + 2];

	/* Errors name the mapping that holds the key, also at the top of an
	 * instrument's override ("instruments.NAME"). */
	if (prefix[0] != '\0') {
		pathf(where, sizeof(where), "%s%s: ", c->dprefix, prefix);
	} else if (c->dprefix[0] != '\0') {
		pathf(where, sizeof(where), "%.*s: ", (int)strlen(c->dprefix) - 1, c->dprefix);
	} else {
		where[0] = '\0';
	}
	if (kn->type != YAML_SCALAR_NODE) {
		return failf(c, kn->start_mark, NULL,
		             "%s%s is not allowed as a key; keys are plain names", where,
		             node_what(kn));
	}
	if (memchr(kn->data.scalar.value, '\0', kn->data.scalar.length) != NULL) {
		return failf(c, kn->start_mark, NULL, "%sa NUL character is not allowed in a key",
		             where);
	}
	return LVC_OK;
}

static lvc_err_t unknown_key(ctx_t *c, yaml_mark_t m, const char *prefix, const char *path)
{
	sb_t b = { 0 };
	lvc_err_t err;

	children(c, prefix, &b);
	if (prefix[0] == '\0' && c->scope < 0) {
		err = failf(c, m, path, "unknown key; allowed top-level keys: %s",
		            b.p != NULL ? b.p : "?");
	} else if (prefix[0] == '\0') {
		char dp[PATH_LEN];

		snprintf(dp, sizeof(dp), "%s", c->dprefix);
		dp[strlen(dp) > 0 ? strlen(dp) - 1 : 0] = '\0'; /* the trailing '.' */
		err = failf(c, m, path, "unknown key; allowed keys of %s: %s", dp,
		            b.p != NULL ? b.p : "?");
	} else {
		err = failf(c, m, path, "unknown key; allowed keys of %s%s: %s", c->dprefix, prefix,
		            b.p != NULL ? b.p : "?");
	}
	free(b.p);
	return err;
}

/* Walks a section mapping: prefix is its path ("" at the top level or at
 * the top of an instrument override). */
static lvc_err_t walk_map(ctx_t *c, const yaml_node_t *map, const char *prefix, char *cfg_base,
                          char *par_base)
{
	lvc_err_t err;

	if ((err = check_dups(c, map, prefix)) != LVC_OK) {
		return err;
	}
	for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		const yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		char kd[PATH_LEN / 2], full[PATH_LEN];
		const cfg_key_t *e, *fe;
		size_t kl;

		if ((err = key_of(c, kn, prefix)) != LVC_OK) {
			return err;
		}
		key_disp((const char *)kn->data.scalar.value, kn->data.scalar.length, kd,
		         sizeof(kd));
		join(full, prefix, kd);
		record_mark(c, full, kn->start_mark);
		kl = strlen(full);
		e = find_key(c, full);
		fe = NULL;
		if (e == NULL && kl > 5 && strcmp(full + kl - 5, "_file") == 0) {
			char name[PATH_LEN];

			memcpy(name, full, kl - 5);
			name[kl - 5] = '\0';
			if ((fe = find_key(c, name)) != NULL && fe->kind != K_STR) {
				fe = NULL;
			}
		}
		if (e != NULL) {
			err = leaf(c, e, full, vn, cfg_base, par_base);
		} else if (fe != NULL) {
			const yaml_node_t *sib;
			char *secret = NULL;
			int nl = (int)(kl - 5);

			sib = map_find(c, map, (const char *)kn->data.scalar.value,
			               kn->data.scalar.length - 5);
			if (sib != NULL) {
				return failf(c, kn->start_mark, full,
				             "%.*s and %s are both set (%.*s at %zu:%zu); set one "
				             "of them",
				             nl, full, full, nl, full, sib->start_mark.line + 1,
				             sib->start_mark.column + 1);
			}
			if ((err = read_secret(c, vn, full, &secret)) != LVC_OK) {
				return err;
			}
			if ((err = set_string(c, fe, full, vn->start_mark, secret, 1, cfg_base)) !=
			    LVC_OK) {
				wipe(secret);
				free(secret);
			}
		} else if (is_section(c, full)) {
			if (is_null(vn)) {
				continue;
			}
			if (vn->type != YAML_MAPPING_NODE) {
				sb_t b = { 0 };

				char shown[SHOW_LEN + 16];

				children(c, full, &b);
				err = failf(
				    c, vn->start_mark, full,
				    "%s is not allowed here; allowed: a mapping with keys %s",
				    node_desc(vn, shown, sizeof(shown)), b.p != NULL ? b.p : "?");
				free(b.p);
				return err;
			}
			err = walk_map(c, vn, full, cfg_base, par_base);
		} else {
			err = unknown_key(c, kn->start_mark, prefix, full);
		}
		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

/* ------------------------------------------------------------------------
 * kafka
 */

static int kafka_is_secret(const char *name)
{
	return strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
	       strcmp(name, "sasl.oauthbearer.config") == 0 || strcmp(name, "ssl.key.pem") == 0 ||
	       strcmp(name, "ssl_key") == 0;
}

static int kafka_is_unsafe(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(unsafe_props); i++) {
		if (strcmp(name, unsafe_props[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

static int shell_safe(const char *v)
{
	for (const char *p = v; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("@._/+=:-", *p) != NULL)) {
			return 0;
		}
	}
	return 1;
}

static lvc_err_t kafka_append(ctx_t *c, char *key, char *value, int secret, yaml_mark_t m)
{
	lvc_config_t *cfg = &c->priv->pub;
	lvc_kv_t *kv;
	yaml_mark_t *km;

	if ((kv = realloc(cfg->kafka, (cfg->kafka_n + 1) * sizeof(*kv))) == NULL) {
		return nomem(c);
	}
	cfg->kafka = kv;
	if ((km = realloc(c->kmarks, (cfg->kafka_n + 1) * sizeof(*km))) == NULL) {
		return nomem(c);
	}
	c->kmarks = km;
	kv[cfg->kafka_n].key = key;
	kv[cfg->kafka_n].value = value;
	kv[cfg->kafka_n].secret = secret;
	km[cfg->kafka_n] = m;
	cfg->kafka_n++;
	return LVC_OK;
}

/* The kafka section: property -> scalar, kept as text in file order;
 * NAME_file reads NAME's value from a file. Names and values are checked
 * against librdkafka after the walk (check_kafka), when kafka_allow_unsafe
 * is known wherever it is in the file. */
static lvc_err_t walk_kafka(ctx_t *c, const yaml_node_t *map)
{
	lvc_err_t err;

	if (is_null(map)) {
		return LVC_OK;
	}
	if (map->type != YAML_MAPPING_NODE) {
		char shown[SHOW_LEN + 16];

		return failf(c, map->start_mark, "kafka",
		             "%s is not allowed here; allowed: a mapping of librdkafka property "
		             "names to values (e.g. bootstrap.servers: 127.0.0.1:9092)",
		             node_desc(map, shown, sizeof(shown)));
	}
	if ((err = check_dups(c, map, "kafka")) != LVC_OK) {
		return err;
	}
	for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		const yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		char kd[PATH_LEN / 2], path[PATH_LEN];
		char *key = NULL, *value = NULL;
		const char *raw;
		size_t n;
		int null = 0, from_file = 0;

		if ((err = key_of(c, kn, "kafka")) != LVC_OK) {
			return err;
		}
		raw = (const char *)kn->data.scalar.value;
		n = kn->data.scalar.length;
		key_disp(raw, n, kd, sizeof(kd));
		join(path, "kafka", kd);
		if (n == 0 || !name_chars(raw) || n > 128) {
			return failf(
			    c, kn->start_mark, path,
			    "not a librdkafka property name; allowed: 1 to 128 of letters, "
			    "digits, '.', '_', '-' (see librdkafka CONFIGURATION.md)");
		}
		if (n > 5 && strcmp(raw + n - 5, "_file") == 0) {
			const yaml_node_t *sib = map_find(c, map, raw, n - 5);

			if (sib != NULL) {
				return failf(c, kn->start_mark, path,
				             "%.*s and %s are both set (%.*s at %zu:%zu); set one "
				             "of them",
				             (int)(n - 5), raw, raw, (int)(n - 5), raw,
				             sib->start_mark.line + 1, sib->start_mark.column + 1);
			}
			if ((err = read_secret(c, vn, path, &value)) != LVC_OK) {
				return err;
			}
			key = xstrndup(raw, n - 5);
			from_file = 1;
		} else {
			if ((err = scalar(c, vn, path, NULL, &value, &null)) != LVC_OK) {
				return err;
			}
			if (null) {
				free(value);
				return failf(c, vn->start_mark, path,
				             "a value is required; allowed: the property's value "
				             "(a string, number or boolean)");
			}
			key = xstrndup(raw, n);
		}
		if (key == NULL ||
		    (err = kafka_append(c, key, value, from_file || kafka_is_secret(key),
		                        kn->start_mark)) != LVC_OK) {
			free(key);
			if (from_file) {
				wipe(value);
			}
			free(value);
			return key == NULL ? nomem(c) : err;
		}
	}
	return LVC_OK;
}

/* Refuses unsafe properties (unless allowed) and asks librdkafka itself
 * whether every other name and value is valid, so that a typo is reported
 * here with its position rather than at start-up without one. */
static lvc_err_t check_kafka(ctx_t *c)
{
	lvc_config_t *cfg = &c->priv->pub;
	rd_kafka_conf_t *conf = NULL;
	lvc_err_t err = LVC_OK;

	for (size_t i = 0; i < cfg->kafka_n; i++) {
		const lvc_kv_t *kv = &cfg->kafka[i];
		char path[PATH_LEN], why[512];

		join(path, "kafka", kv->key);
		if (kafka_is_unsafe(kv->key)) {
			if (!cfg->kafka_allow_unsafe) {
				err = failf(c, c->kmarks[i], path,
				            "refused: this librdkafka property loads code or runs "
				            "commands; set kafka_allow_unsafe: true to allow it");
				goto exit;
			}
			continue; /* never set on the probe: plugin.library.paths dlopen()s */
		}
		for (size_t k = 0; k < ARRAY_LEN(shell_props); k++) {
			char shown[SHOW_LEN + 16];

			if (strcmp(kv->key, shell_props[k]) == 0 && !cfg->kafka_allow_unsafe &&
			    !shell_safe(kv->value)) {
				err =
				    failf(c, c->kmarks[i], path,
				          "%s is refused: librdkafka passes this value to a shell "
				          "(sasl.kerberos.kinit.cmd); allowed: letters, digits and "
				          "@._/+=:- , or set kafka_allow_unsafe: true",
				          kv->secret ? "the value"
				                     : show(kv->value, strlen(kv->value), shown,
				                            sizeof(shown)));
				goto exit;
			}
		}
		if (conf == NULL && (conf = rd_kafka_conf_new()) == NULL) {
			err = nomem(c);
			goto exit;
		}
		if (rd_kafka_conf_set(conf, kv->key, kv->value, why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK) {
			/* librdkafka quotes a refused value ("Invalid value \"x\" for
			 * ..."): a secret one is not repeated. */
			if (kv->secret && strstr(why, "Invalid value \"") != NULL) {
				snprintf(why, sizeof(why),
				         "the value (secret, not shown) is not allowed for this "
				         "property");
			}
			err = failf(c, c->kmarks[i], path, "refused by librdkafka: %s", why);
			goto exit;
		}
	}
exit:
	if (conf != NULL) {
		rd_kafka_conf_destroy(conf);
	}
	return err;
}

/* ------------------------------------------------------------------------
 * instruments
 */

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > MAX_NAME_BYTES) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			return 0;
		}
	}
	return utf8_valid(s, n);
}

/* Each instrument starts from a copy of the final global block and its
 * overrides are walked onto it: a key it does not set is inherited. */
static lvc_err_t walk_instruments(ctx_t *c)
{
	lvc_config_t *cfg = &c->priv->pub;
	const yaml_node_t *map = c->inst_node;
	size_t n;
	lvc_err_t err = LVC_OK;

	if (map == NULL || is_null(map)) {
		return LVC_OK;
	}
	if ((err = check_dups(c, map, "instruments")) != LVC_OK) {
		return err;
	}
	n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	if (n == 0) {
		return LVC_OK;
	}
	if ((cfg->instruments = calloc(n, sizeof(*cfg->instruments))) == NULL) {
		return nomem(c);
	}
	for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		const yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		lvc_inst_params_t *ins;
		char kd[PATH_LEN / 2], path[PATH_LEN];
		char *name;

		if ((err = key_of(c, kn, "instruments")) != LVC_OK) {
			goto exit;
		}
		key_disp((const char *)kn->data.scalar.value, kn->data.scalar.length, kd,
		         sizeof(kd));
		join(path, "instruments", kd);
		if (!name_ok((const char *)kn->data.scalar.value, kn->data.scalar.length)) {
			err = failf(c, kn->start_mark, path,
			            "not an instrument name; allowed: 1 to %d bytes of UTF-8 "
			            "without control characters",
			            MAX_NAME_BYTES);
			goto exit;
		}
		if ((name = xstrndup((const char *)kn->data.scalar.value,
		                     kn->data.scalar.length)) == NULL) {
			err = nomem(c);
			goto exit;
		}
		ins = &cfg->instruments[cfg->instruments_n++];
		ins->name = name;
		ins->params = cfg->defaults;
		c->scope = (int)(cfg->instruments_n - 1);
		pathf(c->dprefix, sizeof(c->dprefix), "%s.", path);
		record_mark(c, "", kn->start_mark);
		if (is_null(vn)) {
			continue;
		}
		if (vn->type != YAML_MAPPING_NODE) {
			c->dprefix[0] = '\0';
			char shown[SHOW_LEN + 16];

			err = failf(
			    c, vn->start_mark, path,
			    "%s is not allowed here; allowed: a mapping with keys volatility, "
			    "leverage, warnings (overrides of the global sections)",
			    node_desc(vn, shown, sizeof(shown)));
			goto exit;
		}
		if ((err = walk_map(c, vn, "", NULL, (char *)&ins->params)) != LVC_OK) {
			goto exit;
		}
	}
exit:
	c->scope = -1;
	if (err == LVC_OK) {
		c->dprefix[0] = '\0';
	}
	return err;
}

/* ------------------------------------------------------------------------
 * Cross-key rules: lvc_params_check() names a path ("volatility.window",
 * "leverage.tiers[1].notional_cap", "warnings"); the error points at that
 * key if the file sets it, else at the nearest enclosing key it sets.
 */

static yaml_mark_t locate(const ctx_t *c, int scope, const char *msg, yaml_mark_t fallback)
{
	char path[PATH_LEN];
	size_t n = strcspn(msg, ": ");

	snprintf(path, sizeof(path), "%.*s", (int)(n < sizeof(path) ? n : sizeof(path) - 1), msg);
	for (;;) {
		char *cut;

		for (size_t i = 0; i < c->marks_n; i++) {
			if (c->marks[i].scope == scope && strcmp(c->marks[i].path, path) == 0) {
				return c->marks[i].mark;
			}
		}
		if (path[0] == '\0') {
			return fallback;
		}
		cut = strrchr(path, '.');
		if (strrchr(path, '[') > cut) {
			cut = strrchr(path, '[');
		}
		if (cut == NULL) {
			cut = path;
		}
		*cut = '\0';
	}
}

/* Rules that tie the schema.* keys together. */
static lvc_err_t check_schema(ctx_t *c)
{
	const lvc_config_t *cfg = &c->priv->pub;

	if (cfg->schema.registry_password[0] != '\0' && cfg->schema.registry_user[0] == '\0') {
		return failf(c, locate(c, -1, "schema.registry.basic_auth", c->root_mark),
		             "schema.registry.basic_auth",
		             "a password without a user is not allowed; set user too");
	}
	if ((cfg->schema.registry_cert_file[0] != '\0') !=
	    (cfg->schema.registry_key_file[0] != '\0')) {
		return failf(c, locate(c, -1, "schema.registry.tls", c->root_mark),
		             "schema.registry.tls",
		             "cert_file and key_file go together (mutual TLS); set both or "
		             "neither");
	}
	/* wire_format confluent without schema.registry.url needs schema.ids for
	 * every record it meets; that is checked when the stage starts
	 * (io/framing.c names the missing key), not here, so that a config
	 * for a registry-less bus may set only the ids it uses. */
	return LVC_OK;
}

static lvc_err_t check_params(ctx_t *c)
{
	lvc_config_t *cfg = &c->priv->pub;
	char msg[512];

	if (lvc_params_check(&cfg->defaults, msg, sizeof(msg)) != LVC_OK) {
		return failf(c, locate(c, -1, msg, c->root_mark), NULL, "%s", msg);
	}
	for (size_t i = 0; i < cfg->instruments_n; i++) {
		const lvc_inst_params_t *ins = &cfg->instruments[i];

		if (lvc_params_check(&ins->params, msg, sizeof(msg)) != LVC_OK) {
			char kd[PATH_LEN / 2];

			key_disp(ins->name, strlen(ins->name), kd, sizeof(kd));
			return failf(c, locate(c, (int)i, msg, c->root_mark), NULL,
			             "instruments.%s.%s", kd, msg);
		}
	}
	return LVC_OK;
}

/* ------------------------------------------------------------------------
 * Values as text: the canonical form (config_id) and YAML (dump)
 */

static void fmt_double(sb_t *b, double v, int canonical)
{
	char buf[40];

	if (canonical) {
		sb_printf(b, "%.17g", v);
		return;
	}
	/* The shortest text that reads back as the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v) {
			break;
		}
	}
	sb_puts(b, buf);
}

static void fmt_scalar(sb_t *b, const cfg_key_t *e, kind_t kind, const char *p, int canonical)
{
	switch (kind) {
	case K_BOOL:
	case K_ENUM:
	case K_ELIST: {
		int v;

		memcpy(&v, p, sizeof(v));
		if (kind == K_BOOL) {
			sb_puts(b, v ? "true" : "false");
		} else {
			sb_puts(b, v >= 0 && (size_t)v < e->nsyms ? e->syms[v] : "?");
		}
		break;
	}
	case K_INT: {
		int64_t v;

		memcpy(&v, p, sizeof(v));
		sb_printf(b, "%" PRId64, v);
		break;
	}
	case K_DOUBLE:
	case K_DLIST: {
		double v;

		memcpy(&v, p, sizeof(v));
		fmt_double(b, v, canonical);
		break;
	}
	case K_DUR: {
		int64_t v;
		char buf[64];

		memcpy(&v, p, sizeof(v));
		if (canonical) {
			sb_printf(b, "%" PRId64, v);
		} else {
			sb_puts(b, lvc_duration_format(v, buf, sizeof(buf)));
		}
		break;
	}
	default:
		break;
	}
}

/* The value of e at base (a lvc_config_t or lvc_params_t) as YAML flow text,
 * or in the canonical form when canonical is set. */
static void fmt_value(sb_t *b, const cfg_key_t *e, const char *base, int redact, int canonical)
{
	const char *p = base + e->off;

	switch (e->kind) {
	case K_STR: {
		const char *s;

		memcpy(&s, p, sizeof(s));
		if (redact) {
			sb_puts(b, "\"<redacted>\"");
		} else {
			sb_quote(b, s != NULL ? s : "", 1);
		}
		break;
	}
	case K_DLIST:
	case K_ELIST:
	case K_RECLIST: {
		size_t n, elem = e->kind == K_DLIST   ? sizeof(double)
		                 : e->kind == K_ELIST ? sizeof(int)
		                                      : e->rec_size;

		memcpy(&n, base + e->off_n, sizeof(n));
		sb_puts(b, "[");
		for (size_t i = 0; i < n && i < e->cap; i++) {
			if (i > 0) {
				sb_puts(b, ", ");
			}
			if (e->kind != K_RECLIST) {
				fmt_scalar(b, e, e->kind, p + i * elem, canonical);
				continue;
			}
			sb_puts(b, "{");
			for (size_t f = 0; f < e->nsub; f++) {
				sb_printf(b, "%s%s: ", f > 0 ? ", " : "", e->sub[f].path);
				fmt_scalar(b, &e->sub[f], e->sub[f].kind,
				           p + i * elem + e->sub[f].off, canonical);
			}
			sb_puts(b, "}");
		}
		sb_puts(b, "]");
		break;
	}
	case K_KAFKA:
	case K_INSTRUMENTS:
		break;
	default:
		fmt_scalar(b, e, e->kind, p, canonical);
		break;
	}
}

static void canon_params(sb_t *b, const lvc_params_t *par)
{
	for (size_t i = 0; i < KEYS_N; i++) {
		if (keys[i].base == B_PARAMS) {
			sb_printf(b, "%s=", keys[i].path);
			fmt_value(b, &keys[i], (const char *)par, 0, 1);
			sb_puts(b, "\n");
		}
	}
}

static int inst_cmp(const void *a, const void *b)
{
	const lvc_inst_params_t *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* config_id: FNV-1a 64 over the canonical form of what decides the events
 * produced — the global model parameters, then each instrument whose merged
 * parameters differ from them, sorted by name. Kafka properties (bootstrap
 * servers, secrets), topics, the wire format, processing, metrics, log and
 * instance decide where and how events travel, not what they say, and are
 * left out. Doubles are written with 17 digits, durations in microseconds. */
static lvc_err_t compute_id(lvc_config_t *cfg)
{
	sb_t b = { 0 }, g = { 0 }, one = { 0 };
	const lvc_inst_params_t **sorted = NULL;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	lvc_err_t err = LVC_OK;

	sb_puts(&b, "levcal config_id v1\n");
	canon_params(&g, &cfg->defaults);
	if (g.p != NULL) {
		sb_puts(&b, g.p);
	}
	if (cfg->instruments_n > 0 &&
	    (sorted = malloc(cfg->instruments_n * sizeof(*sorted))) == NULL) {
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	for (size_t i = 0; i < cfg->instruments_n; i++) {
		sorted[i] = &cfg->instruments[i];
	}
	if (sorted != NULL) {
		qsort(sorted, cfg->instruments_n, sizeof(*sorted), inst_cmp);
	}
	for (size_t i = 0; i < cfg->instruments_n; i++) {
		one.n = 0;
		canon_params(&one, &sorted[i]->params);
		if (one.p != NULL && g.p != NULL && strcmp(one.p, g.p) == 0) {
			continue;
		}
		sb_printf(&b, "instrument %zu:", strlen(sorted[i]->name));
		sb_puts(&b, sorted[i]->name);
		sb_puts(&b, "\n");
		if (one.p != NULL) {
			sb_puts(&b, one.p);
		}
	}
	if (b.oom || g.oom || one.oom) {
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	for (size_t i = 0; i < b.n; i++) {
		h ^= (unsigned char)b.p[i];
		h *= UINT64_C(0x100000001b3);
	}
	snprintf(cfg->config_id, sizeof(cfg->config_id), "%016" PRIx64, h);
exit:
	free(sorted);
	free(one.p);
	free(g.p);
	free(b.p);
	return err;
}

/* Number of leading dot-separated section components (not the leaf) that
 * paths a and b share. */
static size_t common_sections(const char *a, const char *b)
{
	size_t n = 0;

	for (size_t i = 0;; i++) {
		if (a[i] != b[i] || a[i] == '\0') {
			return n;
		}
		if (a[i] == '.') {
			n++;
		}
	}
}

static void indent(sb_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sb_puts(b, " ");
	}
}

/* Emits the leaf e at ind under the section headers it needs, given the
 * path of the previously emitted key. */
static void emit_path(sb_t *b, const char *prev, const char *path, size_t ind)
{
	size_t common = prev != NULL ? common_sections(prev, path) : 0, level = 0;
	const char *p = path;

	for (const char *dot; (dot = strchr(p, '.')) != NULL; p = dot + 1, level++) {
		if (level >= common) {
			indent(b, ind + 2 * level);
			sb_putn(b, p, (size_t)(dot - p));
			sb_puts(b, ":\n");
		}
	}
	indent(b, ind + 2 * level);
	sb_puts(b, p);
	sb_puts(b, ":");
}

/* The indentation of the leaf of path under ind. */
static size_t leaf_indent(const char *path, size_t ind)
{
	for (const char *p = path; (p = strchr(p, '.')) != NULL; p++) {
		ind += 2;
	}
	return ind;
}

/* A value in the dump: lists of records (tiers) as a block list, one record
 * per line; everything else in flow style. */
static void emit_value(sb_t *b, const cfg_key_t *e, const char *base, int redact, size_t ind)
{
	size_t n;

	if (e->kind != K_RECLIST) {
		sb_puts(b, " ");
		fmt_value(b, e, base, redact, 0);
		sb_puts(b, "\n");
		return;
	}
	memcpy(&n, base + e->off_n, sizeof(n));
	if (n == 0) {
		sb_puts(b, " []\n");
		return;
	}
	sb_puts(b, "\n");
	for (size_t i = 0; i < n && i < e->cap; i++) {
		indent(b, ind + 2);
		sb_puts(b, "- {");
		for (size_t f = 0; f < e->nsub; f++) {
			sb_printf(b, "%s%s: ", f > 0 ? ", " : "", e->sub[f].path);
			fmt_scalar(b, &e->sub[f], e->sub[f].kind,
			           base + e->off + i * e->rec_size + e->sub[f].off, 0);
		}
		sb_puts(b, "}\n");
	}
}

static void dump_params_diff(sb_t *b, const lvc_params_t *par, const lvc_params_t *global,
                             size_t ind, int *any)
{
	const char *prev = NULL;

	for (size_t i = 0; i < KEYS_N; i++) {
		const cfg_key_t *e = &keys[i];
		sb_t x = { 0 }, y = { 0 };
		int same;

		if (e->base != B_PARAMS) {
			continue;
		}
		fmt_value(&x, e, (const char *)par, 0, 1);
		fmt_value(&y, e, (const char *)global, 0, 1);
		same = x.p != NULL && y.p != NULL && strcmp(x.p, y.p) == 0;
		free(x.p);
		free(y.p);
		if (same) {
			continue;
		}
		emit_path(b, prev, e->path, ind);
		emit_value(b, e, (const char *)par, 0, leaf_indent(e->path, ind));
		prev = e->path;
		*any = 1;
	}
}

static void dump_config(sb_t *b, const lvc_config_t *cfg)
{
	const cfg_priv_t *priv = (const cfg_priv_t *)(const void *)cfg;
	const char *prev = NULL;

	sb_printf(b, "# levcal effective configuration; config_id %s\n", cfg->config_id);
	for (size_t i = 0; i < KEYS_N; i++) {
		const cfg_key_t *e = &keys[i];

		if (prev != NULL && common_sections(prev, e->path) == 0 &&
		    (strchr(prev, '.') != NULL || strchr(e->path, '.') != NULL)) {
			sb_puts(b, "\n");
		}
		if (e->kind == K_KAFKA) {
			if (cfg->kafka_n == 0) {
				sb_puts(b, "kafka: {}\n");
			} else {
				sb_puts(b, "kafka:\n");
			}
			for (size_t k = 0; k < cfg->kafka_n; k++) {
				sb_printf(b, "  %s: ", cfg->kafka[k].key);
				if (cfg->kafka[k].secret) {
					sb_puts(b, "\"<redacted>\"");
				} else {
					sb_quote(b, cfg->kafka[k].value, 1);
				}
				sb_puts(b, "\n");
			}
		} else if (e->kind == K_INSTRUMENTS) {
			sb_puts(b,
			        cfg->instruments_n == 0 ? "instruments: {}\n" : "instruments:\n");
			for (size_t k = 0; k < cfg->instruments_n; k++) {
				sb_t body = { 0 };
				int any = 0;

				dump_params_diff(&body, &cfg->instruments[k].params, &cfg->defaults,
				                 4, &any);
				sb_puts(b, "  ");
				sb_quote(b, cfg->instruments[k].name, 0);
				sb_puts(b, any ? ":\n" : ": {}\n");
				if (body.p != NULL) {
					sb_puts(b, body.p);
				}
				b->oom |= body.oom;
				free(body.p);
			}
		} else {
			emit_path(b, prev, e->path, 0);
			emit_value(b, e,
			           e->base == B_CFG ? (const char *)cfg
			                            : (const char *)&cfg->defaults,
			           e->kind == K_STR && priv->secret[i], leaf_indent(e->path, 0));
		}
		prev = e->path;
	}
}

/* ------------------------------------------------------------------------
 * Loading
 */

static void text_pos(const ctx_t *c, size_t offset, yaml_mark_t *m)
{
	m->index = offset;
	m->line = 0;
	m->column = 0;
	for (size_t i = 0; i < offset && i < c->text_len; i++) {
		if (c->text[i] == '\n') {
			m->line++;
			m->column = 0;
		} else {
			m->column++;
		}
	}
}

static lvc_err_t yaml_fail(ctx_t *c, const yaml_parser_t *p)
{
	yaml_mark_t m;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return nomem(c);
	case YAML_READER_ERROR:
		text_pos(c, p->problem_offset, &m);
		if (p->problem_value != -1) {
			return failf(c, m, NULL, "YAML syntax error: %s (#%X at byte %zu)",
			             p->problem, (unsigned)p->problem_value, p->problem_offset);
		}
		return failf(c, m, NULL, "YAML syntax error: %s (at byte %zu)", p->problem,
		             p->problem_offset);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
	case YAML_COMPOSER_ERROR:
		if (p->context != NULL) {
			return failf(c, p->problem_mark, NULL,
			             "YAML syntax error: %s (%s at %zu:%zu)", p->problem,
			             p->context, p->context_mark.line + 1,
			             p->context_mark.column + 1);
		}
		return failf(c, p->problem_mark, NULL, "YAML syntax error: %s", p->problem);
	default:
		break;
	}
	return failf(c, p->problem_mark, NULL, "YAML error: %s",
	             p->problem != NULL ? p->problem : "unknown");
}

/* One pass over the events before composing: libyaml's composer recurses
 * once per nesting level, so deep nesting is refused here first. */
static lvc_err_t check_depth(ctx_t *c)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, done = 0;
	lvc_err_t err = LVC_OK;

	if (!yaml_parser_initialize(&p)) {
		return nomem(c);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)c->text, c->text_len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			err = yaml_fail(c, &p);
			break;
		}
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > MAX_DEPTH) {
				err = failf(c, ev.start_mark, NULL,
				            "nesting deeper than %d levels is not allowed",
				            MAX_DEPTH);
				done = 1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return err;
}

static void set_default(cfg_priv_t *priv, const cfg_key_t *e, int *oom)
{
	char *p = (char *)&priv->pub + e->off;

	switch (e->kind) {
	case K_STR: {
		char *s = xstrdup(e->def_str != NULL ? e->def_str : "");

		*oom |= s == NULL;
		memcpy(p, &s, sizeof(s));
		break;
	}
	case K_BOOL:
	case K_ENUM: {
		int v = (int)e->def_num;

		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_INT:
	case K_DUR: {
		int64_t v = (int64_t)e->def_num;

		memcpy(p, &v, sizeof(v));
		break;
	}
	case K_DOUBLE:
		memcpy(p, &e->def_num, sizeof(double));
		break;
	default:
		break;
	}
}

static cfg_priv_t *priv_new(const char *path)
{
	cfg_priv_t *priv = calloc(1, sizeof(*priv));
	int oom = 0;

	if (priv == NULL) {
		return NULL;
	}
	lvc_params_defaults(&priv->pub.defaults);
	for (size_t i = 0; i < KEYS_N; i++) {
		if (keys[i].base == B_CFG) {
			set_default(priv, &keys[i], &oom);
		}
	}
	priv->pub.path = xstrdup(path);
	if (oom || priv->pub.path == NULL) {
		lvc_config_destroy(&priv->pub);
		return NULL;
	}
	return priv;
}

static lvc_config_t *load_text(const char *text, size_t len, const char *name, const char *dir,
                               char *errstr, size_t errstr_size)
{
	ctx_t c;
	yaml_parser_t parser;
	yaml_document_t doc, doc2;
	int parser_ok = 0, doc_ok = 0, doc2_ok = 0;
	const yaml_node_t *root;
	lvc_config_t *ret = NULL;
	lvc_err_t err = LVC_OK;

	memset(&c, 0, sizeof(c));
	c.name = name;
	c.dir = dir;
	c.text = text;
	c.text_len = len;
	c.errstr = errstr;
	c.errstr_size = errstr_size;
	c.scope = -1;
	c.doc = &doc;
	if (errstr_size > 0) {
		errstr[0] = '\0';
	}
	if ((err = check_depth(&c)) != LVC_OK) {
		goto exit;
	}
	if ((c.priv = priv_new(name)) == NULL) {
		err = nomem(&c);
		goto exit;
	}
	if (!yaml_parser_initialize(&parser)) {
		err = nomem(&c);
		goto exit;
	}
	parser_ok = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err = yaml_fail(&c, &parser);
		goto exit;
	}
	doc_ok = 1;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) {
		c.root_mark = root->start_mark;
		if (!yaml_parser_load(&parser, &doc2)) {
			err = yaml_fail(&c, &parser);
			goto exit;
		}
		doc2_ok = 1;
		if (yaml_document_get_root_node(&doc2) != NULL) {
			err = failf(&c, doc2.start_mark, NULL,
			            "a second YAML document is not allowed; the config is one "
			            "document");
			goto exit;
		}
	}
	if (root != NULL && !is_null(root)) {
		if (root->type != YAML_MAPPING_NODE) {
			sb_t b = { 0 };

			children(&c, "", &b);
			err = failf(&c, root->start_mark, NULL,
			            "the top level must be a mapping with keys %s, not %s",
			            b.p != NULL ? b.p : "?", node_what(root));
			free(b.p);
			goto exit;
		}
		if ((err = walk_map(&c, root, "", (char *)&c.priv->pub,
		                    (char *)&c.priv->pub.defaults)) != LVC_OK) {
			goto exit;
		}
	}
	if ((err = walk_instruments(&c)) != LVC_OK || (err = check_kafka(&c)) != LVC_OK ||
	    (err = check_params(&c)) != LVC_OK || (err = check_schema(&c)) != LVC_OK) {
		goto exit;
	}
	if (compute_id(&c.priv->pub) != LVC_OK) {
		err = nomem(&c);
		goto exit;
	}
	ret = &c.priv->pub;
	c.priv = NULL;
exit:
	for (size_t i = 0; i < c.marks_n; i++) {
		free(c.marks[i].path);
	}
	free(c.marks);
	free(c.kmarks);
	if (doc2_ok) {
		yaml_document_delete(&doc2);
	}
	if (doc_ok) {
		yaml_document_delete(&doc);
	}
	if (parser_ok) {
		yaml_parser_delete(&parser);
	}
	if (c.priv != NULL) {
		lvc_config_destroy(&c.priv->pub);
	}
	return ret;
}

/* ------------------------------------------------------------------------
 * Public API
 */

lvc_config_t *lvc_config_load(const char *path, char *errstr, size_t errstr_size)
{
	char *text = NULL, *dir = NULL;
	const char *slash;
	char why[128];
	size_t n = 0;
	lvc_config_t *cfg = NULL;

	if (read_file(path, MAX_CONFIG_BYTES, &text, &n, why, sizeof(why)) != 0) {
		if (errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: cannot read the config: %s", path, why);
		}
		goto exit;
	}
	/* Relative *_file paths are taken from the config file's directory, so
	 * that a config and its secrets can move together. */
	if ((slash = strrchr(path, '/')) != NULL &&
	    (dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
		if (errstr_size > 0) {
			snprintf(errstr, errstr_size, "%s: out of memory", path);
		}
		goto exit;
	}
	cfg = load_text(text, n, path, dir, errstr, errstr_size);
exit:
	free(dir);
	free(text);
	return cfg;
}

lvc_config_t *lvc_config_load_string(const char *yaml, const char *name, char *errstr,
                                     size_t errstr_size)
{
	return load_text(yaml, strlen(yaml), name != NULL ? name : "<string>", NULL, errstr,
	                 errstr_size);
}

lvc_config_t *lvc_config_new_default(void)
{
	cfg_priv_t *priv = priv_new("<defaults>");

	if (priv == NULL) {
		return NULL;
	}
	if (compute_id(&priv->pub) != LVC_OK) {
		lvc_config_destroy(&priv->pub);
		return NULL;
	}
	return &priv->pub;
}

void lvc_config_destroy(lvc_config_t *cfg)
{
	cfg_priv_t *priv = (cfg_priv_t *)(void *)cfg;

	if (cfg == NULL) {
		return;
	}
	for (size_t i = 0; i < cfg->kafka_n; i++) {
		if (cfg->kafka[i].secret) {
			wipe(cfg->kafka[i].value);
		}
		free(cfg->kafka[i].key);
		free(cfg->kafka[i].value);
	}
	free(cfg->kafka);
	for (size_t i = 0; i < KEYS_N; i++) {
		if (keys[i].base == B_CFG && keys[i].kind == K_STR) {
			char *s;

			memcpy(&s, (char *)cfg + keys[i].off, sizeof(s));
			if (priv->secret[i]) {
				wipe(s);
			}
			free(s);
		}
	}
	for (size_t i = 0; i < cfg->instruments_n; i++) {
		free((char *)cfg->instruments[i].name);
	}
	free(cfg->instruments);
	free(cfg->path);
	free(priv);
}

lvc_err_t lvc_config_dump(const lvc_config_t *cfg, FILE *out)
{
	sb_t b = { 0 };
	lvc_err_t err = LVC_OK;

	dump_config(&b, cfg);
	if (b.oom) {
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	if (fwrite(b.p, 1, b.n, out) != b.n || fflush(out) != 0) {
		err = LVC_ERR_IO;
	}
exit:
	free(b.p);
	return err;
}

const lvc_params_t *lvc_config_params_for(const lvc_config_t *cfg, const char *instrument)
{
	for (size_t i = 0; i < cfg->instruments_n; i++) {
		if (strcmp(cfg->instruments[i].name, instrument) == 0) {
			return &cfg->instruments[i].params;
		}
	}
	return &cfg->defaults;
}

const char *lvc_config_kafka_get(const lvc_config_t *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->kafka_n; i++) {
		if (strcmp(cfg->kafka[i].key, key) == 0) {
			return cfg->kafka[i].value;
		}
	}
	return NULL;
}

/* lvc_parse_duration(), telling overflow (-2) from bad syntax (-1). */
static int parse_duration(const char *s, int64_t *out_us)
{
	/* Largest first; a duration lists its units in this order, each once. */
	static const struct {
		const char *unit;
		int64_t us;
	} units[] = {
		{ "d", US_D }, { "h", US_H },  { "m", US_MIN },
		{ "s", US_S }, { "ms", 1000 }, { "us", 1 },
	};
	size_t last = ARRAY_LEN(units);
	int64_t total = 0;
	int overflow = 0;
	const char *p = s;

	if (s == NULL || *s == '\0') {
		return -1;
	}
	while (*p != '\0') {
		int64_t v = 0;
		const char *u;
		size_t i, ulen;

		if (*p < '0' || *p > '9') {
			return -1;
		}
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (INT64_MAX - (*p - '0')) / 10) {
				overflow = 1;
				continue;
			}
			v = v * 10 + (*p - '0');
		}
		for (u = p; *p >= 'a' && *p <= 'z'; p++) {
		}
		ulen = (size_t)(p - u);
		for (i = 0; i < ARRAY_LEN(units); i++) {
			if (strlen(units[i].unit) == ulen && strncmp(units[i].unit, u, ulen) == 0) {
				break;
			}
		}
		if (i == ARRAY_LEN(units) || (last < ARRAY_LEN(units) && i <= last)) {
			return -1;
		}
		last = i;
		if (overflow || v > INT64_MAX / units[i].us ||
		    total > INT64_MAX - v * units[i].us) {
			overflow = 1;
			continue;
		}
		total += v * units[i].us;
	}
	if (overflow) {
		return -2;
	}
	*out_us = total;
	return 0;
}

int lvc_parse_duration(const char *s, int64_t *out_us)
{
	return parse_duration(s, out_us) == 0 ? 0 : -1;
}
