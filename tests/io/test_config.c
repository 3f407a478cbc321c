/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the config loader beyond the data-driven cases of
 * test_config_cases.c: the duration parser, ${VAR} substitution, *_file
 * secrets and their redaction, per-instrument inheritance, config_id
 * stability and sensitivity, the dump round trip, and the example configs.
 * Criterion runs every test in its own process, so setenv() is local to it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io/config.h"

static lvc_config_t *load(const char *yaml)
{
	char err[1024];
	lvc_config_t *cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));

	cr_assert_not_null(cfg, "load failed: %s\n--- yaml:\n%s", err, yaml);
	return cfg;
}

static void refuses(const char *yaml, const char *expected)
{
	char err[1024];
	lvc_config_t *cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));

	if (cfg != NULL) {
		lvc_config_destroy(cfg);
		cr_assert_fail("loaded, but must fail with: %s\n--- yaml:\n%s", expected, yaml);
	}
	cr_assert_str_eq(err, expected);
}

static char *dump(const lvc_config_t *cfg)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_not_null(f);
	cr_assert_eq(lvc_config_dump(cfg, f), LVC_OK);
	fclose(f);
	return buf;
}

static const lvc_kv_t *kafka(const lvc_config_t *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->kafka_n; i++) {
		if (strcmp(cfg->kafka[i].key, key) == 0) {
			return &cfg->kafka[i];
		}
	}
	cr_assert_fail("kafka property %s is not set", key);
	return NULL;
}

