#!/bin/bash
# integrity.sh: the bytes a service reads and writes, and errno after every
# interposed call, are exactly what they are without the shim.
#   - a 64 MiB file of random bytes through tests/servers/srv_echo under the shim:
#     downloaded by each of sendfile, write, writev, send, sendto, sendmsg and chunked;
#     uploaded (stored to a file) with Content-Length and chunked; echoed back both
#     ways. Every sha256 equals the file's (sha256sum, no shim involved).
#   - 60 pipelined requests on one connection (tests/tools/bodies.py): downloads,
#     Content-Length and chunked echoes and stores of awkward sizes (0, 1, 4095 ...
#     300001 bytes; chunk extensions, trailers), every body checked byte for byte, and
#     the digest over all of them equal to that of the same run without the shim.
#   - the shim counted every request (= the access log).
#   - tests/servers/errno_check calls every interposed function, failing (EBADF,
#     ENOTSOCK, EAGAIN, EPIPE, EINVAL, ENOMEM, thread creation failures, ...) and
#     succeeding with errno preset to 1234, on tracked connections too: its output is
#     byte-identical without the shim, under it, with OTSHIM_ALLOCATOR=system and
#     with every allocation sampled.
. "$(dirname "$0")/lib.sh"
E=$BUILD/tests/servers/srv_echo
C=$BUILD/tests/servers/errno_check
BODIES="python3 $TOOLS/bodies.py"
for f in "$E" "$C"; do
	[ -x "$f" ] || { echo "1..0 # SKIP $f not built"; exit 77; }
done
t_start=$SECONDS

# ---- errno ----
"$C" >"$WORK/errno.none" 2>&1
for mode in "" OTSHIM_ALLOCATOR=system OTSHIM_HEAP_SAMPLE_BYTES=1; do
	out=$WORK/errno.shim${mode:+.${mode%%=*}}
	env LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$WORK/errno-prof" $mode "$C" >"$out" 2>&1
	cmp -s "$WORK/errno.none" "$out" || diag "$(diff "$WORK/errno.none" "$out" | head -20)"
	check "errno_check: $(wc -l <"$out") calls, results and errno identical to libc's${mode:+ ($mode)}" \
		cmp -s "$WORK/errno.none" "$out"
done
n_ok=$(grep -c '(ok' "$WORK/errno.none")
n_kept=$(grep '(ok' "$WORK/errno.none" | grep -c '(kept)')
n_err=$(grep -c 'errno=[1-9][0-9]\? E' "$WORK/errno.none")
check "without the shim, errno_check's $n_ok successful calls keep errno 1234 ($n_kept) and $n_err set one" \
	bash -c "[ $n_ok -ge 38 ] && [ $n_kept = $n_ok ] && [ $n_err -ge 45 ]"

# ---- the server ----
start_echo() { # start_echo DIR [env...]: srv_echo under the shim; sets EPID, EPORT
	local dir=$1
	shift
	mkdir -p "$dir"
	env "$@" "$E" --port-file "$dir/port" --access-log "$dir/access" >"$dir/out" 2>"$dir/err" &
	EPID=$!
	PIDS+=("$EPID")
	wait_for 10 test -s "$dir/port"
	EPORT=$(cat "$dir/port" 2>/dev/null)
	[ -n "$EPORT" ] || { echo "Bail out! srv_echo did not start"; exit 1; }
}
stop_echo() {
	kill -TERM "$EPID" 2>/dev/null
	wait_for 10 pid_gone "$EPID" || kill -KILL "$EPID"
	wait "$EPID" 2>/dev/null
}

# ---- 64 MiB each way ----
BIG=$WORK/big
head -c $((64 << 20)) /dev/urandom >"$BIG"
want=$(sha256sum <"$BIG" | cut -c1-64)
S=$WORK/shim
start_echo "$S" LD_PRELOAD="$LIB" OTSHIM_PROFILE_DIR="$S/prof"
U=http://127.0.0.1:$EPORT
sent=0
digest() { cut -c1-64; }
for how in sendfile write writev send sendto sendmsg chunked; do
	got=$(curl -s --max-time 60 "$U/file?how=$how&path=$BIG" | sha256sum | digest)
	sent=$((sent + 1))
	check "download of 64 MiB by $how: sha256 is the file's" [ "$got" = "$want" ]
done
for te in cl chunked; do
	hdr=()
	[ "$te" = chunked ] && hdr=(-H "Transfer-Encoding: chunked")
	rm -f "$WORK/up.$te"
	curl -s --max-time 60 "${hdr[@]}" --data-binary @"$BIG" "$U/store?path=$WORK/up.$te" >/dev/null
	got=$(sha256sum <"$WORK/up.$te" 2>/dev/null | digest)
	check "upload of 64 MiB ($te): what the service stored has the file's sha256" [ "$got" = "$want" ]
	got=$(curl -s --max-time 60 "${hdr[@]}" --data-binary @"$BIG" "$U/echo" | sha256sum | digest)
	check "echo of 64 MiB ($te request, $te response): sha256 is the file's" [ "$got" = "$want" ]
	sent=$((sent + 2))
done

# ---- pipelined ----
mkdir -p "$WORK/b-shim" "$WORK/b-none"
res=$($BODIES --port "$EPORT" --dir "$WORK/b-shim" 2>"$WORK/b-shim.err")
rc=$?
[ "$rc" = 0 ] || diag "$(head -10 "$WORK/b-shim.err")"
check "60 pipelined downloads, echoes and stores under the shim: every byte as expected ($res)" [ "$rc" = 0 ]
sent=$((sent + 60))
stop_echo
N=$WORK/none
start_echo "$N"
res0=$($BODIES --port "$EPORT" --dir "$WORK/b-none" 2>&1)
stop_echo
check "the same 60 without the shim: the same bodies (digest over all)" [ "$res" = "$res0" ]
reqs=$(stats_field "$S/prof" requests)
check "the shim counted each of the $sent requests (stats $reqs, access log $(wc -l <"$S/access"))" \
	bash -c "[ '$reqs' = $sent ] && [ \$(wc -l <'$S/access') = $sent ]"

diag "integrity.sh took $((SECONDS - t_start)) s"
done_testing
