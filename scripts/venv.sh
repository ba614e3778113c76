# Sourced by scripts/quickstart.sh and scripts/test.sh: make sure .venv can be (or has been) created.
# On a minimal Debian/Ubuntu, `python3 -m venv` needs the python3-venv package (ensurepip): install
# it when root, otherwise say the one command that fixes it.
ensure_venv() {
  if [ -x .venv/bin/python ]; then
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "vxlanlens: error: python3 is not installed (Debian/Ubuntu: apt-get install -y python3 python3-venv)" >&2
    exit 1
  fi
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== python3 cannot create virtual environments: installing python3-venv"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      echo "vxlanlens: error: python3 cannot create virtual environments (ensurepip is missing); fix: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
  echo "== creating .venv"
  python3 -m venv .venv
}
