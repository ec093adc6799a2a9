"""The demo page in a real headless Chromium (Debian's, driven by Playwright; no browser download).

Upload a real photo, add noise, denoise; the three images render at the photo's size, and the PSNR
the page shows is the one the API computes. Screenshots go to artifacts/ (desktop and phone width).
"""

from __future__ import annotations

import base64
import io
import re
import shutil

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright
from serverprocess import running_server

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def blob_bytes(page: Page, selector: str) -> bytes:
    data = page.evaluate("""async (sel) => {
        const blob = await (await fetch(document.querySelector(sel).src)).blob();
        return await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(r.result); r.readAsDataURL(blob); });
    }""", selector)
    return base64.b64decode(data.split(",", 1)[1])


def test_corrupt_then_denoise_a_real_photo(server, page, tmp_path, astronaut):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    page.goto(server.base + "/")
    expect(page.locator("#model option")).not_to_have_count(0)
    # the int8 twin answers for prefill-unet on the CPU: listed once, under the float name, and said
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        options = page.locator("#model option").all_inner_texts()
        assert "prefill-unet-int8" not in page.locator("#model").inner_html()
        assert any(o.startswith("prefill-unet (default)") and "int8" in o for o in options), options
    page.set_input_files("#file", str(photo))
    page.locator("#density").fill("0.4")
    page.focus("#corrupt")
    page.keyboard.press("Enter")  # keyboard alone
    expect(page.locator("#noisy-score")).to_contain_text("PSNR", timeout=30_000)
    page.click("#denoise")
    expect(page.locator("#clean-score")).to_contain_text("PSNR", timeout=60_000)
    expect(page.locator("#timing")).to_contain_text("ms")
    # the share of values the model changed (X-Changed-Fraction): the switching default restores the impulses
    changed = float(re.search(r"changed ([\d.]+)% of the values", page.inner_text("#timing")).group(1))
    assert changed == pytest.approx(40, abs=3)  # density 0.4 per channel
    expect(page.locator("#status")).to_have_text("Done.")  # exact impulses, restored: no X-Try-Model hint

    h, w = astronaut.shape[:2]
    for selector in ("#original-img", "#noisy-img", "#clean-img"):
        size = page.eval_on_selector(selector, "img => [img.naturalWidth, img.naturalHeight, img.complete]")
        assert size == [w, h, True], selector

    shown_clean = float(re.search(r"PSNR ([\d.]+) dB", page.inner_text("#clean-score")).group(1))
    shown_noisy = float(re.search(r"PSNR ([\d.]+) dB", page.inner_text("#noisy-score")).group(1))
    cleaned = blob_bytes(page, "#clean-img")
    api = httpx.post(f"{server.base}/compare", files={"reference": ("a.png", photo.read_bytes()),
                                                      "image": ("b.png", cleaned)}).json()
    assert shown_clean == pytest.approx(round(api["psnr"], 2), abs=0.005)
    assert shown_clean > shown_noisy + 15

    page.check("#ensemble")  # the 8-fold self-ensemble: labelled, and a little better
    single = page.inner_text("#clean-score")
    page.click("#denoise")
    expect(page.locator("#timing")).to_contain_text(" x8: ", timeout=60_000)
    expect(page.locator("#clean-score")).not_to_have_text(single, timeout=60_000)
    assert float(re.search(r"PSNR ([\d.]+) dB", page.inner_text("#clean-score")).group(1)) > shown_clean

    page.locator("#swipe-range").fill("50")
    assert page.eval_on_selector("#before", "el => el.style.width") == "50%"
    assert page.get_attribute("#clean-dl", "href").startswith("blob:")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page.png"), full_page=True)


