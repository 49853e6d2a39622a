#!/bin/bash
# pprof.sh: the /debug/pprof endpoint (OTSHIM_PPROF_ADDR). go tool pprof fetches heap,
# allocs, threads (and the goroutine alias) and threadcreate from the demo server and
# from python3 -m http.server (and node's threads and heap), and each shows the truth of the moment: the call site
# holding memory, the sleeping threads, their creator. cmdline and the index answer;
# a 2 s CPU profile shows the burning function while slow requests are profiled from
# their own sources at the same time; a second concurrent CPU profile gets 429 and a
# client leaving mid-profile harms nothing; garbage gets 400 and the endpoint lives
# on; its requests are not counted as the service's; a non-loopback address is
# refused unless allowed.
. "$(dirname "$0")/lib.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pp=$(free_port)
EP=http://127.0.0.1:$pp/debug/pprof
dir=$WORK/prof
start_demo "$dir" OTSHIM_PPROF_ADDR="127.0.0.1:$pp"
curl -s -o /dev/null "http://127.0.0.1:$PORT/hold?site=1&kb=32768&min=1048576&max=4194304"
curl -s -o /dev/null "http://127.0.0.1:$PORT/spawn?n=20&ms=30000"
pprof -top -unit=B "$EP/heap" >"$WORK/heap.top"
held=$(awk '$NF == "hold_site_one" { v = $1; sub(/B$/, "", v); print v }' "$WORK/heap.top")
diag "heap endpoint: hold_site_one ${held:-absent} B; $(grep '^Type' "$WORK/heap.top")"
check "heap: hold_site_one holds the 32-36 MiB it was given (within 10 %)" \
	python3 -c "import sys; v = float(sys.argv[1] or 0); sys.exit(0 if 0.9 * 32 * 2**20 <= v <= 1.1 * 36 * 2**20 else 1)" "${held:-0}"
check "allocs: the same memory, alloc_space by default" \
	bash -c "HOME=$HOME go tool pprof -top '$EP/allocs' 2>/dev/null | grep -q 'Type: alloc_space' && HOME=$HOME go tool pprof -top '$EP/allocs' 2>/dev/null | grep -q hold_site_one"
check "threads: the 20 sleeping threads, in sleepy_thread" \
	bash -c "HOME=$HOME go tool pprof -traces '$EP/threads' 2>/dev/null | grep -c sleepy_thread | grep -qx 20"
check "goroutine is the same profile" bash -c "HOME=$HOME go tool pprof -top '$EP/goroutine' 2>/dev/null | grep -q 'Type: threads'"
check "threadcreate: the sleeping threads' creator" \
	bash -c "HOME=$HOME go tool pprof -traces '$EP/threadcreate' 2>/dev/null | grep -q start_detached"
check "cmdline is the server's" bash -c "curl -s '$EP/cmdline' | tr '\\0' ' ' | grep -q 'srv_demo --port'"
check "the index lists the profiles" bash -c "curl -s '$EP/' | grep -q 'href=\"heap\"'"
# CPU: while /cpu requests (150 ms each, slow at 100 ms) keep a connection thread
# busy, a 2 s profile of the whole process shows burn_cpu, and the slow requests'
# own profiles, taken at the same time from their own sources, still add up.
(for _ in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$PORT/cpu?ms=150"; done) &
load=$!
sleep 0.3
pprof -top "$EP/profile?seconds=2" >"$WORK/cpu.top"
diag "$(sed -n '/Duration/p; /flat%/,+1p' "$WORK/cpu.top")"
check "profile?seconds=2: burn_cpu on top with at least 80 % of the CPU" \
	bash -c "awk '/burn_cpu\$/ { v = \$2; sub(/%/, \"\", v); if (v + 0 >= 80) f = 1 } END { exit !f }' '$WORK/cpu.top'"
curl -s -o /dev/null "$EP/profile?seconds=3" &
first=$!
sleep 0.5
check "a second CPU profile at the same time gets 429" [ "$(curl -s -o /dev/null -w '%{http_code}' "$EP/profile?seconds=1")" = 429 ]
check "other profiles answer meanwhile" [ "$(curl -s -o /dev/null -w '%{http_code}' "$EP/heap")" = 200 ]
wait "$first"
curl -s -o /dev/null --max-time 1 "$EP/profile?seconds=2"
sleep 1.5
check "a client that leaves mid-profile leaves the endpoint working" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$EP/profile?seconds=1")" = 200 ]
wait "$load"
python3 - "$dir/index.jsonl" "$HOME" <<'PY' >"$WORK/slow"
import json, os, subprocess, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
bad = 0
for d in lines:
    f = os.path.join(os.path.dirname(sys.argv[1]), d["files"]["cpu"])
    out = subprocess.run(["go", "tool", "pprof", "-raw", f], capture_output=True, text=True,
                         env=dict(os.environ, HOME=sys.argv[2])).stdout
    total = 0
    rows = out.split("Samples:")[1].split("Locations")[0].splitlines()[2:]
    for r in rows:
        if ":" in r and r.strip()[0].isdigit():
            total += int(r.split(":")[0].split()[1])
    if abs(total / 1e6 - d["cpu_ms"]) > 0.1 * d["cpu_ms"] + 4:
        bad += 1
