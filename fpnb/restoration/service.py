"""The restoration web service: upload a photo of a print, get the clean print back.

Start it with ``invoke serve`` (``uvicorn --factory fpnb.restoration.service:create_app``). Weights load
once at start-up; concurrent requests for one model and one image size share a forward pass.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel

from fpnb.config import paths, profile_rank

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
STATIC = Path(__file__).parent / "static"

Predictor = Callable[[np.ndarray], np.ndarray]
"""Restores a batch: uint8 NxHxWx3 RGB → float32 NxHxW in [0, 1], dark ridges on white."""


class ImageError(ValueError):
    """An upload that cannot be restored; ``status`` is the HTTP code to answer with."""

    def __init__(self, reason: str, status: int = 422):
        super().__init__(reason)
        self.status = status


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any upload PIL reads (grey, RGB(A), palette, 16-bit; EXIF-rotated) → uint8 HxWx3 RGB."""
    if not data:
        raise ImageError("empty upload: no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise ImageError(
                    f"image has {img.width}x{img.height} pixels, over the limit of {max_pixels}", 413
                )
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except UnidentifiedImageError:
        raise ImageError("not an image: the bytes are no format PIL can read") from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"image too large: {err}", 413) from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"corrupt or truncated image: {err}") from None


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Composite transparency over white; scale 16-bit and float images to 8 bits."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if img.mode != "F" else max(float(grey.max()), 1e-12)
        grey = np.clip(grey / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode in ("P", "PA", "LA", "RGBA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def encode_image(grey: np.ndarray, fmt: str = "PNG") -> bytes:
    """float [0, 1] HxW → PNG (or JPEG) bytes of a grey image; PNG at zlib level 1 (a 400x275 print: about 2 ms
    instead of 11 ms at the default level, for a file about a quarter larger)."""
    buf = io.BytesIO()
    Image.fromarray(np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8), "L").save(buf, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
    return buf.getvalue()


class Batcher:
    """Runs one predictor in one thread over batches of the requests waiting for it.

    Requests of the same size arriving within ``max_wait_s`` of each other share a
    forward pass (up to ``max_batch``), which keeps a busy server near the model's own
    batched throughput.
    """

    def __init__(self, predict: Predictor, max_batch: int = 8, max_wait_s: float = 0.004):
        self.predict, self.max_batch, self.max_wait_s = predict, max_batch, max_wait_s
        self._queue: queue.Queue[tuple[np.ndarray, Future]] = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="fpnb-batcher").start()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        done: Future = Future()
        self._queue.put((image, done))
        return done.result()

    def _take(self) -> list[tuple[np.ndarray, Future]]:
        items = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        while len(items) < self.max_batch:
            try:
                items.append(self._queue.get(timeout=max(deadline - time.monotonic(), 1e-4)))
            except queue.Empty:
                break
        return items

    def _work(self) -> None:
        while True:
            groups: dict[tuple, list[tuple[np.ndarray, Future]]] = {}
            for image, done in self._take():
                groups.setdefault(image.shape, []).append((image, done))
            for items in groups.values():
                try:
                    out = self.predict(np.stack([image for image, _ in items]))
                    for (_, done), result in zip(items, out):
                        done.set_result(result)
                except Exception as err:  # noqa: BLE001 - handed to each waiting request
                    for _, done in items:
                        done.set_exception(err)


@dataclass
class ServedModel:
    """A restoration model as the service holds it: its batcher and its model card."""

    name: str
    predict: Predictor
    card: dict = field(default_factory=dict)
    batcher: Batcher | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.batcher is None:
            self.batcher = Batcher(self.predict)
        return self.batcher(image)


def load_shipped_models(weights_dir: Path | None = None, precision: str | None = None) -> dict[str, ServedModel]:
    """Every ``weights/*.keras`` that has a model card, keyed by its name, computing in ``precision``
    (None: ``fpnb.precision.resolve()``, bfloat16 where the CPU has it)."""
    from fpnb.precision import resolve
    from fpnb.restoration.models import fold_batch_norm, predict_batch, with_precision
    from fpnb.restoration.training import load_restoration_model

    weights_dir = weights_dir or paths.weights
    precision = precision or resolve()
    models = {}
    for path in sorted(weights_dir.glob("*.keras")):
        card_path = path.with_suffix("").with_suffix(".json")
        if not card_path.exists():
            continue
        model = with_precision(fold_batch_norm(load_restoration_model(path)), precision)  # BN folded: fewer passes
        models[path.stem] = ServedModel(
            path.stem, lambda batch, m=model: predict_batch(m, batch), json.loads(card_path.read_text())
        )
    return models


def default_model(models: dict[str, ServedModel]) -> str:
    """The model a request that names none gets: the best test SSIM among the cards of the strongest profile
    (a profile's test split is its own, so SSIMs compare within one), else the first U-Net."""
    scores = {name: (profile_rank(m.card.get("profile")), m.card.get("metrics", {}).get("ssim"))
              for name, m in models.items()}
    scores = {name: s for name, s in scores.items() if isinstance(s[1], int | float)}
    if scores:
        return max(scores, key=scores.get)
    return next((name for name in models if name.startswith("unet")), next(iter(models)))


class UnetRequest(BaseModel):
    """Seed 000's contract: a base64 image in, a base64 JPEG out."""

    image_bytes: str


def create_app(models: dict[str, ServedModel] | None = None, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> FastAPI:
    """The FastAPI app; ``models`` defaults to the shipped weights, loaded once here."""
    models = load_shipped_models() if models is None else models
    default = default_model(models) if models else None
    app = FastAPI(title="fpnb restoration service", version="1")

    @app.exception_handler(ImageError)
    def _image_error(request: Request, err: ImageError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        # base64 JSON carries 4/3 of the image bytes; allow that plus room for the form fields
        if length is not None and length.isdigit() and int(length) > max_bytes * 4 // 3 + 4096:
            return JSONResponse(
                {"detail": f"request body of {length} bytes is over the limit of {max_bytes} bytes"}, 413
            )
        return await call_next(request)

    def pick(name: str | None) -> ServedModel:
        if not models:
            raise HTTPException(503, "no restoration model is loaded (weights/ has none)")
        name = default if name is None else name
        if name not in models:
            raise HTTPException(404, f"unknown model {name!r}; known: {sorted(models)}")
        return models[name]

    def check_size(data: bytes) -> bytes:
        if len(data) > max_bytes:
            raise ImageError(f"upload of {len(data)} bytes is over the limit of {max_bytes} bytes", 413)
        return data

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (STATIC / "index.html").read_text()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "models": len(models)}

    @app.get("/api/v1/models")
    def list_models() -> list[dict]:
        return [
            {"name": m.name, "profile": m.card.get("profile"), "params": m.card.get("params"),
             "metrics": m.card.get("metrics", {}), "default": m.name == default}
            for m in models.values()
        ]

    @app.post("/api/v1/restore", responses={200: {"content": {"image/png": {}}}})
    def restore(file: UploadFile = File(...), model: str | None = Form(None)) -> Response:
        served = pick(model)
        image = decode_image(check_size(file.file.read(max_bytes + 1)), max_pixels)
        start = time.perf_counter()
        out = served(image)
        headers = {"X-Model": served.name, "X-Elapsed-Ms": f"{(time.perf_counter() - start) * 1e3:.1f}"}
        return Response(encode_image(out), media_type="image/png", headers=headers)

    @app.post("/api/v1/unet")
    def unet(body: UnetRequest) -> dict:
        try:
            data = base64.b64decode(body.image_bytes, validate=True)
        except (binascii.Error, ValueError):
            raise ImageError("image_bytes is not valid base64") from None
        image = decode_image(check_size(data), max_pixels)
        out = pick(None)(image)
        return {"image_bytes": base64.b64encode(encode_image(out, "JPEG")).decode()}

    return app


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port for a test or a benchmark; yields its URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn could not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
