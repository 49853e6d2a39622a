#!/bin/sh
# install-deps.sh: installs the Debian packages otshim needs to build, test and run
# its demo -- only those missing -- and, from tests/tools/package-lock.json, the npm
# packages of the test tools. Prints nothing when everything is present. Needs
# root only when something is missing, and then says exactly what to run.
set -eu
PKGS="build-essential pkg-config libunwind-dev libprotobuf-c-dev protobuf-c-compiler
libjemalloc-dev zlib1g-dev libdw-dev libelf-dev golang-go golang-github-google-pprof-dev
nginx-light wrk curl libcurl4 libcurl4-openssl-dev python3 perl procps valgrind nodejs
clang-14 libclang-rt-14-dev"
# clang-14 builds the libFuzzer targets of tests/fuzz/ (make fuzz, fuzz-smoke); libFuzzer
# itself and the sanitizer runtimes are libclang-rt-14-dev, which clang only recommends.
# Headless Chromium renders report.html in tests/integration/report.sh (with a font).
PKGS="$PKGS chromium fonts-dejavu-core"
# make bench's competitors: gperftools (libprofiler.so, libtcmalloc.so), heaptrack
# (gdb attaches it to nginx's workers), jemalloc's jeprof (in libjemalloc-dev).
PKGS="$PKGS google-perftools libgoogle-perftools-dev heaptrack gdb"
# binutils: readelf, with which `otshim doctor` reads the binaries it checks (build-
# essential pulls it in too; named here because the command itself needs it).
PKGS="$PKGS binutils"
# protoc: the tests decode what otshim sends as OTLP profiles with the upstream schema
# (tests/integration/profiles_export.sh), an oracle independent of otshim's encoder.
PKGS="$PKGS protobuf-compiler"
# Services that start as root and run their workers as another user, as they are
# deployed (tests/integration/root.sh, with nginx above): Apache's prefork and gunicorn.
PKGS="$PKGS apache2 gunicorn"
# HTTP/2: libnghttp2's HPACK decoder reads the headers of each stream (runtime/track/h2.c);
# nghttpd, h2load and nghttp serve and drive h2c in tests/integration/h2.sh and the bench.
PKGS="$PKGS libnghttp2-dev nghttp2-server nghttp2-client"
# openssl: tests/integration/tls.sh makes its self-signed certificate with it (the shim
# itself needs no OpenSSL headers or library to build).
PKGS="$PKGS openssl"

# tests/tools' node packages (the OTLP test receiver's independent decoder), from the
# lockfile, when node_modules is missing or older than package-lock.json.
npm_tools() {
	lock=tests/tools/package-lock.json mods=tests/tools/node_modules
	if [ ! -d "$mods" ] || [ -n "$(find "$lock" -newer "$mods")" ]; then
		npm ci --prefix tests/tools --no-audit --no-fund --silent
		touch "$mods"
	fi
}

missing=""
for p in $PKGS; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
# npm ships with some Node.js builds and is Debian's own package with others.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
	npm_tools
	exit 0
fi

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
npm_tools
echo "install-deps: done"
