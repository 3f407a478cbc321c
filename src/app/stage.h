/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subcommands, as functions that main() and the tests call. Each
 * returns the process exit code: 0 success, 1 runtime failure, 2 usage or
 * config error (SPEC §7).
 */
#ifndef LVC_APP_STAGE_H
#define LVC_APP_STAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/config.h"

typedef struct lvc_run_opts_s {
	atomic_int *stop; /* the run ends cleanly when this becomes non-zero */
} lvc_run_opts_t;

/* `levcal run`: the live stage until *opts->stop. */
int lvc_run(const lvc_config_t *cfg, const lvc_run_opts_t *opts);

/* The librdkafka defaults `levcal run` sets for throughput and latency
 * under the config's kafka section (which overrides them): those of the
 * input consumer (consumer 1) or of the producer (0). *n entries of static
 * storage. The passthrough baseline (tests/bench/passthrough.c) applies
 * the same, so that both run on the same settings. */
const lvc_kv_t *lvc_run_kafka_tuning(int consumer, size_t *n);

typedef struct lvc_replay_opts_s {
	const char *const *inputs; /* Avro container files, in tie order */
	size_t inputs_n;
	const char *out_path; /* JSON Lines output; NULL: produce to topics */
	int64_t from_us;      /* topic replay window (--from/--to); INT64_MIN: none */
	int64_t to_us;
	atomic_int *stop;
} lvc_replay_opts_t;

/* `levcal replay`: a deterministic backtest over files (or topics). */
int lvc_replay(const lvc_config_t *cfg, const lvc_replay_opts_t *opts);

typedef struct lvc_demo_opts_s {
	double seconds; /* run time; <= 0: until *stop */
	unsigned seed;
	atomic_int *stop;
	FILE *out;
} lvc_demo_opts_t;

/* `levcal demo`: mock cluster + synthetic market + the real stage. */
int lvc_demo(const lvc_demo_opts_t *opts);

#endif
