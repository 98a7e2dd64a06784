#!/usr/bin/env bash
# One mutant of a mutation.sh run against tests of this checkout: killed or not? (issue 24)
#
#   benchmarks/mutant.sh sam_plugins.methods.tsa.x__decay__mutmut_50 tests/methods/test_tsa.py
#
# The tests run with the run's mutated core (mutants/ under $MUTATION_DIR, default
# /tmp/sam-plugins-mutation) in front of the installed one and the mutant switched on, as mutmut
# runs them. Exit status 0: every test passed, the mutant survives; otherwise it is killed.
# `mutmut show NAME` in that folder prints its diff.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${MUTATION_DIR:-/tmp/sam-plugins-mutation}
name=$1
shift
tests=()
# paths of the checkout made absolute (pytest runs from the mutants/ folder); options as given
for t in "$@"; do [[ -e $ROOT/${t%%::*} && $t != /* ]] && tests+=("$ROOT/$t") || tests+=("$t"); done
cd "$WORK/mutants"  # first on sys.path: the mutated sam_plugins, not the checkout's
MUTANT_UNDER_TEST=$name exec python -m pytest -c "$ROOT/pyproject.toml" --rootdir "$ROOT" \
    -n 0 -p no:cacheprovider -q -x "${tests[@]}"
