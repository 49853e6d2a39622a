#!/bin/bash
# report.sh: `otshim report`, `otshim flame` and `otshim report --html`
# (scripts/otshim_report.py) against profiles with known content. The demo server,
# under the shim at 100 ms, serves four slow requests with known traceparents: three
# CPU burns of different lengths (all CPU in burn_cpu) and one /hold that allocates
# 16 MiB at hold_site_three, then sleeps. The report must list exactly those four,
# slowest first, with the index's ids, paths and statuses, burn_cpu as the top CPU
# function (>= 80 %) and hold_site_three as the top allocation site; --json must agree;
# the filters must filter; a truncated cpu file and a corrupt index line are skipped
# with a note naming them while the rest is reported; empty and missing directories
# get clear messages. The flame graph is XML with burn_cpu's frame >= 80 % wide. The
# HTML report is rendered in headless Chromium (Debian's chromium; scripts/install-
# deps.sh installs it, and its absence fails this test): its DOM lists the requests
# and its screenshot is a real picture, flame colours included.
# Then wall profiles: tests/servers/srv_wait under the shim serves a request that waits
# 300 ms in recv on its upstream and one that sleeps 300 ms. The report gives each its
# on/off-CPU split and its top waits (recv on the upstream's address in wait_in_recv;
# nanosleep in wait_in_sleep), with the numbers of the index line and of the wall file
# as `go tool pprof -raw` reads it; report.html draws their wall flame graphs; `otshim
# flame` of a wall file draws the wait on top of wait_in_recv; an index line without
# files.wall (as written before wall profiles) is reported as before.
. "$(dirname "$0")/lib.sh"

# rc_and RC WANT COMMAND...: RC is WANT and COMMAND succeeds.
rc_and() {
	[ "$1" = "$2" ] || { diag "exit status $1, wanted $2"; return 1; }
	shift 2
	"$@"
}

otr() { "$ROOT/scripts/otshim" "$@"; } # otshim report / otshim flame
PARENT=00f067aa0ba902b7
T1=11111111111111111111111111111a01 # /cpu?ms=200
T2=22222222222222222222222222222a02 # /cpu?ms=450
T3=33333333333333333333333333333a03 # /cpu?ms=700
T4=44444444444444444444444444444a04 # /hold, 16 MiB, then a 300 ms sleep

dir=$WORK/prof
start_demo "$dir" OTSHIM_SLOW_MS=100
get() { curl -s -o /dev/null -H "traceparent: 00-$1-$PARENT-01" "http://127.0.0.1:$PORT$2"; }
get $T1 "/cpu?ms=200"
get $T4 "/hold?site=3&kb=16384&min=16&max=65536&sleep_ms=300"
get $T2 "/cpu?ms=450"
get $T3 "/cpu?ms=700"
lines() { [ "$(grep -c . "$dir/index.jsonl" 2>/dev/null)" -ge 4 ]; }
wait_for 10 lines
stop_demo
check "the demo wrote 4 index lines" [ "$(grep -c . "$dir/index.jsonl" 2>/dev/null)" = 4 ]

# expect [min_ms=N] [path=P] [since=ISO]: the trace ids the index says pass those
# filters, slowest first. (CPU burns are CPU time, so on a loaded machine their wall
# durations stretch; the order comes from what the index recorded, not from the plan.)
expect() { python3 "$TOOLS/index_query.py" slowest "$dir/index.jsonl" "$@"; }
EXPECT=$(expect)
diag "slowest first: $EXPECT"
check "the index has the 4 known trace ids" [ "$(echo "$EXPECT" | tr ' ' '\n' | sort | xargs)" = "$T1 $T2 $T3 $T4" ]

