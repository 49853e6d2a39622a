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
plant() { sed -i "0,/^#include/s//$2\n&/" "$WORK/tree/$1"; }
layers() { "$WORK/tree/scripts/check-layers" "$WORK/tree" >"$WORK/out" 2>&1; }

fresh
check "the tree as it is: layers ok" layers
diag "$(cat "$WORK/out")"

fresh
plant runtime/track/conn.c '#include "emit\/worker.h"'
layers; rc=$?
diag "$(cat "$WORK/out")"
check "an upward include (track -> emit) fails" [ $rc = 1 ]
check "  and names the file and the layer" grep -q 'runtime/track/conn.c: includes emit/worker.h, a higher layer' "$WORK/out"

fresh
plant runtime/base/util.c '#include "sample\/thread.h"'
layers; rc=$?
check "an upward include into base (base -> sample) fails" \
	bash -c "[ $rc = 1 ] && grep -q 'runtime/base/util.c: includes sample/thread.h' '$WORK/out'"

fresh
plant runtime/sample/cputimer.h '#include "boot\/init.h"'
layers; rc=$?
check "an upward include in a header fails too" \
	bash -c "[ $rc = 1 ] && grep -q 'runtime/sample/cputimer.h: includes boot/init.h' '$WORK/out'"

fresh
plant runtime/emit/worker.c '#include "worker.h"'
layers; rc=$?
check "an include without its layer's path fails" \
	bash -c "[ $rc = 1 ] && grep -q 'not a layer path' '$WORK/out'"

fresh
plant runtime/track/http.c '#include "..\/..\/shim\/shim.h"'
layers; rc=$?
check "the runtime including the interposers fails" \
	bash -c "[ $rc = 1 ] && grep -q 'never includes the interposers' '$WORK/out'"

fresh
plant shim/shim_io.c '#include "..\/runtime\/track\/conn.h"'
layers; rc=$?
check "an interposer including a runtime header beyond its list fails" \
	bash -c "[ $rc = 1 ] && grep -q 'shim/shim_io.c: includes track/conn.h' '$WORK/out'"

fresh
plant runtime/emit/worker.c '#include "track\/conn.h"'
check "a downward include (emit -> track) is allowed" layers
done_testing
