#!/usr/bin/env bash
# Run a command with the real backends up, then leave them as they were.
#
#   bash scripts/with-backends.sh CMD [ARGS...]
#
# `make test` runs pytest through this, so the README's two commands are
# really two on a fresh machine: the backends are installed once (the install
# is idempotent: a second run takes seconds), started if they are not running,
# their addresses exported from .backends/env, and afterwards only the ones
# this script started are stopped. Backends that were already running (a
# developer's, or `.ci/run`'s) are reused and left running.
#
# LLMDECK_NO_BACKENDS=1 skips all of it: CMD runs as is and the backend tests
# skip, saying why (`-rs`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BACKENDS=(bash scripts/backends.sh)
NAMES=(prometheus alertmanager mlflow unleash llama)

if [[ ${LLMDECK_NO_BACKENDS:-} == 1 ]]; then
    exec "$@"
fi

"${BACKENDS[@]}" install

started=()
for name in "${NAMES[@]}"; do
    if "${BACKENDS[@]}" status "$name" >/dev/null 2>&1; then
        echo "[with-backends] $name already running: reusing it" >&2
    else
        started+=("$name")
    fi
done

stop_started() {
    local rc=$?
    if [[ ${#started[@]} -gt 0 ]]; then
        "${BACKENDS[@]}" stop "${started[@]}" || true
    fi
    exit "$rc"
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ${#started[@]} -gt 0 ]]; then
    "${BACKENDS[@]}" start "${started[@]}"
fi
set -a
# shellcheck disable=SC1091
. .backends/env
set +a

"$@"
