#!/bin/sh
# Entry point of localhost/aegis-demo/postgres: the distribution's real
# PostgreSQL, started the way the official postgres image's entrypoint does
# it, because the pod template is written for that image: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB and PGDATA from the environment; on an empty
# data directory initdb, then the *.sql files of /docker-entrypoint-initdb.d
# against a server listening on the Unix socket only (so a readiness probe
# over TCP cannot pass during initialisation); then the server for real.
# The template's arguments, if any, are passed to postgres.
set -eu
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PATH="$bindir:$PATH"
# pg_isready for exec probes, without Debian's version-picking wrapper
ln -sf "$bindir/pg_isready" /usr/local/bin/pg_isready
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
as_pg() { runuser -u postgres -- "$@"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	[ -n "${POSTGRES_PASSWORD:-}" ] || { echo "postgres-entrypoint: POSTGRES_PASSWORD is not set" >&2; exit 1; }
	# the password reaches initdb through a private file, never argv
	pwfile=$(mktemp /run/postgresql/pw.XXXXXX)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	chown postgres "$pwfile"
	as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$db" != postgres ]; then
		as_pg psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q \
			-c "CREATE DATABASE \"$db\"" 2>/dev/null || true
	fi
	for f in /docker-entrypoint-initdb.d/*.sql; do
		[ -f "$f" ] || continue
		echo "postgres-entrypoint: running $f"
		as_pg psql -v ON_ERROR_STOP=1 -U "$user" -d "$db" -q -f "$f"
	done
	as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "postgres-entrypoint: initialised $PGDATA"
fi
exec runuser -u postgres -- postgres -D "$PGDATA" "$@"
