#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# install-deps.sh: everything levcal needs to build and run its whole test
# suite on Debian 12 (bookworm), installed only where missing, so that a
# second run takes a second or two. Run as root (or with sudo available).
#
#   deploy/install-deps.sh              everything (build, tests, brokers)
#   deploy/install-deps.sh --build      only the packages that build levcal
#                                       (what `levcal demo` needs)
#
# What it does, each step only when needed:
#   1. apt-get update + install the build and test packages (below); a JDK 17
#      only when `java` is missing or older than 17, Maven only when `mvn` is.
#   2. a Python virtualenv for the integration tests, with the pinned
#      tests/integration/requirements.txt (re-installed when that file
#      changes).
#   3. the jars of the test brokers (deploy/kafka-local.sh fetch), the
#      default 3.x and the 4.x one, from Maven Central.
#
# Environment:
#   LVC_CACHE              cache root (default ~/.cache/levcal)
#   LVC_VENV               the virtualenv (default $LVC_CACHE/venv); CMake's
#                          LVC_PYTHON defaults to $LVC_VENV/bin/python
#   LVC_SKIP_APT=1         skip step 1 (a machine without apt, or no root)
#   LVC_SKIP_KAFKA_FETCH=1 skip step 3
set -euo pipefail
BUILD_ONLY=0
if [[ "${1:-}" == "--build" ]]; then
	BUILD_ONLY=1
elif [[ -n "${1:-}" ]]; then
	printf 'usage: %s [--build]\n' "$0" >&2
	exit 2
fi
# CI may run with a bare environment: the cache and ~/.m2 need a HOME.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${LVC_CACHE:-$HOME/.cache/levcal}
VENV=${LVC_VENV:-$CACHE/venv}
REQS="$ROOT/tests/integration/requirements.txt"

APT_PACKAGES=(
	build-essential cmake ninja-build pkg-config git
	librdkafka-dev libavro-dev libyaml-dev libcriterion-dev libjansson-dev
	libmicrohttpd-dev libcurl4-openssl-dev libjemalloc-dev
	clang clang-format libclang-rt-14-dev
	python3 python3-venv python3-yaml
)
# Only for the tests (the report screenshot test), not for --build.
TEST_PACKAGES=(chromium fonts-dejavu-core)
[[ $BUILD_ONLY == 1 ]] || APT_PACKAGES+=("${TEST_PACKAGES[@]}")

say() { printf 'install-deps: %s\n' "$*"; }
t_start=$(date +%s)

# ---- 1. Debian packages -----------------------------------------------------
installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

if [[ "${LVC_SKIP_APT:-0}" == 1 ]]; then
	say "apt: skipped (LVC_SKIP_APT=1)"
elif ! command -v dpkg-query >/dev/null 2>&1; then
	say "apt: no dpkg on this machine; install by hand: ${APT_PACKAGES[*]} openjdk-17-jdk-headless maven"
else
	missing=()
	for p in "${APT_PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	# The Kafka 4.x broker needs Java 17 or newer.
	java_major=999
	[[ $BUILD_ONLY == 1 ]] || java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
	if [[ -z "$java_major" || "${java_major%%.*}" -lt 17 ]] && ! installed openjdk-17-jdk-headless; then
		missing+=(openjdk-17-jdk-headless)
	fi
	[[ $BUILD_ONLY == 1 ]] || command -v mvn >/dev/null 2>&1 || missing+=(maven)
	if [[ ${#missing[@]} -eq 0 ]]; then
		say "apt: all ${#APT_PACKAGES[@]} packages, java and mvn present"
	else
		SUDO=()
		if [[ $(id -u) -ne 0 ]]; then
			command -v sudo >/dev/null 2>&1 || {
				say "apt: missing ${missing[*]}, and not root (no sudo)"
				exit 1
			}
			SUDO=(sudo)
		fi
		say "apt: installing ${missing[*]}"
		"${SUDO[@]}" apt-get update -q
		DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
		say "apt: installed ${#missing[@]} packages"
	fi
fi

if [[ $BUILD_ONLY == 1 ]]; then
	say "done (build packages only) in $(($(date +%s) - t_start)) s"
	exit 0
fi

# ---- 2. Python virtualenv ---------------------------------------------------
# Debian's python3 has the venv module from python3-venv; another python3
# first on PATH (pyenv and the like) is the fallback.
base_python=""
for c in /usr/bin/python3 python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import venv, ensurepip' 2>/dev/null; then
		base_python=$(command -v "$c")
		break
	fi
done
[[ -n "$base_python" ]] || {
	say "venv: no python3 with the venv module (apt-get install python3-venv)"
	exit 1
}

want=$(sha256sum "$REQS" | cut -d' ' -f1)
stamp="$VENV/.lvc-requirements.sha256"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
	"$VENV/bin/python" -c 'import confluent_kafka, fastavro, pytest' 2>/dev/null; then
	say "venv: $VENV up to date with $(basename "$REQS")"
else
	if ! [[ -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
		say "venv: creating $VENV with $base_python ($("$base_python" --version 2>&1))"
		rm -rf "$VENV"
		mkdir -p "$(dirname "$VENV")"
		"$base_python" -m venv "$VENV"
	fi
	say "venv: pip install -r $REQS"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
	printf '%s\n' "$want" >"$stamp"
	say "venv: installed $("$VENV/bin/python" -m pip freeze | tr '\n' ' ')"
fi

# ---- 3. Kafka broker jars ---------------------------------------------------
if [[ "${LVC_SKIP_KAFKA_FETCH:-0}" == 1 ]]; then
	say "kafka: jar fetch skipped (LVC_SKIP_KAFKA_FETCH=1)"
else
	for v in 3 4; do
		LVC_CACHE="$CACHE" "$HERE/kafka-local.sh" fetch "$v" 2>&1
	done
fi

say "done in $(($(date +%s) - t_start)) s"
