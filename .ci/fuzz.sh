#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZTIME each, default 20s) on
# top of its committed corpus (testdata/fuzz/<target>). Issue 9, point 5:
# hostile locators, stored state (JSON, manifest, parts) and requests to the
# local endpoint. A failure leaves the crashing input in testdata/fuzz/ to
# commit with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-20s}"
targets=(
	"./locator FuzzParse"
	"./store/ssmparam FuzzDecodeState"
	"./store/ssmparam FuzzManifest"
	"./store/ssmparam FuzzJoin"
	"./store/ssmparam FuzzLoad"
	"./emulator FuzzRequest"
)
for t in "${targets[@]}"; do
	set -- $t
	echo ".ci/fuzz.sh: $1 $2 for $FUZZTIME"
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" -parallel 2 "$1"
done
