"""ChaLearn-style degradations: determinism, types, pixel alignment, the target left untouched."""
import numpy as np
import pytest

from fpnb.data import degradations, masters


@pytest.fixture(scope="module")
def clean():
    master = masters.make_master(2, 128, 96)
    return masters.make_impression(master, 0)


def test_same_seed_gives_identical_bytes(clean):
    a, b = degradations.degrade(clean, 5), degradations.degrade(clean, 5)
    assert a.tobytes() == b.tobytes()
    assert degradations.degrade(clean, 6).tobytes() != a.tobytes()


def test_output_is_rgb_uint8_of_the_target_size(clean):
    out = degradations.degrade(clean, 0)
    assert out.shape == (*clean.shape, 3) and out.dtype == np.uint8
    assert degradations.degrade((clean * 255).astype(np.uint8), 0).shape == out.shape


def test_degradations_leave_the_target_untouched(clean):
    before = clean.copy()
    degradations.degrade(clean, 1, strength=2.0)
    for name in degradations.DEGRADATIONS:
        degradations.apply_one(clean, name, 1)
    assert clean.tobytes() == before.tobytes()


@pytest.mark.parametrize("name", list(degradations.DEGRADATIONS))
def test_each_degradation_is_identity_at_strength_zero(clean, name):
    out = degradations.DEGRADATIONS[name](degradations.as_rgb(clean), np.random.default_rng(0), 0.0)
    assert out.shape == (*clean.shape, 3)
    np.testing.assert_allclose(out, degradations.as_rgb(clean), atol=1e-5)


@pytest.mark.parametrize("name", list(degradations.DEGRADATIONS))
def test_degradations_keep_ridges_pixel_aligned(clean, name):
    grey = degradations.apply_one(clean, name, 4).mean(axis=2)
    target = clean - clean.mean()
    scores = {}
    for dr in range(-3, 4):
        for dc in range(-3, 4):
            shifted = np.roll(grey, (dr, dc), axis=(0, 1))[8:-8, 8:-8]
            scores[dr, dc] = np.corrcoef(shifted.ravel(), target[8:-8, 8:-8].ravel())[0, 1]
    assert max(scores, key=scores.get) == (0, 0)


@pytest.mark.parametrize("name", degradations.TEXTURES)
def test_textures_are_rgb_in_range(name):
    surface = degradations.texture(name, np.random.default_rng(0), (64, 48))
    assert surface.shape == (64, 48, 3) and surface.dtype == np.float32
    assert 0.0 <= surface.min() and surface.max() <= 1.0 and surface.std() > 0.01


def test_invalid_parameters_raise_naming_the_parameter(clean):
    with pytest.raises(ValueError, match="strength"):
        degradations.degrade(clean, 0, strength=3.0)
    with pytest.raises(ValueError, match="name"):
        degradations.apply_one(clean, "fog", 0)
    with pytest.raises(ValueError, match="clean"):
        degradations.degrade(np.zeros((8, 8, 3)), 0)
    with pytest.raises(ValueError, match="clean"):
        degradations.degrade(clean * 2.0, 0)
    with pytest.raises(ValueError, match="name"):
        degradations.texture("marble", np.random.default_rng(0), (8, 8))


@pytest.mark.parametrize("name", ["background", "dashes", "crumple", "banner", "local_blur"])
def test_new_degradations_change_the_image_without_moving_ridges(clean, name):
    out = degradations.apply_one(clean, name, 7).astype(np.float32) / 255
    assert np.abs(out - degradations.as_rgb(clean)).mean() > 0.002
    grey = out.mean(axis=2)[8:-8, 8:-8]
    target = clean[8:-8, 8:-8]
    assert np.corrcoef(grey.ravel(), target.ravel())[0, 1] > 0.5


def test_apply_one_is_deterministic_for_every_degradation(clean):
    for name in degradations.DEGRADATIONS:
        assert degradations.apply_one(clean, name, 3).tobytes() == degradations.apply_one(clean, name, 3).tobytes()


def test_degraded_inputs_are_light_and_barely_coloured_as_chalearn_inputs():
    from fpnb.data import realism

    master = masters.make_master(5, 200, 140)
    stats = [realism.colour_stats(degradations.degrade(masters.make_impression(master, s), s)) for s in range(12)]
    means, saturations = [s["mean"] for s in stats], [s["saturation"] for s in stats]
    assert 0.55 <= np.median(means) <= 0.9 and np.median(saturations) <= 0.15


def test_skipped_steps_leave_every_other_draw_unchanged(clean):
    everything = degradations.degrade(clean, 1)  # seed 1 draws an occlusion and a blur among other steps
    assert np.array_equal(degradations.degrade(clean, 1, skip=()), everything)
    without = degradations.degrade(clean, 1, skip=degradations.LOSSY)
    assert not np.array_equal(without, everything)
    assert np.array_equal(without, degradations.degrade(clean, 1, skip=("occlusion", "blur")))
    assert np.array_equal(degradations.degrade(clean, 1, skip=("scratches",)), everything)  # a step seed 1 does not draw
    with pytest.raises(ValueError, match="skip"):
        degradations.degrade(clean, 1, skip=("smudge",))
