"""Every shipped weights file loads through the current package (no old module paths inside)."""
import json

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
    from fpnb.synthesis import editing, printnet, reconstruction, sampling

    loaders = {"stylegan_generator": sampling.load_generator, "printnet": printnet.load_printnet,
               "minutiae_encoder": reconstruction.load_encoder, "sefa_directions": editing.load_directions}
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
