"""The analysis report: its PNGs, escaping of names, and the page in headless Chromium."""

import os
import re
import shutil

import pytest
from analysis_data import Frames, analyse

from sam_plugins.analysis.report import standout_samples, write_analysis_report

EVIL = ['<img src=x onerror="document.title=1">', r"$\frac{1$", "../two", "three & <b>3</b>"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    result = analyse(Frames(n=14), folder / "a.h5", save_maps=True, class_names=EVIL)
    return result, write_analysis_report(result, folder / "out", title="<script>x()</script>")


def test_the_page_has_every_part_and_escapes_names(report):
    result, page = report
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;x()&lt;/script&gt;" in text
    assert "onerror=" not in text.replace("onerror=&quot;", "")
    assert "three &amp; &lt;b&gt;3&lt;/b&gt;" in text
    images = re.findall(r"src='([^']+)'", text)
    assert all(re.fullmatch(r"[a-z0-9-]+\.png", name) for name in images)
    assert sorted(p.name for p in page.parent.glob("*.png")) == sorted(set(images))
    for i in (0, 1):  # the spatial layers: class x time grid, and the standouts' own maps
        assert f"layer{i}-maps.png" in images and f"layer{i}-standout1.png" in images
    assert "layer2-maps.png" not in images  # lif3 is a Linear layer: no maps
    assert all(f"layer{i}-{kind}.png" in images for i in range(3) for kind in ("isi", "rate"))
    assert "confusion.png" in images


def test_standouts_are_the_extremes(report):
    result, _ = report
    chosen = standout_samples(result, "lif1")
    mass = result.sample_mass("lif1")
    assert mass[chosen["most SAM mass"][0]] == mass.max()
    assert mass[chosen["least SAM mass"][0]] == mass.min()
    wrong = set((result.predictions != result.targets).nonzero()[0].tolist())
    assert set(chosen["misclassified"]) <= wrong and len(chosen["misclassified"]) == min(
        4, len(wrong)
    )


CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)


MISSING = None if CHROMIUM and shutil.which("chromedriver") else "no Chromium + chromedriver"


@pytest.mark.skipif(  # under CI (CI=true, .ci/run installs it) a missing browser fails
    MISSING is not None and os.environ.get("CI") != "true", reason=str(MISSING)
)
def test_the_page_in_headless_chromium(report):
    if MISSING:
        pytest.fail(f"CI=true but {MISSING}: the browser tests must run in CI")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    _, page = report
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(page.as_uri())
        assert browser.title == "<script>x()</script>"  # shown as text, not run
        images = browser.find_elements(By.TAG_NAME, "img")
        assert len(images) > 10
        for image in images:  # every PNG found and decoded
            assert browser.execute_script("return arguments[0].naturalWidth", image) > 100
        layers = browser.find_elements(By.CSS_SELECTOR, "section.layer h2")
        assert [h.text for h in layers] == [f"layer lif{i} (PlainLIF)" for i in (1, 2, 3)]
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.standout td")]
        assert "three & <b>3</b>" in cells or EVIL[0] in cells
        assert not browser.find_elements(By.CSS_SELECTOR, "td b, td img")  # nothing injected
    finally:
        browser.quit()
