#!/usr/bin/env bash
# Fuzz POSTGRES_PASSWORD through .env -> render -> YAML parser, beyond the
# 10,000 values `make test` runs: the same test (tests/unit/test_fuzz_render.c),
# built without sanitizers and optimised, so a million values take minutes.
#
#   scripts/fuzz-env.sh [COUNT [SEED]]     (default 1000000 values, the
#                                           default seed of the test)
#
# Prints the seed, how many values ran and how long they took; exits non-zero
# with the failing value (in hex) when one does not come back exactly.
# Replay a failure with the same COUNT and SEED, or through make test:
#   AEGIS_FUZZ_SEED=SEED AEGIS_FUZZ_COUNT=N build/asan/tests/test_fuzz_render
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
seed=${2:-}
pkgs="yaml-0.1 libcurl jansson libgit2 openssl"
bin=build/fuzz/test_fuzz_render
mkdir -p build/fuzz
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-missing-field-initializers -D_GNU_SOURCE \
	-Iorchestrator -Itests/unit $(pkg-config --cflags $pkgs) -o "$bin" \
	tests/unit/test_fuzz_render.c tests/unit/harness.c orchestrator/lib/*/*.c \
	$(pkg-config --libs $pkgs) -lpthread -lm
export AEGIS_TEST_ROOT="$PWD" AEGIS_FUZZ_COUNT="$count"
[ -n "$seed" ] && export AEGIS_FUZZ_SEED="$seed"
start=$(date +%s.%N)
rc=0
"$bin" || rc=$?
echo "fuzz-env: $count values, $(echo "$(date +%s.%N) - $start" | bc) s in all"
exit $rc
