#!/usr/bin/env bash
# Install vxlanlens into .venv and explain the shipped reference scenario (the README's first command).
# Extra arguments go to `vxlanlens explain` (e.g. `bash scripts/quickstart.sh -f md`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv
echo "== installing vxlanlens into .venv"
.venv/bin/python -m pip install -q .
dir=captures/cilium-dual-stack
echo "== .venv/bin/vxlanlens explain $dir/pod-eth0.pcap $dir/worker-eth0.pcap --topology $dir/topology $*"
exec .venv/bin/vxlanlens explain "$dir/pod-eth0.pcap" "$dir/worker-eth0.pcap" --topology "$dir/topology" "$@"
