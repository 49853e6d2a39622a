#!/bin/bash
# exports.sh: the library exports exactly the interposed symbols of shim/exports.map,
# so nothing of ours can clash with the host's names.
. "$(dirname "$0")/lib.sh"
want=$(sed -n '/global:/,/local:/p' "$ROOT/shim/exports.map" | grep -v -E 'global:|local:' |
	tr ';' '\n' | tr -d ' \t' | grep -v '^$' | sort)
got=$(nm -D --defined-only "$SHIM_SO" | awk '$2 ~ /^[TWiVD]$/ {print $3}' | sed 's/@.*//' | sort)
diag "exported: $(echo "$got" | tr '\n' ' ')"
check "exported symbols equal shim/exports.map" [ "$want" = "$got" ]
check "no runtime (rt_*) or shim_* symbol is exported" bash -c "! nm -D --defined-only '$SHIM_SO' | grep -q -E ' (rt|shim)_'"
done_testing