def test_api_errors_are_shown_to_the_user(server, page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not an image")
    page.goto(server.base + "/")
    page.set_input_files("#file", str(bad))
    page.click("#denoise")
    expect(page.locator("#error")).to_contain_text("not an image", timeout=30_000)
    expect(page.locator("#error")).to_contain_text("invalid_image")


def test_phone_width_has_no_horizontal_scroll(server, browser, tmp_path, camera):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    photo = tmp_path / "camera.png"
    Image.fromarray(camera).save(photo)
    page.goto(server.base + "/")
    page.set_input_files("#file", str(photo))
    page.click("#corrupt")
    expect(page.locator("#noisy-score")).to_contain_text("PSNR", timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page-phone.png"), full_page=True)
    context.close()


def test_noise_kind_and_jpeg_save_reach_the_api(server, page, tmp_path, astronaut):
    """The kind selector (spread shown only for impulse-range) and the JPEG option produce the noise the
    API produces for the same fields and seed."""
    from app.noise import NoiseSpec, add_noise

    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    page.goto(server.base + "/")
    page.set_input_files("#file", str(photo))
    expect(page.locator("#spread")).to_be_hidden()
    page.select_option("#noise", "impulse-range")
    expect(page.locator("#spread")).to_be_visible()
    page.locator("#spread").fill("20")
    page.select_option("#jpeg", "75")
    page.locator("#density").fill("0.3")
    page.locator("#seed").fill("4")
    page.click("#corrupt")
    expect(page.locator("#status")).to_contain_text("impulse-range", timeout=30_000)
    expect(page.locator("#status")).to_contain_text("JPEG quality 75")
    shown = np.asarray(Image.open(io.BytesIO(blob_bytes(page, "#noisy-img"))))
    expected = add_noise(astronaut, NoiseSpec("impulse-range", 0.3, 0.5, True, 20, jpeg_quality=75), seed=4)
    assert np.array_equal(shown, expected)

    # the switching default leaves these impulses alone: the page says so and names the model for them
    page.click("#denoise")
    expect(page.locator("#status")).to_contain_text("look like impulses", timeout=60_000)
    expect(page.locator("#status")).to_contain_text("choose blind-unet")
    page.select_option("#model", "blind-unet")
    page.click("#denoise")
    expect(page.locator("#status")).to_have_text("Done.", timeout=60_000)
    expect(page.locator("#timing")).to_contain_text("blind-unet")
    # "auto" runs the model the hint names, in one click, and says what ran: here that model alone (5% of the
    # values at 0 or 255, under half of the 40% estimated impulses: the default's run would not change the
    # choice, app.pipeline.EXTREMES_ONLY); on the CPU its int8 twin answers, and the page names what ran
    page.select_option("#model", "auto")
    page.click("#denoise")
    expect(page.locator("#timing")).to_contain_text(re.compile(r"^auto: blind-unet(-int8)?:"), timeout=60_000)
    expect(page.locator("#status")).to_have_text("Done.")

    # salt-and-pepper saved as JPEG 90 comes back as a PNG, but its pixels carry the save (app.jpeg_grid):
    # the hint names the model for saved photos
    page.select_option("#noise", "salt-pepper")
    page.locator("#density").fill("0.1")
    page.select_option("#jpeg", "90")
    page.click("#corrupt")
    expect(page.locator("#status")).to_contain_text("JPEG quality 90", timeout=30_000)
    page.select_option("#model", "prefill-unet")
    page.click("#denoise")
    expect(page.locator("#status")).to_contain_text("choose jpeg-unet", timeout=60_000)


def test_auto_says_when_it_kept_the_default_s_output(server, page, tmp_path):
    """A clean photo the hint's rule fires on (the whole astronaut, as a JPEG file): auto runs jpeg-unet too,
    keeps the default's output (app.pipeline.KEEP_FIRST_DB), and the page says whose output it shows."""
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=90)
    page.goto(server.base + "/")
    page.set_input_files("#file", str(photo))
    page.select_option("#model", "auto")
    page.click("#denoise")
    # a JPEG file with 13% estimated impulses: the default's run cannot change the choice, so jpeg-unet runs
    # first; it barely changed the photo, so the default runs too and its output is shown
    expect(page.locator("#timing")).to_contain_text("auto: jpeg-unet then prefill-unet", timeout=60_000)
    expect(page.locator("#timing")).to_contain_text(", output of prefill-unet")  # its int8 twin on the CPU
