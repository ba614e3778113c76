#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it.
#   - system packages (tshark, tcpdump, chromium, and what lab/apt-packages.txt lists) through apt when root
#   - a virtual environment in .venv with vxlanlens and its test extras
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k decode -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(tshark tcpdump chromium)
if [ -f lab/apt-packages.txt ]; then
  while read -r pkg; do
    pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
    [ -n "$pkg" ] && apt_packages+=("$pkg")
  done < lab/apt-packages.txt
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "== not root (or no apt-get): not installing ${apt_packages[*]}; tests that need them will skip"
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing vxlanlens with its test extras"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

echo "== type-checking the package (mypy, configured in pyproject.toml)"
.venv/bin/python -m mypy

echo "== running the test suite"
exec .venv/bin/python -m pytest "$@"
