#!/usr/bin/env bash
# Snapshots tied to revisions, against the real PostgreSQL of the demo image
# (localhost/aegis-demo/postgres) in pod-database, on the isolated test Podman:
#  - deploy --atomic backs up the volume of the pod it will replace into
#    AEGIS_STATE_DIR/snapshots/ID (0700, files 0600) and its revision records
#    it (id, path, the manifest's SHA-256, size, whose data);
#  - that deploy's new pod-database starts, the test writes a marker table and
#    changes rows in its database, then the pod fails readiness (a never-ready
#    exporter): --atomic puts the manifests AND the data back, and the rows'
#    checksum is exactly the one from before, the marker table gone;
#  - rollback --with-data 1 puts back the data revision 1 ran with (the
#    snapshot a later deploy --snapshot took); REV without one: exit 2,
#    nothing touched;
#  - AEGIS_SNAPSHOT_KEEP=2: after two more snapshots only the newest two are
#    on disk, and `history` shows each revision's snapshot size and the total;
#    a value that is not a count is refused (exit 2) before anything runs;
#  - a backup killed (SIGKILL) while pod-database is stopped for its copy
#    leaves it stopped; running backup again brings it back (ready, rows
#    intact) and removes what the killed one left.  One kill, at one point.
# Elsewhere: kills at random points of an --atomic restore and of rollback
# --with-data (39-kill-data.sh, scripts/kill-trials.sh --data).
# test-images: demo
# time-limit: 900
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(snapshot-first-deploy atomic-snapshot-taken atomic-snapshot-recorded atomic-data-restored
	atomic-restored-ready rollback-with-data rollback-with-data-refused snapshot-keep-refused
	snapshot-retention history-snapshot-sizes killed-backup-brought-back)
require_rootful_podman
pg_demo_stack 43b-snapshots
broken=$(standin_variant never-ready STANDIN_FAIL=1)
# another exporter that is ready (only its own port: PostgreSQL shares the pod's network)
other=$(standin_variant snapshot-other STANDIN_HTTP=9187)
hist() { A history --json 2>/dev/null; }
rev_field() { hist | "$PY" -c 'import json,sys; r=[x for x in json.load(sys.stdin)["revisions"] if x["revision"]==int(sys.argv[1])]; print(eval(sys.argv[2], {"r": r[0]}) if r else "none")' "$1" "$2" 2>&1; }

# revision 1: a plain deploy, then rows written
A deploy --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/d1.out" 2>&1; rc=$?
printf '%s\n' "CREATE TABLE rows (id int PRIMARY KEY, v text);" \
	"INSERT INTO rows SELECT g, md5(g::text) FROM generate_series(1, 2000) g;" | sql >"$TMP/sql1.out"
before=$(rows)
if [ $rc -eq 0 ] && [ ! -e "$TMP/state/snapshots" ] && [[ "$before" == *" rows "* ]]; then
	pass snapshot-first-deploy
else
	fail snapshot-first-deploy "rc=$rc rows: $before $(cat "$TMP/sql1.out") $(tail -5 "$TMP/d1.out")"
fi

# revision 2: deploy --atomic with a never-ready exporter; once its new
# PostgreSQL is up, a marker table and changed rows go into the database
old=$(cid)
POSTGRES_EXPORTER_IMAGE=$broken A deploy --atomic --profile "$PROF" --no-bootstrap --timeout 25 \
	>"$TMP/d2.out" 2>&1 &
deploy_pid=$!
marked=no
for _ in $(seq 120); do
	now=$(cid)
	if [ -n "$now" ] && [ "$now" != "$old" ] &&
		printf '%s\n' "BEGIN;" "CREATE TABLE marker (at timestamptz DEFAULT now());" "INSERT INTO marker DEFAULT VALUES;" \
			"UPDATE rows SET v = 'changed' WHERE id <= 100;" "DELETE FROM rows WHERE id > 1900;" "COMMIT;" | sql >"$TMP/mark.out" &&
		[ ! -s "$TMP/mark.out" ]; then
		marked=yes
		break
	fi
	sleep 0.5
