#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# demo.sh: build levcal and run `levcal demo` on its embedded mock Kafka
# cluster (no broker, no config). The README's first command.
#
#   deploy/demo.sh [DEMO OPTIONS]     e.g. deploy/demo.sh --seconds 60
#
# Installs only the build packages (deploy/install-deps.sh --build), builds
# a release binary in build-demo/ and runs it; Ctrl-C ends the demo early.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LVC_DEMO_BUILD_DIR:-$ROOT/build-demo}

bash "$ROOT/deploy/install-deps.sh" --build
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLVC_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target levcal -j2
exec "$BUILD/levcal" demo "$@"
