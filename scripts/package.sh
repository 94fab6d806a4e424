#!/usr/bin/env bash
# Builds the release artifacts into dist/ (or $DIST_DIR):
#   openclaw-fleet_<v>-1_<debarch>.deb, openclaw-fleet-<v>-<arch>-linux.tar.gz      the server
#   openclaw-fleet-agent_<v>-1_<debarch>.deb, openclaw-fleet-agent-<v>-<arch>-linux.tar.gz,
#   openclaw-fleet-agent-<v>-<arch>-linux (the plain binary, what /install.sh fetches)   the agent
#   SHA256SUMS
# The .deb files are made by cargo-deb from [package.metadata.deb] in each crate's
# Cargo.toml (installed with `cargo install cargo-deb --locked` when missing). Serve the
# agent's artifacts to hosts with `openclaw-fleet serve --agent-dist dist/`.
#
#   scripts/package.sh                            release build of both
#   scripts/package.sh --only agent --profile dev  a quick debug build of the agent (CI's package test)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
only="server agent"
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$profile" in dev) profile_dir=debug ;; *) profile_dir="$profile" ;; esac

dist="${DIST_DIR:-$PWD/dist}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
arch="$(uname -m)"
mkdir -p "$dist"

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "==> installing cargo-deb (once)"
  cargo install cargo-deb --locked --quiet
fi

crate_of() { case "$1" in server) echo openclaw-fleet ;; agent) echo openclaw-fleet-agent ;; esac; }

for part in $only; do
  crate="$(crate_of "$part")"
  [ -n "$crate" ] || { echo "package.sh: --only takes server and/or agent" >&2; exit 2; }
  echo "==> $crate: build ($profile)"
  if [ "$profile" = dev ]; then
    # The workspace's feature set, as scripts/test.sh builds it: nothing recompiles.
    cargo build --workspace --bins
  else
    cargo build --profile "$profile" -p "$crate" --bin "$crate"
  fi
  bin="$target/$profile_dir/$crate"

  echo "==> $crate: .deb"
  cargo deb -p "$crate" --no-build --profile "$profile" --output "$dist" >/dev/null

  echo "==> $crate: tarball"
  stage="$(mktemp -d)"
  name="$crate-$version-$arch-linux"
  mkdir "$stage/$name"
  install -m 0755 "$bin" "$stage/$name/$crate"
  install -m 0644 "packaging/systemd/$crate.service" LICENSE LICENSE-MIT LICENSE-APACHE "$stage/$name/"
  if [ "$part" = agent ]; then
    install -m 0644 packaging/deb/agent/agent.env crates/agent/README.md "$stage/$name/"
    install -m 0755 "$bin" "$dist/$name"
  else
    install -m 0644 packaging/deb/server/server.toml README.md "$stage/$name/"
  fi
  tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$dist/$name.tar.gz" "$name"
  rm -rf "$stage"
done

echo "==> SHA256SUMS"
sums="$(cd "$dist" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort \
  | xargs sha256sum)"
printf '%s\n' "$sums" >"$dist/SHA256SUMS"
cat "$dist/SHA256SUMS"
