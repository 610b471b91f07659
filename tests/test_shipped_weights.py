"""Every shipped weights file loads through the current package (no old module paths inside)."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from fpnb.config import paths

SHIPPED = sorted(paths.weights.glob("*.keras")) + sorted(paths.weights.glob("*.safetensors"))


def test_weights_are_shipped():
    assert SHIPPED, "no shipped weights under weights/"


@pytest.mark.parametrize("path", sorted(paths.weights.glob("*.keras")), ids=lambda p: p.name)
def test_keras_model_loads_and_restores(path):
    from fpnb.restoration.models import predict_image
    from fpnb.restoration.training import load_restoration_model

    card = json.loads(path.with_suffix("").with_suffix(".json").read_text())
    model = load_restoration_model(path)
    assert model.count_params() == card["params"]
    out = predict_image(model, np.full((64, 48, 3), 0.5, np.float32))
    assert out.shape == (64, 48) and np.isfinite(out).all()


@pytest.mark.parametrize("path", sorted(paths.weights.glob("*.safetensors")), ids=lambda p: p.name)
def test_torch_weights_load(path):
    from fpnb.synthesis import editing, printnet, reconstruction, sampling, study
    from fpnb.synthesis.stylegan import Discriminator
    from fpnb.weights_io import load_module

    loaders = {"stylegan_generator": sampling.load_generator, "printnet": printnet.load_printnet,
               "minutiae_encoder": reconstruction.load_encoder, "sefa_directions": editing.load_directions,
               "stylegan_discriminator": lambda p: load_module(Discriminator, p, study.DISCRIMINATOR_FORMAT)}
    loaded = loaders[path.stem](path)
    assert loaded is not None


def test_weights_of_a_stronger_profile_are_never_replaced_by_a_weaker_run(tmp_path):
    import json

    from fpnb import get_profile
    from fpnb.weights_io import may_ship

    path = tmp_path / "model.keras"
    assert may_ship(path, get_profile("quick")) and not may_ship(path, get_profile("smoke"))
    path.write_bytes(b"weights")
    path.with_suffix(".json").write_text(json.dumps({"profile": "full"}))
    assert not may_ship(path, get_profile("quick")) and may_ship(path, get_profile("full"))
    path.with_suffix(".json").write_text(json.dumps({"profile": "quick"}))
    assert may_ship(path, get_profile("quick")) and may_ship(path, get_profile("full"))


def test_shipped_models_table_reads_cards_and_falls_back_to_the_log_for_wall_time(tmp_path):
    from fpnb.weights_io import shipped_models

    (tmp_path / "a.keras").write_bytes(b"x" * 2_000_000)
    (tmp_path / "a.json").write_text(json.dumps({"name": "a", "file": "a.keras", "profile": "full",
                                                 "precision": "bf16", "training_steps": 10, "wall_seconds": 600}))
    (tmp_path / "b.json").write_text(json.dumps({"name": "b", "file": "b.safetensors", "profile": "quick"}))
    (tmp_path / "b.log.csv").write_text("step,seconds\n1,30\n2,90\n")
    a, b = shipped_models(tmp_path)
    assert a == {"model": "a", "profile": "full", "precision": "bf16", "training_steps": 10, "images_shown": None,
                 "wall_minutes": 10.0, "size_mb": 2.0}
    assert b["wall_minutes"] == 2.0 and b["size_mb"] is None and b["precision"] == "fp32"
    assert [row["model"] for row in shipped_models(paths.weights)] == sorted(p.stem for p in paths.weights.glob("*.json"))


def test_a_shipped_generator_is_used_only_at_its_own_resolution_width_and_noise_inputs(tmp_path, monkeypatch):
    from fpnb import get_profile
    from fpnb.synthesis import printnet, study
    from fpnb.weights_io import shipped_for

    path = tmp_path / "g.safetensors"
    path.write_bytes(b"weights")
    path.with_suffix(".json").write_text(json.dumps({"profile": "full", "resolution": 128,
                                                     "args": {"resolution": 128, "channels": 64}}))
    full = get_profile("full")
    assert shipped_for(path, full, args={"resolution": 128}) == path
    assert shipped_for(path, full, args={"resolution": 256}) is None
    assert shipped_for(path, full, args={"resolution": 128, "channels": 64}, resolution=128) == path
    assert shipped_for(path, full, args={"resolution": 128, "missing": 1}) is None
    assert shipped_for(path, full, exact=True, args={"resolution": 128}) is None  # exact: no key left out
    assert shipped_for(path, full, exact=True, args={"resolution": 128, "channels": 64}, resolution=128) == path
    for module, name in ((study, "GENERATOR_FILE"), (printnet, "WEIGHTS_FILE")):
        monkeypatch.setattr(module, name, path.name)
        monkeypatch.setattr(module, "paths", SimpleNamespace(weights=tmp_path))
    at = {(r, c, n): get_profile("full", gan_resolution=r, gan_channels=c, gan_noise_from=n)
          for r, c, n in ((128, 64, 4), (256, 64, 4), (128, 32, 4), (128, 64, 128))}
    assert study.shipped_generator(at[128, 64, 4]) == path and printnet.shipped_printnet(at[128, 64, 4]) == path
    assert study.shipped_generator(at[256, 64, 4]) is None
    assert printnet.shipped_printnet(at[256, 64, 4]) == path  # PrintNet runs at 128 px for a 256 px generator
    assert study.shipped_generator(at[128, 32, 4]) is None
    assert study.shipped_generator(at[128, 64, 128]) is None  # a card without noise_from: noise everywhere
    path.with_suffix(".json").write_text(json.dumps({"profile": "full", "args": {"resolution": 128, "channels": 64,
                                                                                 "noise_from": 128}}))
    assert study.shipped_generator(at[128, 64, 128]) == path and study.shipped_generator(at[128, 64, 4]) is None


def test_weights_equal_up_to_rounding_are_not_rewritten_nor_their_card(tmp_path):
    import torch

    from fpnb.weights_io import sha256_file, write_safetensors

    path = tmp_path / "d.safetensors"
    directions = torch.linspace(-1, 1, 64).reshape(4, 16)
    tensors = {"directions": directions, "steps": torch.arange(4)}
    assert write_safetensors(tensors, path, {"format": "test"})
    digest, mtime = sha256_file(path), path.stat().st_mtime_ns
    # another CPU's kernels: the SeFa directions moved by 1.8e-12
    assert not write_safetensors({**tensors, "directions": directions + 1.8e-12}, path, {"format": "test"})
    assert sha256_file(path) == digest and path.stat().st_mtime_ns == mtime
    for changed in ({**tensors, "directions": directions * (1 + 1e-4)},  # a real change
                    {**tensors, "steps": torch.tensor([0, 1, 2, 4])},  # integers: exactly
                    {**tensors, "directions": directions.reshape(16, 4)},  # shape
                    {**tensors, "directions": directions.double()},  # dtype
                    {"directions": directions}):  # names
        assert write_safetensors(changed, path, {"format": "test"}), changed.keys()
        write_safetensors(tensors, path, {"format": "test"})
    assert write_safetensors(tensors, path, {"format": "other"})  # metadata


def test_a_module_saved_again_with_the_same_weights_keeps_its_card_unless_the_card_lacks_a_field(tmp_path):
    import torch

    from fpnb.weights_io import card_path, load_module, save_module

    class Tiny(torch.nn.Module):
        def __init__(self, width=3):
            super().__init__()
            self.args = {"width": width}
            self.linear = torch.nn.Linear(width, 2)

    torch.manual_seed(0)
    module, path = Tiny(), tmp_path / "tiny.safetensors"
    save_module(module, path, "fpnb.test/1", {"profile": "full", "metrics": {"score": 0.5}, "wall_seconds": 60})
    card = card_path(path).read_text()
    with torch.no_grad():
        module.linear.weight += 1e-12
    save_module(module, path, "fpnb.test/1", {"profile": "full", "metrics": {"score": 0.5000001}, "wall_seconds": 61})
    assert card_path(path).read_text() == card  # what was measured on these weights stays
    save_module(module, path, "fpnb.test/1", {"profile": "full", "metrics": {"score": 0.5, "new": 1}})
    assert json.loads(card_path(path).read_text())["metrics"] == {"score": 0.5, "new": 1}
    with torch.no_grad():
        module.linear.weight += 1e-3
    save_module(module, path, "fpnb.test/1", {"profile": "full"})
    assert "metrics" not in json.loads(card_path(path).read_text())
    assert torch.equal(load_module(Tiny, path, "fpnb.test/1").linear.weight, module.linear.weight)