# ---- text report ----
otr report "$dir" >"$WORK/text" 2>"$WORK/text.err"
rc=$?
check "report exits 0 and prints no note" rc_and "$rc" 0 [ ! -s "$WORK/text.err" ]
# Request rows start with the start time; the trace id is the second column.
rows() { grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$1" | awk '{ print $2 }' | xargs; }
check "report lists exactly the 4 requests, slowest first" [ "$(rows "$WORK/text")" = "$EXPECT" ]
[ "$(rows "$WORK/text")" = "$EXPECT" ] || diag "$(cat "$WORK/text")"
# Under a sanitizer there are no heap samples: the /hold rows' allocation part is skipped.
HEAPCHK=", hold_site_three tops /hold's allocation"
[ -n "$SAN" ] && HEAPCHK=""
python3 "$TOOLS/check_report_text.py" "$WORK/text" "$dir/index.jsonl" ${SAN:+--no-heap} >"$WORK/text.check"
check "each row has the index's time, trace id, GET, path, status, duration, threads; burn_cpu tops CPU (>= 80 % of what was sampled)$HEAPCHK" \
	[ "$(cat "$WORK/text.check")" = ok ]
san_skip "$SAN_NO_HEAP" "text: hold_site_three tops /hold's allocation"
[ "$(cat "$WORK/text.check")" = ok ] || diag "$(cat "$WORK/text.check")"
diag "$(sed -n '1,12p' "$WORK/text")"

# ---- --json ----
# json_ids ARGS...: the trace ids `report --json ARGS` lists, in order ("rc=N" if it fails).
json_ids() {
	otr report "$dir" --json "$@" 2>/dev/null | python3 -c '
import json, sys
print(" ".join(r["trace_id"] for r in json.load(sys.stdin)["requests"]))' 2>/dev/null || echo "unparsable"
}
otr report "$dir" --json >"$WORK/json" 2>/dev/null
python3 "$TOOLS/check_report_json.py" "$WORK/json" "$dir/index.jsonl" "$EXPECT" ${SAN:+--no-heap} >"$WORK/json.check"
check "--json parses and agrees: order, index fields, file paths, burn_cpu >= 80 % of what was sampled (cpu total = cpu_ms)${HEAPCHK:+, hold_site_three for /hold}" \
	[ "$(cat "$WORK/json.check")" = ok ]
san_skip "$SAN_NO_HEAP" "--json: hold_site_three for /hold"
[ "$(cat "$WORK/json.check")" = ok ] || diag "$(cat "$WORK/json.check")"

# ---- filters ----
# T2's own duration as the threshold: T2 and whatever was slower; T1, T4 or both are out.
min=$(python3 -c 'import json,sys; print([l for l in map(json.loads, open(sys.argv[1])) if l["trace_id"] == sys.argv[2]][0]["duration_ms"])' "$dir/index.jsonl" "$T2")
want=$(expect min_ms="$min")
check "--min-ms $min (T2's duration): $want" [ "$(json_ids --min-ms "$min")" = "$want" ]
check "--min-ms $min: T2 is in, fewer than 4" bash -c "[[ ' $want ' == *' $T2 '* ]] && [ $(echo "$want" | wc -w) -lt 4 ]"
check "--min-ms 100000: none" [ "$(json_ids --min-ms 100000)" = "" ]
check "--path /hold: only the /hold request" [ "$(json_ids --path /hold)" = "$T4" ]
check "--path /cp: the three /cpu requests" [ "$(json_ids --path /cp)" = "$(expect path=/cp)" ]
check "--path /cp: T1, T2, T3" [ "$(expect path=/cp | tr ' ' '\n' | sort | xargs)" = "$T1 $T2 $T3" ]
check "--min-ms 250 --path /cpu: both filters at once" [ "$(json_ids --min-ms 250 --path /cpu)" = "$(expect min_ms=250 path=/cpu)" ]
check "--since -10m: all four" [ "$(json_ids --since -10m)" = "$EXPECT" ]
check "--since 2000-01-01T00:00:00Z: all four" [ "$(json_ids --since 2000-01-01T00:00:00Z)" = "$EXPECT" ]
# --since the second-slowest request's own start time: it and the one after it
since=$(python3 -c 'import json,sys; print([l for l in map(json.loads, open(sys.argv[1])) if l["trace_id"] == sys.argv[2]][0]["time"])' "$dir/index.jsonl" "$T2")
check "--since $since (T2's start): T2 and T3, started at or after it" [ "$(json_ids --since "$since")" = "$(expect since="$since")" ]
check "--since $since: that is T2 and T3" [ "$(expect since="$since" | tr ' ' '\n' | sort | xargs)" = "$T2 $T3" ]
otr report "$dir" --since 2999-01-01 >"$WORK/none" 2>"$WORK/none.err"
rc=$?
check "--since in the future: exit 1, says nothing matches" \
	rc_and "$rc" 1 grep -q "no slow request in $dir matches --since 2999-01-01 (4 recorded)" "$WORK/none.err"
otr report "$dir" --since yesterday >/dev/null 2>"$WORK/since.err"
rc=$?
check "--since yesterday: usage error, exit 2, with the accepted forms" \
	rc_and "$rc" 2 grep -q "neither ISO 8601" "$WORK/since.err"
otr report "$dir" --bogus >/dev/null 2>&1
check "an unknown option: exit 2" [ $? = 2 ]
( cd "$WORK" && ln -s "$dir" profiles && unset OTSHIM_PROFILE_DIR && otr report --json ) >"$WORK/dflt" 2>/dev/null
check "no DIR: ./profiles" [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["requests"]))' "$WORK/dflt" 2>/dev/null)" = 4 ]
( cd / && export OTSHIM_PROFILE_DIR=$dir && otr report --json ) >"$WORK/envd" 2>/dev/null
check "no DIR: \$OTSHIM_PROFILE_DIR" [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["requests"]))' "$WORK/envd" 2>/dev/null)" = 4 ]

