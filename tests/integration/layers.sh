#!/bin/bash
# layers.sh: scripts/check-layers, the include rule `make test` runs first, passes on
# the tree as it is and fails, naming the file and the rule, on each kind of include
# it forbids, planted in a copy of the tree.
. "$(dirname "$0")/lib.sh"

fresh() { # a copy of the sources check-layers reads
	rm -rf "$WORK/tree"
	mkdir -p "$WORK/tree/scripts"
	cp -r "$ROOT/runtime" "$ROOT/shim" "$WORK/tree/"
	cp "$ROOT/scripts/check-layers" "$WORK/tree/scripts/"
}
# plant FILE LINE: adds LINE after the file's first #include.
plant() { sed -i "0,/^#include/s//${2//\//\\/}\n&/" "$WORK/tree/$1"; }
layers() { "$WORK/tree/scripts/check-layers" "$WORK/tree" >"$WORK/out" 2>&1; }
# refused DESCRIPTION FILE LINE MESSAGE: LINE planted in FILE of a fresh copy makes
# check-layers fail with MESSAGE.
refused() {
	fresh
	plant "$2" "$3"
	layers
	local rc=$?
	diag "$(cat "$WORK/out")"
	check "$1" bash -c "[ $rc = 1 ] && grep -qF '$4' '$WORK/out'"
}

fresh
check "the tree as it is: layers ok" layers
diag "$(cat "$WORK/out")"

refused "an upward include (track -> emit) fails, naming the file and the layer" \
	runtime/track/conn.c '#include "emit/worker.h"' \
	'runtime/track/conn.c: includes emit/worker.h, a higher layer'
refused "an upward include into base (base -> sample) fails" \
	runtime/base/util.c '#include "sample/thread.h"' 'runtime/base/util.c: includes sample/thread.h'
refused "an upward include in a header fails too" \
	runtime/sample/cputimer.h '#include "boot/init.h"' 'runtime/sample/cputimer.h: includes boot/init.h'
refused "an include without its layer's path fails" \
	runtime/emit/worker.c '#include "worker.h"' 'not a layer path'
refused "the runtime including the interposers fails" \
	runtime/track/http.c '#include "../../shim/shim.h"' 'never includes the interposers'
refused "an interposer including a runtime header beyond its list fails" \
	shim/shim_io.c '#include "../runtime/track/conn.h"' 'shim/shim_io.c: includes track/conn.h'

fresh
plant runtime/emit/worker.c '#include "track/conn.h"'
check "a downward include (emit -> track) is allowed" layers
done_testing
