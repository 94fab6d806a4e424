#!/bin/sh
# OpenClaw Fleet agent installer, served by the fleet server at /install.sh.
#
# Reads the agent's settings as NAME='value' lines from standard input (or --settings-file),
# never from arguments, so no secret shows in `ps` or in a saved command line:
#
#   curl -fsSo /tmp/openclaw-fleet-install.sh https://fleet.example.com/install.sh &&
#   sudo sh /tmp/openclaw-fleet-install.sh <<'EOF'
#   OPENCLAW_FLEET_URL='https://fleet.example.com'
#   OPENCLAW_FLEET_AGENT_ID='…'
#   OPENCLAW_FLEET_ENROLLMENT_TOKEN='ocf_et_…'
#   OPENCLAW_FLEET_ENCRYPTION_SECRET='ocf_es_…'
#   EOF
#
# An Ed25519 agent gets OPENCLAW_FLEET_ENROLLMENT_TOKEN (single use: on first start the agent
# makes its key pair in the state directory and enrolls its public key); an HMAC agent gets
# OPENCLAW_FLEET_AGENT_SECRET='ocf_as_…' instead. Exactly one of the two.
#
# It downloads the agent for this machine (the Rust agent when the server has a build for
# `uname -m`, else the Python monitor) from OPENCLAW_FLEET_URL/downloads/, checks its SHA-256
# against the server's SHA256SUMS before anything is installed, writes the settings to
# /etc/openclaw-fleet/agent.env (mode 0600, owned by the agent's user), installs the systemd
# unit and starts it.
#
# Options:
#   --user NAME           the user the agent runs as, owning the env file [default: $SUDO_USER, else root]
#   --settings-file FILE  read the settings from FILE instead of standard input
#   --kind agent|monitor  force the Rust agent or the Python monitor [default: agent if built for this machine]
#   --prefix DIR          install under DIR instead of / (a throwaway root; nothing is started)
#   --no-start            install, but do not enable or start the service
set -eu
umask 077

PROG=openclaw-fleet-install
UNIT=openclaw-fleet-agent
MONITOR=openclaw_fleet_monitor.py

die() {
    printf '%s: %s\n' "$PROG" "$*" >&2
    exit 1
}
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }

prefix=""
run_user="${SUDO_USER:-}"
settings_file=""
kind=""
start=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; start=0; shift 2 ;;
        --user) [ $# -ge 2 ] || die "--user needs a name"; run_user="$2"; shift 2 ;;
        --settings-file) [ $# -ge 2 ] || die "--settings-file needs a file"; settings_file="$2"; shift 2 ;;
        --kind) [ $# -ge 2 ] || die "--kind needs agent or monitor"; kind="$2"; shift 2 ;;
        --no-start) start=0; shift ;;
        -h|--help) sed -n '2,30p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (settings and secrets are read from standard input, never from arguments)" ;;
    esac
done
case "$kind" in ""|agent|monitor) ;; *) die "--kind must be agent or monitor" ;; esac
[ -n "$run_user" ] || run_user=root
[ -n "$prefix" ] && prefix="${prefix%/}"

# --- settings: NAME='value' or NAME=value lines, known names only, plain characters only.
URL=""; AGENT_ID=""; AGENT_SECRET=""; ENROLLMENT_TOKEN=""; ENCRYPTION_SECRET=""; CA_FILE=""; STATE_DIR=""; GATEWAY_URL=""
read_settings() {
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%"$(printf '\r')"}"
        case "$line" in ''|'#'*) continue ;; esac
        name="${line%%=*}"
        [ "$name" != "$line" ] || die "settings line without '=' (expected NAME='value')"
        value="${line#*=}"
        case "$value" in
            \'*\') value="${value#\'}"; value="${value%\'}" ;;
            \"*\") value="${value#\"}"; value="${value%\"}" ;;
        esac
        case "$value" in
            *[!A-Za-z0-9._:/@%+=~,-]*) die "$name holds a character that is not allowed" ;;
        esac
        case "$name" in
            OPENCLAW_FLEET_URL) URL="$value" ;;
            OPENCLAW_FLEET_AGENT_ID) AGENT_ID="$value" ;;
            OPENCLAW_FLEET_AGENT_SECRET) AGENT_SECRET="$value" ;;
            OPENCLAW_FLEET_ENROLLMENT_TOKEN) ENROLLMENT_TOKEN="$value" ;;
            OPENCLAW_FLEET_ENCRYPTION_SECRET) ENCRYPTION_SECRET="$value" ;;
            OPENCLAW_FLEET_CA_FILE) CA_FILE="$value" ;;
            OPENCLAW_STATE_DIR) STATE_DIR="$value" ;;
            OPENCLAW_GATEWAY_URL) GATEWAY_URL="$value" ;;
            *) die "unknown setting $name" ;;
        esac
    done
}
if [ -n "$settings_file" ]; then
    [ -r "$settings_file" ] || die "cannot read $settings_file"
    read_settings <"$settings_file"