# ---- corrupt, missing and empty ----
bad=$WORK/bad
cp -a "$dir" "$bad"
cpu2=$(basename "$(ls "$bad"/cpu-$T2-*.pb.gz)")
truncate -s $(($(stat -c %s "$bad/$cpu2") / 2)) "$bad/$cpu2"
rm -f "$bad"/heap-$T1-*.pb.gz
echo '{"trace_id": "not closed' >>"$bad/index.jsonl"
otr report "$bad" >"$WORK/bad.txt" 2>"$WORK/bad.err"
rc=$?
diag "notes: $(cat "$WORK/bad.err")"
check "corrupt files: exit 0, all 4 requests still listed in order" rc_and "$rc" 0 [ "$(rows "$WORK/bad.txt")" = "$EXPECT" ]
check "the truncated cpu file: one note naming it" [ "$(grep -c "skipped $bad/$cpu2: bad gzip data" "$WORK/bad.err")" = 1 ]
check "the missing heap file: one note naming it" [ "$(grep -c "skipped $bad/heap-$T1-.*: No such file" "$WORK/bad.err")" = 1 ]
check "the corrupt index line: one note naming its line" [ "$(grep -c "skipped $bad/index.jsonl line 5: not a JSON object" "$WORK/bad.err")" = 1 ]
check "exactly 3 notes" [ "$(grep -c . "$WORK/bad.err")" = 3 ]
# (each request's lines run from its row to the next row)
check "the others' profiles are still read: burn_cpu under T3 and T1" \
	[ "$(awk -v a=$T3 -v b=$T1 '/^[0-9][0-9][0-9][0-9]-/ { t = $2 } (t == a || t == b) && /burn_cpu$/' "$WORK/bad.txt" | grep -c .)" = 2 ]
check "the request with the truncated cpu file says so" \
	grep -q "note: cpu profile skipped: bad gzip data" "$WORK/bad.txt"

