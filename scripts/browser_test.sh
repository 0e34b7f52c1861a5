#!/bin/bash
# browser_test.sh: the status page (monitor/) in a real browser, headless
# Chromium, on the Compose cluster of 5 agencies and 3 replicas.  First
# the replicas and the monitor alone: the page, loaded while the cluster
# runs and before any agency has started, has every agency's row and the
# draw pending.  Then the agencies run to their end: the page shows the
# draw done, each agency's count equal to its file's lines, and no
# document number of the data anywhere in its DOM.  The finished page's
# screenshot is saved as build/monitor.png.  Exits 77 (skipped) when
# Docker does not answer or Chromium cannot be installed.
set -u
. "$(dirname "$0")/docker-lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "docker does not answer: browser test skipped"
	exit 77
fi
if [ -z "$DL_COMPOSE" ]; then
	echo "no docker compose nor docker-compose: browser test skipped"
	exit 77
fi
if ! scripts/deps.sh --browser >/dev/null 2>&1 ||
    ! command -v chromium >/dev/null 2>&1; then
	echo "chromium cannot be installed: browser test skipped"
	exit 77
fi

CLIENTS=5
SERVERS=3
CLUSTER=compose
dl_load_env
dl_lock
TIMEOUT=${RUN_TIMEOUT:-300}
WORK=$(mktemp -d)
cleanup() {
	dl_compose down --remove-orphans -v >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
URL=http://127.0.0.1:$MONITOR_PORT

# browse ARGS...: headless Chromium on the page (as root it needs
# --no-sandbox; its own profile directory under WORK).
browse() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$WORK/profile" --hide-scrollbars "$@" "$URL/" \
	    2>>"$WORK/chromium.log"
}

# wait_json TEXT: 0 once the monitor's JSON holds TEXT, 1 after TIMEOUT.
wait_json() {
	local end=$(($(date +%s) + TIMEOUT))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -sf --max-time 5 "$URL/api/status" 2>/dev/null |
		    grep -qF "$1" && return 0
		sleep 0.5
	done
	return 1
}

# no_documents FILE: 0 when no document number of the agency files is a
# whole number in FILE.
no_documents() {
	grep -oE '[0-9]+' "$1" | sort -u >"$WORK/numbers"
	cut -d, -f3 "$DATA_DIR"/agency-*.csv | sort -u >"$WORK/docs"
	[ -z "$(comm -12 "$WORK/numbers" "$WORK/docs" | head -n 3)" ]
}

passed=0
failed=0

make -s docker-image >/dev/null || { fail images; tally browser; exit 1; }
dl_prepare >/dev/null
cleanup_state() {
	dl_compose down --remove-orphans -v >/dev/null 2>&1
	dl_clean_state
}
cleanup_state
# The replicas and the monitor, no agency yet.
dl_compose up -d server monitor >/dev/null 2>&1
wait_json '"alive":true' || echo "monitor never saw a replica"
browse --dump-dom >"$WORK/during.html"
ok=true
[ "$(grep -o '<tr class="agency"' "$WORK/during.html" | wc -l)" -eq "$CLIENTS" ] ||
    { echo "during: not $CLIENTS agency rows"; ok=false; }
grep -q 'draw pending' "$WORK/during.html" ||
    { echo "during: draw not pending"; ok=false; }
check "page during the run: every agency, draw pending" $ok

# The agencies, to their end.
dl_compose up -d >/dev/null 2>&1
ok=true
dl_wait_clients "$TIMEOUT" || { echo "agencies still running"; ok=false; }
wait_json '"draw":{"done":true' || { echo "monitor: no draw"; ok=false; }
browse --dump-dom >"$WORK/after.html"
mkdir -p "${OUT:-build}"
browse --screenshot="$PWD/${OUT:-build}/monitor.png" --window-size=1000,1200 \
    >/dev/null || { echo "no screenshot"; ok=false; }
grep -q 'draw done' "$WORK/after.html" || { echo "after: no 'draw done'"; ok=false; }
for ((a = 1; a <= CLIENTS; a++)); do
	want=$(grep -c . "$DATA_DIR/agency-$a.csv")
	grep -q "<tr class=\"agency\" data-agency=\"$a\" data-stored=\"$want\">" \
	    "$WORK/after.html" || { echo "after: agency $a not at $want"; ok=false; }
done
no_documents "$WORK/after.html" || { echo "after: a document number shows"; ok=false; }
no_documents "$WORK/during.html" || { echo "during: a document number shows"; ok=false; }
check "page after the run: draw done, counts equal the files, no document" $ok
[ -s "${OUT:-build}/monitor.png" ] && echo "screenshot: ${OUT:-build}/monitor.png"
tally browser
