/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config loader against data: one test per directory of
 * tests/data/config/invalid/<case>/ (levcal.yaml must be refused with exactly
 * the message in expected_error) and of tests/data/config/valid/<case>/
 * (levcal.yaml must load, dump exactly as expected_dump.yaml, and that dump
 * must load again to the same dump and config_id).
 *
 * Each case is loaded with the name "levcal.yaml", so messages carry that
 * name. The harness sets LVC_CASE_DIR to the case directory (cases refer to
 * their own files as ${LVC_CASE_DIR}/...), and writes it back as the literal
 * text ${LVC_CASE_DIR} in a message before comparing. An optional `env` file
 * holds NAME=VALUE lines set before loading.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "io/config.h"

#define CASES_DIR LVC_DATA_DIR "/config"

typedef struct cfg_case_s {
	char name[96];
} cfg_case_t;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const cfg_case_t *)a)->name, ((const cfg_case_t *)b)->name);
}

static void free_cases(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

static struct criterion_test_params list_cases(const char *kind)
{
	char dir[512];
	DIR *d;
	struct dirent *de;
	size_t n = 0, cap = 128;
	cfg_case_t *cases = cr_malloc(cap * sizeof(*cases));

	snprintf(dir, sizeof(dir), "%s/%s", CASES_DIR, kind);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL && n < cap) {
			if (de->d_name[0] != '.' && strlen(de->d_name) < sizeof(cases[n].name)) {
				snprintf(cases[n].name, sizeof(cases[n].name), "%s", de->d_name);
				n++;
			}
		}
		closedir(d);
	}
	qsort(cases, n, sizeof(*cases), name_cmp);
	return cr_make_param_array(cfg_case_t, cases, n, free_cases);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		size_t got = fread(buf, 1, (size_t)n, f);

		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

/* Sets LVC_CASE_DIR and the variables of the case's env file; returns the
 * case directory in dir. */
static void case_setup(const char *kind, const char *name, char *dir, size_t size)
{
	char path[1024], *env, *line, *save = NULL;

	snprintf(dir, size, "%s/%s/%s", CASES_DIR, kind, name);
	setenv("LVC_CASE_DIR", dir, 1);
	snprintf(path, sizeof(path), "%s/env", dir);
	if ((env = read_all(path)) == NULL) {
		return;
	}
	for (line = strtok_r(env, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq != NULL) {
			*eq = '\0';
			setenv(line, eq + 1, 1);
		}
	}
	free(env);
}

static char *dump_to_string(const lvc_config_t *cfg)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_not_null(f);
	cr_assert_eq(lvc_config_dump(cfg, f), LVC_OK);
	fclose(f);
	return buf;
}

ParameterizedTestParameters(config_cases, refuses_each_invalid_case_with_its_exact_message)
{
	return list_cases("invalid");
}

ParameterizedTest(cfg_case_t *cc, config_cases, refuses_each_invalid_case_with_its_exact_message)
{
	char dir[768], path[1024], err[2048], shown[2100];
	char *text, *expected, *at;
	lvc_config_t *cfg;

	case_setup("invalid", cc->name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/levcal.yaml", dir);
	text = read_all(path);
	cr_assert_not_null(text, "%s: cannot read levcal.yaml", cc->name);
	snprintf(path, sizeof(path), "%s/expected_error", dir);
	expected = read_all(path);
	cr_assert_not_null(expected, "%s: cannot read expected_error", cc->name);
	expected[strcspn(expected, "\n")] = '\0';

	cfg = lvc_config_load_string(text, "levcal.yaml", err, sizeof(err));
	if (cfg != NULL) {
		lvc_config_destroy(cfg);
		cr_assert_fail("%s: loaded, but must fail with: %s", cc->name, expected);
	}
	if ((at = strstr(err, dir)) != NULL) {
		*at = '\0';
		if (snprintf(shown, sizeof(shown), "%s${LVC_CASE_DIR}%s", err, at + strlen(dir)) <
		    0) {
			shown[0] = '\0';
		}
	} else {
		snprintf(shown, sizeof(shown), "%s", err);
	}
	cr_expect_str_eq(shown, expected, "case %s:\n  got:      %s\n  expected: %s", cc->name,
	                 shown, expected);
	free(expected);
	free(text);
}

ParameterizedTestParameters(config_cases, loads_each_valid_case_and_dumps_it_as_expected)
{
	return list_cases("valid");
}

ParameterizedTest(cfg_case_t *cc, config_cases, loads_each_valid_case_and_dumps_it_as_expected)
{
	char dir[768], path[1024], err[2048];
	char *text, *expected, *dump, *dump2;
	lvc_config_t *cfg, *again;

	case_setup("valid", cc->name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/levcal.yaml", dir);
	text = read_all(path);
	cr_assert_not_null(text, "%s: cannot read levcal.yaml", cc->name);
	snprintf(path, sizeof(path), "%s/expected_dump.yaml", dir);
	expected = read_all(path);
	cr_assert_not_null(expected, "%s: cannot read expected_dump.yaml", cc->name);

	cfg = lvc_config_load_string(text, "levcal.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "case %s: %s", cc->name, err);
	dump = dump_to_string(cfg);
	cr_expect_str_eq(dump, expected, "case %s: the dump differs:\n%s", cc->name, dump);

	/* A redacted secret cannot come back (that is the point), and a
	 * redacted value need not be valid for its key: only dumps without
	 * secrets are held to the round trip. */
	if (strstr(dump, "<redacted>") == NULL) {
		again = lvc_config_load_string(dump, "dump.yaml", err, sizeof(err));
		cr_assert_not_null(again, "case %s: the dump does not load: %s", cc->name, err);
		dump2 = dump_to_string(again);
		cr_expect_str_eq(dump2, dump, "case %s: load -> dump -> load -> dump differs",
		                 cc->name);
		cr_expect_str_eq(again->config_id, cfg->config_id, "case %s", cc->name);
		free(dump2);
		lvc_config_destroy(again);
	}
	free(dump);
	lvc_config_destroy(cfg);
	free(expected);
	free(text);
}