mkdir "$WORK/empty"
otr report "$WORK/empty" >/dev/null 2>"$WORK/e.err"
rc=$?
check "an empty dir: exit 1, 'no slow requests recorded in DIR (no index.jsonl)'" \
	rc_and "$rc" 1 grep -qx "otshim: no slow requests recorded in $WORK/empty (no index.jsonl)" "$WORK/e.err"
: >"$WORK/empty/index.jsonl"
otr report "$WORK/empty" >/dev/null 2>"$WORK/e.err"
rc=$?
check "an empty index.jsonl: exit 1, '(index.jsonl is empty)'" \
	rc_and "$rc" 1 grep -qx "otshim: no slow requests recorded in $WORK/empty (index.jsonl is empty)" "$WORK/e.err"
otr report "$WORK/nowhere" >/dev/null 2>"$WORK/m.err"
rc=$?
check "a missing dir: exit 1, says it does not exist" \
	rc_and "$rc" 1 grep -q "no profile directory: $WORK/nowhere does not exist" "$WORK/m.err"

# ---- flame ----
cpu3=$(ls "$dir"/cpu-$T3-*.pb.gz)
otr flame "$cpu3" >"$WORK/cpu.svg" 2>"$WORK/flame.err"
check "flame: exit 0" [ $? = 0 ]
# svg_frame SVG FUNCTION: "<share %> <rect width / drawable width>" of FUNCTION's widest frame.
svg_frame() { python3 "$TOOLS/svg_frame.py" "$@" 2>&1; }
read -r share width < <(svg_frame "$WORK/cpu.svg" burn_cpu)
diag "flame: burn_cpu frame ${share:-?} %, ${width:-?} of the width"
check "flame: the SVG parses as XML and has a frame titled burn_cpu with a share >= 80 %" \
	python3 -c "import sys; sys.exit(not float('${share:-0}') >= 80)" 2>/dev/null
check "flame: that frame's rect is >= 80 % of the width" \
	python3 -c "import sys; sys.exit(not float('${width:-0}') >= 0.79)" 2>/dev/null
check "flame: self-contained (no external reference)" \
	bash -c "! grep -Eo '(href|src)=\"[^\"#]' '$WORK/cpu.svg' | grep -q ."
heap4=$(ls "$dir"/heap-$T4-*.pb.gz)
otr flame "$heap4" --sample-index alloc_space >"$WORK/heap.svg" 2>/dev/null
read -r hshare _ < <(svg_frame "$WORK/heap.svg" hold_site_three)
san_check "$SAN_NO_HEAP" "flame --sample-index alloc_space: hold_site_three holds >= 90 % of /hold's heap file" \
	python3 -c "import sys; sys.exit(not float('${hshare:-0}') >= 90)" 2>/dev/null
grep -q 'Flame graph: alloc_space (bytes)' "$WORK/heap.svg"
check "flame --sample-index alloc_space: titled alloc_space" [ $? = 0 ]
otr flame "$heap4" >"$WORK/inuse.svg" 2>/dev/null
check "flame on a heap file: inuse_space by default" grep -q 'Flame graph: inuse_space (bytes)' "$WORK/inuse.svg"
thr3=$(ls "$dir"/threads-$T3-*.pb.gz)
otr flame "$thr3" >"$WORK/threads.svg" 2>/dev/null
nthreads=$(python3 -c 'import json,sys; print([l for l in map(json.loads, open(sys.argv[1])) if l["trace_id"] == sys.argv[2]][0]["threads"])' "$dir/index.jsonl" "$T3")
check "flame on a threads file: parses, its root counts the index's $nthreads threads" \
	grep -q "<title>all — $nthreads, 100.00% of threads</title>" "$WORK/threads.svg"
