"""Calibration statistics on tiny images with known answers."""
import numpy as np
import pytest

from fpnb.data import realism


def stripes(width: int, period: int, shape=(60, 80)) -> np.ndarray:
    """Vertical dark stripes ``width`` px wide every ``period`` px on white."""
    image = np.ones(shape, np.float32)
    for start in range(0, shape[1], period):
        image[:, start:start + width] = 0.0
    return image


def test_dark_fraction_of_stripes_is_width_over_period():
    image = stripes(4, 10)
    assert realism.dark_fraction(image, np.ones(image.shape, bool)) == pytest.approx(0.4)
    assert realism.dark_fraction((image * 255).astype(np.uint8), np.ones(image.shape, bool)) == pytest.approx(0.4)


def test_dark_fraction_counts_only_the_foreground():
    image = np.ones((40, 40), np.float32)
    image[10:30, 10:30] = stripes(3, 5, (20, 20))
    mask = np.zeros(image.shape, bool)
    mask[10:30, 10:30] = True
    assert realism.dark_fraction(image, mask) == pytest.approx(0.6)
    framed = np.ones((100, 100), np.float32)
    framed[20:80, 20:80] = stripes(3, 5, (60, 60))
    assert realism.dark_fraction(framed) == pytest.approx(0.6, abs=0.05)  # the print, not its blank margin


def test_foreground_covers_the_print_and_not_the_margin():
    image = np.ones((100, 100), np.float32)
    image[20:80, 20:80] = stripes(4, 9, (60, 60))
    found = realism.foreground(image)
    assert found[35:65, 35:65].all() and not found[:10].any() and not found[:, :10].any()


@pytest.mark.parametrize("width", [3, 5])
def test_ridge_widths_of_stripes(width):
    widths = realism.ridge_widths(stripes(width, 11), np.ones((60, 80), bool))
    assert widths.size > 0 and np.median(widths) == pytest.approx(width)


def test_grey_histogram_sums_to_one_and_bins_levels():
    image = np.array([[0.05, 0.05, 0.95, 0.55]], np.float32)
    histogram = realism.grey_histogram(image, np.ones(image.shape, bool), bins=10)
    assert histogram.sum() == pytest.approx(1.0)
    assert histogram[0] == pytest.approx(0.5) and histogram[9] == pytest.approx(0.25) and histogram[5] == pytest.approx(0.25)
    assert realism.histogram_distance(histogram, histogram) == 0.0
    assert realism.histogram_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_colour_stats_of_known_colours():
    grey = np.full((4, 4, 3), 0.5, np.float32)
    stats = realism.colour_stats(grey)
    assert stats["mean"] == pytest.approx(0.5) and stats["saturation"] == pytest.approx(0.0)
    tinted = np.zeros((2, 2, 3), np.uint8)
    tinted[...] = (200, 100, 100)
    stats = realism.colour_stats(tinted)
    assert stats["mean_r"] == pytest.approx(200 / 255) and stats["saturation"] == pytest.approx(0.5)


def test_print_stats_of_stripes():
    stats = realism.print_stats(stripes(5, 10), np.ones((60, 80), bool))
    assert stats["dark_fraction"] == pytest.approx(0.5)
    assert stats["ridge_width_median"] == pytest.approx(5.0)
    assert stats["grey_mid_fraction"] == 0.0


def test_invalid_inputs_raise_naming_the_parameter():
    with pytest.raises(ValueError, match="mask"):
        realism.dark_fraction(np.ones((8, 8)), np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="mask"):
        realism.dark_fraction(np.ones((8, 8)), np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="rgb"):
        realism.colour_stats(np.ones((8, 8)))
    with pytest.raises(ValueError, match="image"):
        realism.as_grey(np.ones(8))
