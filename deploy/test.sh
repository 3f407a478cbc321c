#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# test.sh: the whole test suite, as CI runs it (.ci/run calls this).
#
#   deploy/test.sh [BUILD_DIR]        default BUILD_DIR: build-ci in the repo
#
# 1. deploy/install-deps.sh (packages, the integration-test virtualenv, the
#    Kafka jars; quick when all is there);
# 2. configure BUILD_DIR with warnings as errors, ASan+UBSan, the tests, and
#    the second (Kafka 4.x) broker suite; build with -j2;
# 3. check formatting of every .c/.h under src/ and tests/ with the repo's
#    .clang-format (the files that differ are listed);
# 4. ctest --output-on-failure over every label: unit, io, fuzz (corpus
#    replay), integration (real brokers, started and stopped by CTest
#    fixtures) and bench (smoke runs).
# Exits non-zero when any step fails; formatting and test failures are both
# reported before it exits. Prints the time of each step and the total.
#
# Environment: LVC_BUILD_DIR (instead of the argument), LVC_CACHE, LVC_VENV
# (see install-deps.sh), LVC_PYTHON, LVC_TIMEOUT_SCALE (integer, default 1),
# CTEST_PARALLEL_LEVEL (default 2), CLANG_FORMAT (default clang-format).
set -euo pipefail
# CI may run with a bare environment: the cache and ~/.m2 need a HOME.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-${LVC_BUILD_DIR:-$ROOT/build-ci}}
CACHE=${LVC_CACHE:-$HOME/.cache/levcal}
VENV=${LVC_VENV:-$CACHE/venv}
PYTHON=${LVC_PYTHON:-$VENV/bin/python}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
JOBS=${CTEST_PARALLEL_LEVEL:-2}

t0=$(date +%s)
step_t=$t0
step() {
	local now
	now=$(date +%s)
	printf '\n==== test.sh: %s (at %d s)\n' "$*" $((now - t0))
	step_t=$now
}
done_step() { printf '==== test.sh: %s took %d s\n' "$1" $(($(date +%s) - step_t)); }

failed=()

step "dependencies"
bash "$ROOT/deploy/install-deps.sh"
done_step "dependencies"

step "configure $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja \
	-DLVC_WERROR=ON -DLVC_SANITIZE=ON -DLVC_TESTS=ON -DLVC_KAFKA4=ON \
	-DLVC_PYTHON="$PYTHON" -DLVC_TIMEOUT_SCALE="${LVC_TIMEOUT_SCALE:-1}"
done_step "configure"

step "build"
cmake --build "$BUILD" -j2
done_step "build"

step "format check ($($CLANG_FORMAT --version | head -n1))"
mapfile -t sources < <(cd "$ROOT" && find src tests -type f \( -name '*.c' -o -name '*.h' \) | sort)
unformatted=()
for f in "${sources[@]}"; do
	if ! (cd "$ROOT" && "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1); then
		unformatted+=("$f")
	fi
done
if [[ ${#unformatted[@]} -gt 0 ]]; then
	printf 'not formatted (fix with: clang-format -i FILE):\n' >&2
	printf '  %s\n' "${unformatted[@]}" >&2
	failed+=("format: ${#unformatted[@]} files")
else
	printf '%d files formatted\n' "${#sources[@]}"
fi
done_step "format check"

step "ctest (unit, io, fuzz, integration, bench)"
if ! ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS"; then
	failed+=("ctest")
fi
done_step "ctest"

total=$(($(date +%s) - t0))
if [[ ${#failed[@]} -gt 0 ]]; then
	printf '\n==== test.sh: FAILED (%s) after %d s\n' "${failed[*]}" "$total"
	exit 1
fi
printf '\n==== test.sh: all passed in %d s\n' "$total"