print(len(lines), bad)
PY
read -r nslow badslow <"$WORK/slow"
diag "slow requests profiled during the whole-process profiles: $nslow, off by more than 10 %: $badslow"
check "slow-request profiles taken meanwhile still match their CPU time" [ "${nslow:-0}" -ge 20 -a "${badslow:-1}" = 0 ]
check "an unknown profile is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$EP/nope")" = 404 ]
bad=$(python3 -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(b"\x16\x03\x01garbage\r\n\r\n"); print(s.recv(100).split(b"\r\n")[0].decode())' "$pp")
check "garbage gets 400 ($bad)" [ "$bad" = "HTTP/1.1 400 Bad Request" ]
check "and the endpoint lives on" bash -c "curl -sf -o /dev/null '$EP/'"
check "the service still answers" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
stop_demo
check "endpoint requests are not counted as the service's (33 requests)" [ "$(stats_field "$dir" requests)" = 33 ]

# Any process: python's http.server, unmodified.
pp=$(free_port); port=$(free_port)
LD_PRELOAD=$LIB OTSHIM_PROFILE_DIR=$WORK/py OTSHIM_PPROF_ADDR="127.0.0.1:$pp" \
	/usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
PIDS+=($!)
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$pp/debug/pprof/"
check "python3 -m http.server: threads profile shows the interpreter's main thread" \
	bash -c "HOME=$HOME go tool pprof -traces 'http://127.0.0.1:$pp/debug/pprof/threads' 2>/dev/null | grep -q -E 'thread_name: +python3'"
check "python3 -m http.server: heap profile is valid" \
	bash -c "HOME=$HOME go tool pprof -top 'http://127.0.0.1:$pp/debug/pprof/heap' 2>/dev/null | grep -q 'Type: inuse_space'"

# And a Node.js service (skipped without node).
NODE=$(command -v node || command -v nodejs)
if [ -n "$NODE" ]; then
	pp=$(free_port); port=$(free_port)
	(cd "$WORK" && exec env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/node" \
		OTSHIM_PPROF_ADDR="127.0.0.1:$pp" "$NODE" --perf-basic-prof \
		"$ROOT/tests/servers/node_demo.js" "$port" \
		"$WORK/node.log" >/dev/null 2>&1) &
	PIDS+=($!)
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/" # node is up and idle
	check "node: threads profile shows the event loop in epoll_wait" \
		bash -c "HOME=$HOME go tool pprof -traces 'http://127.0.0.1:$pp/debug/pprof/threads' 2>/dev/null | grep -q epoll"
	check "node: heap profile is valid" \
		bash -c "HOME=$HOME go tool pprof -top 'http://127.0.0.1:$pp/debug/pprof/heap' 2>/dev/null | grep -q 'Type: inuse_space'"
	(for _ in $(seq 8); do curl -s -o /dev/null "http://127.0.0.1:$port/cpu"; done) &
	load=$!
	sleep 0.2
	check "node --perf-basic-prof: the CPU profile names burnCpu" \
		bash -c "HOME=$HOME go tool pprof -top 'http://127.0.0.1:$pp/debug/pprof/profile?seconds=1' 2>/dev/null | grep -q 'JS:.burnCpu'"
	wait "$load"
fi

# A remote address is refused without the opt-in.
pp=$(free_port)
start_demo "$WORK/remote" OTSHIM_PPROF_ADDR="0.0.0.0:$pp"
check "0.0.0.0 is refused with a clear message" grep -q "not a loopback address" "$WORK/remote.err"
check "and nothing listens there" bash -c "! curl -s -o /dev/null --max-time 2 'http://127.0.0.1:$pp/debug/pprof/'"
stop_demo
done_testing
