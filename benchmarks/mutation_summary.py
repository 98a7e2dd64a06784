"""Summary of a mutmut run (benchmarks/mutation.sh): per module, how many mutants were killed,
survived, timed out or reached no test, the score, and the survivors by name.

    python benchmarks/mutation_summary.py /tmp/sam-plugins-mutation
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def main(work: Path) -> None:
    rows, survivors = [], []
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        module = meta.relative_to(work / "mutants").with_suffix("").as_posix()
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        status = {name: status_by_exit_code[code] for name, code in codes.items()}
        counts = Counter(status.values())
        if not status:
            continue
        checked = len(status) - counts["not checked"]
        killed = counts["killed"] + counts["timeout"]
        score = f"{100 * killed / checked:.1f} %" if checked else "-"
        rows.append(
            f"| `{module}` | {len(status)} | {checked} | {counts['killed']} | {counts['survived']} "
            f"| {counts['timeout']} | {counts['no tests']} | {score} |"
        )
        survivors += [
            f"{name}: {s}" for name, s in status.items() if s not in ("killed", "timeout")
        ]
    print("| module | mutants | checked | killed | survived | timed out | no tests | score |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\nnot killed:")
    print("\n".join(f"- {s}" for s in survivors if not s.endswith("not checked")))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sam-plugins-mutation"))
