#!/usr/bin/env bash
# proves S-DEPS-1: the dependency gate fails on a known vulnerability.
# Plants an advisory against a crate we really depend on (itoa, via serde_json) in a copy of
# the RustSec snapshot, runs the same `cargo deny` check CI runs against that copy, and fails
# unless cargo deny refuses the build and names the planted advisory.
set -euo pipefail
cd "$(dirname "$0")/.."

db_path=$(../shared/tools/prepare-advisory-db)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo_name=$(basename "$(ls -d "$db_path"/advisory-db-*/ | head -1)")
cp -R "$db_path/$repo_name" "$work/$repo_name"
mkdir -p "$work/$repo_name/crates/itoa"
cat > "$work/$repo_name/crates/itoa/RUSTSEC-2099-0001.md" <<'ADVISORY'
```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "itoa"
date = "2026-11-29"
categories = ["memory-corruption"]

[versions]
patched = [">= 99.0.0"]
```

# Planted by PostRoute's CI self-test

Not a real advisory: it proves that a known vulnerability fails the build.
ADVISORY
git -C "$work/$repo_name" add -A
git -C "$work/$repo_name" -c user.email=ci@localhost -c user.name=ci commit -qm "planted advisory"

sed "s|^db-path = .*|db-path = \"$work\"|" deny.toml > "$work/deny.toml"
if output=$(cargo deny --offline --config "$work/deny.toml" check advisories 2>&1); then
  echo "cargo deny passed despite a known vulnerability:" >&2
  echo "$output" >&2
  exit 1
fi
if ! grep -q "RUSTSEC-2099-0001" <<<"$output"; then
  echo "cargo deny failed, but not because of the planted advisory:" >&2
  echo "$output" >&2
  exit 1
fi
echo "cargo deny refuses a dependency with a known vulnerability (planted RUSTSEC-2099-0001)"
