#!/usr/bin/env bash
# The local BigQuery emulator (PyPI's local-bigquery) for the offline BigQuery tests.
#
#   tools/bigquery_emulator.sh setup                  create or refresh .venv-bq (idempotent; fast when current)
#   tools/bigquery_emulator.sh serve PORT GRPC_PORT DATA_DIR
#                                                     run it in the foreground on 127.0.0.1 (loopback only)
#   tools/bigquery_emulator.sh python                 print the Python 3.13+ it builds the venv with
#
# The emulator needs Python >= 3.13, so it gets a venv of its own (.venv-bq, or $C360_BQ_VENV), separate from
# the project's .venv. The Python is $C360_BQ_PYTHON, else python3.13/3.14/3.15 on PATH, else a pyenv version.
# Only PyPI is used: the pinned packages of tools/bigquery_emulator.lock, and DuckDB's icu/ducklake/spatial
# extensions from their PyPI wheels, installed into the emulator's own DuckDB home (.venv-bq/duckdb-home) so
# that DuckDB never tries to download them. Exit status 3: no suitable Python (the tests skip on that).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${C360_BQ_VENV:-$ROOT/.venv-bq}"
LOCK="$ROOT/tools/bigquery_emulator.lock"
HOME_DIR="$VENV/duckdb-home"
EXTENSIONS="icu ducklake spatial"

find_python() {
    local cand v root
    if [[ -n "${C360_BQ_PYTHON:-}" ]]; then echo "$C360_BQ_PYTHON"; return 0; fi
    for cand in python3.13 python3.14 python3.15; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert (3, 13) <= sys.version_info[:2] < (3, 16)' \
            >/dev/null 2>&1; then
            command -v "$cand"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[3-5]\.[0-9]+$' | sort -rV); do
            if [[ -x "$root/versions/$v/bin/python3" ]]; then echo "$root/versions/$v/bin/python3"; return 0; fi
        done
    fi
    return 1
}

stamp_value() {
    cat "$LOCK" "$0" | sha256sum | cut -d' ' -f1
}

setup() {
    local py want
    exec 9>"$VENV.lock"
    flock 9  # one setup at a time (parallel test sessions)
    want="$(stamp_value)"
    if [[ -f "$VENV/.c360-stamp" && "$(cat "$VENV/.c360-stamp")" == "$want" && -x "$VENV/bin/local-bigquery" ]]; then
        echo "bigquery emulator: $VENV is up to date"
        return 0
    fi
    if ! py="$(find_python)"; then
        echo "bigquery emulator: no Python >= 3.13 found (set C360_BQ_PYTHON); cannot set it up" >&2
        exit 3
    fi
    echo "bigquery emulator: building $VENV with $py ($("$py" --version 2>&1))"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    local log="$VENV/pip-install.log"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps --only-binary=:all: -r "$LOCK" \
        >"$log" 2>&1; then
        grep -v '^WARNING: Location' "$log" >&2
        echo "bigquery emulator: pip install failed (see $log)" >&2
        exit 1
    fi
    "$VENV/bin/python" -c 'import local_bigquery, duckdb; assert duckdb.__version__ == "1.5.5", duckdb.__version__'
    mkdir -p "$HOME_DIR"
    HOME="$HOME_DIR" "$VENV/bin/python" - $EXTENSIONS <<'PY'
import importlib.util, pathlib, sys
import duckdb
con = duckdb.connect()
for ext in sys.argv[1:]:
    spec = importlib.util.find_spec(f"duckdb_extension_{ext}")
    files = sorted(pathlib.Path(spec.origin).parent.rglob(f"{ext}.duckdb_extension"))
    if not files:
        sys.exit(f"no {ext}.duckdb_extension in its wheel")
    con.execute(f"INSTALL '{files[0]}'")
    con.execute(f"LOAD {ext}")  # signature checked here: only a genuine DuckDB build loads
print("bigquery emulator: duckdb extensions installed:", ", ".join(sys.argv[1:]))
PY
    echo "$want" > "$VENV/.c360-stamp"
}

case "${1:-}" in
    setup) setup ;;
    python) find_python || { echo "no Python >= 3.13 found" >&2; exit 3; } ;;
    serve)
        [[ $# -eq 4 ]] || { echo "usage: $0 serve PORT GRPC_PORT DATA_DIR" >&2; exit 2; }
        [[ -x "$VENV/bin/local-bigquery" ]] || { echo "run $0 setup first" >&2; exit 2; }
        mkdir -p "$4"
        export HOME="$HOME_DIR"  # the emulator's DuckDB finds its extensions here and downloads nothing
        exec "$VENV/bin/local-bigquery" serve --host 127.0.0.1 --port "$2" --grpc-port "$3" \
            --project test-project --data-dir "$4"
        ;;
    *) echo "usage: $0 setup | serve PORT GRPC_PORT DATA_DIR | python" >&2; exit 2 ;;
esac
