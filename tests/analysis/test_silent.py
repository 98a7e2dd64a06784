"""Silent layers over a dataset (issue 32): `analyze_dataset` says once, at its end, which
layers emitted no spike over the whole dataset; a layer silent in some batches (or in one
rank's samples) but not in all is not silent, and no batch warns on its own."""

import warnings

from analysis_data import LAYERS, QuietEvens, quiet_net, run
from test_distributed import torchrun

from sam_plugins.analysis import analyze_dataset
from sam_plugins.methods import SilentLayerWarning

N = 12  # items 0, 2, 4, ... are silent


def analyse(path, batch_size):
    return analyze_dataset(
        quiet_net(), QuietEvens(N), path, num_classes=4, layers=LAYERS, run=run,
        batch_size=batch_size, progress=False,
    )  # fmt: skip


def silent_notes(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, SilentLayerWarning)]


def test_one_note_per_layer_silent_over_the_whole_dataset(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analyse(tmp_path / "a.h5", batch_size=2)  # [0, 1], [2, 3], ...
    assert result.sample_rates("lif1")[0::2].max() == 0  # silent in every other sample
    assert result.sample_rates("lif1")[1::2].min() > 0 and result.sample_rates("lif2").any()
    assert silent_notes(caught) == [
        f"layer 'lif3' (PlainLIF) emitted no spike over the whole dataset ({N} samples): its "
        "SAM maps and statistics are all zero"
    ]
    (note,) = [w for w in caught if issubclass(w.category, SilentLayerWarning)]
    assert note.filename == __file__  # said where the user called analyze_dataset


def test_silent_in_some_batches_is_not_silent(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analyse(tmp_path / "a.h5", batch_size=1)  # every even batch all silent
    assert [n.split("'")[1] for n in silent_notes(caught)] == ["lif3"]


def test_the_merged_counts_decide_in_a_distributed_run(tmp_path):
    """Rank 0 of 2 reads the even items only, all silent: it names no layer but lif3,
    silent in rank 1's samples too."""
    done = torchrun(tmp_path / "two.h5", N, "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    notes = [line for line in done.stderr.splitlines() if "emitted no spike" in line]
    assert len(notes) == 1 and "layer 'lif3'" in notes[0] and "whole dataset" in notes[0], (
        done.stderr[-3000:]
    )