done
during=$(rows)
wait "$deploy_pid"; rc=$?
after=$(rows)
snapdir=$(ls -d "$TMP"/state/snapshots/*/ 2>/dev/null | head -n 1)
snapdir=${snapdir%/}
modes=$(cd "$snapdir" 2>/dev/null && stat -c '%a' * | sort -u | tr '\n' ' ')
if [ -n "$snapdir" ] && [ "$(stat -c %a "$snapdir")" = 700 ] && [ "$(stat -c %a "$TMP/state/snapshots")" = 700 ] &&
	[ "$modes" = "600 " ] && [ -f "$snapdir/aegis-postgres-data.tar" ] && grep -q "snapshot: $snapdir (1 pods" "$TMP/d2.out"; then
	pass atomic-snapshot-taken
else
	fail atomic-snapshot-taken "dir '$snapdir' modes '$modes' $(ls -la "$snapdir" 2>&1 | head -5) $(grep snapshot "$TMP/d2.out" | head -5)"
fi
want_sum=$(sha256sum "$snapdir/manifest.json" 2>/dev/null | cut -c1-64)
rec=$(rev_field 2 '(r["snapshot"]["path"], r["snapshot"]["manifest_sha256"], r["snapshot"]["revision"], r["snapshot"]["pods"], r["snapshot"]["bytes"] > 1000000, r["restore"]["data"]["result"])')
if [ "$rec" = "('$snapdir', '$want_sum', 1, ['database'], True, 'ok')" ]; then
	pass atomic-snapshot-recorded
else
	fail atomic-snapshot-recorded "recorded $rec; want path $snapdir sum $want_sum"
fi
if [ "$marked" = yes ] && [[ "$during" == *marker* ]] && [ "$during" != "$before" ] && [ "$after" = "$before" ]; then
	pass atomic-data-restored
else
	fail atomic-data-restored "marked=$marked before [$before] during [$during] after [$after] $(cat "$TMP/mark.out" 2>/dev/null | tail -2)"
fi
A validate --profile "$PROF" >"$TMP/v2.out" 2>&1; vrc=$?
if [ $rc -eq 1 ] && [ $vrc -eq 0 ] && grep -Eq -- "--atomic: restored database to revision 1, ready in [0-9.]+ s \(with the snapshot's data\)" "$TMP/d2.out"; then
	pass atomic-restored-ready
else
	fail atomic-restored-ready "rc=$rc validate=$vrc $(grep -- '--atomic' "$TMP/d2.out" | tail -4) $(tail -3 "$TMP/v2.out")"
fi

# revision 3: the data changes, deploy --snapshot (another exporter image)
# keeps what revision 1 ran with; the data changes again
echo "UPDATE rows SET v = 'second' WHERE id <= 10;" | sql >/dev/null
second=$(rows)
POSTGRES_EXPORTER_IMAGE=$other A deploy --snapshot --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/d3.out" 2>&1; rc3=$?
echo "DELETE FROM rows WHERE id <= 500; CREATE TABLE later (x int);" | sql >/dev/null
third=$(rows)
# no snapshot holds revision 3's data: refused, nothing touched
keep_id=$(cid)
POSTGRES_EXPORTER_IMAGE=$other A rollback 3 --with-data --no-bootstrap >"$TMP/rb3.out" 2>&1; rc=$?
if [ $rc3 -eq 0 ] && [ $rc -eq 2 ] && grep -q 'revision 3 has no snapshot of its data' "$TMP/rb3.out" &&
	grep -q '1 (taken by revision 3)' "$TMP/rb3.out" && [ "$(cid)" = "$keep_id" ] && [ "$(rows)" = "$third" ]; then
	pass rollback-with-data-refused
else
	fail rollback-with-data-refused "deploy rc=$rc3 rollback rc=$rc $(tail -3 "$TMP/rb3.out") $(tail -3 "$TMP/d3.out")"
fi
A rollback 1 --with-data --no-bootstrap >"$TMP/rb1.out" 2>&1; rc=$?
got=$(rows)
exporter=$(podman inspect --format '{{.ImageName}}' pod-database-postgres-exporter 2>&1)
if [ $rc -eq 0 ] && [ "$got" = "$second" ] && [ "$got" != "$third" ] && [ "$exporter" = localhost/aegis-demo/postgres-exporter:latest ] &&
	grep -q 'rolled back to revision 1 with its data' "$TMP/rb1.out" &&
	[ "$(rev_field 4 'r["data_restored"]["revision"], r["data_restored"]["taken_by"]')" = "(1, 3)" ]; then
	pass rollback-with-data
else
	fail rollback-with-data "rc=$rc rows [$got] want [$second] exporter $exporter $(tail -5 "$TMP/rb1.out")"
fi

# retention
AEGIS_SNAPSHOT_KEEP=none A deploy --snapshot --profile "$PROF" --no-bootstrap >"$TMP/keep.out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "AEGIS_SNAPSHOT_KEEP='none'" "$TMP/keep.out"; then
	pass snapshot-keep-refused
else
	fail snapshot-keep-refused "rc=$rc $(tail -3 "$TMP/keep.out")"
fi
echo "AEGIS_SNAPSHOT_KEEP=2" >>"$ENV"
ok=yes
for n in 5 6; do
	A deploy --snapshot --replace --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/d$n.out" 2>&1 || ok="no (deploy $n: $(tail -3 "$TMP/d$n.out"))"
done
on_disk=$(ls "$TMP/state/snapshots" | tr '\n' ' ')
want=$(for n in 5 6; do basename "$(rev_field $n 'r["snapshot"]["path"]')"; done | tr '\n' ' ')
if [ "$ok" = yes ] && [ "$on_disk" = "$want" ] && grep -q 'snapshot: removed ' "$TMP/d6.out"; then
	pass snapshot-retention
else
	fail snapshot-retention "ok=$ok on disk [$on_disk] want [$want] $(grep snapshot "$TMP/d6.out" | tail -4)"
fi
A history >"$TMP/history.txt" 2>&1
total=$(du -cb "$TMP"/state/snapshots/*/* | tail -n 1 | cut -f1)
js=$(hist | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
s = d["snapshots"]
r = {x["revision"]: x.get("snapshot") for x in d["revisions"]}
print(s["count"], s["bytes"], r[2]["on_disk"], r[6]["on_disk"], r[6]["disk_bytes"] == s["items"][r[6]["id"]])' 2>&1)
mib=$("$PY" -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576))' "$total")
if [ "$js" = "2 $total False True True" ] && grep -Eq "^2 .* [0-9.]+M r1 removed" "$TMP/history.txt" &&
	grep -Eq "^6 .* [0-9.]+M r5 " "$TMP/history.txt" && grep -q "snapshots: 2 on disk, $mib MiB" "$TMP/history.txt"; then
	pass history-snapshot-sizes
