#!/bin/bash
# exports.sh: the library exports exactly the interposed symbols of shim/exports.map,
# so nothing of ours can clash with the host's names.
. "$(dirname "$0")/lib.sh"
want=$(sed -n '/global:/,/local:/p' "$ROOT/shim/exports.map" | grep -v -E 'global:|local:' |
	tr ';' '\n' | tr -d ' \t' | grep -v '^$' | sort)
# Under a sanitizer shim_signal.c and shim_dl.c are compiled out (their runtimes call
# those names in the next library while they start up), so their names are not expected.
[ -n "$SAN" ] && want=$(echo "$want" | grep -v -x -E 'sigaction|signal|bsd_signal|sysv_signal|__sysv_signal|setitimer|dl_iterate_phdr')
got=$(nm -D --defined-only "$SHIM_SO" | awk '$2 ~ /^[TWiVD]$/ {print $3}' | sed 's/@.*//' | sort)
diag "exported: $(echo "$got" | tr '\n' ' ')"
check "exported symbols equal shim/exports.map" [ "$want" = "$got" ]
check "no runtime (rt_*) or shim_* symbol is exported" bash -c "! nm -D --defined-only '$SHIM_SO' | grep -q -E ' (rt|shim)_'"
done_testing