else
    [ -t 0 ] && die "pipe the settings in on standard input (NAME='value' lines), or give --settings-file"
    read_settings
fi
[ -n "$URL" ] || die "OPENCLAW_FLEET_URL is missing"
[ -n "$AGENT_ID" ] || die "OPENCLAW_FLEET_AGENT_ID is missing"
if [ -n "$AGENT_SECRET" ] && [ -n "$ENROLLMENT_TOKEN" ]; then
    die "give OPENCLAW_FLEET_AGENT_SECRET (HMAC agent) or OPENCLAW_FLEET_ENROLLMENT_TOKEN (Ed25519 agent), not both"
fi
[ -n "$AGENT_SECRET$ENROLLMENT_TOKEN" ] ||
    die "OPENCLAW_FLEET_ENROLLMENT_TOKEN (Ed25519 agent) or OPENCLAW_FLEET_AGENT_SECRET (HMAC agent) is missing"
case "$URL" in http://*|https://*) ;; *) die "OPENCLAW_FLEET_URL must start with https:// (or http://)" ;; esac
URL="${URL%/}"

id -u "$run_user" >/dev/null 2>&1 || die "no user $run_user (give --user NAME)"
run_group="$(id -gn "$run_user")"
if [ -z "$STATE_DIR" ]; then
    home="$(getent passwd "$run_user" 2>/dev/null | cut -d: -f6)"
    [ -n "$home" ] || die "cannot find the home of $run_user; set OPENCLAW_STATE_DIR"
    STATE_DIR="$home/.openclaw"
fi

# --- download and verify, before anything is installed.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

fetch() { # URL FILE
    if command -v curl >/dev/null 2>&1; then
        if [ -n "$CA_FILE" ]; then
            curl -fsSL --proto '=https,http' --cacert "$CA_FILE" -o "$2" "$1"
        else
            curl -fsSL --proto '=https,http' -o "$2" "$1"
        fi
    elif command -v wget >/dev/null 2>&1; then
        if [ -n "$CA_FILE" ]; then
            wget -q --ca-certificate="$CA_FILE" -O "$2" "$1"
        else
            wget -q -O "$2" "$1"
        fi
    else
        die "neither curl nor wget is installed"
    fi
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        die "neither sha256sum nor shasum is installed"
    fi
}

fetch "$URL/downloads/SHA256SUMS" "$work/SHA256SUMS" || die "cannot download $URL/downloads/SHA256SUMS"

case "$(uname -m)" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) arch="$(uname -m)" ;;
esac
# The plain binary built for this machine: openclaw-fleet-agent-<version>-<arch>-linux.
artifact="$(awk -v arch="$arch" '$2 ~ ("^openclaw-fleet-agent-[0-9][A-Za-z0-9.+~-]*-" arch "-linux$") { print $2 }' \
    "$work/SHA256SUMS" | sort | tail -n 1)"
if [ -z "$kind" ]; then
    if [ -n "$artifact" ]; then kind=agent; else kind=monitor; fi
fi
if [ "$kind" = agent ]; then
    [ -n "$artifact" ] || die "the server has no agent build for $arch; use --kind monitor"
