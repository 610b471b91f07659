"""The upload page in a real headless browser: pick a file, convert, get a result of the same size."""
import shutil

import numpy as np
import pytest
from PIL import Image

from fpnb.restoration.service import ServedModel, create_app, serve_in_thread

BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip package playwright is not installed")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium: `apt-get install chromium-headless-shell` (python tasks.py setup does it as root)"
)


def _invert(batch: np.ndarray) -> np.ndarray:
    return 1.0 - batch.mean(axis=3) / 255.0


@pytest.fixture
def server_url():
    models = {name: ServedModel(name, _invert, {"metrics": {"ssim": ssim}})
              for name, ssim in (("unet_a", 0.5), ("unet_b", 0.8))}
    with serve_in_thread(create_app(models)) as url:
        yield url


def test_upload_convert_and_see_the_result(server_url, tmp_path):
    sample = tmp_path / "print.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 123, dtype=np.uint8), (77, 1)), "L").save(sample)
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=args)
        page = browser.new_page()
        page.goto(server_url)
        page.wait_for_function("document.querySelector('#model').options.length > 0")
        assert page.input_value("#model") == "unet_b"  # the service's default: best test SSIM
        page.set_input_files("#file", str(sample))
        page.click("#convert")
        page.wait_for_function("document.querySelector('#result').naturalWidth > 0", timeout=20_000)
        size = page.evaluate("[document.querySelector('#result').naturalWidth, document.querySelector('#result').naturalHeight]")
        assert size == [123, 77]
        assert "done in" in page.inner_text("#status")
        assert page.inner_text("#error") == ""
        page.screenshot(path=str(tmp_path / "service-page.png"), full_page=True)
        assert (tmp_path / "service-page.png").stat().st_size > 0
        (tmp_path / "notes.txt").write_text("not a print")
        page.set_input_files("#file", str(tmp_path / "notes.txt"))
        page.click("#convert")
        page.wait_for_function("document.querySelector('#error').textContent.length > 0")
        assert "422: not an image" in page.inner_text("#error")
        browser.close()
