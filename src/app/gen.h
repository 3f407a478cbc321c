/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal gen`: a synthetic market onto a real bus, for demos, trying a
 * deployment and driving benchmarks. See gen.c for the model.
 */
#ifndef LVC_APP_GEN_H
#define LVC_APP_GEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "io/config.h"

typedef struct lvc_gen_opts_s {
	double rate;              /* trades per second over all instruments, > 0 */
	int instruments;          /* K instruments (1 .. 100000); 0 means 4 */
	double seconds;           /* run time; <= 0: until *stop */
	long positions;           /* P positions (and the balances of their cross
	                            accounts) produced first; 0: none */
	uint64_t seed;            /* same seed, same instruments, prices and sizes */
	double mark_interval_s;   /* one MARK per instrument every this; 0 means 0.1 */
	double report_interval_s; /* a progress line every this; 0 means 5 */
	atomic_int *stop;         /* the run ends cleanly when this becomes non-zero */
} lvc_gen_opts_t;

/* Produces P positions and balances, then trades at opts->rate and MARK
 * price ticks until opts->seconds have passed or *opts->stop, onto cfg's
 * topics (trades, prices, positions, balances) with cfg's kafka
 * properties; logs the achieved rates every report interval and at the
 * end. Returns the exit code: 0 when every record was delivered, 1 on a
 * runtime failure (the producer, a delivery), 2 for options or a config
 * that gen cannot serve (schema.wire_format confluent). */
int lvc_gen(const lvc_config_t *cfg, const lvc_gen_opts_t *opts);

#endif
