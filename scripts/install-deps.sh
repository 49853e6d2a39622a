#!/bin/sh
# install-deps.sh: installs the Debian packages otshim needs to build, test and demo,
# and only those that are missing. Silent when everything is present.
set -e
PKGS="build-essential pkg-config libunwind-dev libprotobuf-c-dev protobuf-c-compiler
libjemalloc-dev zlib1g-dev libdw-dev libelf-dev golang-go golang-github-google-pprof-dev
nginx-light wrk curl python3 perl procps"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "otshim: installing missing packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "otshim: not root and no sudo; please install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