check "flame: every SVG parses as XML" python3 -c '
import sys, xml.etree.ElementTree as ET
for f in sys.argv[1:]: ET.parse(f)' "$WORK/cpu.svg" "$WORK/heap.svg" "$WORK/inuse.svg" "$WORK/threads.svg"
otr flame "$heap4" --sample-index nope >/dev/null 2>"$WORK/si.err"
rc=$?
check "flame --sample-index nope: exit 2, lists the sample types" rc_and "$rc" 2 grep -q "alloc_space" "$WORK/si.err"
otr flame "$bad/$cpu2" >/dev/null 2>"$WORK/fc.err"
rc=$?
check "flame on a truncated file: exit 1, names it" rc_and "$rc" 1 grep -q "cannot read $bad/$cpu2" "$WORK/fc.err"

# ---- HTML, rendered in headless Chromium ----
otr report "$dir" --html >/dev/null 2>"$WORK/html.err"
rc=$?
check "report --html: exit 0, writes DIR/report.html" rc_and "$rc" 0 [ -s "$dir/report.html" ]
check "report --html: says where it wrote it" grep -q "wrote $dir/report.html (4 slow requests)" "$WORK/html.err"
check "report.html is offline: no http(s) URL at all" bash -c "! grep -Eiq 'https?:|//[a-z]' '$dir/report.html'"
chrome() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$WORK/chrome.XXXXXX")" "$@" 2>>"$WORK/chrome.err"
}
if ! command -v chromium >/dev/null 2>&1; then
	ok 1 "chromium is installed (scripts/install-deps.sh installs Debian's chromium): CANNOT RENDER report.html"
else
	chrome --dump-dom "file://$dir/report.html" >"$WORK/dom.html"
	# A CPU flame graph for each request with CPU samples (the three /cpu ones; /hold
	# too if it burnt CPU after the threshold, as under TSan); a wall one for each wall file.
	ncpu=$(grep -Ec '"samples":[1-9]' "$dir/index.jsonl")
	nwall=$(grep -c '"wall":"wall-' "$dir/index.jsonl")
	python3 "$TOOLS/check_report_dom.py" "$WORK/dom.html" "$EXPECT" --cpu-flames "$ncpu" --wall-flames "$nwall" \
		--frame burn_cpu --wall-frame "$T3=burn_cpu" >"$WORK/dom.check"
	check "Chromium's DOM of report.html lists the 4 requests' trace ids in order, with $ncpu CPU (>= 3) and $nwall wall flame graphs" \
		[ "$(cat "$WORK/dom.check")" = ok -a "$ncpu" -ge 3 ]
	[ "$(cat "$WORK/dom.check")" = ok ] || diag "$(cat "$WORK/dom.check")" "$(tail -5 "$WORK/chrome.err")"
	# The flame graph's script: hover fills the details line, a click zooms, a click on
	# the root zooms out. A page holding the threads graph drives it with synthetic events.
	{
		echo '<!DOCTYPE html><html><body>'
		sed -e 1d -e 's/ xmlns="[^"]*"//' "$WORK/threads.svg"
		echo '<script>'
		cat "$TOOLS/flame_zoom.js"
		echo '</script></body></html>'
	} >"$WORK/zoom.html"
	chrome --dump-dom "file://$WORK/zoom.html" | grep -o '<pre id="result">[^<]*' | sed 's/.*>//' >"$WORK/zoom.out"
	diag "zoom: $(cat "$WORK/zoom.out")"
	check "flame graph script: hover shows the frame's title, a click zooms it to full width hiding others, the root zooms out" \
		[ "$(cat "$WORK/zoom.out")" = "true 1179.50 true true true" ]
	chrome --screenshot="$WORK/report.png" --window-size=1200,1600 "file://$dir/report.html" >/dev/null
	printf '<!DOCTYPE html><html><body></body></html>\n' >"$WORK/blank.html"
	chrome --screenshot="$WORK/blank.png" --window-size=1200,1600 "file://$WORK/blank.html" >/dev/null
	[ -n "${KEEP:-}" ] && diag "screenshot: $WORK/report.png"
	python3 "$TOOLS/png_check.py" "$WORK/report.png" "$WORK/blank.png" >"$WORK/png.check"
	diag "screenshot: $(sed -n 1p "$WORK/png.check")"
	read -r dims pixels bigger < <(sed -n 2p "$WORK/png.check")
	check "screenshot: a 1200x1600 PNG" [ "${dims:-0}" = 1 ]
	check "screenshot: not blank (>= 50 colours, >= 3 % flame-coloured pixels, text)" [ "${pixels:-0}" = 1 ]
	check "screenshot: >= 10x the size of a blank page's" [ "${bigger:-0}" = 1 ]
