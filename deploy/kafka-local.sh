#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kafka-local.sh: a real single-node Apache Kafka broker (KRaft, broker and
# controller in one JVM, no ZooKeeper) on 127.0.0.1, for levcal's integration
# tests and for trying levcal by hand. No download outside Maven: the jars
# come from Maven Central through deploy/kafka/pom.xml.
#
# Usage:
#   deploy/kafka-local.sh fetch [VERSION]       jars into $LVC_CACHE/kafka-VERSION/libs
#   deploy/kafka-local.sh start DIR [VERSION]   format DIR/data, start, wait until ready
#   deploy/kafka-local.sh stop DIR              SIGTERM, then SIGKILL after a timeout
#   deploy/kafka-local.sh restart DIR           stop, start again: same ports, same data
#   deploy/kafka-local.sh status DIR            exit 0 when the broker in DIR is running
# VERSION: a Kafka release (3.9.1, 4.1.1, ...), or 3 or 4 for the pinned
# 3.x and 4.x releases below; the default is 3 ($LVC_KAFKA_VERSION).
#
# Example:
#   deploy/kafka-local.sh start /tmp/k
#   levcal run -c cfg.yaml    # with kafka: {bootstrap.servers: <contents of /tmp/k/bootstrap>}
#   deploy/kafka-local.sh stop /tmp/k
#
# What `start DIR` leaves in DIR (created if missing; only these names are
# touched, so DIR may be any scratch directory):
#   server.properties  the broker's config     broker.log  its whole log
#   data/              log.dirs (and KRaft metadata log)
#   pid                the java process        bootstrap   "127.0.0.1:PORT", written once ready
#   kafka.env          version, ports and cluster id, for restart
#   bootstrap_sasl     "127.0.0.1:PORT" of the SCRAM listener, written once
#                      ready (only with LVC_KAFKA_SCRAM_USERS)
# A `start` on a DIR whose broker still runs stops that broker first and
# begins again from empty data on new ports.
#
# Broker choices for tests: auto.create.topics.enable=false, so that a test
# or a levcal config that names a topic nobody created fails loudly instead of
# silently getting a one-partition topic; tests create their topics (kit.py
# create_topics). Replication factors and min ISR are 1 (one node);
# group.initial.rebalance.delay.ms=0; __consumer_offsets and
# __transaction_state get 4 partitions instead of 50 so that the first group
# or transaction does not wait for 50 partitions on a 2-core machine;
# broker.session.timeout.ms=3000 so that a restart after a SIGKILL waits
# 3 s, not 9 s, for the dead incarnation's registration to expire.
#
# Environment:
#   LVC_CACHE                  cache root (default ~/.cache/levcal)
#   LVC_KAFKA_VERSION          default VERSION (3.9.1); 4.x works too (see pom.xml)
#   LVC_PYTHON                 python with confluent-kafka for the readiness
#                              probe (default $LVC_CACHE/venv/bin/python, then python3)
#   LVC_KAFKA_START_TIMEOUT    seconds to wait for readiness (60)
#   LVC_KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (30)
#   LVC_JAVA                   the java to run (default: java on PATH, or
#                              Debian's JDK 17 when that java is older than 17)
#   LVC_KAFKA_HEAP_OPTS        JVM heap (-Xmx512m -Xms256m)
#   LVC_KAFKA_JVM_OPTS         more JVM options (default: serial GC, C1 only)
#   LVC_KAFKA_EXTRA_PROPS      lines appended to server.properties; a later
#                              line overrides an earlier one, so e.g. a
#                              SASL_PLAINTEXT SCRAM-SHA-512 listener can be
#                              added by restating listeners=, advertised.listeners=,
#                              listener.security.protocol.map= and the sasl.* keys
#   LVC_KAFKA_EXTRA_PROPS_FILE a file appended the same way
#   LVC_KAFKA_EXTRA_PORTS      number of extra free ports to pick (0); they are
#                              written to kafka.env as EXTRA_PORT_1.. and
#                              ${EXTRA_PORT_1}.. in the extra properties are
#                              replaced by them
#   LVC_KAFKA_SCRAM_USERS      "NAME:PASSWORD ..." (space-separated): adds a
#                              SASL_PLAINTEXT listener with SCRAM-SHA-512 on
#                              one more free port (SASL_PORT in kafka.env,
#                              DIR/bootstrap_sasl) and creates these users at
#                              format time (kafka-storage format --add-scram).
#                              Names and passwords: no whitespace, ',', ']',
#                              '"' or '='; the name no ':'. No authorizer: any
#                              authenticated user may do anything. PLAINTEXT
#                              stays the inter-broker listener.
set -euo pipefail
# CI may run with a bare environment: the cache and ~/.m2 need a HOME.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$HERE/kafka/pom.xml"
CACHE=${LVC_CACHE:-$HOME/.cache/levcal}
# The pinned brokers: VERSION "3" (and the default) means KAFKA3, "4" KAFKA4.
# KAFKA4 is the newest 4.x checked against librdkafka 2.0.2 (levcal's
# client) and confluent-kafka; keep deploy/kafka/pom.xml's kafka4.version
# equal to it.
KAFKA3=3.9.1
KAFKA4=4.4.0
DEFAULT_VERSION=${LVC_KAFKA_VERSION:-$KAFKA3}
START_TIMEOUT=${LVC_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${LVC_KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${LVC_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
JVM_OPTS=${LVC_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m}

log() { printf 'kafka-local: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^# Example:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

now_ms() { date +%s%3N; }

major_of() { printf '%s' "${1%%.*}"; }

libs_dir() { printf '%s/kafka-%s/libs' "$CACHE" "$1"; }

# resolve_version [VERSION]: "3" and "4" stand for the pinned versions.
resolve_version() {
	case "${1:-$DEFAULT_VERSION}" in
	3) printf '%s' "$KAFKA3" ;;
	4) printf '%s' "$KAFKA4" ;;
	*) printf '%s' "${1:-$DEFAULT_VERSION}" ;;
	esac
}

find_java() {
	local j=${LVC_JAVA:-java} v
	command -v "$j" >/dev/null 2>&1 || die "java not found (run deploy/install-deps.sh)"
	v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
	if [[ -z "${LVC_JAVA:-}" && "${v%%.*}" -lt 17 && -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
		j=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
	fi
	printf '%s' "$j"
}

find_python() {
	local c
	for c in "${LVC_PYTHON:-}" "$CACHE/venv/bin/python" python3; do
		if [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1; then
			printf '%s' "$c"
			return 0
		fi
	done
	die "no python found (set LVC_PYTHON or run deploy/install-deps.sh)"
}

# fetch VERSION: copy the broker's runtime class path into the cache, once.
cmd_fetch() {
	local version
	version=$(resolve_version "${1:-}")
	[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION must look like 3.9.1, got '$version'"
	local libs
	libs=$(libs_dir "$version")
	if [[ -f "$libs/.complete" ]]; then
		log "kafka $version jars present in $libs"
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (run deploy/install-deps.sh)"
	local major profile
	major=$(major_of "$version")
	case "$major" in
	3) profile='kafka3,!kafka4' ;;
	4) profile='kafka4,!kafka3' ;;
	*) die "kafka $version: only 3.x and 4.x are supported by deploy/kafka/pom.xml" ;;
	esac
	local base="$CACHE/kafka-$version"
	mkdir -p "$base"
	# One fetch per version at a time (two CTest fixtures may race).
	exec 9>"$base/.lock"
	flock 9
	if [[ -f "$libs/.complete" ]]; then
		log "kafka $version jars present in $libs"
		exec 9>&-
		return 0
	fi
	local t0 tmp
	t0=$(now_ms)
	tmp="$base/libs.tmp.$$"
	rm -rf "$tmp"
	log "fetching kafka $version jars with maven into $libs"
	# (Maven 3.8 prints colour resets even in batch mode: strip them.)
	if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -P"$profile" \
		-Dkafka.version="$version" -Dlvc.libs="$tmp" -Dlvc.work="$base/mvn-work" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g' >&2; then
		rm -rf "$tmp"
		die "maven could not fetch kafka $version (see the output above)"
	fi
	ls "$tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "kafka_2.13-$version.jar missing after fetch"
	touch "$tmp/.complete"
	rm -rf "$libs"
	mv "$tmp" "$libs"
	exec 9>&-
	log "fetched $(find "$libs" -name '*.jar' | wc -l) jars in $(($(now_ms) - t0)) ms"
}

# Two (or more) free loopback ports, bound at the same time so they differ.
free_ports() {
	local n=$1
	python3 - "$n" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# A random cluster id as Kafka's Uuid.randomUuid() makes it: URL-safe
# base64 of 16 random bytes, never starting with "-" (kafka-storage would
# take such an id for an option: "argument --cluster-id/-t: expected one
# argument", one start in 64).
new_cluster_id() {
	python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

# The pid in DIR/pid, when that process is still our broker for DIR.
running_pid() {
	local dir=$1 pid
	[[ -f "$dir/pid" ]] || return 1
	pid=$(cat "$dir/pid")
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against a recycled pid: it must be kafka.Kafka on DIR's config.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $dir/server.properties" || return 1
	printf '%s' "$pid"
}

write_properties() {
	local dir=$1 major=$2 port=$3 cport=$4 sport=${5:-} f="$1/server.properties"
	local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
	local advertised="PLAINTEXT://127.0.0.1:$port"
	local protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	if [[ -n "$sport" ]]; then
		listeners+=",SASL_PLAINTEXT://127.0.0.1:$sport"
		advertised+=",SASL_PLAINTEXT://127.0.0.1:$sport"
		protomap+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
	fi
	cat >"$f" <<EOF
# Written by deploy/kafka-local.sh start; restart keeps it.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protomap
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
log.cleaner.threads=1
# A SIGKILLed broker's registration blocks its restart until the session
# times out (default 9 s): keep that short for broker-crash tests.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
	if [[ "$major" -ge 4 ]]; then
		cat >>"$f" <<EOF
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
	fi
	if [[ -n "$sport" ]]; then
		cat >>"$f" <<EOF
# LVC_KAFKA_SCRAM_USERS: SCRAM-SHA-512 on the SASL_PLAINTEXT listener.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
	fi
	if [[ -n "${LVC_KAFKA_EXTRA_PROPS:-}" || -n "${LVC_KAFKA_EXTRA_PROPS_FILE:-}" ]]; then
		local extra=${LVC_KAFKA_EXTRA_PROPS:-}
		if [[ -n "${LVC_KAFKA_EXTRA_PROPS_FILE:-}" ]]; then
			extra+=$'\n'$(cat "$LVC_KAFKA_EXTRA_PROPS_FILE")
		fi
		local i=1 p
		for p in $EXTRA_PORTS; do
			extra=${extra//\$\{EXTRA_PORT_$i\}/$p}
			i=$((i + 1))
		done
		printf '# From LVC_KAFKA_EXTRA_PROPS / LVC_KAFKA_EXTRA_PROPS_FILE:\n%s\n' "$extra" >>"$f"
	fi
}

java_cmd() {
	local libs=$1 major=$2
	local logcfg
	if [[ "$major" -ge 4 ]]; then
		logcfg="-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties"
	else
		logcfg="-Dlog4j.configuration=file:$HERE/kafka/log4j.properties"
	fi
	# shellcheck disable=SC2206
	JAVA_ARGV=("$JAVA" $HEAP_OPTS $JVM_OPTS -Djava.awt.headless=true "$logcfg" -cp "$libs/*")
}

# launch DIR: start the formatted broker in the background and wait.
launch() {
	local dir=$1 version=$2 port=$3 sport=${4:-} major libs pid python t0
	major=$(major_of "$version")
	libs=$(libs_dir "$version")
	java_cmd "$libs" "$major"
	python=$(find_python)
	t0=$(now_ms)
	rm -f "$dir/bootstrap" "$dir/bootstrap_sasl"
	# Own session, no inherited descriptors: the broker outlives the CTest
	# fixture that started it, and CTest does not wait on its pipes.
	setsid "${JAVA_ARGV[@]}" kafka.Kafka "$dir/server.properties" \
		</dev/null >>"$dir/broker.log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$dir/pid"
	if ! "$python" "$HERE/kafka/probe.py" "127.0.0.1:$port" "$START_TIMEOUT" "$pid"; then
		log "broker in $dir did not become ready; last lines of $dir/broker.log:"
		tail -n 40 "$dir/broker.log" >&2 || true
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$dir/pid"
		exit 1
	fi
	if [[ -n "$sport" ]]; then
		printf '127.0.0.1:%s\n' "$sport" >"$dir/bootstrap_sasl"
	fi
	printf '127.0.0.1:%s\n' "$port" >"$dir/bootstrap.tmp"
	mv "$dir/bootstrap.tmp" "$dir/bootstrap"
	log "kafka $version ready at 127.0.0.1:$port (pid $pid) in $(($(now_ms) - t0)) ms; log $dir/broker.log"
}

cmd_start() {
	[[ $# -ge 1 && $# -le 2 ]] || usage
	local dir=$1 version
	version=$(resolve_version "${2:-}")
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	JAVA=$(find_java)
	cmd_fetch "$version"
	if running_pid "$dir" >/dev/null; then
		log "a broker is running in $dir; stopping it first"
		cmd_stop "$dir"
	fi
	local major ports port cport sport="" cluster_id t0 n_extra=${LVC_KAFKA_EXTRA_PORTS:-0}
	local scram_args=() user user_re='^[^]:,"=]+:[^],"=]+$'
	major=$(major_of "$version")
	for user in ${LVC_KAFKA_SCRAM_USERS:-}; do
		[[ "$user" =~ $user_re ]] ||
			die "LVC_KAFKA_SCRAM_USERS: each entry is NAME:PASSWORD (no ',', ']', '\"', '=')"
		scram_args+=(--add-scram "SCRAM-SHA-512=[name=${user%%:*},password=${user#*:}]")
	done
	read -r -a ports <<<"$(free_ports $((2 + n_extra + (${#scram_args[@]} > 0 ? 1 : 0))))"
	port=${ports[0]}
	cport=${ports[1]}
	if [[ ${#scram_args[@]} -gt 0 ]]; then
		sport=${ports[2 + n_extra]}
	fi
	EXTRA_PORTS="${ports[*]:2:$n_extra}"
	cluster_id=$(new_cluster_id)
	rm -rf "$dir/data" "$dir/bootstrap" "$dir/bootstrap_sasl" "$dir/pid"
	: >"$dir/broker.log"
	write_properties "$dir" "$major" "$port" "$cport" "$sport"
	{
		printf 'VERSION=%s\nPORT=%s\nCONTROLLER_PORT=%s\nCLUSTER_ID=%s\nSASL_PORT=%s\n' \
			"$version" "$port" "$cport" "$cluster_id" "$sport"
		local i=1 p
		for p in $EXTRA_PORTS; do
			printf 'EXTRA_PORT_%s=%s\n' "$i" "$p"
			i=$((i + 1))
		done
	} >"$dir/kafka.env"
	java_cmd "$(libs_dir "$version")" "$major"
	t0=$(now_ms)
	if ! "${JAVA_ARGV[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
		-c "$dir/server.properties" "${scram_args[@]}" >>"$dir/broker.log" 2>&1; then
		log "formatting $dir/data failed; last lines of $dir/broker.log:"
		tail -n 40 "$dir/broker.log" >&2 || true
		exit 1
	fi
	log "formatted $dir/data (cluster $cluster_id) in $(($(now_ms) - t0)) ms"
	launch "$dir" "$version" "$port" "$sport"
}

cmd_stop() {
	[[ $# -eq 1 ]] || usage
	local dir=$1 pid t0 deadline
	[[ -d "$dir" ]] || {
		log "no broker directory $dir; nothing to stop"
		return 0
	}
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/bootstrap" "$dir/bootstrap_sasl"
	if ! pid=$(running_pid "$dir"); then
		rm -f "$dir/pid"
		log "no broker running in $dir"
		return 0
	fi
	t0=$(now_ms)
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((t0 + STOP_TIMEOUT * 1000))
	while kill -0 "$pid" 2>/dev/null && [[ $(now_ms) -lt $deadline ]]; do
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "broker $pid still running after ${STOP_TIMEOUT} s; SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
		done
	fi
	rm -f "$dir/pid"
	log "stopped broker $pid in $(($(now_ms) - t0)) ms"
}

cmd_restart() {
	[[ $# -eq 1 ]] || usage
	local dir=$1
	[[ -f "$dir/kafka.env" && -f "$dir/server.properties" ]] ||
		die "$dir has no broker started by this script (no kafka.env)"
	dir=$(cd "$dir" && pwd)
	cmd_stop "$dir"
	# shellcheck disable=SC2034 # set by kafka.env, not all used
	local VERSION PORT CONTROLLER_PORT CLUSTER_ID SASL_PORT=""
	# shellcheck disable=SC1091
	. "$dir/kafka.env"
	printf '\n# ---- restart %s ----\n' "$(date -Is)" >>"$dir/broker.log"
	launch "$dir" "$VERSION" "$PORT" "$SASL_PORT"
}

cmd_status() {
	[[ $# -eq 1 ]] || usage
	local pid
	if pid=$(running_pid "$(cd "$1" 2>/dev/null && pwd || printf '%s' "$1")"); then
		printf 'running pid %s bootstrap %s\n' "$pid" "$(cat "$1/bootstrap" 2>/dev/null || echo '(not ready)')"
		return 0
	fi
	printf 'not running\n'
	return 1
}

EXTRA_PORTS=""
JAVA=java
[[ $# -ge 1 ]] || usage
sub=$1
shift
case "$sub" in
fetch) cmd_fetch "$@" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
restart) cmd_restart "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
