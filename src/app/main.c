/* SPDX-License-Identifier: Apache-2.0 */
/*
 * levcal's entry point: parses the command line of SPEC §7, loads the
 * config, installs the SIGINT/SIGTERM handlers that end a run cleanly, and
 * calls the subcommand. Exit codes: 0 success, 1 runtime failure, 2 usage
 * or config error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/calibrate.h"
#include "app/gen.h"
#include "app/stage.h"
#include "app/version.h"
#include "io/config.h"
#include "io/log.h"
#ifdef LVC_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static atomic_int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *out)
{
	fputs("usage: levcal COMMAND [OPTIONS]\n"
	      "\n"
	      "  run -c FILE                  the stage (consumer group)\n"
	      "  demo [--seconds N] [--seed S]\n"
	      "                               in-process mock Kafka cluster and synthetic\n"
	      "                               market with a volatility shock\n"
	      "  replay -c FILE (--from T [--to T] | --input F...) [--out FILE]\n"
	      "                               deterministic backtest over the historic topics\n"
	      "                               (T: RFC 3339, e.g. 2026-01-01T00:00:00Z) or over\n"
	      "                               Avro container files\n"
	      "  calibrate -c FILE --input F... [--write FILE.yaml] [--report FILE.html]\n"
	      "                               fit EWMA half-life, GARCH(1,1) and Student-t nu per\n"
	      "                               instrument, backtest margin coverage (Kupiec,\n"
	      "                               Christoffersen); YAML snippet on stdout, summary on\n"
	      "                               stderr\n"
	      "  gen -c FILE --rate N [--instruments K] [--seconds S] [--positions P] [--seed X]\n"
	      "      [--mark-interval DURATION]   synthetic trades, marks and positions onto a "
	      "real bus\n"
	      "  check-config -c FILE         validate and print the effective config\n"
	      "  version                      print the version\n"
	      "\n"
	      "Exit codes: 0 success, 1 runtime failure, 2 usage or config error.\n",
	      out);
}

static lvc_config_t *load_config(const char *path)
{
	char why[1024];
	lvc_config_t *cfg;

	if (path == NULL) {
		fprintf(stderr, "levcal: -c FILE is required\n");
		return NULL;
	}
	if ((cfg = lvc_config_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "levcal: %s\n", why);
		return NULL;
	}
	lvc_log_setup(cfg->log.level, cfg->log.json);
	return cfg;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	lvc_config_t *cfg;
	lvc_run_opts_t ro = { &stop_flag };
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c') {
			usage(stderr);
			return 2;
		}
		path = optarg;
	}
	if ((cfg = load_config(path)) == NULL) {
		return 2;
	}
	rc = lvc_run(cfg, &ro);
	lvc_config_destroy(cfg);
	return rc;
}

static int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
		                              { "seed", required_argument, NULL, 'S' },
		                              { NULL, 0, NULL, 0 } };
	lvc_demo_opts_t d = { 0 };
	char *end;
	int c;

	d.seconds = 30;
	d.seed = 1;
	d.stop = &stop_flag;
	while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			d.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(d.seconds > 0 && d.seconds <= 86400)) {
				fprintf(stderr,
				        "levcal demo: --seconds %s: allowed: a number of "
				        "seconds in (0, 86400]\n",
				        optarg);
				return 2;
			}
			break;
		case 'S':
			d.seed = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0') {
				fprintf(stderr, "levcal demo: --seed %s: allowed: an integer\n",
				        optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	return lvc_demo(&d);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

/* An RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM);
 * 't', 'z' and a space for 'T' accepted) into microseconds since the
 * epoch. Returns 0 or -1. */