fi

# ---- wall profiles: where a request waited ----
TR=55555555555555555555555555555b01 # /recv?ms=300: waits in recv on its upstream
TS=66666666666666666666666666666b02 # /sleep?ms=300: nanosleep
wdir=$WORK/wprof
DEMO_SRV=$SRV
SRV=$BUILD/tests/servers/srv_wait
start_demo "$wdir" OTSHIM_SLOW_MS=100
SRV=$DEMO_SRV
curl -s -o /dev/null -D "$WORK/recv.head" -H "traceparent: 00-$TR-$PARENT-01" "http://127.0.0.1:$PORT/recv?ms=300"
curl -s -o /dev/null -H "traceparent: 00-$TS-$PARENT-01" "http://127.0.0.1:$PORT/sleep?ms=300"
UP=$(awk -F': ' 'tolower($1) == "x-upstream-port" { print $2 }' "$WORK/recv.head" | tr -d '\r')
wlines() { [ "$(grep -c . "$wdir/index.jsonl" 2>/dev/null)" -ge 2 ]; }
wait_for 5 wlines
stop_demo
check "srv_wait: 2 index lines, each naming a wall file" [ "$(grep -c '"wall":"wall-' "$wdir/index.jsonl" 2>/dev/null)" = 2 ]
otr report "$wdir" >"$WORK/wtext" 2>"$WORK/wtext.err"
rc=$?
check "wall: report exits 0, no note" rc_and "$rc" 0 [ ! -s "$WORK/wtext.err" ]
diag "$(cat "$WORK/wtext")"
python3 "$TOOLS/check_report_wall.py" text "$WORK/wtext" "$wdir/index.jsonl" "$TR" "$TS" "$UP" >"$WORK/wtext.check"
check "wall text: the index's off-CPU ms (>= 250) and top wait: recv 127.0.0.1:$UP in wait_in_recv; nanosleep in wait_in_sleep; no dead end" \
	[ "$(cat "$WORK/wtext.check")" = ok ]
[ "$(cat "$WORK/wtext.check")" = ok ] || diag "$(cat "$WORK/wtext.check")"
otr report "$wdir" --json >"$WORK/wjson" 2>/dev/null
python3 "$TOOLS/check_report_wall.py" json "$WORK/wjson" "$wdir/index.jsonl" "$TR" "$TS" "$UP" >"$WORK/wjson.check" 2>&1
check "wall --json: on/off-CPU ms and top waits (call, peer, function, ms) are go tool pprof's of the wall file, and the index's" \
	[ "$(cat "$WORK/wjson.check")" = ok ]
[ "$(cat "$WORK/wjson.check")" = ok ] || diag "$(cat "$WORK/wjson.check")"

wrecv=$(ls "$wdir"/wall-$TR-*.pb.gz)
otr flame "$wrecv" >"$WORK/wall.svg" 2>/dev/null
check "flame on a wall file: wall/nanoseconds by default" grep -q 'Flame graph: wall (nanoseconds)' "$WORK/wall.svg"
read -r fshare _ < <(svg_frame "$WORK/wall.svg" wait_in_recv)
read -r pshare _ < <(svg_frame "$WORK/wall.svg" "[recv 127.0.0.1:$UP]")
jshare=$(python3 -c 'import json,sys; r=[r for r in json.load(open(sys.argv[1]))["requests"] if r["trace_id"] == sys.argv[2]][0]
print(100 * r["top_waits"][0]["share"])' "$WORK/wjson" "$TR" 2>/dev/null)
diag "wall flame: wait_in_recv ${fshare:-?} %, [recv 127.0.0.1:$UP] ${pshare:-?} %, --json's top wait ${jshare:-?} %"
check "flame on a wall file: [recv 127.0.0.1:$UP] on top of wait_in_recv, both >= 80 %, as wide as --json's top wait" \
	python3 -c "import sys; f, p, j = map(float, sys.argv[1:]); sys.exit(not (p >= 80 and f >= p - 0.01 and abs(p - j) <= 0.01))" \
	"${fshare:-0}" "${pshare:-0}" "${jshare:-0}"
otr flame "$wrecv" --sample-index samples >"$WORK/wall-n.svg" 2>/dev/null
check "flame on a wall file --sample-index samples: titled samples (count), parses" \
	bash -c "grep -q 'Flame graph: samples (count)' '$WORK/wall-n.svg' && python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' '$WORK/wall-n.svg'"

# (Chromium renders wall flame graphs above, in the first report.html; this one's
# markup is checked as written, which saves a browser start.)
# (No CPU flame graph unless a request was sampled on CPU, as under TSan.)
otr report "$wdir" --html >/dev/null 2>&1
wcpu=$(grep -Ec '"samples":[1-9]' "$wdir/index.jsonl")
python3 "$TOOLS/check_report_dom.py" "$wdir/report.html" "$(python3 "$TOOLS/index_query.py" slowest "$wdir/index.jsonl")" --cpu-flames "$wcpu" --wall-flames 2 \
	--wall-frame "$TR=wait_in_recv" --wall-frame "$TR=[recv 127.0.0.1:$UP]" \
	--wall-frame "$TS=wait_in_sleep" --wall-frame "$TS=[nanosleep]" >"$WORK/wdom.check"
check "the wall report.html: 2 wall flame graphs, recv's with wait_in_recv and [recv 127.0.0.1:$UP], sleep's with wait_in_sleep and [nanosleep]" \
	[ "$(cat "$WORK/wdom.check")" = ok ]
[ "$(cat "$WORK/wdom.check")" = ok ] || diag "$(cat "$WORK/wdom.check")"

# Index lines as written before wall profiles: no files.wall, wall_off_cpu_ms, top_wait.
wold=$WORK/wold
cp -a "$wdir" "$wold"
python3 -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[1], "w") as f:
    for l in lines:
        l["files"].pop("wall"); l.pop("wall_off_cpu_ms"); l.pop("top_wait")
        f.write(json.dumps(l) + "\n")' "$wold/index.jsonl"
otr report "$wold" >"$WORK/wold.txt" 2>"$WORK/wold.err"
rc=$?
check "without files.wall: exit 0, no note, both listed, no time split or waits, 'waited rather than computed' as before for the $((2 - wcpu)) not sampled on CPU" \
	rc_and "$rc" 0 bash -c "[ ! -s '$WORK/wold.err' ] && [ $(rows "$WORK/wold.txt" | wc -w) = 2 ] &&
		! grep -Eq 'wall profile|top waits' '$WORK/wold.txt' && [ \$(grep -c 'waited rather than computed' '$WORK/wold.txt') = $((2 - wcpu)) ]"
otr report "$wold" --json --html 2>/dev/null | python3 -c 'import json, sys
sys.exit(not all(r["wall_ms"] is None and r["top_waits"] == [] for r in json.load(sys.stdin)["requests"]))'
check "without files.wall: --json has wall_ms null, top_waits [], report.html no wall flame graph" \
	bash -c "[ $? = 0 ] && ! grep -q 'id=\"wfg' '$wold/report.html'"

san_reports
done_testing
