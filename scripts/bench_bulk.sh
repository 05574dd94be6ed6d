#!/usr/bin/env bash
# Many files: `sops-rs decrypt --recursive DIR --output-dir OUT` against a shell loop of the
# real sops (`for f in ...; do sops decrypt "$f" > out/$f; done`), the way a GitOps render
# step decrypts a directory of secrets.
#
# Usage: bash scripts/bench_bulk.sh        (from any directory)
# Environment:
#   BULK_FILES=N        number of files (default 1000)
#   BULK_RUNS=N         runs per tool; the median is reported (default 3)
#   SOPS_RS_BIN=PATH    sops-rs binary (default target/release/sops-rs, built if missing)
#   SOPS_RS_ORACLE=PATH real sops (default target/tools/bin/sops)
# Every output is checked against its plaintext once, untimed.
set -euo pipefail
export LC_ALL=C

ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${BULK_FILES:-1000}
RUNS=${BULK_RUNS:-3}
SOPS=${SOPS_RS_ORACLE:-$ROOT/target/tools/bin/sops}
SOPS_RS=${SOPS_RS_BIN:-$ROOT/target/release/sops-rs}
KEY="$ROOT/testdata/sops-interop/keys/key1.txt"
RECIPIENT=$(grep -o 'age1[0-9a-z]*' "$ROOT/testdata/sops-interop/keys/key1.pub" | head -n1)

[ -x "$SOPS" ] || { echo "bench_bulk: run scripts/test-deps.sh first (no $SOPS)" >&2; exit 1; }
if [ -z "${SOPS_RS_BIN:-}" ]; then
    cargo build --release --locked -q
fi

W="$ROOT/target/bench/bulk"
rm -rf "$W"
mkdir -p "$W/plain" "$W/in"
for i in $(seq 1 "$N"); do
    printf '# service %s\ndatabase:\n    user: svc%s\n    password: pw-%s-%s\n    port: %s\nfeature_flags:\n    - a\n    - b\n' \
        "$i" "$i" "$i" "$RANDOM" "$((5000 + i))" > "$W/plain/s$i.yaml"
done
cp "$W/plain/"*.yaml "$W/in/"
"$SOPS_RS" encrypt --age "$RECIPIENT" -i "$W/in/"*.yaml 2>/dev/null

export SOPS_AGE_KEY_FILE="$KEY"
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ours=()
theirs=()
for r in $(seq 1 "$RUNS"); do
    rm -rf "$W/out1" "$W/out2"
    mkdir -p "$W/out2"
    t0=$(now)
    "$SOPS_RS" decrypt --recursive "$W/in" --output-dir "$W/out1" 2>/dev/null
    t1=$(now)
    for f in "$W/in/"*.yaml; do
        "$SOPS" --disable-version-check decrypt "$f" > "$W/out2/$(basename "$f")"
    done
    t2=$(now)
    ours+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
    theirs+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}')")
done
# sops-rs gives back the exact plaintext; sops its own rendering (same data here)
for i in $(seq 1 "$N"); do
    cmp -s "$W/plain/s$i.yaml" "$W/out1/s$i.yaml" || { echo "bench_bulk: s$i.yaml differs" >&2; exit 1; }
done
a=$(printf '%s\n' "${ours[@]}" | median)
b=$(printf '%s\n' "${theirs[@]}" | median)
printf '| %s files | sops-rs decrypt --recursive | %.2f s | sops loop | %.2f s | %.1fx |\n' \
    "$N" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')"