else
    artifact="$MONITOR"
    command -v python3 >/dev/null 2>&1 || [ -n "$prefix" ] || die "the Python monitor needs python3"
    if [ -n "$ENROLLMENT_TOKEN" ] && [ -z "$prefix" ] && ! python3 -c 'import cryptography' >/dev/null 2>&1; then
        die "an Ed25519 agent run by the Python monitor needs the 'cryptography' package (apt-get install python3-cryptography, or pip install cryptography)"
    fi
fi
expected="$(awk -v name="$artifact" '$2 == name { print $1 }' "$work/SHA256SUMS")"
[ -n "$expected" ] || die "$artifact is not in SHA256SUMS"
fetch "$URL/downloads/$artifact" "$work/artifact" || die "cannot download $URL/downloads/$artifact"
actual="$(sha256 "$work/artifact")"
[ "$actual" = "$expected" ] || die "checksum mismatch for $artifact (expected $expected, got $actual): refusing to install"
say "downloaded $artifact (sha256 $actual)"

# --- install.
root="${prefix:-}"
umask 022
if [ "$kind" = agent ]; then
    bin=/usr/local/bin/openclaw-fleet-agent
    exec_start="$bin run"
else
    bin=/usr/local/lib/openclaw-fleet/$MONITOR
    exec_start="/usr/bin/python3 $bin run"
fi
mkdir -p "$root$(dirname "$bin")" "$root/etc/openclaw-fleet" "$root/etc/systemd/system/$UNIT.service.d"
install -m 0755 "$work/artifact" "$root$bin.new"
mv -f "$root$bin.new" "$root$bin"
[ "$kind" = agent ] || chmod 0644 "$root$bin"

env_file="$root/etc/openclaw-fleet/agent.env"
{
    printf '# OpenClaw Fleet agent settings, written by install.sh. Secrets: keep this file 0600.\n'
    printf "OPENCLAW_FLEET_URL='%s'\n" "$URL"
    printf "OPENCLAW_FLEET_AGENT_ID='%s'\n" "$AGENT_ID"
    [ -z "$AGENT_SECRET" ] || printf "OPENCLAW_FLEET_AGENT_SECRET='%s'\n" "$AGENT_SECRET"
    [ -z "$ENROLLMENT_TOKEN" ] || printf "OPENCLAW_FLEET_ENROLLMENT_TOKEN='%s'\n" "$ENROLLMENT_TOKEN"
    [ -z "$ENCRYPTION_SECRET" ] || printf "OPENCLAW_FLEET_ENCRYPTION_SECRET='%s'\n" "$ENCRYPTION_SECRET"
    [ -z "$CA_FILE" ] || printf "OPENCLAW_FLEET_CA_FILE='%s'\n" "$CA_FILE"
    printf "OPENCLAW_STATE_DIR='%s'\n" "$STATE_DIR"
    [ -z "$GATEWAY_URL" ] || printf "OPENCLAW_GATEWAY_URL='%s'\n" "$GATEWAY_URL"
} | (umask 077 && rm -f "$env_file.new" && cat >"$env_file.new")
chown "$run_user:$run_group" "$env_file.new"
chmod 0600 "$env_file.new"
mv -f "$env_file.new" "$env_file"

unit_file="$root/etc/systemd/system/$UNIT.service"
cat >"$unit_file.new" <<'OPENCLAW_FLEET_UNIT'
@AGENT_UNIT@
OPENCLAW_FLEET_UNIT
chmod 0644 "$unit_file.new"
mv -f "$unit_file.new" "$unit_file"
dropin="$root/etc/systemd/system/$UNIT.service.d/install.conf"
{
    printf '# Written by install.sh: the installed %s, run as %s.\n' "$kind" "$run_user"
    printf '[Service]\nUser=%s\nGroup=%s\nExecStart=\nExecStart=%s\n' "$run_user" "$run_group" "$exec_start"
} >"$dropin"
chmod 0644 "$dropin"

say "installed $bin, $UNIT.service (as $run_user), /etc/openclaw-fleet/agent.env (0600, $run_user)"
if [ "$start" = 1 ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable "$UNIT.service" >/dev/null 2>&1 || true
        systemctl restart "$UNIT.service"
        say "started: systemctl status $UNIT"
    else
        say "systemd is not running here: start it with  $exec_start  (settings in /etc/openclaw-fleet/agent.env)"
    fi
fi
