#!/usr/bin/env bash
# Benchmark target/release/sops-rs against the real Go sops (the test oracle).
#
# Usage: bash scripts/bench.sh            (from any directory)
#
# Environment:
#   BENCH_QUICK=1       3 runs per measurement instead of 11 (5 for 100k files)
#   BENCH_FILES="..."   subset of: tiny.yaml 1k.yaml 1k.json 10k.yaml 10k.json
#                       10k.toml 10k.env 10k.ini 100k.yaml 100k.json (default: all)
#                       (sops has no TOML store: .toml files are timed for sops-rs only)
#   BENCH_ONLY_SOPS=1   measure the real sops alone (no cargo build, no sops-rs)
#   SOPS_RS_BIN=PATH    sops-rs binary to measure (default target/release/sops-rs;
#                       when set, no cargo build is run)
#   SOPS_RS_ORACLE=PATH real sops binary (default target/tools/bin/sops)
#
# For each input and each op (encrypt to stdout with --age; decrypt to stdout
# with SOPS_AGE_KEY_FILE) the two tools run alternately N times; wall time and
# peak RSS of every run come from /usr/bin/time, and the medians are reported.
# Each tool decrypts the file that it encrypted itself; cross-decryption and
# round trips are checked once, untimed (that pass also warms the page cache).
# Results: stdout and target/bench/results.md (raw samples: target/bench/raw.tsv).
# Needs no network once scripts/test-deps.sh has run.
set -euo pipefail
export LC_ALL=C

ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

OUT="$ROOT/target/bench"
INPUTS="$OUT/inputs"
QUICK=${BENCH_QUICK:-0}
ONLY_SOPS=${BENCH_ONLY_SOPS:-0}
FILES=${BENCH_FILES:-"tiny.yaml 1k.yaml 1k.json 10k.yaml 10k.json 10k.toml 10k.env 10k.ini 100k.yaml 100k.json"}
SOPS=${SOPS_RS_ORACLE:-$ROOT/target/tools/bin/sops}
SOPS_RS=${SOPS_RS_BIN:-$ROOT/target/release/sops-rs}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
sh scripts/test-deps.sh >&2
if [ ! -x /usr/bin/time ]; then
    log "installing Debian package time (for /usr/bin/time)"
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
    }
fi
[ -x /usr/bin/time ] || die "/usr/bin/time is missing"
[ -x "$SOPS" ] || die "real sops not found at $SOPS"

if [ "$ONLY_SOPS" = 1 ]; then
    log "BENCH_ONLY_SOPS=1: measuring the real sops alone"
else
    if [ -z "${SOPS_RS_BIN:-}" ]; then
        log "cargo build --release"
        cargo build --release >&2
    fi
    [ -x "$SOPS_RS" ] || die "sops-rs binary not found at $SOPS_RS"
fi

# ---------------------------------------------------------------------------
# Key and inputs
# ---------------------------------------------------------------------------
mkdir -p "$OUT" "$INPUTS" "$OUT/enc" "$OUT/dec"
KEY="$OUT/key.txt"
rm -f "$KEY"
age-keygen -o "$KEY" 2>/dev/null
PUB=$(age-keygen -y "$KEY")
unset SOPS_AGE_KEY SOPS_AGE_KEY_CMD SOPS_AGE_SSH_PRIVATE_KEY_FILE SOPS_AGE_RECIPIENTS
export SOPS_AGE_KEY_FILE="$KEY"

log "generating inputs in $INPUTS"
python3 scripts/gen_bench_inputs.py "$INPUTS" >&2

# Small armored age file, for the "tiny decrypt within 1.5x of age -d" target.
AGEFILE="$OUT/tiny.yaml.age"
age -a -r "$PUB" -o "$AGEFILE" "$INPUTS/tiny.yaml"

# Tools as argument lists. Index 0 = sops-rs, 1 = sops, 2 = age (decrypting
# the small armored age file, whatever FILE is; only timed next to tiny.yaml).
TOOL_NAMES=(sops-rs sops age)
enc_cmd() { # TOOL FILE
    if [ "$1" = 0 ]; then CMD=("$SOPS_RS" encrypt --age "$PUB" "$2")
    else CMD=("$SOPS" --disable-version-check encrypt --age "$PUB" "$2"); fi
}
dec_cmd() { # TOOL FILE
    case "$1" in
        0) CMD=("$SOPS_RS" decrypt "$2") ;;
        1) CMD=("$SOPS" --disable-version-check decrypt "$2") ;;
        2) CMD=(age -d -i "$KEY" "$AGEFILE") ;;
    esac
}
if [ "$ONLY_SOPS" = 1 ]; then ALL_TOOLS=(1); else ALL_TOOLS=(0 1); fi
TOOLS=("${ALL_TOOLS[@]}")

# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------
TIMEF="$OUT/.time"
ERRF="$OUT/.stderr"
RAW="$OUT/raw.tsv"
printf 'file\top\ttool\trun\twall_us\ttime_e_s\tmaxrss_kib\n' >"$RAW"

# measure: run "${CMD[@]}" once (stdout discarded) under /usr/bin/time.
# Sets M_US (wall time, microseconds) and M_KB (peak RSS, KiB). The wall time is
# taken with bash's microsecond clock around /usr/bin/time, since its own %e
# has only 10 ms resolution (%e is kept in raw.tsv).
measure() {
    local t0 t1
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%e %M' -o "$TIMEF" "${CMD[@]}" >/dev/null 2>"$ERRF"; then
        cat "$ERRF" >&2
        die "command failed: ${CMD[*]}"
    fi
    t1=$EPOCHREALTIME
    M_US=$(( 10#${t1/./} - 10#${t0/./} ))
    read -r M_E M_KB < <(tail -n 1 "$TIMEF")
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# run_alternating FILE OP N TOOL... : N rounds, each running the TOOLs in
# turn (sops-rs, sops[, age]) on FILE, TOOLs given as indices (see TOOL_NAMES);
# the input of tool t is FILE_OF[t]. Sets MED_US[t] and MED_KB[t] (medians of
# wall time and of peak RSS) for each tool, "" for tools not run.
declare -a FILE_OF MED_US MED_KB
run_alternating() {
    local file=$1 op=$2 n=$3 t i
    shift 3
    local -a tools=("$@") us=("" "" "") kb=("" "" "")
    for ((i = 1; i <= n; i++)); do
        for t in "${tools[@]}"; do
            if [ "$op" = encrypt ]; then enc_cmd "$t" "${FILE_OF[$t]}"; else dec_cmd "$t" "${FILE_OF[$t]}"; fi
            measure
            printf '%s\t%s\t%s\t%d\t%d\t%s\t%d\n' "$file" "$op" "${TOOL_NAMES[$t]}" "$i" "$M_US" "$M_E" "$M_KB" >>"$RAW"
            us[t]+="$M_US "
            kb[t]+="$M_KB "
        done
    done
    MED_US=("" "" ""); MED_KB=("" "" "")
    for t in "${tools[@]}"; do
        # shellcheck disable=SC2086 # word splitting of the sample lists is intended
        MED_US[t]=$(printf '%s\n' ${us[t]} | median)
        # shellcheck disable=SC2086
        MED_KB[t]=$(printf '%s\n' ${kb[t]} | median)
    done
}

human_size() { awk -v b="$1" 'BEGIN {
    if (b < 1024) printf "%d B", b
    else if (b < 1048576) printf "%.1f KiB", b / 1024
    else printf "%.1f MiB", b / 1048576 }'; }
# Formatting; an empty value (tool not measured) prints as a dash.
ms() {
    if [ -z "$1" ]; then printf '–'; return; fi
    awk -v u="$1" 'BEGIN { printf (u < 100000 ? "%.1f" : "%.0f"), u / 1000 }'
}
mib() {
    if [ -z "$1" ]; then printf '–'; return; fi
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}
ratio() { # SOPS_RS_US SOPS_US
    if [ -z "$1" ] || [ -z "$2" ]; then printf '–'; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", b / a }'
}
# mem_target INPUT_BYTES KB: "<target> MiB: pass|FAIL" (2.5 x input + 10 MiB)
mem_target() {
    awk -v b="$1" -v k="$2" 'BEGIN {
        t = 2.5 * b + 10 * 1048576
        printf "%.1f MiB: ", t / 1048576
        if (k == "") printf "–"; else if (k * 1024 <= t) printf "pass"; else printf "**FAIL**" }'
}

# ---------------------------------------------------------------------------
# Correctness pass (untimed; also warms the page cache)
# ---------------------------------------------------------------------------
# semantically_equal ORIG FILE...: prints "ok" or what differs. JSON is always
# checked; YAML only if PyYAML is importable.
semantically_equal() {
    python3 - "$@" <<'EOF'
import json, sys
orig, others = sys.argv[1], sys.argv[2:]
def load_env(p):
    return dict(l.split("=", 1) for l in open(p).read().splitlines() if l and not l.startswith("#"))
def load_ini(p):
    import configparser
    c = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    c.optionxform = str
    c.read(p)
    return {s: dict(c[s]) for s in c.sections()}
if orig.endswith(".json"):
    load = lambda p: json.load(open(p))
elif orig.endswith(".toml"):
    import tomllib
    load = lambda p: tomllib.load(open(p, "rb"))
elif orig.endswith(".env"):
    load = load_env
elif orig.endswith(".ini"):
    load = load_ini
else:
    try:
        import yaml
    except ImportError:
        print("not checked (no PyYAML)"); sys.exit(0)
    load = lambda p: yaml.safe_load(open(p))
want = load(orig)
bad = []
for p in others:
    try:
        if load(p) != want:
            bad.append(p.rsplit("/", 1)[-1] + " differs")
    except Exception as e:
        bad.append(p.rsplit("/", 1)[-1] + " unparsable: " + type(e).__name__)
print("ok" if not bad else "; ".join(bad))
EOF
}

declare -A NOTES
prepare() { # FILE: encrypt once with each tool, decrypt own + cross
    local f=$1 in="$INPUTS/$1" t u status
    for t in "${TOOLS[@]}"; do
        enc_cmd "$t" "$in"
        "${CMD[@]}" >"$OUT/enc/${TOOL_NAMES[$t]}.$f" 2>"$ERRF" || { cat "$ERRF" >&2; die "encrypt failed: ${CMD[*]}"; }
    done
    local -a outs=() notes=()
    for t in "${TOOLS[@]}"; do
        for u in "${TOOLS[@]}"; do
            local o="$OUT/dec/${TOOL_NAMES[$t]}-from-${TOOL_NAMES[$u]}.$f"
            dec_cmd "$t" "$OUT/enc/${TOOL_NAMES[$u]}.$f"
            if "${CMD[@]}" >"$o" 2>"$ERRF"; then
                outs+=("$o")
            else
                notes+=("${TOOL_NAMES[$t]} cannot decrypt ${TOOL_NAMES[$u]}'s encryption: $(head -c 200 "$ERRF" | tr '\n' ' ')")
            fi
        done
    done
    if [ "${#outs[@]}" -gt 0 ]; then
        status=$(semantically_equal "$in" "${outs[@]}")
        notes+=("${#outs[@]} decryption(s), own and cross, vs input: $status")
    fi
    NOTES[$f]=$(IFS='|'; printf '%s' "${notes[*]}")
}

leaves_of() { awk -F'\t' -v f="$1" '$1 == f { print $2 }' "$INPUTS/manifest.tsv"; }
bytes_of() { stat -c %s "$1"; }

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------
ROWS=()
TINY_DEC_US=""
AGE_US=""
for f in $FILES; do
    [ -f "$INPUTS/$f" ] || die "unknown input $f (have: $(cut -f1 "$INPUTS/manifest.tsv" | tr '\n' ' '))"
    # sops has no TOML store (it would encrypt the file as binary): sops-rs alone
    case "$f" in
        *.toml) TOOLS=(0) ;;
        *) TOOLS=("${ALL_TOOLS[@]}") ;;
    esac
    if [ "${#TOOLS[@]}" -eq 0 ] || { [ "$ONLY_SOPS" = 1 ] && [ "${f##*.}" = toml ]; }; then
        log "$f: skipped (sops has no TOML store)"
        continue
    fi
    case "$f" in
        100k.*) n=5 ;;
        *) n=11 ;;
    esac
    [ "$QUICK" = 1 ] && n=3
    leaves=$(leaves_of "$f")
    log "$f: prepare (encrypt once per tool, decrypt own + cross)"
    prepare "$f"

    log "$f: encrypt x$n"
    FILE_OF=("$INPUTS/$f" "$INPUTS/$f" "$AGEFILE")
    run_alternating "$f" encrypt "$n" "${TOOLS[@]}"
    size=$(bytes_of "$INPUTS/$f")
    ROWS+=("| $f | $leaves | $(human_size "$size") | encrypt | $(ms "${MED_US[0]}") | $(ms "${MED_US[1]}") | $(ratio "${MED_US[0]}" "${MED_US[1]}") | $(mib "${MED_KB[0]}") | $(mib "${MED_KB[1]}") | $(mem_target "$size" "${MED_KB[0]}") |")

    FILE_OF=("$OUT/enc/sops-rs.$f" "$OUT/enc/sops.$f" "$AGEFILE")
    if [ "$f" = tiny.yaml ]; then
        # age -d on the small armored age file takes turns with the two tools.
        log "$f: decrypt x$n (and age -d)"
        run_alternating "$f" decrypt "$n" "${TOOLS[@]}" 2
        TINY_DEC_US=${MED_US[0]}
        AGE_US=${MED_US[2]}
    else
        log "$f: decrypt x$n"
        run_alternating "$f" decrypt "$n" "${TOOLS[@]}"
    fi
    # input of a decrypt = the encrypted file that the tool reads (sops-rs's own
    # encryption; the real sops's when sops-rs is not measured)
    if [ "$ONLY_SOPS" = 1 ]; then size=$(bytes_of "$OUT/enc/sops.$f"); else size=$(bytes_of "$OUT/enc/sops-rs.$f"); fi
    ROWS+=("| $f | $leaves | $(human_size "$size") | decrypt | $(ms "${MED_US[0]}") | $(ms "${MED_US[1]}") | $(ratio "${MED_US[0]}" "${MED_US[1]}") | $(mib "${MED_KB[0]}") | $(mib "${MED_KB[1]}") | $(mem_target "$size" "${MED_KB[0]}") |")
