import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fpnb.identity.maps import CHANNELS, draw_minutiae, minutiae_map, minutiae_overlays  # noqa: E402
from fpnb.identity.minutiae import Minutiae  # noqa: E402

MINUTIAE = Minutiae(x=[50, 120, 200], y=[60, 200, 330], angle=[0.0, np.pi / 2, np.pi], kind=[0, 1, 0],
                    quality=[1, 1, 1])


def test_map_channels_peaks_and_lines():
    out = minutiae_map(MINUTIAE, np.array([[300.0, 100.0]]), (400, 275), sigma=3.0, line_length=15)
    assert out.shape == (3, 400, 275) and out.dtype == np.float32 and len(CHANNELS) == 3
    assert out.min() >= 0 and out.max() <= 1
    assert out[0, 60, 50] == 1.0 and out[0, 330, 200] == 1.0 and out[1, 200, 120] == 1.0
    assert out[2, 300, 100] == 1.0 and out[2].sum() < 2 * np.pi * 9 * 1.1  # one dot, no line
    # Lines: the ending at angle 0 points right, the bifurcation at pi/2 points up (rows decrease).
    assert out[0, 60, 64] > 0.9 and out[0, 60, 36] < 0.05
    assert out[1, 186, 120] > 0.9 and out[1, 214, 120] < 0.05
    assert out[0, 330, 186] > 0.9
    # Nothing leaks into other channels or elsewhere: not seed 001's two-whole-rows bug.
    assert out[1, 60, 50] == 0 and out[0, 200, 120] == 0
    assert (out[0, 100:150] == 0).all()


def test_gaussian_dot_profile():
    first = MINUTIAE.select(np.array([True, False, False]))
    out = minutiae_map(first, None, (120, 120), sigma=3.0, line_length=0)
    assert np.isclose(out[0, 60, 53], np.exp(-9 / 18), atol=0.02)  # 3 px left: exp(-d^2 / 2 sigma^2)
    assert out[1].max() == 0 and out[2].max() == 0


def test_draw_minutiae_marks_every_minutia_where_it_is():
    fig, ax = plt.subplots()
    draw_minutiae(ax, np.ones((400, 275)), MINUTIAE, singular_points=np.array([[300, 100]]), length=10, title="t")
    markers = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label().startswith(("end", "bif", "sing"))}
    np.testing.assert_allclose(markers["ending (2)"], [[50, 60], [200, 330]])  # (x, y) = (col, row)
    np.testing.assert_allclose(markers["bifurcation (1)"], [[120, 200]])
    np.testing.assert_allclose(markers["singular point"], [[100, 300]])
    segments = np.concatenate([c.get_segments() for c in ax.collections if hasattr(c, "get_segments")])
    # each direction tick starts at its minutia and points along its angle (rows grow downwards)
    np.testing.assert_allclose(segments[:, 0], [[50, 60], [200, 330], [120, 200]])
    np.testing.assert_allclose(segments[:, 1], [[60, 60], [190, 330], [120, 190]], atol=1e-9)
    plt.close(fig)


def test_minutiae_overlays_show_each_print_and_the_masters_map():
    from fpnb.data.masters import make_impression, make_master

    master = make_master(5, 200, 150)
    impressions = [make_impression(master, seed=k) for k in range(2)]
    fig = minutiae_overlays(master, impressions, np.clip(master.image + 0.1, 0, 1), 0.3)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 5 and titles[0].startswith("master: ") and titles[2].startswith("impression 1: ")
    assert titles[3].startswith("degraded (0.3): ") and titles[4].startswith("minutiae map")
    assert fig.axes[4].images[0].get_array().shape == (*master.image.shape, 3)
    plt.close(fig)
