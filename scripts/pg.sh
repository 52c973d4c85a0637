#!/bin/sh
# The embedded PostgreSQL: a private cluster under a directory of ours,
# reachable only through a Unix socket in DIR/sock (no TCP).
#
#   scripts/pg.sh start DIR     create on first use, start, print a conninfo
#   scripts/pg.sh stop DIR      fast shutdown
#   scripts/pg.sh destroy DIR   stop, then remove the cluster's files
#   scripts/pg.sh conninfo DIR  print the conninfo of a cluster
#   scripts/pg.sh status DIR    exit 0 when it is running
#
# PostgreSQL refuses to run as root; as root the cluster is owned by and
# run as the "postgres" system user (from the postgresql package). Set
# PG_FAST=1 for throwaway clusters (tests): no fsync.
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|destroy|status|conninfo DIR" >&2; exit 2; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && bindir=$d
done
[ -n "$bindir" ] || { echo "pg.sh: no PostgreSQL server found (apt-get install postgresql-15)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# As root the data must live where the postgres user can reach it. A
# checkout under a private home directory is not such a place: then the
# cluster lives in a root-chosen directory under /var/tmp, remembered in
# DIR/location.
base=$dir
if [ "$(id -u)" = 0 ]; then
	if [ -f "$dir/location" ]; then
		base=$(cat "$dir/location")
	elif ! runuser -u postgres -- test -x "$dir"; then
		base=$(mktemp -d /var/tmp/viralsup-pg-XXXXXX)
		chown postgres: "$base"
		echo "$base" > "$dir/location"
	fi
fi
data=$base/data
sock=$base/sock
log=$base/postgres.log
user=viralsup

conninfo() { echo "host=$sock user=$user dbname=viralsup"; }

case $cmd in
start)
	if [ ! -f "$data/PG_VERSION" ]; then
		mkdir -p "$data" "$sock"
		chmod 0700 "$data" "$sock"
		[ "$(id -u)" = 0 ] && chown postgres: "$data" "$sock"
		as_owner "$bindir/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
		{
			echo "listen_addresses = ''"
			echo "unix_socket_directories = '$sock'"
			echo "unix_socket_permissions = 0700"
			echo "max_connections = 200"
			echo "shared_buffers = 128MB"
			echo "log_min_messages = warning"
			if [ "${PG_FAST:-0}" = 1 ]; then
				echo "fsync = off"
				echo "synchronous_commit = off"
				echo "full_page_writes = off"
			fi
		} | as_owner sh -c "cat >> '$data/postgresql.conf'"
	fi
	if ! as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		touch "$log" && { [ "$(id -u)" = 0 ] && chown postgres: "$log" || true; }
		as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
			{ tail -20 "$log" >&2; exit 1; }
	fi
	if ! "$bindir/psql" "host=$sock user=$user dbname=postgres" -tAc \
		"SELECT 1 FROM pg_database WHERE datname='viralsup'" | grep -q 1; then
		"$bindir/psql" "host=$sock user=$user dbname=postgres" -qc "CREATE DATABASE viralsup" >/dev/null
	fi
	conninfo
	;;
stop)
	if [ -f "$data/PG_VERSION" ]; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	;;
status)
	as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
	;;
destroy)
	if [ -f "$data/PG_VERSION" ]; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	# A relocated cluster (root, see above) lives outside DIR.
	[ "$base" != "$dir" ] && rm -rf "$base"
	rm -rf "$dir/data" "$dir/sock" "$dir/postgres.log" "$dir/location" "$dir/initdb.log"
	;;
conninfo)
	conninfo
	;;
*)
	echo "usage: $0 start|stop|destroy|status|conninfo DIR" >&2
	exit 2
	;;
esac
