"""`show_sam_on_events` (docs/index.md, "Rendering") as a user calls it: on a frame and a heat
map of `explain_events`, with its default blend, against the drawing the docs describe (ON
events red, OFF events blue, scaled by the frame's peak; the heat map's jet colours on top)."""

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from sam_plugins_demo import EmulatedDigits, trained_demo_net
from sam_plugins_tonic import explain_events, show_sam_on_events


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    raw = EmulatedDigits(tmp_path_factory.mktemp("data"), train=False, limit=1)
    events, _ = raw[0]
    return explain_events(trained_demo_net(), events, raw.sensor_size, n_time_bins=10)


def test_show_sam_on_events_with_its_defaults(explained):
    frames, heat = explained.frames.frames, explained.heatmap("1")  # [10, 2, 34, 34], [10, 34, 34]
    t = int(frames.sum(dim=(1, 2, 3)).argmax())  # the busiest frame
    frame, heatmap = frames[t], heat[t]
    assert frame[0].sum() > 0 and frame[1].sum() > 0, "the frame needs ON and OFF events"
    assert 0 < heatmap.max() <= 1 and heatmap.min() == 0

    shown = show_sam_on_events(frame, heatmap)

    counts = frame.numpy()
    events = np.zeros((*counts.shape[1:], 3), np.float32)
    events[..., 0] = counts[1] / counts.max()  # ON (p = 1) red
    events[..., 2] = counts[0] / counts.max()  # OFF (p = 0) blue
    expected = 0.5 * events + 0.5 * colormaps["jet"](heatmap.numpy())[..., :3]  # alpha = 0.5
    assert shown.shape == (34, 34, 3)
    np.testing.assert_allclose(shown, expected, atol=1e-6)
    # a pixel without events shows the heat map's colour alone, at half strength
    quiet = np.argwhere(counts.sum(0) == 0)[0]
    colour = colormaps["jet"](float(heatmap[tuple(quiet)]))[:3]
    np.testing.assert_allclose(shown[tuple(quiet)], 0.5 * np.array(colour), atol=1e-6)


def test_alpha_weights_the_heat_map(explained):
    frame, heatmap = explained.frames.frames[5], explained.heatmap("1")[5]
    assert torch.equal(
        torch.from_numpy(show_sam_on_events(frame, heatmap, alpha=0.0)).float(),
        torch.from_numpy(show_sam_on_events(frame, torch.zeros_like(heatmap), alpha=0.0)).float(),
    )
    with pytest.raises(ValueError, match="upsample the map to the image size"):
        show_sam_on_events(frame, heatmap[:10])