static int parse_rfc3339(const char *s, int64_t *us)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	int64_t frac = 0, scale = 1000000, off = 0;
	const char *p;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec)) {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) || h > 23 ||
	    mi > 59 || sec > 60) {
		return -1;
	}
	p = s + 19;
	if (*p == '.') {
		if (!(p[1] >= '0' && p[1] <= '9')) {
			return -1;
		}
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) == 0 &&
	           p[3] == ':' && digits(p + 4, 2, &om) == 0 && oh <= 23 && om <= 59) {
		off = (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
	} else {
		return -1;
	}
	/* A leap second (:60) is read as the second after :59. */
	*us =
	    ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000000 + frac;
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "input", required_argument, NULL, 'i' },
		                              { "out", required_argument, NULL, 'o' },
		                              { "from", required_argument, NULL, 'f' },
		                              { "to", required_argument, NULL, 't' },
		                              { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	const char **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
	lvc_replay_opts_t ro = { 0 };
	lvc_config_t *cfg = NULL;
	int c, rc = 2;

	if (inputs == NULL) {
		return 1;
	}
	ro.inputs = inputs;
	ro.from_us = ro.to_us = INT64_MIN;
	ro.stop = &stop_flag;
	while ((c = getopt_long(argc, argv, "c:i:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'i':
			inputs[ro.inputs_n++] = optarg;
			/* --input F1 F2 ...: the following non-option words too. */
			while (optind < argc && argv[optind][0] != '-') {
				inputs[ro.inputs_n++] = argv[optind++];
			}
			break;
		case 'o':
			ro.out_path = optarg;
			break;
		case 'f':
		case 't':
			if (parse_rfc3339(optarg, c == 'f' ? &ro.from_us : &ro.to_us) != 0) {
				fprintf(stderr,
				        "levcal replay: --%s %s: allowed: an RFC 3339 time such as "
				        "2026-01-01T00:00:00Z or 2026-01-01T01:00:00.5+01:00\n",
				        c == 'f' ? "from" : "to", optarg);
				goto out;
			}
			break;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (ro.inputs_n > 0 && (ro.from_us != INT64_MIN || ro.to_us != INT64_MIN)) {
		fprintf(stderr, "levcal replay: give either --input FILE... or --from T [--to T], "
		                "not both\n");
		goto out;
	}
	if (ro.inputs_n == 0 && ro.from_us == INT64_MIN) {
		fprintf(stderr, "levcal replay: give --from T [--to T] (topics) or --input FILE... "
		                "(Avro container files)\n");
		goto out;
	}
	if (ro.to_us != INT64_MIN && ro.to_us <= ro.from_us) {
		fprintf(stderr, "levcal replay: --to must be after --from\n");
		goto out;
	}
	if ((cfg = load_config(path)) == NULL) {
		goto out;
	}
	rc = lvc_replay(cfg, &ro);
out:
	lvc_config_destroy(cfg);
	free(inputs);
	return rc;
}

static int cmd_calibrate(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "input", required_argument, NULL, 'i' },
		                              { "write", required_argument, NULL, 'w' },
		                              { "report", required_argument, NULL, 'r' },
		                              { "from", required_argument, NULL, 'f' },
		                              { "to", required_argument, NULL, 't' },
		                              { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	const char **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
	lvc_calibrate_opts_t co = { 0 };
	lvc_config_t *cfg = NULL;
	int c, rc = 2;

	if (inputs == NULL) {
		return 1;
	}
	co.inputs = inputs;
	co.out = stdout;
	co.err = stderr;
	co.progress = -1;
	co.stop = &stop_flag;
	while ((c = getopt_long(argc, argv, "c:i:w:r:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'i':
			inputs[co.inputs_n++] = optarg;
			/* --input F1 F2 ...: the following non-option words too. */
			while (optind < argc && argv[optind][0] != '-') {
				inputs[co.inputs_n++] = argv[optind++];
			}
			break;
		case 'w':
			co.write_path = optarg;
			break;
		case 'r':
			co.report_path = optarg;
			break;
		case 'f':
		case 't':
			fprintf(stderr,
			        "levcal calibrate: --from/--to (calibration from topics) is not "
			        "available in this version; give --input files\n");
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "levcal calibrate: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (co.inputs_n == 0) {
		fprintf(stderr, "levcal calibrate: give --input FILE... (Avro container files)\n");
		goto out;
	}
	if ((cfg = load_config(path)) == NULL) {
		goto out;
	}
	lvc_log_setup(cfg->log.level, cfg->log.json);
	rc = lvc_calibrate(cfg, &co);
out:
	lvc_config_destroy(cfg);
	free(inputs);
	return rc;
}

static int cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "rate", required_argument, NULL, 'r' },
		                              { "instruments", required_argument, NULL, 'k' },
		                              { "seconds", required_argument, NULL, 's' },
		                              { "positions", required_argument, NULL, 'p' },
		                              { "seed", required_argument, NULL, 'S' },
		                              { "mark-interval", required_argument, NULL, 'm' },
		                              { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	lvc_gen_opts_t g = { 0 };
	lvc_config_t *cfg;
	int64_t us;
	char *end;
	int c, rc;

	g.seed = 1;
	g.stop = &stop_flag;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'r':
			g.rate = strtod(optarg, &end);
			if (*end != '\0' || !(g.rate > 0 && g.rate <= 1e7)) {
				fprintf(stderr,
				        "levcal gen: --rate %s: allowed: trades per second in "
				        "(0, 10000000]\n",
				        optarg);
				return 2;
			}
			break;
		case 'k':
			g.instruments = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || g.instruments < 1 || g.instruments > 100000) {
				fprintf(stderr,
				        "levcal gen: --instruments %s: allowed: 1 to 100000\n",
				        optarg);
				return 2;
			}
			break;
		case 's':
			g.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(g.seconds > 0 && g.seconds <= 31536000)) {
				fprintf(stderr,
				        "levcal gen: --seconds %s: allowed: a number of seconds "
				        "in (0, 31536000]; leave it out to run until SIGINT\n",
				        optarg);
				return 2;
			}
			break;
		case 'p':
			g.positions = strtol(optarg, &end, 10);
			if (*end != '\0' || g.positions < 0 || g.positions > 100000000L) {
				fprintf(stderr,
				        "levcal gen: --positions %s: allowed: 0 to 100000000\n",
				        optarg);
				return 2;
			}
			break;
		case 'S':
			g.seed = strtoull(optarg, &end, 10);
			if (*end != '\0' || optarg[0] == '-') {
				fprintf(stderr,
				        "levcal gen: --seed %s: allowed: an unsigned integer\n",
				        optarg);
				return 2;
			}
			break;
		case 'm':
			if (lvc_parse_duration(optarg, &us) != 0 || us < 1000) {
				fprintf(stderr,
				        "levcal gen: --mark-interval %s: allowed: a duration of "
				        "1ms or more (100ms, 1s)\n",
				        optarg);
				return 2;
			}
			g.mark_interval_s = (double)us / 1e6;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (g.rate == 0) {
		fprintf(stderr, "levcal gen: --rate N is required (trades per second)\n");
		return 2;
	}
	if ((cfg = load_config(path)) == NULL) {
		return 2;
	}
	lvc_log_setup(cfg->log.level, cfg->log.json);
	rc = lvc_gen(cfg, &g);
	lvc_config_destroy(cfg);
	return rc;
}

static int cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	lvc_config_t *cfg;
	int c;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c') {
			usage(stderr);
			return 2;
		}
		path = optarg;
	}
	if ((cfg = load_config(path)) == NULL) {
		return 2;
	}
	lvc_config_dump(cfg, stdout);
	fprintf(stderr, "levcal: %s: ok (config_id %s)\n", path, cfg->config_id);
	lvc_config_destroy(cfg);
	return 0;
}