/* A temporary directory with one file; both removed by rm_tmp(). */
static void tmp_file(char *dir, size_t dir_size, const char *name, const char *content, char *path,
                     size_t path_size)
{
	FILE *f;

	snprintf(dir, dir_size, "/tmp/lvc-config-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, path_size, "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
}

static void rm_tmp(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

/* ------------------------------------------------------------------------ */

Test(duration, parses_every_unit_and_compound_durations)
{
	static const struct {
		const char *s;
		int64_t us;
	} ok[] = {
		{ "250us", 250 },
		{ "500ms", 500000 },
		{ "1s", 1000000 },
		{ "15m", 900000000 },
		{ "1h", INT64_C(3600000000) },
		{ "7d", INT64_C(604800000000) },
		{ "1h30m", INT64_C(5400000000) },
		{ "1s500ms", 1500000 },
		{ "1d1h1m1s1ms1us", INT64_C(90061001001) },
		{ "90m", INT64_C(5400000000) },
		{ "007s", 7000000 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t us = -1;

		cr_expect_eq(lvc_parse_duration(ok[i].s, &us), 0, "%s refused", ok[i].s);
		cr_expect_eq(us, ok[i].us, "%s: %" PRId64 " != %" PRId64, ok[i].s, us, ok[i].us);
	}
}

Test(duration, allows_zero_in_any_unit)
{
	const char *zeros[] = { "0s", "0us", "0d", "0h0m" };

	for (size_t i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++) {
		int64_t us = -1;

		cr_expect_eq(lvc_parse_duration(zeros[i], &us), 0, "%s refused", zeros[i]);
		cr_expect_eq(us, 0, "%s", zeros[i]);
	}
}

Test(duration, refuses_negative_fractional_unitless_and_malformed_text)
{
	const char *bad[] = { "",      "0",      "1",    "s",    "-1s", "+1s",
		              "1.5s",  "1 s",    " 1s",  "1s ",  "1S",  "1sec",
		              "1hh",   "1h 30m", "h1",   "1e3s", "1µs", "10 minutes",
		              "0x10s", "1s-",    "1m30", "ms" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 42;

		cr_expect_eq(lvc_parse_duration(bad[i], &us), -1, "\"%s\" accepted", bad[i]);
		cr_expect_eq(us, 42, "\"%s\" wrote the output", bad[i]);
	}
	cr_expect_eq(lvc_parse_duration(NULL, &(int64_t){ 0 }), -1);
}

Test(duration, refuses_units_out_of_order_or_repeated)
{
	const char *bad[] = { "30m1h", "1m1m", "1ms1s", "1us1ms", "1s1d", "1h1h30m" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us;

		cr_expect_eq(lvc_parse_duration(bad[i], &us), -1, "\"%s\" accepted", bad[i]);
	}
}

Test(duration, refuses_overflow_and_accepts_up_to_int64_max)
{
	int64_t us;

	cr_expect_eq(lvc_parse_duration("9223372036854775807us", &us), 0);
	cr_expect_eq(us, INT64_MAX);
	cr_expect_eq(lvc_parse_duration("9223372036854775808us", &us), -1);
	cr_expect_eq(lvc_parse_duration("106751991d", &us), 0);
	cr_expect_eq(us, INT64_C(106751991) * 86400 * 1000000);
	cr_expect_eq(lvc_parse_duration("106751992d", &us), -1);
	cr_expect_eq(lvc_parse_duration("106751991d4h", &us), 0);
	cr_expect_eq(lvc_parse_duration("106751991d5h", &us), -1);
	cr_expect_eq(lvc_parse_duration("99999999999999999999999s", &us), -1);
}

Test(duration, reads_back_what_lvc_duration_format_writes)
{
	uint64_t x = 88172645463325252u;
	char buf[64];

	for (int i = 0; i < 20000; i++) {
		int64_t v, back = -1;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Spread over every unit: values from 1 us to ~1e17 us. */
		v = (int64_t)(x >> (7 + (x % 50)));
		if (i < 64) {
			v = (int64_t)1 << i % 63;
		}
		lvc_duration_format(v, buf, sizeof(buf));
		cr_assert_eq(lvc_parse_duration(buf, &back), 0, "%" PRId64 " -> \"%s\" refused", v,
		             buf);
		cr_assert_eq(back, v, "%" PRId64 " -> \"%s\" -> %" PRId64, v, buf, back);
	}
}

Test(duration, applies_to_config_keys_with_range_checks)
{
	lvc_config_t *cfg = load("processing: {commit_interval: 1s500ms, max_idle: 0s}\n"
	                         "leverage: {relax_after: 0s, horizon: 7d}\n");

	cr_expect_eq(cfg->processing.commit_interval_us, 1500000);
	cr_expect_eq(cfg->processing.max_idle_us, 0);
	cr_expect_eq(cfg->defaults.lev.relax_after_us, 0);
	cr_expect_eq(cfg->defaults.lev.horizon_us, INT64_C(7) * 86400 * 1000000);
	lvc_config_destroy(cfg);
	refuses("processing: {commit_interval: 0s}\n",
	        "t.yaml:1:31: processing.commit_interval: \"0s\" is out of range; allowed: a "
	        "duration in (0s, 1h]: integers with units us, ms, s, m, h, d, largest first "
	        "(e.g. 500ms, 15m, 1h30m)");
}

/* ------------------------------------------------------------------------ */

Test(substitution, replaces_variables_inside_longer_strings)
{
	lvc_config_t *cfg;

	setenv("LVC_T_N", "7", 1);
	setenv("LVC_T_VENUE", "binance", 1);
	cfg = load("kafka:\n  bootstrap.servers: host-${LVC_T_N}:9092,host-${LVC_T_N}b:9092\n"
	           "topics:\n  trades: \"${LVC_T_VENUE}.trades.${LVC_T_N}\"\n");
	cr_expect_str_eq(kafka(cfg, "bootstrap.servers")->value, "host-7:9092,host-7b:9092");
	cr_expect_str_eq(cfg->topics.trades, "binance.trades.7");
	lvc_config_destroy(cfg);
}

Test(substitution, uses_the_default_when_unset_or_empty)
{
	lvc_config_t *cfg;

	unsetenv("LVC_T_UNSET");
	setenv("LVC_T_EMPTY", "", 1);
	setenv("LVC_T_SET", "set.topic", 1);
	cfg = load("topics:\n"
	           "  trades: ${LVC_T_UNSET:-from.default}\n"
	           "  prices: ${LVC_T_EMPTY:-empty.default}\n"
	           "  state: ${LVC_T_SET:-not.used}\n"
	           "  replay_prefix: ${LVC_T_UNSET:-}\n");
	cr_expect_str_eq(cfg->topics.trades, "from.default");
	cr_expect_str_eq(cfg->topics.prices, "empty.default");
	cr_expect_str_eq(cfg->topics.state, "set.topic");
	cr_expect_str_eq(cfg->topics.replay_prefix, "");
	lvc_config_destroy(cfg);
}

Test(substitution, keeps_a_set_but_empty_variable_without_default)
{
	lvc_config_t *cfg;

	setenv("LVC_T_EMPTY", "", 1);
	cfg = load("instance: \"${LVC_T_EMPTY}\"\n");
	cr_expect_str_eq(cfg->instance, "");
	lvc_config_destroy(cfg);
}

Test(substitution, reads_double_dollar_as_one_and_keeps_a_lone_dollar)
{
	lvc_config_t *cfg;

	setenv("LVC_T_N", "7", 1);
	cfg = load("kafka:\n"
	           "  client.id: \"a$$b\"\n"
	           "  group.id: \"$x and $ and $$${LVC_T_N} and $\"\n");
	cr_expect_str_eq(kafka(cfg, "client.id")->value, "a$b");
	cr_expect_str_eq(kafka(cfg, "group.id")->value, "$x and $ and $7 and $");
	lvc_config_destroy(cfg);
}

Test(substitution, does_not_expand_environment_values_again)
{
	lvc_config_t *cfg;

	setenv("LVC_T_OUTER", "${LVC_T_INNER}", 1);
	setenv("LVC_T_INNER", "inner", 1);
	cfg = load("kafka: {client.id: \"${LVC_T_OUTER}\"}\n");
	cr_expect_str_eq(kafka(cfg, "client.id")->value, "${LVC_T_INNER}");
	lvc_config_destroy(cfg);
}

Test(substitution, applies_to_numbers_durations_enums_and_booleans)
{
	lvc_config_t *cfg;

	setenv("LVC_T_CONF", "0.975", 1);
	setenv("LVC_T_HORIZON", "2h", 1);
	setenv("LVC_T_EST", "garch", 1);
	setenv("LVC_T_UNSAFE", "true", 1);
	/* In flow style ({...}) a ${VAR} must be quoted: braces are YAML. */
	cfg = load("leverage: {confidence: \"${LVC_T_CONF}\", horizon: \"${LVC_T_HORIZON}\"}\n"
	           "volatility:\n  estimator: ${LVC_T_EST}\n"
	           "kafka_allow_unsafe: ${LVC_T_UNSAFE}\n");
	cr_expect_eq(cfg->defaults.lev.confidence, 0.975);
	cr_expect_eq(cfg->defaults.lev.horizon_us, INT64_C(7200000000));
	cr_expect_eq(cfg->defaults.vol.estimator, LVC_EST_GARCH);
	cr_expect_eq(cfg->kafka_allow_unsafe, 1);
	lvc_config_destroy(cfg);
}

Test(substitution, names_an_unset_variable_and_its_position)
{
	unsetenv("LVC_T_MISSING");
	refuses("topics:\n  trades: ok\n  prices: \"p-${LVC_T_MISSING}\"\n",
	        "t.yaml:3:11: topics.prices: environment variable LVC_T_MISSING is not set; set "
	        "it, or write ${LVC_T_MISSING:-default} to give a default");
}

Test(substitution, does_not_touch_keys)
{
	setenv("LVC_T_KEY", "horizon", 1);
	refuses("leverage: {\"${LVC_T_KEY}\": 1h}\n",
	        "t.yaml:1:12: leverage.${LVC_T_KEY}: unknown key; allowed keys of leverage: "
	        "confidence, tail, tail_nu, horizon, im_multiplier, mm_ratio, min_imr, max_imr, "
	        "steps, max_leverage_cap, tiers, relax_after, warmup_samples, prior_sigma_ann, "
	        "stale_after");
}

/* ------------------------------------------------------------------------ */

Test(secrets, reads_a_file_strips_one_newline_and_marks_the_value_secret)
{
	char dir[64], path[128], yaml[512];
	lvc_config_t *cfg;

	tmp_file(dir, sizeof(dir), "pw", "s3cret\n\n", path, sizeof(path));
	snprintf(yaml, sizeof(yaml), "kafka:\n  sasl.password_file: %s\n", path);
	cfg = load(yaml);
	cr_expect_eq(cfg->kafka_n, 1);
	cr_expect_str_eq(cfg->kafka[0].key, "sasl.password");
	cr_expect_str_eq(cfg->kafka[0].value, "s3cret\n");
	cr_expect_eq(cfg->kafka[0].secret, 1);
	lvc_config_destroy(cfg);
	rm_tmp(dir, path);
}

Test(secrets, marks_any_property_read_from_a_file_secret)
{
	char dir[64], path[128], yaml[512];
	lvc_config_t *cfg;

	tmp_file(dir, sizeof(dir), "id", "client-from-file", path, sizeof(path));
	snprintf(yaml, sizeof(yaml), "kafka:\n  client.id_file: %s\n  group.id: g\n", path);
	cfg = load(yaml);
	cr_expect_str_eq(kafka(cfg, "client.id")->value, "client-from-file");
	cr_expect_eq(kafka(cfg, "client.id")->secret, 1);
	cr_expect_eq(kafka(cfg, "group.id")->secret, 0);
	lvc_config_destroy(cfg);
	rm_tmp(dir, path);
}

Test(secrets, takes_relative_paths_from_the_config_files_directory)
{
	char dir[64], secret[128], file[160];
	FILE *f;
	lvc_config_t *cfg;
	char err[1024];

	tmp_file(dir, sizeof(dir), "instance.txt", "pod-4\n", secret, sizeof(secret));
	snprintf(file, sizeof(file), "%s/levcal.yaml", dir);
	cr_assert_not_null(f = fopen(file, "w"));
	fputs("instance_file: instance.txt\n", f);
	fclose(f);
	cr_assert_eq(chdir("/"), 0); /* not the config's directory */
	cfg = lvc_config_load(file, err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->instance, "pod-4");
	cr_expect_str_eq(cfg->path, file);
	lvc_config_destroy(cfg);
	unlink(file);
	rm_tmp(dir, secret);
}

Test(secrets, marks_librdkafka_secret_properties_by_name)
{
	lvc_config_t *cfg = load("kafka:\n"
	                         "  sasl.password: a\n"
	                         "  ssl.key.password: b\n"
	                         "  ssl.keystore.password: c\n"
	                         "  ssl.key.pem: d\n"
	                         "  sasl.oauthbearer.config: e\n"
	                         "  sasl.username: g\n"
	                         "  bootstrap.servers: h:9092\n"
	                         "  ssl.certificate.pem: i\n");
	const char *secret[] = { "sasl.password", "ssl.key.password", "ssl.keystore.password",
		                 "ssl.key.pem", "sasl.oauthbearer.config" };
	const char *open[] = { "sasl.username", "bootstrap.servers", "ssl.certificate.pem" };

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		cr_expect_eq(kafka(cfg, secret[i])->secret, 1, "%s is not secret", secret[i]);
	}
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
		cr_expect_eq(kafka(cfg, open[i])->secret, 0, "%s is secret", open[i]);
	}
	lvc_config_destroy(cfg);
}

Test(secrets, are_redacted_in_the_dump)
{
	char dir[64], path[128], yaml[1024];
	lvc_config_t *cfg;
	char *out;
	size_t redacted = 0;

	tmp_file(dir, sizeof(dir), "inst", "pod-from-secret-file\n", path, sizeof(path));
	snprintf(yaml, sizeof(yaml),
	         "kafka:\n"
	         "  sasl.password: hunter2-inline\n"
	         "  ssl.key.pem: \"-----BEGIN PRIVATE KEY----- abc\"\n"
	         "  sasl.oauthbearer.config: principal=levcal-oauth\n"
	         "  sasl.username: visible-user\n"
	         "instance_file: %s\n",
	         path);
	cfg = load(yaml);
	out = dump(cfg);
	cr_expect_null(strstr(out, "hunter2-inline"), "%s", out);
	cr_expect_null(strstr(out, "BEGIN PRIVATE KEY"), "%s", out);
	cr_expect_null(strstr(out, "levcal-oauth"), "%s", out);
	cr_expect_null(strstr(out, "pod-from-secret-file"), "%s", out);
	cr_expect_not_null(strstr(out, "sasl.username: \"visible-user\""), "%s", out);
	cr_expect_not_null(strstr(out, "instance: \"<redacted>\""), "%s", out);
	for (const char *p = out; (p = strstr(p, "\"<redacted>\"")) != NULL; p++) {
		redacted++;
	}
	cr_expect_eq(redacted, 4, "%s", out);
	free(out);
	lvc_config_destroy(cfg);
	rm_tmp(dir, path);
}

Test(secrets, dump_with_redacted_kafka_secrets_loads_again)
{
	lvc_config_t *cfg = load("kafka: {sasl.password: x, bootstrap.servers: \"b:1\"}\n");
	char *one = dump(cfg), *two;
	lvc_config_t *again = load(one);

	two = dump(again);
	cr_expect_str_eq(two, one);
	cr_expect_eq(kafka(again, "sasl.password")->secret, 1);
	free(two);
	free(one);
	lvc_config_destroy(again);
	lvc_config_destroy(cfg);
}

Test(secrets, errors_never_show_the_content_of_a_secret_file)
{
	char dir[64], path[128], yaml[512], err[1024];
	lvc_config_t *cfg;

	tmp_file(dir, sizeof(dir), "inst", "not a valid instance!\n", path, sizeof(path));
	snprintf(yaml, sizeof(yaml), "instance_file: %s\n", path);
	cfg = lvc_config_load_string(yaml, "t.yaml", err, sizeof(err));
	cr_assert_null(cfg);
	cr_expect_null(strstr(err, "not a valid instance"), "%s", err);
	cr_expect_str_eq(err, "t.yaml:1:16: instance_file: the value read from the file is not "
	                      "allowed; allowed: an instance name: up to 200 of letters, digits, "
	                      "'.', '_', '-' (may be empty)");
	rm_tmp(dir, path);
}

/* ------------------------------------------------------------------------ */

static void expect_params_eq(const lvc_params_t *a, const lvc_params_t *b, const char *what)
{
	const lvc_vol_params_t *va = &a->vol, *vb = &b->vol;
	const lvc_lev_params_t *la = &a->lev, *lb = &b->lev;

	cr_expect_eq(va->source, vb->source, "%s: source", what);
	cr_expect_eq(va->estimator, vb->estimator, "%s: estimator", what);
	cr_expect_eq(va->max_of_n, vb->max_of_n, "%s: max_of_n", what);
	for (size_t i = 0; i < va->max_of_n && i < vb->max_of_n; i++) {
		cr_expect_eq(va->max_of[i], vb->max_of[i], "%s: max_of[%zu]", what, i);
	}
	cr_expect_eq(va->sample_interval_us, vb->sample_interval_us, "%s", what);
	cr_expect_eq(va->bar_interval_us, vb->bar_interval_us, "%s", what);
	cr_expect_eq(va->window_us, vb->window_us, "%s", what);
	cr_expect_eq(va->half_life_us, vb->half_life_us, "%s: half_life", what);
	cr_expect_eq(va->garch_omega, vb->garch_omega, "%s: omega", what);
	cr_expect_eq(va->garch_alpha, vb->garch_alpha, "%s: alpha", what);
	cr_expect_eq(va->garch_beta, vb->garch_beta, "%s: beta", what);
	cr_expect_eq(va->annualization_days, vb->annualization_days, "%s", what);
	cr_expect_eq(la->confidence, lb->confidence, "%s: confidence", what);
	cr_expect_eq(la->tail, lb->tail, "%s", what);
	cr_expect_eq(la->tail_nu, lb->tail_nu, "%s", what);
	cr_expect_eq(la->horizon_us, lb->horizon_us, "%s: horizon", what);
	cr_expect_eq(la->im_multiplier, lb->im_multiplier, "%s", what);
	cr_expect_eq(la->mm_ratio, lb->mm_ratio, "%s: mm_ratio", what);
	cr_expect_eq(la->min_imr, lb->min_imr, "%s", what);
	cr_expect_eq(la->max_imr, lb->max_imr, "%s", what);
	cr_expect_eq(la->steps_n, lb->steps_n, "%s: steps_n", what);
	for (size_t i = 0; i < la->steps_n && i < lb->steps_n; i++) {
		cr_expect_eq(la->steps[i], lb->steps[i], "%s: steps[%zu]", what, i);
	}
	cr_expect_eq(la->max_leverage_cap, lb->max_leverage_cap, "%s: cap", what);
	cr_expect_eq(la->tiers_n, lb->tiers_n, "%s: tiers_n", what);
	for (size_t i = 0; i < la->tiers_n && i < lb->tiers_n; i++) {
		cr_expect_eq(la->tiers[i].notional_cap, lb->tiers[i].notional_cap, "%s", what);
		cr_expect_eq(la->tiers[i].multiplier, lb->tiers[i].multiplier, "%s", what);
	}
	cr_expect_eq(la->relax_after_us, lb->relax_after_us, "%s", what);
	cr_expect_eq(la->warmup_samples, lb->warmup_samples, "%s", what);
	cr_expect_eq(la->prior_sigma_ann, lb->prior_sigma_ann, "%s", what);
	cr_expect_eq(la->stale_after_us, lb->stale_after_us, "%s", what);
	cr_expect_eq(a->warn.watch, b->warn.watch, "%s", what);
	cr_expect_eq(a->warn.warning, b->warn.warning, "%s", what);
	cr_expect_eq(a->warn.critical, b->warn.critical, "%s", what);
	cr_expect_eq(a->warn.hysteresis, b->warn.hysteresis, "%s: hysteresis", what);
}

Test(instruments, an_override_of_one_key_inherits_every_other_key_from_the_global_block)
{
	lvc_config_t *cfg = load("leverage: {horizon: 4h, mm_ratio: 0.4, steps: [1, 2, 5, 10]}\n"
	                         "volatility: {half_life: 20m, garch: {alpha: 0.04}}\n"
	                         "warnings: {hysteresis: 0.5}\n"
	                         "instruments:\n"
	                         "  BTC-PERP:\n"
	                         "    leverage: {max_leverage_cap: 5}\n");
	lvc_params_t expected = cfg->defaults;

	cr_assert_eq(cfg->instruments_n, 1);
	cr_expect_str_eq(cfg->instruments[0].name, "BTC-PERP");
	expected.lev.max_leverage_cap = 5;
	expect_params_eq(&cfg->instruments[0].params, &expected, "BTC-PERP");
	cr_expect_eq(cfg->instruments[0].params.lev.horizon_us, INT64_C(14400000000));
	cr_expect_eq(cfg->instruments[0].params.warn.hysteresis, 0.5);
	cr_expect_eq(cfg->defaults.lev.max_leverage_cap, 100);
	lvc_config_destroy(cfg);
}

Test(instruments, inherit_a_global_block_that_comes_after_them)
{
	lvc_config_t *cfg = load("instruments:\n"
	                         "  ETH-PERP:\n"
	                         "    volatility: {garch: {beta: 0.9}}\n"
	                         "volatility:\n"
	                         "  garch: {omega: 2.0e-7, alpha: 0.055}\n"
	                         "  half_life: 30m\n");
	const lvc_vol_params_t *v = &cfg->instruments[0].params.vol;

	cr_expect_eq(v->garch_beta, 0.9);
	cr_expect_eq(v->garch_omega, 2.0e-7);
	cr_expect_eq(v->garch_alpha, 0.055);
	cr_expect_eq(v->half_life_us, INT64_C(1800000000));
	cr_expect_eq(cfg->defaults.vol.garch_beta, 0.94);
	lvc_config_destroy(cfg);
}

Test(instruments, a_list_in_an_override_replaces_the_global_list)
{
	lvc_config_t *cfg = load("leverage: {steps: [1, 2, 3, 5, 10]}\n"
	                         "instruments:\n"
	                         "  X: {leverage: {steps: [1, 2], max_leverage_cap: 2,\n"
	                         "     tiers: [{notional_cap: 1000, multiplier: 1}]}}\n");
	const lvc_lev_params_t *l = &cfg->instruments[0].params.lev;

	cr_expect_eq(l->steps_n, 2);
	cr_expect_eq(l->steps[1], 2);
	cr_expect_eq(l->tiers_n, 1);
	cr_expect_eq(l->tiers[0].notional_cap, 1000);
	cr_expect_eq(cfg->defaults.lev.steps_n, 5);
	cr_expect_eq(cfg->defaults.lev.tiers_n, 3);
	lvc_config_destroy(cfg);
}

Test(instruments, params_for_returns_the_merged_override_or_the_global_block)
{
	lvc_config_t *cfg = load("instruments:\n"
	                         "  A: {warnings: {watch: 5}}\n"
	                         "  B: {}\n");

	cr_expect_eq(lvc_config_params_for(cfg, "A"), &cfg->instruments[0].params);
	cr_expect_eq(lvc_config_params_for(cfg, "A")->warn.watch, 5);
	cr_expect_eq(lvc_config_params_for(cfg, "B"), &cfg->instruments[1].params);
	cr_expect_eq(lvc_config_params_for(cfg, "C"), &cfg->defaults);
	lvc_config_destroy(cfg);
}

Test(instruments, keep_file_order)
{
	lvc_config_t *cfg = load("instruments: {Z: {}, A: {}, M: {}}\n");

	cr_assert_eq(cfg->instruments_n, 3);
	cr_expect_str_eq(cfg->instruments[0].name, "Z");
	cr_expect_str_eq(cfg->instruments[1].name, "A");
	cr_expect_str_eq(cfg->instruments[2].name, "M");
	lvc_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */

static void id_of(const char *yaml, char out[17])
{
	lvc_config_t *cfg = load(yaml);

	memcpy(out, cfg->config_id, 17);
	lvc_config_destroy(cfg);
}

Test(config_id, is_16_lowercase_hex_digits)
{
	lvc_config_t *cfg = lvc_config_new_default();

	cr_assert_not_null(cfg);
	cr_expect_eq(strlen(cfg->config_id), 16);
	cr_expect_eq(strspn(cfg->config_id, "0123456789abcdef"), 16, "%s", cfg->config_id);
	lvc_config_destroy(cfg);
}

Test(config_id, is_the_same_for_the_same_effective_config_however_written)
{
	char a[17], b[17], c[17], d[17];
	lvc_config_t *def = lvc_config_new_default();

	id_of("", a);
	cr_expect_str_eq(a, def->config_id);
	id_of("leverage:\n  horizon: 2h\n  confidence: 0.995\n"
	      "instruments:\n  X: {warnings: {watch: 4}}\n  Y: {leverage: {mm_ratio: 0.3}}\n",
	      b);
	id_of("{instruments: {Y: {leverage: {mm_ratio: 3.0e-1}}, X: {warnings: {watch: 4.0}}},\n"
	      " leverage: {confidence: 0.9950, horizon: 120m}}\n",
	      c);
	id_of("leverage: {horizon: 1h60m, confidence: 0.995}\n"
	      "instruments: {Y: {leverage: {mm_ratio: 0.3}}, X: {warnings: {watch: 4}}, "
	      "Z: {warnings: {watch: 3}}}\n",
	      d);
	cr_expect_str_eq(b, c);
	cr_expect_str_eq(b, d, "an override equal to the global value changed the id");
	cr_expect_str_neq(a, b);
	lvc_config_destroy(def);
}

Test(config_id, ignores_secrets_servers_topics_and_operational_keys)
{
	char a[17], b[17];

	id_of("", a);
	id_of("kafka:\n  bootstrap.servers: prod-1:9092\n  sasl.password: pw\n"
	      "  group.id: other\n"
	      "kafka_allow_unsafe: true\ninstance: pod-2\n"
	      "topics: {trades: x.trades, leverage_limits: x.limits, replay_prefix: bt.}\n"
	      "schema: {wire_format: confluent}\n"
	      "processing: {guarantee: at_least_once, commit_interval: 1s, max_idle: 1s}\n"
	      "metrics: {listen: \"\"}\nlog: {level: debug, format: json}\n",
	      b);
	cr_expect_str_eq(a, b);
}

Test(config_id, changes_with_every_model_parameter)
{
	static const char *const changes[] = {
		"volatility: {source: mark}",
		"volatility: {estimator: realized}",
		"volatility: {max_of: [ewma, bipower]}",
		"volatility: {sample_interval: 500ms}",
		"volatility: {bar_interval: 30s}",
		"volatility: {window: 2h}",
		"volatility: {half_life: 11m}",
		"volatility: {garch: {omega: 1.1e-7}}",
		"volatility: {garch: {alpha: 0.04}}",
		"volatility: {garch: {beta: 0.93}}",
		"volatility: {annualization_days: 252}",
		"leverage: {confidence: 0.991}",
		"leverage: {tail: student_t}",
		"leverage: {tail_nu: 5}",
		"leverage: {horizon: 61m}",
		"leverage: {im_multiplier: 1.1}",
		"leverage: {mm_ratio: 0.51}",
		"leverage: {min_imr: 0.011}",
		"leverage: {max_imr: 0.9}",
		"leverage: {steps: [1, 2, 3, 5, 10, 20, 25, 50, 75]}",
		"leverage: {max_leverage_cap: 75}",
		"leverage: {tiers: [{notional_cap: 1.0e6, multiplier: 1}, "
		"{notional_cap: 1.0e12, multiplier: 5}]}",
		"leverage: {tiers: [{notional_cap: 1.0e6, multiplier: 1}, "
		"{notional_cap: 1.0e7, multiplier: 2.5}, {notional_cap: 1.0e12, multiplier: 5}]}",
		"leverage: {relax_after: 16m}",
		"leverage: {warmup_samples: 301}",
		"leverage: {prior_sigma_ann: 0.9}",
		"leverage: {stale_after: 31s}",
		"warnings: {watch: 3.5}",
		"warnings: {warning: 2.1}",
		"warnings: {critical: 0.9}",
		"warnings: {hysteresis: 0.3}",
		"instruments: {BTC-PERP: {leverage: {max_leverage_cap: 50}}}",
		"instruments: {ETH-PERP: {leverage: {max_leverage_cap: 50}}}",
		"instruments: {BTC-PERP: {volatility: {half_life: 5m}}}",
	};
	enum { N = sizeof(changes) / sizeof(changes[0]) };
	char ids[N][17], base[17];

	id_of("", base);
	for (size_t i = 0; i < N; i++) {
		id_of(changes[i], ids[i]);
		cr_expect_str_neq(ids[i], base, "%s did not change the id", changes[i]);
		for (size_t j = 0; j < i; j++) {
			cr_expect_str_neq(ids[i], ids[j], "%s and %s give the same id", changes[i],
			                  changes[j]);
		}
	}
}

Test(config_id, does_not_depend_on_instrument_order)
{
	char a[17], b[17];

	id_of("instruments: {A: {warnings: {watch: 4}}, B: {warnings: {watch: 5}}}", a);
	id_of("instruments: {B: {warnings: {watch: 5}}, A: {warnings: {watch: 4}}}", b);
	cr_expect_str_eq(a, b);
}

/* ------------------------------------------------------------------------ */

Test(dump, loads_back_to_the_same_dump_and_id)
{
	lvc_config_t *cfg =
	    load("kafka: {bootstrap.servers: \"a:1,b:2\", linger.ms: 5}\n"
	         "volatility: {estimator: max, max_of: [garch, close], garch: "
	         "{omega: 3.3e-9}, window: 90m, bar_interval: 90s}\n"
	         "leverage: {confidence: 0.9999, steps: [1, 2.5, 10], "
	         "max_leverage_cap: 10, tiers: [{notional_cap: 0.1, multiplier: 1}]}\n"
	         "instruments:\n"
	         "  \"odd \\\"name\\\" $x\": {leverage: {horizon: 1d1us}}\n"
	         "  plain: ~\n");
	char *one = dump(cfg), *two;
	lvc_config_t *again = load(one);

	two = dump(again);
	cr_expect_str_eq(two, one);
	cr_expect_str_eq(again->config_id, cfg->config_id);
	cr_expect_str_eq(again->instruments[0].name, "odd \"name\" $x");
	cr_expect_eq(again->instruments[0].params.lev.horizon_us, INT64_C(86400000001));
	cr_expect_eq(again->defaults.vol.garch_omega, 3.3e-9);
	free(two);
	free(one);
	lvc_config_destroy(again);
	lvc_config_destroy(cfg);
}

Test(dump, quotes_every_character_so_that_strings_read_back_unchanged)
{
	/* Quotes, backslash, dollars, a tab, a control character, NEL, LS,
	 * non-ASCII text and an astral code point. */
	lvc_config_t *cfg = load("kafka: {client.id: \"q\\\"b\\\\d$$e$${x}\\tf\\x01g\\Nh\\Li "
	                         "\xc3\xa9\xf0\x9f\x98\x80\"}\n");
	char *one = dump(cfg);
	lvc_config_t *again = load(one);

	cr_expect_str_eq(kafka(again, "client.id")->value, kafka(cfg, "client.id")->value);
	cr_expect_str_eq(kafka(cfg, "client.id")->value,
	                 "q\"b\\d$e${x}\tf\x01g\xc2\x85h\xe2\x80\xa8i \xc3\xa9\xf0\x9f\x98\x80");
	free(one);
	lvc_config_destroy(again);
	lvc_config_destroy(cfg);
}

Test(dump, reports_a_write_error)
{
	lvc_config_t *cfg = lvc_config_new_default();
	FILE *full = fopen("/dev/full", "w");

	cr_assert_not_null(full);
	cr_expect_eq(lvc_config_dump(cfg, full), LVC_ERR_IO);
	fclose(full);
	lvc_config_destroy(cfg);
}

Test(dump, of_the_defaults_equals_the_dump_of_an_empty_file)
{
	lvc_config_t *def = lvc_config_new_default(), *empty = load("# nothing\n");
	char *a = dump(def), *b = dump(empty);

	cr_expect_str_eq(a, b);
	free(a);
	free(b);
	lvc_config_destroy(def);
	lvc_config_destroy(empty);
}

/* ------------------------------------------------------------------------ */

Test(load, names_a_missing_file)
{
	char err[256];

	cr_expect_null(lvc_config_load("/nonexistent/levcal.yaml", err, sizeof(err)));
	cr_expect_str_eq(err, "/nonexistent/levcal.yaml: cannot read the config: No such file "
	                      "or directory");
}

Test(load, truncates_errors_to_the_buffer_and_accepts_no_buffer)
{
	char err[12];

	memset(err, 'x', sizeof(err));
	cr_expect_null(lvc_config_load_string("kafak: 1\n", "t.yaml", err, sizeof(err)));
	cr_expect_str_eq(err, "t.yaml:1:1:");
	cr_expect_null(lvc_config_load_string("kafak: 1\n", "t.yaml", NULL, 0));
}

Test(load, keeps_kafka_properties_in_file_order)
{
	lvc_config_t *cfg = load("kafka:\n  acks: all\n  client.id: c\n  linger.ms: 7\n");

	cr_assert_eq(cfg->kafka_n, 3);
	cr_expect_str_eq(cfg->kafka[0].key, "acks");
	cr_expect_str_eq(cfg->kafka[1].key, "client.id");
	cr_expect_str_eq(cfg->kafka[2].key, "linger.ms");
	cr_expect_str_eq(cfg->kafka[2].value, "7");
	cr_expect_str_eq(lvc_config_kafka_get(cfg, "client.id"), "c");
	cr_expect_null(lvc_config_kafka_get(cfg, "group.id"));
	lvc_config_destroy(cfg);
}

Test(load, allows_unsafe_properties_when_allowed_wherever_the_flag_is)
{
	/* The plugin path does not exist: had the loader handed the property to
	 * librdkafka, it would have tried to load it and failed. */
	lvc_config_t *cfg = load("kafka:\n  plugin.library.paths: /nonexistent/plugin.so\n"
	                         "  sasl.kerberos.principal: \"a;b\"\n"
	                         "kafka_allow_unsafe: true\n");

	cr_expect_str_eq(kafka(cfg, "plugin.library.paths")->value, "/nonexistent/plugin.so");
	lvc_config_destroy(cfg);
}

Test(load, fills_instance_and_log_settings)
{
	lvc_config_t *cfg = load("instance: levcal-1\nlog: {level: warn, format: json}\n");
	lvc_config_t *def = lvc_config_new_default();

	cr_expect_str_eq(cfg->instance, "levcal-1");
	cr_expect_eq(cfg->log.level, LVC_LOG_WARN);
	cr_expect_eq(cfg->log.json, 1);
	cr_expect_str_eq(def->instance, "");
	cr_expect_eq(def->log.level, LVC_LOG_INFO);
	cr_expect_eq(def->log.json, 0);
	lvc_config_destroy(def);
	lvc_config_destroy(cfg);
}

Test(load, gives_every_default_of_spec_section_8)
{
	lvc_config_t *cfg = lvc_config_new_default();
	lvc_params_t p;

	lvc_params_defaults(&p);
	expect_params_eq(&cfg->defaults, &p, "defaults");
	cr_expect_eq(cfg->kafka_n, 0);
	cr_expect_eq(cfg->kafka_allow_unsafe, 0);
	cr_expect_str_eq(cfg->topics.trades, "market.trades");
	cr_expect_str_eq(cfg->topics.prices, "market.prices");
	cr_expect_str_eq(cfg->topics.positions, "risk.positions");
	cr_expect_str_eq(cfg->topics.balances, "risk.balances");
	cr_expect_str_eq(cfg->topics.leverage_limits, "risk.leverage-limits");
	cr_expect_str_eq(cfg->topics.liquidation_warnings, "risk.liquidation-warnings");
	cr_expect_str_eq(cfg->topics.dead_letter, "levcal.deadletter");
	cr_expect_str_eq(cfg->topics.state, "levcal.state");
	cr_expect_str_eq(cfg->topics.replay_prefix, "backtest.");
	cr_expect_eq(cfg->schema.wire_format, LVC_WIRE_PLAIN);
	cr_expect_eq(cfg->processing.guarantee, LVC_EXACTLY_ONCE);
	cr_expect_eq(cfg->processing.commit_interval_us, 100000);
	cr_expect_eq(cfg->processing.max_idle_us, 50000);
	cr_expect_str_eq(cfg->metrics.listen, "127.0.0.1:9464");
	cr_expect_eq(cfg->instruments_n, 0);
	lvc_config_destroy(cfg);
}

/* Drops the kafka section (the one part of the example that is not a
 * default) from a dump. */
static void strip_kafka(char *s)
{
	char *start = strstr(s, "\nkafka:"), *end = strstr(s, "\nkafka_allow_unsafe:");

	cr_assert(start != NULL && end != NULL && end > start);
	memmove(start, end, strlen(end) + 1);
}

Test(examples, levcal_yaml_loads_and_documents_exactly_the_defaults)
{
	char err[1024];
	lvc_config_t *cfg, *def = lvc_config_new_default();
	char *a, *b;

	unsetenv("LVC_BOOTSTRAP");
	cfg = lvc_config_load(LVC_SOURCE_DIR "/config/levcal.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(lvc_config_kafka_get(cfg, "bootstrap.servers"), "localhost:9092");
	a = dump(cfg);
	b = dump(def);
	strip_kafka(a);
	strip_kafka(b);
	cr_expect_str_eq(a, b, "config/levcal.yaml does not state the defaults");
	cr_expect_str_eq(cfg->config_id, def->config_id);
	free(a);
	free(b);
	lvc_config_destroy(def);
	lvc_config_destroy(cfg);
}

Test(examples, local_yaml_takes_the_bootstrap_from_the_environment)
{
	char err[1024];
	lvc_config_t *cfg;

	unsetenv("LVC_BOOTSTRAP");
	cfg = lvc_config_load(LVC_SOURCE_DIR "/config/local.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(lvc_config_kafka_get(cfg, "bootstrap.servers"), "127.0.0.1:9092");
	lvc_config_destroy(cfg);
	setenv("LVC_BOOTSTRAP", "127.0.0.1:40123", 1);
	cfg = lvc_config_load(LVC_SOURCE_DIR "/config/local.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(lvc_config_kafka_get(cfg, "bootstrap.servers"), "127.0.0.1:40123");
	lvc_config_destroy(cfg);
}
