/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the config loader: arbitrary bytes into lvc_config_load_string()
 * must never crash, leak or read out of bounds (ASan/UBSan/LSan), and must
 * either fail with a message or give a config. A config is then held to the
 * dump contract: its dump loads again, to the same dump and config_id.
 * Inputs that read *_file secrets are not held to it (a redacted secret does
 * not come back, by design).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* open_memstream; the libFuzzer target has no build flags */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const lvc_config_t *cfg)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f == NULL) {
		abort();
	}
	if (lvc_config_dump(cfg, f) != LVC_OK) {
		fprintf(stderr, "fuzz_config: lvc_config_dump failed\n");
		abort();
	}
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[1024];
	lvc_config_t *cfg, *again;
	char *one, *two;

	if (text == NULL) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	cfg = lvc_config_load_string(text, "fuzz.yaml", err, sizeof(err));
	if (cfg == NULL) {
		if (strncmp(err, "fuzz.yaml:", 10) != 0) {
			fprintf(stderr, "fuzz_config: an error without its file name: %s\n", err);
			abort();
		}
		free(text);
		return 0;
	}
	if (strstr(text, "_file") == NULL) {
		one = dump(cfg);
		again = lvc_config_load_string(one, "dump.yaml", err, sizeof(err));
		if (again == NULL) {
			fprintf(stderr, "fuzz_config: the dump does not load: %s\n%s\n", err, one);
			abort();
		}
		two = dump(again);
		if (strcmp(one, two) != 0 || strcmp(cfg->config_id, again->config_id) != 0) {
			fprintf(stderr,
			        "fuzz_config: load -> dump -> load -> dump differs\n%s\n---\n%s\n",
			        one, two);
			abort();
		}
		free(two);
		free(one);
		lvc_config_destroy(again);
	}
	lvc_config_destroy(cfg);
	free(text);
	return 0;
}
