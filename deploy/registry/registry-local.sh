#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# registry-local.sh: the test Schema Registry (deploy/registry/registry.py,
# Confluent REST API, in memory with a state file) on 127.0.0.1, for
# levcal's integration tests (CTest fixture `registry`) and by hand.
#
#   deploy/registry/registry-local.sh start DIR     start on a free port, wait until it answers
#   deploy/registry/registry-local.sh stop DIR      SIGTERM, then SIGKILL after 10 s
#   deploy/registry/registry-local.sh restart DIR   stop and start on the same port and state
#   deploy/registry/registry-local.sh status DIR    exit 0 when running
#
# DIR gets: url ("http://127.0.0.1:PORT", written once listening), pid,
# state.json (the schemas; `start` begins empty, `restart` keeps it),
# registry.log. Idempotent: `start` on a DIR whose registry runs stops it
# first. Needs only python3 (the standard library).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${LVC_REGISTRY_PYTHON:-python3}

die() { printf 'registry-local: %s\n' "$*" >&2; exit 1; }
log() { printf 'registry-local: %s\n' "$*" >&2; }

running_pid() {
	local dir=$1 pid
	[[ -f "$dir/pid" ]] || return 1
	pid=$(cat "$dir/pid")
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "registry.py" || return 1
	printf '%s' "$pid"
}

do_stop() {
	local dir=$1 pid
	if pid=$(running_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid" "$dir/url"
}

do_start() {
	local dir=$1 port=$2
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/url"
	nohup "$PY" "$HERE/registry.py" --port "$port" --url-file "$dir/url" \
		--state "$dir/state.json" ${LVC_REGISTRY_ARGS:-} >>"$dir/registry.log" 2>&1 &
	echo $! >"$dir/pid"
	for _ in $(seq 1 200); do
		if [[ -s "$dir/url" ]]; then
			log "listening on $(cat "$dir/url") (pid $(cat "$dir/pid"))"
			return 0
		fi
		kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -20 "$dir/registry.log" >&2; die "exited at start"; }
		sleep 0.05
	done
	die "not listening after 10 s (see $dir/registry.log)"
}

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|restart|status DIR"
case "$cmd" in
start)
	do_stop "$dir"
	rm -f "$dir/state.json"
	do_start "$dir" 0
	;;
stop)
	do_stop "$dir"
	;;
restart)
	port=0
	[[ -f "$dir/url" ]] && port=$(sed -n 's|.*:\([0-9]*\)$|\1|p' "$dir/url")
	[[ -f "$dir/port" ]] && [[ "$port" == 0 ]] && port=$(cat "$dir/port")
	do_stop "$dir"
	do_start "$dir" "$port"
	;;
status)
	running_pid "$dir" >/dev/null
	;;
*)
	die "unknown command $cmd (start, stop, restart, status)"
	;;
esac
if [[ -s "$dir/url" ]]; then
	sed -n 's|.*:\([0-9]*\)$|\1|p' "$dir/url" >"$dir/port"
fi
