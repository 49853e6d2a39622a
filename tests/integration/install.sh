#!/bin/bash
# install.sh: `make install DESTDIR=... PREFIX=/usr/local` lays out exactly the expected
# files (and runs no ldconfig into a staging tree; a live install runs it and says when
# PREFIX/lib is not searched for bare names); the installed `otshim run`, finding the
# installed library relative to itself, profiles a slow request of the demo server,
# forwards SIGTERM/SIGINT, prints a summary line whose counts match the stats files and
# the access log, and exits with the command's status; `make uninstall` removes every
# file; `otshim doctor` passes the demo server and an existing/creatable directory
# (as root: creatable, and not left behind),
# fails a static binary and warns for a Go program, for a profiler in LD_PRELOAD and for
# an ignored SIGPROF, and shows rejected values with the library's own message; the
# man page and the doctor's table name every variable the code reads, with the
# defaults the configuration's set_defaults() gives.
# shellcheck disable=SC2317 # the helpers below are run through check
. "$(dirname "$0")/lib.sh"
san_skip_all "make install installs the plain build only: nothing here would be instrumented"

STAGE=$WORK/root
P=/usr/local
export LDCONFIG_LOG=$WORK/ldconfig.log
cat >"$WORK/fake-ldconfig" <<'EOF'
#!/bin/sh
echo "ldconfig $*" >>"$LDCONFIG_LOG"
EOF
chmod +x "$WORK/fake-ldconfig"

# ---- install into a staging tree ----

make -s -C "$ROOT" install DESTDIR="$STAGE" PREFIX="$P" LDCONFIG="$WORK/fake-ldconfig" \
	>"$WORK/install.out" 2>&1
rc=$?
ok $rc "make install DESTDIR=... PREFIX=$P succeeds"
[ $rc -eq 0 ] || diag "$(cat "$WORK/install.out")"

