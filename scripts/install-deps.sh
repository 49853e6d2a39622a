#!/bin/sh
# install-deps.sh: installs the Debian packages otshim needs to build, test and run
# its demo -- only those missing. Prints nothing when everything is present. Needs
# root only when something is missing, and then says exactly what to run.
set -eu
PKGS="build-essential pkg-config libunwind-dev libprotobuf-c-dev protobuf-c-compiler
libjemalloc-dev zlib1g-dev libdw-dev libelf-dev golang-go golang-github-google-pprof-dev
nginx-light wrk curl python3 perl procps valgrind nodejs"

missing=""
for p in $PKGS; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: not root; run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # $missing is a word list on purpose
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
