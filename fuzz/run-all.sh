#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), JOBS at a time (default 2), each from
# the seed corpus (read-only) into a scratch corpus, then prints the README's figures table.
# Needs nightly and cargo-fuzz (see README.md). Logs: target/fuzz-logs/<target>.log.
#
# Usage: bash fuzz/run-all.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")"
SECS=${1:-600}
JOBS=${2:-2}
TARGETS="yaml json dotenv ini toml enc_token metadata pathedit decrypt"
LOGS=target/fuzz-logs
SCRATCH=${FUZZ_SCRATCH:-/tmp/sops-rs-fuzz-corpus}
mkdir -p "$LOGS"
cargo +nightly fuzz build

run_one() {
    t=$1
    mkdir -p "$SCRATCH/$t"
    # the exit status is read from the log: a crash must not stop the other targets
    cargo +nightly fuzz run "$t" "$SCRATCH/$t" "corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 \
        >"$LOGS/$t.log" 2>&1 || echo "exit $?" >>"$LOGS/$t.log"
}

running=0
for t in $TARGETS; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

echo "| target | execs | coverage (edges) | features | corpus at end | slowest input | peak RSS | crashes |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for t in $TARGETS; do
    l="$LOGS/$t.log"
    stat() { sed -n "s/^stat::$1: *//p" "$l" | tail -n 1; }
    done_line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$l" | tail -n 1)
    cov=$(printf '%s\n' "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$done_line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    crashes=$(grep -cE '^==[0-9]+==ERROR|deadly signal|^exit [0-9]' "$l" || true)
    echo "| \`$t\` | $(stat number_of_executed_units) | $cov | $ft | $corp | $(stat slowest_unit_time_sec) s | $(stat peak_rss_mb) MB | $crashes |"
done