expected=$( (printf '%s\n' "$P/bin/otshim 755" "$P/lib/libotshim.so 755" \
	"$P/share/man/man1/otshim.1 644"
	for f in "$ROOT"/scripts/otshim_lib/*.py; do echo "$P/lib/otshim/otshim_lib/$(basename "$f") 644"; done) | sort)
got=$(cd "$STAGE" && find . ! -type d -printf '/%P %m\n' | sort)
check "it installs exactly the command, the library, the report scripts and the man page" \
	test "$got" = "$expected"
[ "$got" = "$expected" ] || diag "got:" "$got" "expected:" "$expected"
check "the installed library is the one built" cmp -s "$ROOT/build/libotshim.so" "$STAGE$P/lib/libotshim.so"
same_scripts() {
	cmp -s "$ROOT/scripts/otshim" "$STAGE$P/bin/otshim" &&
		diff -rq "$ROOT/scripts/otshim_lib" "$STAGE$P/lib/otshim/otshim_lib" >/dev/null
}
check "the installed command and report script are the checkout's" same_scripts
check "no ldconfig is run for a DESTDIR install" test ! -e "$LDCONFIG_LOG"

# A bare name resolves through the loader's search path: LD_LIBRARY_PATH stands in for
# the ld.so.conf entry a live install relies on.
LD_LIBRARY_PATH="$STAGE$P/lib" LD_PRELOAD=libotshim.so OTSHIM_ENABLED=0 OTSHIM_SLOW_MS=bare \
	/bin/true 2>"$WORK/bare.err"
check "LD_PRELOAD=libotshim.so (bare name) loads the installed library from a searched directory" \
	grep -q 'OTSHIM_SLOW_MS="bare"' "$WORK/bare.err"
if grep -qsx '/usr/local/lib/*' /etc/ld.so.conf /etc/ld.so.conf.d/*.conf; then
	diag "this system's ld.so.conf lists /usr/local/lib: a live install is found by bare name"
else
	diag "this system's ld.so.conf does not list /usr/local/lib: a live install prints the full path to use"
fi

# ---- the installed otshim run ----

OTSHIM=$STAGE$P/bin/otshim
D=$WORK/prof
TRACE=4bf92f3577b34da6a3ce929d0e0e$(printf '%04x' "$RANDOM")

# start_run DIR NAME: the installed wrapper running the demo server; sets WPID, PORT.
start_run() {
	local pf=$WORK/port.$2
	env -u OTSHIM_LIB -u LD_PRELOAD "$OTSHIM" run --slow-ms 100 --dir "$1" -- \
		"$SRV" --port 0 --port-file "$pf" --access-log "$WORK/$2.access" \
		>"$WORK/$2.out" 2>"$WORK/$2.err" &
	WPID=$!
	PIDS+=("$WPID")
	wait_for 10 test -s "$pf"
	PORT=$(cat "$pf" 2>/dev/null)
	[ -n "$PORT" ] || { echo "Bail out! the demo server did not start under the installed otshim"; sed 's/^/# /' "$WORK/$2.err"; exit 1; }
}
# stop_run SIGNAL: sends SIGNAL to the wrapper, waits for it; sets WRC.
stop_run() {
	kill -"$1" "$WPID"
	wait_for 10 pid_gone "$WPID" || { diag "otshim run ignored SIG$1"; kill -KILL "$WPID"; }
	wait "$WPID" 2>/dev/null
	WRC=$?
}
index_has() { grep -q "\"trace_id\":\"$TRACE\"" "$D/index.jsonl" 2>/dev/null; }

start_run "$D" run1
SRV_PID=$(pgrep -P "$WPID" | head -1)
maps_installed() {
	grep -qF "$STAGE$P/lib/libotshim.so" "/proc/$SRV_PID/maps" &&
		! grep -qF "$BUILD/libotshim.so" "/proc/$SRV_PID/maps"
}
check "the start line names the installed library, the directory and the threshold" \
	grep -qF "otshim: preloading $STAGE$P/lib/libotshim.so; profiles -> $D; slow threshold 100 ms" "$WORK/run1.err"
check "the demo server maps the installed library, not the build directory's" maps_installed
for _ in 1 2 3 4 5; do $HTTPC get --port "$PORT" --path / >/dev/null; done
$HTTPC get --port "$PORT" --path "/cpu?ms=300" --header "traceparent: 00-$TRACE-00f067aa0ba902b7-01" >/dev/null
wait_for 5 index_has
has_cpu() { compgen -G "$D/cpu-$TRACE-*.pb.gz" >/dev/null; }
check "a slow request under the installed command gets a CPU profile named by its trace id" has_cpu
stop_run TERM
ok $((WRC != 0)) "SIGTERM to otshim run is forwarded and it exits with the server's status (0; got $WRC)"
summary=$(grep '^otshim: srv_demo: ' "$WORK/run1.err")
diag "$summary"
read -r s_req s_slow s_files s_sets s_drop < <(sed -nE \
	's/.*exit status 0; ([0-9]+) requests, ([0-9]+) slow, ([0-9]+) files written \(([0-9]+) profile sets?\), ([0-9]+) dropped.*/\1 \2 \3 \4 \5/p' <<<"$summary")
access=$(wc -l <"$WORK/run1.access")
files=$(find "$D" -name '*.pb.gz' | wc -l)
check "the summary counts 6 requests, as the access log ($access) and the stats file do" \
	test "${s_req:-x}" = 6 -a "$access" = 6 -a "$(stats_field "$D" requests)" = 6
check "the summary counts 1 slow request, 1 profile set, 0 dropped, as the stats file does" \
	test "${s_slow:-x}/${s_sets:-x}/${s_drop:-x}" = "$(stats_field "$D" slow)/$(stats_field "$D" profiles_written)/$(stats_field "$D" profiles_dropped)" -a "${s_slow:-x}/${s_sets:-x}/${s_drop:-x}" = 1/1/0
check "the summary's files written ($s_files) are the .pb.gz files in the directory ($files)" \
	test "${s_files:-x}" = "$files" -a "$files" -ge 2

# A second run into the same directory counts only its own stats and files.
start_run "$D" run2
for _ in 1 2; do $HTTPC get --port "$PORT" --path / >/dev/null; done
stop_run INT
ok $((WRC != 0)) "SIGINT to otshim run is forwarded and it exits with the server's status (0; got $WRC)"
check "a second run into the same directory counts only itself: 2 requests, 0 files" \
	grep -qE '^otshim: srv_demo: exit status 0; 2 requests, 0 slow, 0 files written \(0 profile sets\), 0 dropped' "$WORK/run2.err"

# A ^C typed at a terminal reaches the command once: the kernel sends it to the whole
# foreground process group, and otshim run does not forward it a second time.
python3 "$TOOLS/ctrl_c.py" "$OTSHIM" "$WORK/p4" >"$WORK/pty.out" 2>&1
check "a terminal's ^C reaches the command once, from the terminal (otshim run does not send it again)" \
	grep -q 'sigints=1 0x80$' "$WORK/pty.out"
grep -q 'sigints=1 0x80$' "$WORK/pty.out" || diag "$(cat "$WORK/pty.out")"

env -u OTSHIM_LIB "$OTSHIM" run --dir "$WORK/p3" -- sh -c 'exit 7' 2>/dev/null
check "otshim run exits with the command's exit status (7)" test $? = 7
# (in a subshell that reports the status, so no "Terminated" reaches the TAP stream)
rc=$( (env -u OTSHIM_LIB "$OTSHIM" run --dir "$WORK/p3" -- sh -c 'kill -TERM $$' 2>/dev/null; echo $?) 2>/dev/null)
check "a command killed by SIGTERM: otshim run dies by SIGTERM too (143)" test "$rc" = 143
env -u OTSHIM_LIB "$OTSHIM" run --dir "$WORK/p3" -- "$WORK/no-such-command" 2>/dev/null
check "a missing command: 127" test $? = 127

# ---- report and flame dispatch to the installed script ----
env -u OTSHIM_LIB "$OTSHIM" report "$D" >"$WORK/report.out" 2>"$WORK/report.err"
check "the installed otshim report runs the installed otshim_report.py and lists the slow request" \
	grep -q "$TRACE" "$WORK/report.out"
cpu=$(compgen -G "$D/cpu-$TRACE-*.pb.gz" | head -1)
env -u OTSHIM_LIB "$OTSHIM" flame "$cpu" >"$WORK/flame.svg" 2>"$WORK/flame.err"
check "the installed otshim flame writes an SVG" grep -q '<svg' "$WORK/flame.svg"

# ---- doctor ----

"$OTSHIM" doctor --dir "$WORK/new/sub" -- "$SRV" >"$WORK/doc1.out" 2>&1
rc=$?
check "doctor on the demo server: no problem found (exit 0)" test $rc = 0
check "doctor says the demo server is dynamically linked" grep -q 'ok .*dynamically linked' "$WORK/doc1.out"
made_0700() {
	grep -q "ok .*$WORK/new/sub created .*writable" "$WORK/doc1.out" &&
		test "$(stat -c %a "$WORK/new/sub")" = 700
}
# As root it leaves nothing behind: a directory of root's would stop a service whose
# workers switch to another user (tests/integration/root.sh checks that case).
made_and_removed() {
	grep -q "ok .*$WORK/new/sub can be created (mode 0700; removed again" "$WORK/doc1.out" &&
		test -d "$WORK/new" && test ! -e "$WORK/new/sub"
}
if [ "$(id -u)" = 0 ]; then
	check "doctor, as root, makes the missing directory 0700 and removes it again" made_and_removed
else
	check "doctor creates the missing directory 0700 and says it is writable" made_0700
fi
check "doctor names the installed library" grep -qF "$STAGE$P/lib/libotshim.so (loads" "$WORK/doc1.out"
[ $rc = 0 ] || diag "$(cat "$WORK/doc1.out")"

printf 'int main(void) { return 0; }\n' >"$WORK/static.c"
STATIC_DESC="doctor on a static binary fails (exit 1) saying it is statically linked"
if gcc -static -o "$WORK/static" "$WORK/static.c" 2>/dev/null; then
	"$OTSHIM" doctor --dir "$D" -- "$WORK/static" >"$WORK/doc2.out" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q "FAIL .*statically linked" "$WORK/doc2.out"
	ok $? "$STATIC_DESC"
else
	skip "$STATIC_DESC" "gcc -static failed (no libc.a?)"
fi
GO_DESC="doctor warns for a Go program"
if command -v go >/dev/null; then
	mkdir -p "$WORK/gohello"
	printf 'package main\nfunc main() { println("hi") }\n' >"$WORK/gohello/main.go"
	if (cd "$WORK/gohello" && GOFLAGS='' GO111MODULE=off GOTOOLCHAIN=local go build -o hello main.go) 2>/dev/null; then
		"$OTSHIM" doctor --dir "$D" -- "$WORK/gohello/hello" >"$WORK/doc3.out" 2>&1
		check "$GO_DESC" grep -q 'warn .*a Go program' "$WORK/doc3.out"
	else
		skip "$GO_DESC" "go build failed"
	fi
else
	skip "$GO_DESC" "no go toolchain"
fi
gcc -shared -fPIC -o "$WORK/libprofiler.so" -x c /dev/null
LD_PRELOAD=$WORK/libprofiler.so "$OTSHIM" doctor --dir "$D" >"$WORK/doc4.out" 2>&1
check "doctor warns for gperftools' libprofiler.so in LD_PRELOAD" grep -q "warn .*libprofiler.so: gperftools" "$WORK/doc4.out"
(trap '' PROF && exec "$OTSHIM" doctor --dir "$D") >"$WORK/doc5.out" 2>&1
check "doctor fails when SIGPROF is ignored in the environment the command inherits" \
	grep -q 'FAIL .*SIGPROF is ignored' "$WORK/doc5.out"
OTSHIM_SLOW_MS=abc OTSHIM_CPU_HZ=250 OTSHIM_SLWO_MS=1 "$OTSHIM" doctor --dir "$D" --log info >"$WORK/doc6.out" 2>&1
check "doctor shows a rejected value with the library's message and the fallback" \
	grep -qE '^  OTSHIM_SLOW_MS +100 +env .abc., rejected by the library: is not a whole number of milliseconds' "$WORK/doc6.out"
sources_shown() {
	grep -qE '^  OTSHIM_CPU_HZ +250 +env$' "$WORK/doc6.out" &&
		grep -qE '^  OTSHIM_LOG +info +--log$' "$WORK/doc6.out" &&
		grep -qE '^  OTSHIM_MAX_DISK_MB +1024 +default$' "$WORK/doc6.out"
}
check "doctor shows where values come from: env, option, default" sources_shown
check "doctor passes on the library's did-you-mean warning" \
	grep -q 'warn .*unknown variable OTSHIM_SLWO_MS; did you mean OTSHIM_SLOW_MS' "$WORK/doc6.out"

# ---- uninstall ----

make -s -C "$ROOT" uninstall DESTDIR="$STAGE" PREFIX="$P" LDCONFIG="$WORK/fake-ldconfig" \
	>"$WORK/uninstall.out" 2>&1
ok $? "make uninstall DESTDIR=... succeeds"
left=$(cd "$STAGE" && find . ! -type d)
check "make uninstall removes every installed file" test -z "$left"
[ -z "$left" ] || diag "left: $left"
check "and the lib/otshim directory" test ! -e "$STAGE$P/lib/otshim"

# A live install (no DESTDIR) runs ldconfig and, the prefix not being in ld.so.conf,
# says how to preload the library.
make -s -C "$ROOT" install PREFIX="$WORK/live" LDCONFIG="$WORK/fake-ldconfig" >"$WORK/live.out" 2>&1
check "a live install runs ldconfig" grep -qx 'ldconfig ' "$LDCONFIG_LOG"
check "and says the full path to preload when PREFIX/lib is not searched" \
	grep -qF "LD_PRELOAD=$WORK/live/lib/libotshim.so" "$WORK/live.out"
make -s -C "$ROOT" uninstall PREFIX="$WORK/live" LDCONFIG="$WORK/fake-ldconfig" >/dev/null 2>&1
check "its uninstall leaves no file" test -z "$(find "$WORK/live" ! -type d)"

# ---- every variable documented, with its default ----

python3 "$TOOLS/check_config_docs.py" "$ROOT" "$ROOT/scripts/otshim" >"$WORK/vars.out" 2>&1
rc=$?
ok $rc "the doctor's table is exactly the variables the library reads, with the configuration's defaults; doc/otshim.1 documents each with its default"
diag "$(cat "$WORK/vars.out")"
GROFF_DESC="the man page renders without a groff warning"
if command -v groff >/dev/null; then
	groff -man -Tutf8 -ww -z "$ROOT/doc/otshim.1" >"$WORK/groff.err" 2>&1
	check "$GROFF_DESC" test ! -s "$WORK/groff.err"
	[ -s "$WORK/groff.err" ] && diag "$(cat "$WORK/groff.err")"
else
	skip "$GROFF_DESC" "no groff"
fi

done_testing
