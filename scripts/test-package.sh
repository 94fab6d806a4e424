#!/usr/bin/env bash
# The agent's .deb, as a host meets it: built by scripts/package.sh (debug profile, to save
# time), inspected with dpkg-deb (files, owners, modes, the unit, the maintainer scripts),
# its unit checked by `systemd-analyze verify`, then (as root, when the package is not
# installed here already) installed with `dpkg -i`, its settings file created 0640 and kept
# across a reinstall, removed with `dpkg -r` (settings kept) and purged (settings gone).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
pass=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
DIST_DIR="$work/dist" scripts/package.sh --only agent --profile dev >"$work/package.log" 2>&1 \
  || { cat "$work/package.log"; fail "package.sh"; }
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
arch="$(uname -m)"
deb="$(ls "$work"/dist/openclaw-fleet-agent_*.deb)"
[ -f "$deb" ] || fail "no agent .deb in dist/"
for f in "openclaw-fleet-agent-$version-$arch-linux" "openclaw-fleet-agent-$version-$arch-linux.tar.gz" SHA256SUMS; do
  [ -f "$work/dist/$f" ] || fail "dist/$f is missing"
done
(cd "$work/dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match dist/"
ok "package.sh wrote the .deb, the tarball, the plain binary and a matching SHA256SUMS"

# Files, owners and modes.
dpkg-deb -c "$deb" | awk '{sub("^0/0$", "root/root", $2); print $1, $2, $6}' >"$work/contents"
expect() { grep -qxF -- "$1" "$work/contents" || { cat "$work/contents"; fail "missing in the .deb: $1"; }; }
expect "-rwxr-xr-x root/root ./usr/bin/openclaw-fleet-agent"
expect "-rw-r--r-- root/root ./lib/systemd/system/openclaw-fleet-agent.service"
expect "-rw-r--r-- root/root ./usr/share/openclaw-fleet-agent/agent.env"
if grep -q '\./etc/' "$work/contents"; then fail "the .deb ships files in /etc (the settings are made by postinst)"; fi
ok "dpkg-deb -c: binary 0755, unit 0644, settings template 0644, all root-owned, nothing in /etc"

dpkg-deb -f "$deb" Package Version Depends >"$work/control"
grep -qx "Package: openclaw-fleet-agent" "$work/control" || fail "package name"
grep -q "^Depends: .*ca-certificates" "$work/control" || fail "Depends lacks ca-certificates"
dpkg-deb -e "$deb" "$work/control.d"
for script in postinst prerm postrm; do
  [ -x "$work/control.d/$script" ] || fail "no $script"
  cmp -s "$work/control.d/$script" "packaging/deb/agent/$script" || fail "$script differs from packaging/"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/openclaw-fleet-agent.service >"$work/unit"
cmp -s "$work/unit" packaging/systemd/openclaw-fleet-agent.service || fail "the unit differs from packaging/"
ok "dpkg-deb -f/-e: name, Depends, maintainer scripts and unit are the ones in packaging/"

if command -v systemd-analyze >/dev/null 2>&1; then
  # The unit with its binary where it names it, checked offline.
  mkdir -p "$work/root"
  dpkg-deb -x "$deb" "$work/root"
  sed "s#/usr/bin/openclaw-fleet-agent#$work/root/usr/bin/openclaw-fleet-agent#; s#^EnvironmentFile=#EnvironmentFile=-#" \
    "$work/unit" >"$work/openclaw-fleet-agent.service"
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/openclaw-fleet-agent.service" \
    >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
  if grep -i "openclaw" "$work/verify.log"; then fail "systemd-analyze verify warned about the unit"; fi
  ok "systemd-analyze verify: the unit is valid"
else
  echo "skip - systemd-analyze is not installed"
fi

if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null 2>&1; then
  echo "skip - dpkg -i needs root"
elif dpkg-query -W -f='${Status}' openclaw-fleet-agent 2>/dev/null | grep -q "installed"; then
  echo "skip - openclaw-fleet-agent is installed on this machine; not touching it"
elif [ -e /etc/openclaw-fleet/agent.env ]; then
  echo "skip - /etc/openclaw-fleet/agent.env exists on this machine; not touching it"
else
  cleanup() { dpkg -P openclaw-fleet-agent >/dev/null 2>&1 || true; rm -rf "$work"; }
  trap cleanup EXIT
  dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
  [ "$(stat -c '%a %U %G' /etc/openclaw-fleet/agent.env)" = "640 root root" ] \
    || fail "settings file: $(stat -c '%a %U %G' /etc/openclaw-fleet/agent.env)"
  /usr/bin/openclaw-fleet-agent version >/dev/null || fail "the installed agent does not run"
  if command -v systemd-analyze >/dev/null 2>&1; then
    SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no /lib/systemd/system/openclaw-fleet-agent.service \
      >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify (installed)"; }
  fi
  ok "dpkg -i: the agent runs, /etc/openclaw-fleet/agent.env is 0640 root:root"

  echo "OPENCLAW_FLEET_URL=https://kept.example" >>/etc/openclaw-fleet/agent.env
  dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i (again)"; }
  grep -qx "OPENCLAW_FLEET_URL=https://kept.example" /etc/openclaw-fleet/agent.env \
    || fail "a reinstall overwrote the settings"
  ok "a reinstall keeps the settings file as it was"

  dpkg -r openclaw-fleet-agent >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
  [ ! -e /usr/bin/openclaw-fleet-agent ] || fail "dpkg -r left the binary"
  [ ! -e /lib/systemd/system/openclaw-fleet-agent.service ] || fail "dpkg -r left the unit"
  [ -e /etc/openclaw-fleet/agent.env ] || fail "dpkg -r removed the settings (only purge should)"
  dpkg -P openclaw-fleet-agent >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -P"; }
  [ ! -e /etc/openclaw-fleet/agent.env ] || fail "purge left the settings file"
  if dpkg-query -W -f='${Status}' openclaw-fleet-agent 2>/dev/null | grep -q "installed"; then fail "still installed"; fi
  ok "dpkg -r removes binary and unit and keeps the settings; dpkg -P removes them"
fi
echo "$pass passed, 0 failed"
