#!/bin/sh
# Make sure the Debian packages viralsup builds and tests with are present.
# As root, missing ones are installed with apt-get; otherwise the exact
# apt-get line is printed and the script fails, so the build stops early
# with a message instead of a wall of compiler errors.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev clang-format
libev-dev libpq-dev libmsgpack-dev libcurl4-openssl-dev libbsd-dev
libhttp-parser-dev libjansson-dev libinih-dev
postgresql-15 postgresql-client-15 python3 curl procps util-linux wrk jq
chromium nodejs"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
else
	echo "deps: missing Debian packages. Run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
