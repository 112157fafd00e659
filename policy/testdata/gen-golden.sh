#!/bin/sh
# Regenerate policy/testdata/golden/*.args from the REAL Codex Linux sandbox
# helper (codex-linux-sandbox from npm @openai/codex@0.125.0-linux-x64).
#
#   policy/testdata/gen-golden.sh [-case NAME]
#
# CODEX_HELPER overrides the path of the `codex` binary (default: the one
# under /opt/codex-ref). Needs Go; runs the helper with a logging bwrap shim
# (nothing is actually sandboxed; set ZBOX_GOLDEN_EXEC=1 to also run the real
# /usr/bin/bwrap with each logged argv). The case table, the tree layout and
# the normalisation live in policy/internal/goldengen; see
# policy/testdata/golden/README.md for what differs from the spec text.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
helper=${CODEX_HELPER:-}
if [ -z "$helper" ]; then
	helper=$(find /opt/codex-ref -name codex -type f -perm -u+x 2>/dev/null | head -n 1)
fi
if [ -z "$helper" ] || [ ! -x "$helper" ]; then
	echo "gen-golden: codex binary not found; install npm @openai/codex@0.125.0-linux-x64 under /opt/codex-ref or set CODEX_HELPER" >&2
	exit 1
fi
cd "$repo"
exec env CGO_ENABLED=0 go run ./policy/internal/goldengen/gen -helper "$helper" -out "$here/golden" "$@"
