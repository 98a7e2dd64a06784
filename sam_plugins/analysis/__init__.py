"""Dataset analysis: SAM statistics of a model over a whole dataset, in one process or sharded
over torch.distributed processes (``torchrun``), into one self-describing HDF5 file, and its
HTML report. Needs h5py (``pip install sam-plugins[analysis]``); imports no SNN framework and no
tonic: datasets come in as (frames [T, C, H, W], label) items.
"""

from .result import AnalysisResult
from .runner import analyze_dataset, collate_frames, default_predict
from .store import AnalysisError, fingerprint

__all__ = [
    "AnalysisError",
    "AnalysisResult",
    "analyze_dataset",
    "collate_frames",
    "default_predict",
    "fingerprint",
]