done

# Tiny-file target: sops-rs decrypt of tiny.yaml within 1.5x of age -d.
AGE_LINE=""
if [ -n "$AGE_US" ]; then
    tiny_ms="–"
    if [ -n "$TINY_DEC_US" ]; then
        tiny_ms="$(ms "$TINY_DEC_US") ms"
        verdict=$(awk -v s="$TINY_DEC_US" -v a="$AGE_US" 'BEGIN {
            printf "%.2f× age -d: %s", s / a, (s <= 1.5 * a ? "pass" : "**FAIL**") }')
    else
        verdict="– (sops-rs not measured)"
    fi
    AGE_LINE="Tiny-file target (sops-rs \`decrypt tiny.yaml\` within 1.5× of \`age -d -i key.txt\` on a $(human_size "$(bytes_of "$AGEFILE")") armored age file): age -d median $(ms "$AGE_US") ms, sops-rs median $tiny_ms → $verdict"
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
sops_rs_version="not measured"
if [ "$ONLY_SOPS" != 1 ]; then
    sops_rs_version=$("$SOPS_RS" --version 2>/dev/null | head -n 1 || true)
    sops_rs_version=${sops_rs_version:-unknown}
fi
{
    echo "# sops-rs benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "- sops-rs: $SOPS_RS ($sops_rs_version)"
    echo "- sops: $SOPS ($("$SOPS" --disable-version-check --version 2>/dev/null | head -n 1))"
    if [ "$QUICK" = 1 ]; then runs="3 (BENCH_QUICK=1)"; else runs="11 (5 for 100k files)"; fi
    echo "- runs per measurement: $runs, alternating sops-rs / sops; medians of wall time (bash clock around /usr/bin/time) and of peak RSS (/usr/bin/time %M)"
    echo "- encrypt: \`encrypt --age <recipient> FILE\` to stdout; decrypt: \`decrypt FILE\` to stdout with SOPS_AGE_KEY_FILE, each tool decrypting its own encryption"
    echo "- input size: the file the op reads (plaintext for encrypt, the tool's encrypted file for decrypt); speed-up = sops / sops-rs; memory target: sops-rs peak RSS ≤ 2.5 × input + 10 MiB"
    echo
    echo "| file | leaves | input size | op | sops-rs median ms | sops median ms | speed-up | sops-rs peak MiB | sops peak MiB | memory target |"
    echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    [ -n "$AGE_LINE" ] && { echo "$AGE_LINE"; echo; }
    echo "Correctness (untimed, decrypted output compared with the input as data):"
    echo
    for f in $FILES; do
        IFS='|' read -r -a notes <<<"${NOTES[$f]}"
        for note in "${notes[@]}"; do echo "- $f: $note"; done
    done
} | tee "$OUT/results.md"
log "written: target/bench/results.md, raw samples: target/bench/raw.tsv"
