# SIGKILL at random points of a full deploy (isolated test Podman, stand-in
# images): after each kill a plain deploy must converge (validate passes),
# the data written into a volume before must still be there, and the killed
# command must leave no process and no temporary file or directory behind.
# AEGIS_KILL_TRIALS trials (default 5; scripts/kill-trials.sh runs 20);
# AEGIS_KILL_SEED replays a run (the seed is printed).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

trials=${AEGIS_KILL_TRIALS:-5}
seed=${AEGIS_KILL_SEED:-$(( $(date +%s) % 100000 ))}
names=(kill-trials)
require_rootful_podman

podman_test_stack
# Whatever temporary files the tool makes go here, so "nothing left" is
# checked on a directory no one else uses.
mkdir -p -m 0700 "$TMP/run" "$TMP/out"
A() { XDG_RUNTIME_DIR=$TMP/run TMPDIR=$TMP/run aegis --env "$ENV" "$@"; }

A clean --yes >/dev/null 2>&1
if ! A deploy --no-bootstrap --profile full --timeout 120 >"$TMP/out/first" 2>&1; then
	fail kill-trials "the first deploy failed: $(tail -3 "$TMP/out/first")"
	exit 0
fi
marker="kill-trials-$seed-$$"
podman exec pod-database-postgres sh -c "echo $marker > /var/lib/postgresql/data/aegis-kill-marker" ||
	fail kill-trials "cannot write the marker into the database volume"
# the state directory keeps its lock file; nothing else may appear beside the .env
ls -A "$TMP" | grep -v '^out$' | sort >"$TMP/out/entries0"

echo "   kill trials: $trials, seed $seed (AEGIS_KILL_SEED=$seed replays them)"
RANDOM=$seed
for k in $(seq "$trials"); do
	# a point anywhere in a replacing deploy of the full profile (about 8-15 s)
	ms=$(( 200 + RANDOM % 9000 ))
	delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	# the binary itself in the background, so $! is the process killed
	XDG_RUNTIME_DIR=$TMP/run TMPDIR=$TMP/run "$AEGIS_BIN" --root "$ROOT" --env "$ENV" \
		deploy --no-bootstrap --replace --profile full --timeout 120 >"$TMP/out/killed-$k" 2>&1 &
	victim=$!
	sleep "$delay"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null
	at=$(grep -o 'pod [a-z-]*: [a-z, ]*[a-z]' "$TMP/out/killed-$k" | tail -n 1)
	A deploy --no-bootstrap --profile full --timeout 120 >"$TMP/out/deploy-$k" 2>&1; rc=$?
	A validate --profile full >"$TMP/out/validate-$k" 2>&1; rc_v=$?
	got=$(podman exec pod-database-postgres cat /var/lib/postgresql/data/aegis-kill-marker 2>&1)
	procs=$(pgrep -f "aegis-deploy.*$ENV" | tr '\n' ' ')
	ls -A "$TMP" | grep -v '^out$' | sort >"$TMP/out/entries"
	extra=$(comm -13 "$TMP/out/entries0" "$TMP/out/entries" | tr '\n' ' ')
	leftover=$(ls -A "$TMP/run" | tr '\n' ' ')
	name="kill-trial-$k (SIGKILL after ${delay} s${at:+, at \"$at\"})"
	if [ $rc -eq 0 ] && [ $rc_v -eq 0 ] && [ "$got" = "$marker" ] && [ -z "$procs" ] && [ -z "$extra" ] && [ -z "$leftover" ]; then
		pass "$name"
	else
		fail "$name" "deploy rc=$rc validate rc=$rc_v marker='$got' processes='$procs' new files='$extra' temp='$leftover' $(tail -3 "$TMP/out/deploy-$k") $(grep FAIL "$TMP/out/validate-$k" | head -3)"
	fi
done
