"""Generate the mutants as `mutmut run` does first (kept in mutants/, reused by the run) and
print the names of a seeded random sample of them: N per module group (engine, methods,
recorder, store), for a run on a machine too slow for all of them.

    cd $MUTATION_DIR && python benchmarks/mutation_sample.py 20 0     # N per group, seed
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

GROUPS = (
    "sam_plugins.engine.",
    "sam_plugins.methods.",
    "sam_plugins.recorder.",
    "sam_plugins.analysis.store.",
)


def generate() -> None:
    from mutmut.__main__ import (
        copy_also_copy_files,
        copy_src_dir,
        create_mutants,
        set_mutant_under_test,
        setup_source_paths,
    )

    set_mutant_under_test("mutant_generation")
    Path("mutants").mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(1)


def main(per_group: int, seed: int) -> None:
    generate()
    names = []
    for meta in Path("mutants").rglob("*.py.meta"):
        names += json.loads(meta.read_text())["exit_code_by_key"]
    rng = random.Random(seed)
    for group in GROUPS:
        members = sorted(n for n in names if n.startswith(group))
        for name in rng.sample(members, min(per_group, len(members))):
            print(name)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
