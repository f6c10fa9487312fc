# The runner itself (tests/run.sh), on a copy of it with scripts made for
# the purpose: a script that hangs is killed at its limit and reported as a
# FAIL naming it and its last lines, with nothing of it left running (its
# process group, a process that left the group with setsid); a test that
# cannot set itself up FAILs unless AEGIS_TEST_ALLOW_SKIP=1; a script that
# runs no test, a unit binary that is missing, and a run that executes no
# test all FAIL.
. "$(dirname "$0")/lib.sh"

copy=$TMP/tree
mkdir -p "$copy/tests/integration" "$copy/tests/podman" "$copy/tests/unit"
cp "$ROOT/tests/run.sh" "$copy/tests/"
cp "$ROOT/tests/podman/env.sh" "$ROOT/tests/podman/image-cache.sh" "$copy/tests/podman/"
cp "$ROOT/tests/integration/lib.sh" "$copy/tests/integration/"
mkdir -p "$copy/scripts" && cp "$ROOT/scripts/podman-containers.conf" "$copy/scripts/"
# A marker no other process on the machine carries.
mark=$((40000 + RANDOM))
cat >"$copy/tests/integration/10-hang.sh" <<EOF
# time-limit: 3
. "\$(dirname "\$0")/lib.sh"
pass hang-before
echo "doing: waiting on something that never answers"
sleep $mark &
setsid sleep $((mark + 1)) &
sleep $((mark + 2))
pass hang-after
EOF
cat >"$copy/tests/integration/20-ok.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
pass ok-one
EOF
cat >"$copy/tests/integration/30-cannot.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
names=(cannot-a cannot-b)
skip_all "no such service here"
EOF
cat >"$copy/tests/integration/40-empty.sh" <<'EOF'
echo "nothing tested"
EOF
touch "$copy/tests/unit/test_missing.c"

# The copy must not wait on this run's lock, nor use its test Podman.
inner() {
	env -u AEGIS_TEST_FILTER -u AEGIS_TEST_ONLY -u AEGIS_TEST_ALLOW_SKIP AEGIS_TEST_LOCK="$TMP/lock" AEGIS_TEST_NETNS="${AEGIS_TEST_NETNS:-outer}" \
		AEGIS_TEST_PODMAN_HOME="$TMP/podman" AEGIS_TEST_ROOT= "$@" bash "$copy/tests/run.sh"
}
t0=$(date +%s)
inner AEGIS_TEST_ONLY=integration >"$TMP/out" 2>&1
rc=$?
took=$(($(date +%s) - t0))

if grep -q '^FAIL 10-hang.sh (timed out after 3 s' "$TMP/out" && grep -q 'doing: waiting on something' "$TMP/out" &&
	! grep -q '^PASS hang-before' "$TMP/out" && [ "$took" -lt 40 ]; then
	pass runner-hang-killed-at-limit
else
	fail runner-hang-killed-at-limit "took $took s: $(grep -A4 10-hang "$TMP/out" | head -8)"
fi
sleep 0.5
if pgrep -f "sleep ($mark|$((mark + 1))|$((mark + 2)))\$" >/dev/null; then
	fail runner-hang-nothing-left "still running: $(pgrep -af "sleep ($mark|$((mark + 1))|$((mark + 2)))\$")"
	pkill -f "sleep ($mark|$((mark + 1))|$((mark + 2)))\$"
else
	pass runner-hang-nothing-left
fi
grep -q '^PASS ok-one' "$TMP/out" && pass runner-counts-pass || fail runner-counts-pass "$(cat "$TMP/out")"
if grep -q '^FAIL cannot-a (cannot run: no such service here)' "$TMP/out" && grep -q '^FAIL cannot-b' "$TMP/out"; then
	pass runner-cannot-run-fails
else
	fail runner-cannot-run-fails "$(grep cannot "$TMP/out")"
fi
grep -q '^FAIL 40-empty.sh (ran no test)' "$TMP/out" && pass runner-no-test-fails || fail runner-no-test-fails "$(grep -A2 40-empty "$TMP/out")"
if [ $rc -ne 0 ] && [ "$(tail -n 1 "$TMP/out")" = "1 passed, 4 failed" ]; then
	pass runner-summary
else
	fail runner-summary "rc=$rc, last line: $(tail -n 1 "$TMP/out")"
fi

inner AEGIS_TEST_ONLY=integration AEGIS_TEST_FILTER=30-cannot AEGIS_TEST_ALLOW_SKIP=1 >"$TMP/out2" 2>&1
if grep -q '^SKIP cannot-a (no such service here)' "$TMP/out2" && [ "$(tail -n 1 "$TMP/out2")" = "0 passed, 0 failed, 2 skipped" ]; then
	pass runner-allow-skip-opt-out
else
	fail runner-allow-skip-opt-out "$(tail -n 3 "$TMP/out2")"
fi

inner AEGIS_TEST_ONLY=unit >"$TMP/out3" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q '^FAIL test_missing (not built' "$TMP/out3"; then
	pass runner-missing-unit-binary-fails
else
	fail runner-missing-unit-binary-fails "rc=$rc $(tail -n 3 "$TMP/out3")"
fi

inner AEGIS_TEST_ONLY=integration AEGIS_TEST_FILTER=no-such-script >"$TMP/out4" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q '^FAIL test-run (no test was executed)' "$TMP/out4"; then
	pass runner-empty-run-fails
else
	fail runner-empty-run-fails "rc=$rc $(tail -n 3 "$TMP/out4")"
fi