/* The malloc the build links (CMake option LVC_JEMALLOC). */
static const char *allocator(void)
{
#ifdef LVC_WITH_JEMALLOC
	static char buf[96];
	const char *v = NULL;
	size_t sz = sizeof(v);

	if (mallctl("version", &v, &sz, NULL, 0) == 0 && v != NULL) {
		snprintf(buf, sizeof(buf), "jemalloc %s", v);
		return buf;
	}
	return "jemalloc";
#else
	return "the C library's malloc";
#endif
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(cmd == NULL ? stderr : stdout);
		return cmd == NULL ? 2 : 0;
	}
	install_signals();
	/* getopt_long parses the subcommand's arguments from argv[1]. */
	argc--;
	argv++;
	if (strcmp(cmd, "run") == 0) {
		return cmd_run(argc, argv);
	}
	if (strcmp(cmd, "demo") == 0) {
		return cmd_demo(argc, argv);
	}
	if (strcmp(cmd, "replay") == 0) {
		return cmd_replay(argc, argv);
	}
	if (strcmp(cmd, "calibrate") == 0) {
		return cmd_calibrate(argc, argv);
	}
	if (strcmp(cmd, "gen") == 0) {
		return cmd_gen(argc, argv);
	}
	if (strcmp(cmd, "check-config") == 0) {
		return cmd_check_config(argc, argv);
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("levcal %s\nallocator: %s\n", lvc_version(), allocator());
		return 0;
	}
	fprintf(stderr, "levcal: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
