#!/usr/bin/env bash
# Mutation testing of the core's arithmetic and bookkeeping (issue 24): mutmut over
# sam_plugins/engine/, sam_plugins/methods/, sam_plugins/recorder.py and
# sam_plugins/analysis/store.py, each mutant checked by the tests that reach it among
# the [tool.mutmut] test selection of pyproject.toml (not the whole suite). Not run in CI.
#
#   benchmarks/mutation.sh                      # every mutant (about 2 h on 2 cores)
#   benchmarks/mutation.sh NAME...              # these mutants again (after new tests)
#   benchmarks/mutation.sh 'sam_plugins.recorder*' 'sam_plugins.engine*'   # some modules
#   MUTATION_SAMPLE=20 MUTATION_SEED=0 benchmarks/mutation.sh   # 20 per module group, seeded
#   MUTATION_JOBS=2 MUTATION_NICE=10 ...   # workers, niceness (default 1 worker at nice 19)
#
# It works in a copy of the tree (tracked and untracked-but-not-ignored files) under
# $MUTATION_DIR (default /tmp/sam-plugins-mutation), so the checkout gets no mutants/ folder,
# and keeps mutmut's state there: run it again to resume. Results: `mutmut results` in that
# folder, and the summary printed at the end. Needs mutmut (pip install mutmut==3.8.1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${MUTATION_DIR:-/tmp/sam-plugins-mutation}
mkdir -p "$WORK"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf -) \
    | tar -xf - -C "$WORK"
cd "$WORK"
# the adapters are imported as installed packages; the core must come from mutants/ (mutmut
# puts it first on sys.path and removes this folder from it)
export PYTHONPATH=$WORK/adapters/snntorch:$WORK/adapters/spikingjelly:$WORK/adapters/tonic:$WORK/adapters/demo
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
if [ -n "${MUTATION_SAMPLE:-}" ]; then  # N mutants per module group, seeded: a subset
    mapfile -t names < <(nice -n "${MUTATION_NICE:-19}" python "$ROOT/benchmarks/mutation_sample.py" \
        "$MUTATION_SAMPLE" "${MUTATION_SEED:-0}" | grep '__mutmut_')
    set -- "${names[@]}"
fi
nice -n "${MUTATION_NICE:-19}" mutmut run --max-children "${MUTATION_JOBS:-1}" "$@" || true
python "$ROOT/benchmarks/mutation_summary.py" "$WORK"
