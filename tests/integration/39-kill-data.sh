#!/usr/bin/env bash
# SIGKILL trials of the commands that move data, against the real PostgreSQL
# of the demo image in pod-database, on the isolated test Podman.  Each trial
# kills one command at a random point (seeded; the seed is printed):
#  - backup --pod database         (then: the same backup again)
#  - restore BACKUP                (then: the same restore again)
#  - a failing deploy --atomic (a never-ready exporter), killed while it puts
#    the snapshot's data back      (then: a plain deploy)
#  - rollback 1 --with-data        (then: the same rollback again)
# (the kill point of the last three: from the start, or, one trial in two,
# in the refill of the volume once its pod is removed) and the command after
# it must converge (docs/operations.md, "Backups" and
# "Snapshots tied to revisions"): exit 0, the rows' checksum of the database
# exactly the one from before (restore and rollback change the rows first),
# the pod Running and ready (validate), every archive set under the backup
# and snapshot directories complete (its manifest's sizes and SHA-256 sums
# match) and no NAME.partial-PID left, no restore journal left pending, no
# process of the killed command and no temporary file left in its TMPDIR.
# AEGIS_KILL_DATA_TRIALS trials (default 4, one per command, in turn;
# scripts/kill-trials.sh --data N runs more); AEGIS_KILL_SEED replays a run.
# test-images: demo
# time-limit: 900
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

trials=${AEGIS_KILL_DATA_TRIALS:-4}
seed=${AEGIS_KILL_SEED:-$(($(date +%s) % 100000))}
names=(kill-data-setup)
require_rootful_podman
pg_demo_stack 39-kill-data
broken=$(standin_variant never-ready STANDIN_FAIL=1)
# every snapshot the trials take stays: the one rollback --with-data uses
# must not be pruned
echo "AEGIS_SNAPSHOT_KEEP=1000" >>"$ENV"
mkdir -p -m 0700 "$TMP/run" "$TMP/out" "$TMP/bk"
# the killed command, in the background (so $! is the process killed), its
# temporary files in $TMP/run
start_killed() {
	XDG_RUNTIME_DIR=$TMP/run TMPDIR=$TMP/run "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@" \
		>"$TMP/out/killed" 2>&1 &
	victim=$!
}
# wait_line TEXT: until the killed command has printed TEXT (60 s at most)
wait_line() {
	local _
	for _ in $(seq 1200); do
		grep -q -- "$1" "$TMP/out/killed" && return 0
		kill -0 "$victim" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# refill_point: the kill point is in the refill of the volume (its pod
# removed), not in the pod's removal, which takes the most of a restore's
# time: until then the command runs (60 s at most)
refill_point() {
	local _
	wait_line "removing pod-database" || return 1
	for _ in $(seq 600); do
		podman pod exists pod-database 2>/dev/null || return 0
		kill -0 "$victim" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# kill_after MS: SIGKILL the command MS milliseconds from now
kill_after() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
	if kill -9 "$victim" 2>/dev/null; then killed=yes; else killed="no (it had ended)"; fi
	wait "$victim" 2>/dev/null
}

# revision 1: rows written; a backup of them; revision 2 (deploy --snapshot
# --replace) keeps revision 1's data for rollback --with-data 1
A deploy --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/out/d1" 2>&1; rc1=$?
printf '%s\n' "CREATE TABLE rows (id int PRIMARY KEY, v text);" \
	"INSERT INTO rows SELECT g, md5(g::text) FROM generate_series(1, 20000) g;" | sql >"$TMP/out/sql1"
before=$(rows)
A backup --pod database --out "$TMP/bk/base" >"$TMP/out/b0" 2>&1; rc2=$?
A deploy --snapshot --replace --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/out/d2" 2>&1; rc3=$?
if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ] || [ $rc3 -ne 0 ] || [[ "$before" != *" rows "* ]] || [ "$(rows)" != "$before" ]; then
	fail kill-data-setup "deploy rc=$rc1 backup rc=$rc2 deploy --snapshot rc=$rc3 rows [$before] $(cat "$TMP/out/sql1") $(tail -q -n 3 "$TMP/out/d1" "$TMP/out/b0" "$TMP/out/d2")"
	exit 0
