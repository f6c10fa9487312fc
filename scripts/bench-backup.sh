#!/usr/bin/env bash
# Benchmark: backup and restore of a ~1 GiB PostgreSQL volume, and what the
# snapshot of deploy --atomic adds to a deploy that replaces pod-database.
#
#   scripts/bench-backup.sh [--rows N]
#
# The real PostgreSQL of the demo image (localhost/aegis-demo/postgres) in
# pod-database, alone in a one-pod profile, on the isolated test Podman of
# tests/podman/env.sh (never the machine's own pods; host ports of pod-database
# must be free).  A table of N rows (default 1150000, about 400 bytes each,
# written by generate_series) makes the volume, table and write-ahead log,
# about 1 GiB.  Reports:
#   volume                the volume's size on disk (du) and the archive's
#   backup                wall time of `backup --pod database` (stop, copy,
#                         start, readiness) and MB/s of the archive over it;
#                         the copy alone as backup prints it
#   restore               wall time of `restore` (remove, refill, deploy,
#                         readiness) and MB/s; the refill alone; the rows'
#                         checksum must be the one from before
#   --atomic              the same change (another exporter image, which
#                         replaces pod-database) deployed plainly and with
#                         --atomic: both times, and the snapshot line's
#                         "taken in N s"
# Waits for the lock of `make test` (one test or benchmark run at a time);
# everything it made (pods, volumes, files) is removed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
args=("$@")
nrows=1150000
while [ $# -gt 0 ]; do
	case $1 in
	--rows) nrows=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-backup: unknown argument '$1' (--rows N)" >&2; exit 2 ;;
	esac
done
make -s build/aegis-deploy >&2 || exit 2
# one test or benchmark run at a time on this machine (the lock of `make test`)
if [ -z "${AEGIS_TEST_NETNS:-}" ]; then
	exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
	if ! flock -n 9; then
		echo "bench-backup: waiting for another test run on this machine" >&2
		flock 9
	fi
fi
# pod-database's host ports answer in a network namespace of the tests'
. scripts/test-netns.sh
in_test_netns bench-backup "$0" "${args[@]}"
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
export AEGIS_TEST_ROOT=$PWD AEGIS_BIN=$PWD/build/aegis-deploy
. tests/integration/lib.sh
. tests/podman/env.sh
names=(bench-backup)
podman_available || { echo "bench-backup: $PODMAN_UNAVAILABLE" >&2; exit 2; }
# lib.sh's trap removes $TMP; podman_test_stack's (set in pg_demo_stack)
# also cleans what was deployed, volumes included
pg_demo_stack bench-backup 9>&-
other=$(standin_variant snapshot-other STANDIN_HTTP=9187)
real=localhost/aegis-demo/postgres-exporter:latest
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
die() { echo "bench-backup: $*" >&2; exit 1; }

A deploy --profile "$PROF" --no-bootstrap --timeout 120 >"$TMP/d1" 2>&1 || die "deploy failed: $(tail -3 "$TMP/d1")"
echo "bench-backup: writing $nrows rows" >&2
t=$(now)
printf '%s\n' "CREATE TABLE rows (id bigint PRIMARY KEY, v text);" \
	"INSERT INTO rows SELECT g, repeat(md5(g::text), 12) FROM generate_series(1, $nrows) g;" \
	"CHECKPOINT;" | sql >"$TMP/sql" || die "SQL failed: $(tail -3 "$TMP/sql")"
[ -s "$TMP/sql" ] && die "SQL failed: $(tail -3 "$TMP/sql")"
fill=$(since "$t")
sum() { echo "SELECT count(*), sum(hashtext(v)::bigint) FROM rows;" | sql | tr '\n' ' '; }
before=$(sum)
mnt=$(podman volume inspect --format '{{.Mountpoint}}' aegis-postgres-data)
vol_mib=$(du -sm "$mnt" | cut -f1)

t=$(now)
A backup --pod database --out "$TMP/bk" >"$TMP/backup.out" 2>&1 || die "backup failed: $(tail -3 "$TMP/backup.out")"
backup_s=$(since "$t")
tar_bytes=$(stat -c %s "$TMP/bk/aegis-postgres-data.tar")
copy_line=$(grep -o 'aegis-postgres-data [0-9.]* MiB in [0-9.]* s' "$TMP/backup.out")

echo "DELETE FROM rows WHERE id % 3 = 0;" | sql >/dev/null
t=$(now)
A restore "$TMP/bk" >"$TMP/restore.out" 2>&1 || die "restore failed: $(tail -3 "$TMP/restore.out")"
restore_s=$(since "$t")
refill_line=$(grep -o 'aegis-postgres-data restored in [0-9.]* s' "$TMP/restore.out")
after=$(sum)
[ "$after" = "$before" ] || die "restored rows [$after], want [$before]"
rm -rf "$TMP/bk"

# the same change (the exporter's image: pod-database is replaced) once
# to warm up, back, plainly, back, and with --atomic
for img in "$other" "$real"; do
	POSTGRES_EXPORTER_IMAGE=$img A deploy --profile "$PROF" --no-bootstrap --timeout 300 >"$TMP/warm.out" 2>&1 ||
		die "deploy failed: $(tail -3 "$TMP/warm.out")"
done
t=$(now)
POSTGRES_EXPORTER_IMAGE=$other A deploy --profile "$PROF" --no-bootstrap --timeout 300 >"$TMP/plain.out" 2>&1 || die "deploy failed: $(tail -3 "$TMP/plain.out")"
plain_s=$(since "$t")
POSTGRES_EXPORTER_IMAGE=$real A deploy --profile "$PROF" --no-bootstrap --timeout 300 >"$TMP/back.out" 2>&1 || die "deploy back failed: $(tail -3 "$TMP/back.out")"
t=$(now)
POSTGRES_EXPORTER_IMAGE=$other A deploy --atomic --profile "$PROF" --no-bootstrap --timeout 300 >"$TMP/atomic.out" 2>&1 || die "deploy --atomic failed: $(tail -3 "$TMP/atomic.out")"
atomic_s=$(since "$t")
snap=$(grep -o 'taken in [0-9.]* s' "$TMP/atomic.out")
[ "$(sum)" = "$before" ] || die "rows changed by deploy --atomic"

mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
echo "bench-backup: PostgreSQL volume of $nrows rows ($(podman inspect --format '{{.ImageName}}' pod-database-postgres)), filled in $fill s"
printf '  %-10s %s\n' \
	volume "${vol_mib} MiB on disk, archive $((tar_bytes / 1048576)) MiB" \
	backup "$backup_s s, $(mbs "$tar_bytes" "$backup_s") MB/s (copy alone: $copy_line)" \
	restore "$restore_s s, $(mbs "$tar_bytes" "$restore_s") MB/s (refill alone: $refill_line), rows' checksum as before" \
	deploy "$plain_s s replacing pod-database (another exporter image)" \
	--atomic "$atomic_s s, the same change: $(awk -v a="$atomic_s" -v p="$plain_s" 'BEGIN { printf "%+.1f", a - p }') s (snapshot $snap)"