else
	fail history-snapshot-sizes "json [$js] want [2 $total False True True]; $(cat "$TMP/history.txt")"
fi

# a backup killed while its pod is stopped for the copy
rows_before=$(rows)
"$AEGIS_BIN" --root "$ROOT" --env "$ENV" backup --pod database --out "$TMP/bk/killed" >"$TMP/kill.out" 2>&1 &
bpid=$!
for _ in $(seq 300); do grep -q 'stopping pod-database' "$TMP/kill.out" && break; sleep 0.05; done
sleep 0.3
kill -9 "$bpid"
wait "$bpid" 2>/dev/null
st=Running
for _ in $(seq 60); do
	st=$(podman pod inspect --format '{{.State}}' pod-database 2>&1)
	[ "$st" != Running ] && break
	sleep 0.5
done
partial=$(ls -d "$TMP"/bk/killed.partial-* 2>/dev/null | head -n 1)
A backup --pod database --out "$TMP/bk/again" >"$TMP/again.out" 2>&1; rc=$?
st2=$(podman pod inspect --format '{{.State}}' pod-database 2>&1)
if [ "$st" != Running ] && [ -n "$partial" ] && [ $rc -eq 0 ] && [ "$st2" = Running ] &&
	grep -q 'database: left stopped by a killed backup' "$TMP/again.out" && [ ! -e "$partial" ] &&
	[ "$(rows)" = "$rows_before" ]; then
	pass killed-backup-brought-back
else
	fail killed-backup-brought-back "after the kill: $st, partial '$partial'; again rc=$rc state $st2 $(tail -4 "$TMP/again.out") $(tail -3 "$TMP/kill.out")"
fi
