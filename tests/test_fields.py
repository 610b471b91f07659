import numpy as np
import pytest

from fpnb.identity.fields import (
    angle_error,
    field_errors,
    foreground_mask,
    normalise,
    orientation_field,
    poincare_index,
    ridge_period,
    singular_points,
)


def _stripes(theta: float, period: float, shape=(200, 160)) -> np.ndarray:
    """Ridges along (d_col, d_row) = (cos theta, -sin theta): counter-clockwise on screen."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    across = np.sin(theta) * cols + np.cos(theta) * rows
    return (0.5 + 0.5 * np.cos(2 * np.pi * across / period)).astype(np.float32)


@pytest.mark.parametrize("theta", [0.0, 0.5, np.pi / 2, 2.4])
def test_orientation_of_stripes_is_counter_clockwise(theta):
    orientation, coherence = orientation_field(_stripes(theta, 10.0))
    inner = (slice(30, -30), slice(30, -30))
    assert np.degrees(angle_error(orientation[inner], theta)).max() < 2.0
    assert coherence[inner].min() > 0.95


@pytest.mark.parametrize("period", [7.0, 10.0, 12.0])
def test_ridge_period_of_stripes(period):
    estimate = ridge_period(_stripes(0.7, period))
    assert np.median(estimate) == pytest.approx(period, rel=0.04)


def test_poincare_index_of_zero_pole_field():
    rows, cols = np.mgrid[0:120, 0:120].astype(float)
    core, delta = np.arctan2(-(rows - 40), cols - 60), np.arctan2(-(rows - 90), cols - 60)
    field = np.mod(0.5 * core - 0.5 * delta, np.pi)
    index = poincare_index(field)
    assert index[39:42, 59:62].max() == pytest.approx(0.5)
    assert index[89:92, 59:62].min() == pytest.approx(-0.5)
    assert np.abs(index[5:30, 5:30]).max() < 1e-6


def test_normalise_stretches_soft_and_rgb_images():
    soft = 0.4 + 0.1 * _stripes(0.3, 9.0)
    out = normalise(soft)
    assert out.min() == 0.0 and out.max() == 1.0
    assert normalise(np.repeat(soft[..., None] * 255, 3, axis=-1)).shape == soft.shape
    assert (normalise(np.full((8, 8), 0.5)) == 1.0).all()


@pytest.fixture(scope="module")
def master():
    from fpnb.data.masters import make_master

    return make_master(7, pattern="left_loop")


def test_fields_agree_with_the_generator(master):
    orientation, coherence = orientation_field(master.image)
    inside = master.mask
    error = np.degrees(angle_error(orientation, master.orientation))[inside]
    assert np.median(error) < 6 and np.percentile(error, 90) < 15
    period = ridge_period(master.image)
    assert np.median(np.abs(period - master.period)[inside] / master.period[inside]) < 0.08
    mask = foreground_mask(master.image)
    assert (mask & master.mask).sum() / (mask | master.mask).sum() > 0.85
    assert np.median(coherence[inside]) > 0.6


def test_singular_points_of_a_generated_loop(master):
    orientation, _ = orientation_field(master.image)
    found = singular_points(orientation, foreground_mask(master.image))
    assert len(found.cores) == len(master.cores) == 1
    assert np.hypot(*(found.cores[0] - master.cores[0])) < 15
    for delta in master.deltas:
        if master.mask[int(delta[0]), int(delta[1])]:
            assert np.hypot(*(found.deltas - delta).T).min() < 20
    assert found.all().shape == (len(found.cores) + len(found.deltas), 2)


def test_field_errors_compare_each_master_with_its_generator_fields(master):
    table = field_errors([master, master])
    assert list(table.columns) == ["pattern", "orientation_error_deg", "period_error_rel", "mask_iou", "cores_true",
                                   "cores_found", "deltas_true", "deltas_found"]
    row = table.iloc[0]
    assert len(table) == 2 and row["pattern"] == "left_loop" and row["cores_true"] == row["cores_found"] == 1
    inside = master.mask
    orientation, _ = orientation_field(master.image)
    assert row["orientation_error_deg"] == float(np.degrees(np.median(angle_error(orientation, master.orientation)[inside])))
    assert row["orientation_error_deg"] < 10 and row["period_error_rel"] < 0.08 and row["mask_iou"] > 0.85
