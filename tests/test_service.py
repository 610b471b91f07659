"""The restoration service: the seed's contract, every kind of upload, every bad input."""
import base64
import io
import json
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fpnb.restoration.service import Batcher, ServedModel, create_app, decode_image, default_model, load_shipped_models


def _invert(batch: np.ndarray) -> np.ndarray:
    """A stand-in model: the grey level inverted, so the result depends on the input."""
    return 1.0 - batch.mean(axis=3) / 255.0


@pytest.fixture(scope="module")
def client():
    models = {"unet_test": ServedModel("unet_test", _invert, {"profile": "test", "metrics": {"ssim": 0.5}})}
    return TestClient(create_app(models, max_bytes=1_000_000, max_pixels=1_000_000))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _upload(client, data: bytes, model: str | None = "unet_test", name: str = "x.png"):
    form = {"model": model} if model else {}
    return client.post("/api/v1/restore", files={"file": (name, data)}, data=form)


def _gradient(width=275, height=400) -> np.ndarray:
    return np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))


@pytest.mark.parametrize("mode,fmt", [
    ("L", "PNG"), ("RGB", "JPEG"), ("RGBA", "PNG"), ("P", "PNG"), ("I;16", "PNG"),
    ("RGB", "TIFF"), ("RGB", "BMP"), ("1", "PNG"), ("LA", "PNG"),
])
def test_restore_keeps_size_for_every_mode_and_format(client, mode, fmt):
    img = Image.fromarray(_gradient(), "L")
    if mode == "I;16":
        img = Image.fromarray(_gradient().astype(np.uint16) * 257)
    else:
        img = img.convert(mode)
    response = _upload(client, _encode(img, fmt))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(response.content))
    assert out.size == (275, 400)
    grey = np.asarray(out, dtype=float)
    assert grey[:, 0].mean() > grey[:, -1].mean() + 100 or mode == "1"  # inverted gradient survived


def test_exif_orientation_is_respected(client):
    img = Image.fromarray(_gradient(width=300, height=100), "L").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    response = _upload(client, _encode(img, "JPEG", exif=exif), name="x.jpg")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (100, 300)


def test_transparent_pixels_read_as_white_paper():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    assert (decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG")) == 255).all()


def test_seed_json_contract(client):
    png = _encode(Image.fromarray(_gradient(), "L"), "PNG")
    response = client.post("/api/v1/unet", json={"image_bytes": base64.b64encode(png).decode()})
    assert response.status_code == 200
    out = Image.open(io.BytesIO(base64.b64decode(response.json()["image_bytes"])))
    assert out.format == "JPEG" and out.size == (275, 400)


def test_models_health_and_page(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": 1}
    assert client.get("/api/v1/models").json()[0]["metrics"] == {"ssim": 0.5}
    page = client.get("/")
    assert page.status_code == 200 and "/api/v1/restore" in page.text
    assert "/api/v1/unet" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("case,status,reason", [
    ("not_image", 422, "not an image"),
    ("truncated", 422, "truncated"),
    ("empty", 422, "empty"),
    ("unknown_model", 404, "unknown model"),
    ("too_many_bytes", 413, "upload of"),
    ("huge_body", 413, "request body"),
    ("too_many_pixels", 413, "pixels"),
])
def test_bad_uploads_get_a_reason_and_the_server_keeps_serving(client, case, status, reason):
    png = _encode(Image.fromarray(_gradient(), "L"), "PNG")
    data, model = {
        "not_image": (b"hello, I am text", "unet_test"),
        "truncated": (png[: len(png) // 2], "unet_test"),
        "empty": (b"", "unet_test"),
        "unknown_model": (png, "nope"),
        "too_many_bytes": (np.random.default_rng(0).bytes(1_200_000), "unet_test"),
        "huge_body": (np.random.default_rng(0).bytes(3_000_000), "unet_test"),
        "too_many_pixels": (_encode(Image.new("L", (1200, 1000)), "PNG"), "unet_test"),
    }[case]
    response = _upload(client, data, model)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert _upload(client, png).status_code == 200


@pytest.mark.parametrize("body,reason", [
    ({"image_bytes": "@@not base64@@"}, "base64"),
    ({"wrong_key": "x"}, "image_bytes"),
    ({"image_bytes": base64.b64encode(b"text").decode()}, "not an image"),
])
def test_bad_json_requests(client, body, reason):
    response = client.post("/api/v1/unet", json=body)
    assert response.status_code == 422
    assert reason in json.dumps(response.json())


def test_malformed_json_body(client):
    response = client.post("/api/v1/unet", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_batcher_groups_concurrent_requests_and_returns_each_its_own():
    calls = []

    def predict(batch):
        calls.append(len(batch))
        time.sleep(0.02)
        return batch[..., 0].astype(np.float32)

    batcher = Batcher(predict, max_batch=8, max_wait_s=0.05)
    results = {}
    images = {i: np.full((5, 7, 3), i, np.uint8) for i in range(8)}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, batcher(images[i]))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all((results[i] == i).all() for i in range(8))
    assert max(calls) > 1 and sum(calls) == 8


def test_batcher_passes_model_errors_to_the_request():
    def broken(batch):
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        Batcher(broken)(np.zeros((2, 2, 3), np.uint8))


def test_shipped_keras_model_is_served(tmp_path):
    """A tiny real Keras model saved with a model card loads and restores at the upload's size."""
    from fpnb.config import get_profile
    from fpnb.restoration.models import autoencoder
    from fpnb.restoration.training import save_model, save_model_card

    path = save_model(autoencoder(filters=(4, 4, 4)), tmp_path / "autoencoder.keras")
    save_model_card(path, get_profile("smoke"), "nohash", {"ssim": 0.1})
    models = load_shipped_models(tmp_path)
    assert list(models) == ["autoencoder"]
    client = TestClient(create_app(models))
    response = _upload(client, _encode(Image.fromarray(_gradient(width=101, height=77), "L"), "PNG"), "autoencoder")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (101, 77)


def test_no_models_is_a_clear_503():
    response = _upload(TestClient(create_app({})), b"x", None)
    assert response.status_code == 503 and "no restoration model" in response.json()["detail"]


def test_default_model_is_the_best_test_ssim_in_the_cards():
    def served(name, ssim, value):
        return ServedModel(name, lambda b: np.full(b.shape[:3], value), {"metrics": {"ssim": ssim}} if ssim else {})

    models = {"autoencoder": served("autoencoder", 0.9, 0.0), "unet_a": served("unet_a", 0.5, 0.5),
              "unet_b": served("unet_b", 0.8, 1.0)}
    assert default_model(models) == "autoencoder"
    del models["autoencoder"]
    client = TestClient(create_app(models))
    assert [m["default"] for m in client.get("/api/v1/models").json()] == [False, True]
    png = _encode(Image.fromarray(_gradient(), "L"), "PNG")
    response = client.post("/api/v1/restore", files={"file": ("x.png", png)})
    assert response.headers["X-Model"] == "unet_b" and np.asarray(Image.open(io.BytesIO(response.content))).min() == 255
    no_cards = {"pix2pix": served("pix2pix", None, 0.0), "unet_c": served("unet_c", None, 0.0)}
    assert default_model(no_cards) == "unet_c"
    stronger = ServedModel("unet_full", _invert, {"profile": "full", "metrics": {"ssim": 0.7}})
    assert default_model({**models, "unet_full": stronger}) == "unet_full"  # a full card outranks better quick SSIMs