fi
pass kill-data-setup

echo "   data kill trials: $trials, seed $seed (AEGIS_KILL_SEED=$seed replays them)"
RANDOM=$seed
ops=(backup restore atomic rollback)
for k in $(seq "$trials"); do
	op=${ops[$(((k - 1) % 4))]}
	ms=0 killed=no at= again=() refill=0
	case $op in
	backup)
		ms=$((RANDOM % 6000))
		start_killed backup --pod database --out "$TMP/bk/b$k"
		kill_after "$ms"
		out=$TMP/bk/b$k
		[ -e "$out" ] && out=$TMP/bk/b$k-again
		again=(backup --pod database --out "$out")
		;;
	restore)
		echo "UPDATE rows SET v = 'trial $k' WHERE id <= 50;" | sql >/dev/null
		ms=$((RANDOM % 8000)) refill=$((RANDOM % 2))
		start_killed restore "$TMP/bk/base"
		if [ $refill = 1 ] && ms=$((ms % 800)) && refill_point; then at="refill + $ms ms"; fi
		kill_after "$ms"
		again=(restore "$TMP/bk/base")
		;;
	atomic)
		# the data refill is short: the kill falls in the second after it begins
		ms=$((RANDOM % 1500)) refill=$((RANDOM % 2))
		POSTGRES_EXPORTER_IMAGE=$broken start_killed deploy --atomic --profile "$PROF" --no-bootstrap --timeout 5
		if [ $refill = 1 ] && ms=$((ms % 800)) && refill_point; then
			at="refill + $ms ms"
			kill_after "$ms"
		elif wait_line "putting back the data"; then
			kill_after "$ms"
		else
			kill_after 0
			at="never put the data back"
		fi
		again=(deploy --profile "$PROF" --no-bootstrap --timeout 120)
		;;
	rollback)
		echo "UPDATE rows SET v = 'trial $k' WHERE id <= 50;" | sql >/dev/null
		ms=$((RANDOM % 8000)) refill=$((RANDOM % 2))
		start_killed rollback 1 --with-data --no-bootstrap
		if [ $refill = 1 ] && ms=$((ms % 800)) && refill_point; then at="refill + $ms ms"; fi
		kill_after "$ms"
		again=(rollback 1 --with-data --no-bootstrap)
		;;
	esac
	at="${at:+$at, }$(grep -v '^   ' "$TMP/out/killed" | tail -n 1 | cut -c1-90)"
	cp "$TMP/out/killed" "$TMP/out/killed-$k"
	t0=$(date +%s.%N)
	A "${again[@]}" >"$TMP/out/again-$k" 2>&1; rc=$?
	took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	A validate --profile "$PROF" >"$TMP/out/validate-$k" 2>&1; rc_v=$?
	st=$(podman pod inspect --format '{{.State}}' pod-database 2>&1)
	got=$(rows)
	sets=$(archive_sets_ok "$TMP/bk" "$TMP/state/snapshots")
	procs=$(pgrep -f "aegis-deploy.*$ENV" | tr '\n' ' ')
	leftover=$(ls -A "$TMP/run" | tr '\n' ' ')
	[ -e "$TMP/state/restore-pending.json" ] && leftover="$leftover restore-pending.json"
	name="kill-data-$k $op (SIGKILL after ${ms} ms, killed: $killed, last: \"$at\"; then ${again[0]} in $took s)"
	if [ $rc -eq 0 ] && [ $rc_v -eq 0 ] && [ "$st" = Running ] && [ "$got" = "$before" ] &&
		[ "$sets" = ok ] && [ -z "$procs" ] && [ -z "$leftover" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc validate rc=$rc_v pod $st rows [$got] want [$before] sets: $sets processes '$procs' temp '$leftover' $(tail -4 "$TMP/out/again-$k") $(grep FAIL "$TMP/out/validate-$k" | head -2)"
		# the next trial starts from the rows of before
		A restore "$TMP/bk/base" >/dev/null 2>&1
	fi
done
