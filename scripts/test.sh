#!/bin/sh
# THE test command: installs test dependencies, then runs the unit and
# integration tests, the sops interop check, clippy, rustfmt and cargo deny.
# Debug profile only (CI has 2 cores and 90 minutes).
#
# Usage: sh scripts/test.sh        (from any directory)
# Exits non-zero on any failure.
set -eu

ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

LOGDIR="$ROOT/target/test-logs"
mkdir -p "$LOGDIR"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\ntest.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# run_logged LOG CMD...: run CMD, showing its output and keeping a copy in LOG;
# returns CMD's exit status (POSIX sh has no pipefail).
run_logged() {
    log=$1
    shift
    rm -f "$log.rc"
    { "$@" 2>&1; echo $? >"$log.rc"; } | tee "$log"
    return "$(cat "$log.rc")"
}

step "test dependencies"
sh scripts/test-deps.sh || fail "scripts/test-deps.sh"

step "cargo build --locked (debug: target/debug/sops-rs)"
cargo build --locked || fail "cargo build"

step "cargo test --locked"
run_logged "$LOGDIR/cargo-test.log" cargo test --locked || fail "cargo test"

step "sops interop check (target/debug/sops-rs vs real sops, from a shell)"
[ -f testdata/sops-interop/check.sh ] || fail "testdata/sops-interop/check.sh is missing"
# Absolute path: check.sh cd's into its own directory before running TOOL.
# Every row must pass (tests/interop.rs checks the same rows, with exit codes and leaks).
if ! sh testdata/sops-interop/check.sh "$ROOT/target/debug/sops-rs" >"$LOGDIR/interop.log" 2>&1; then
    sed 's/^/  check.sh: /' "$LOGDIR/interop.log"
    fail "testdata/sops-interop/check.sh: a row failed"
fi
sed 's/^/  check.sh: /' "$LOGDIR/interop.log"

step "cargo clippy --locked --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings || fail "cargo clippy"

step "cargo fmt --check"
cargo fmt --check || fail "cargo fmt --check (run: cargo fmt)"

step "cargo deny check bans licenses sources (deny.toml)"
DENY_PATH="$ROOT/target/tools/bin:$PATH"
PATH="$DENY_PATH" cargo deny --locked check --hide-inclusion-graph bans licenses sources \
    || fail "cargo deny check"

step "cargo deny check advisories"
# The advisory database is a git repository outside the package registries: where it cannot
# be fetched, say so loudly; where it can, every advisory fails the run.
if PATH="$DENY_PATH" cargo deny fetch db >"$LOGDIR/deny-fetch.log" 2>&1; then
    PATH="$DENY_PATH" cargo deny --locked check advisories || fail "cargo deny check advisories"
else
    printf '\n%s\n!!! ADVISORIES NOT CHECKED: the advisory database cannot be fetched here\n!!! (%s)\n%s\n' \
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' \
        "$(grep . "$LOGDIR/deny-fetch.log" | tail -n 1)" \
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
fi

# Overall tally: every `cargo test` binary's "test result:" line.
step "all checks passed"
awk '
    /^test result: / {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^passed;?$/) cp += $(i - 1)
            if ($i ~ /^failed;?$/) cf += $(i - 1)
        }
    }
    END { printf "total: %d passed, %d failed\n", cp, cf }
' "$LOGDIR/cargo-test.log"
