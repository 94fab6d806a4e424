#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time each (default 60 s), on
# stable Rust through RUSTC_BOOTSTRAP. Not part of CI. A crash stops the script and
# leaves the input under fuzz/artifacts/<target>/; keep it as a regression test in
# crates/protocol/tests/ (see docs/verification.md).
#
#   scripts/fuzz.sh            every target, 60 s each
#   scripts/fuzz.sh 300        every target, 300 s each
#   scripts/fuzz.sh 60 envelope handshake
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  printf '\n==> fuzz %s for %s s\n' "$t" "$seconds"
  mkdir -p "corpus/$t"
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048
done
printf '\n==> every target ran %s s without a finding\n' "$seconds"
