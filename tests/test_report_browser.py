"""The HTML report in a real browser: headless Chromium driven by Selenium.

Skips only where no Chromium and chromedriver are installed (Debian: apt install chromium
chromium-driver), and never under CI (CI=true, where .ci/run installs them): there it fails.
"""

import time

import torch
from conftest import needs_browser
from plain_snn import ConvSNN

from sam_plugins import explain
from sam_plugins.viewer.html import write_report

pytestmark = needs_browser


def test_slider_and_play_button_change_the_shown_maps(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    net = ConvSNN(size=16)
    frames = (torch.rand(5, 2, 2, 16, 16) < 0.4).float()
    result = explain(net, frames, ["lif1", "lif2"])
    assert (result["lif1"].profile[1:] > 0).all(), "steps after the first must have maps"
    path = write_report(tmp_path / "report.html", frames, result, ["first", "second"])

    browser.get(path.as_uri())
    sections = browser.find_elements(By.CSS_SELECTOR, "section.sample")
    assert [s.find_element(By.TAG_NAME, "h2").text for s in sections] == ["first", "second"]
    section = sections[1]
    layer = section.find_element(By.CSS_SELECTOR, 'img[data-key="lif1"]')
    label = section.find_element(By.CSS_SELECTOR, ".t")
    shown = [layer.get_attribute("src")]
    assert label.text == "t = 0 / 4"

    slider = section.find_element(By.CSS_SELECTOR, "input.step")
    slider.send_keys(Keys.ARROW_RIGHT)  # a user moving the slider by one step
    assert label.text == "t = 1 / 4"
    shown.append(layer.get_attribute("src"))
    assert shown[1] != shown[0]
    # the other sample's images did not move
    other = sections[0].find_element(By.CSS_SELECTOR, 'img[data-key="lif1"]')
    assert sections[0].find_element(By.CSS_SELECTOR, ".t").text == "t = 0 / 4"
    assert other.get_attribute("src") != shown[1]

    button = section.find_element(By.CSS_SELECTOR, "button.play")
    button.click()
    assert button.text == "pause"
    WebDriverWait(browser, 5).until(lambda _: label.text == "t = 3 / 4")
    button.click()
    assert button.text == "play"
    stopped = label.text
    time.sleep(1.0)  # longer than the 0.4 s between frames while playing
    assert label.text == stopped
    assert layer.get_attribute("src") not in shown


def test_the_report_has_a_colour_bar_and_all_steps_side_by_side(tmp_path, browser):
    from selenium.webdriver.common.by import By

    frames = (torch.rand(5, 1, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1"])
    browser.set_window_size(1400, 1000)
    browser.get(write_report(tmp_path / "report.html", frames, result).as_uri())
    bar = browser.find_element(By.CSS_SELECTOR, "figure.cbar img")
    assert bar.is_displayed() and bar.size["height"] >= 150
    panel = browser.find_element(By.CSS_SELECTOR, 'img[data-key="lif1"]')
    assert panel.size["width"] >= 200  # large enough to read at 1400 px
    why = browser.find_element(By.CSS_SELECTOR, ".why")
    assert "no earlier spikes" in why.text  # step 0's empty maps say why
    thumbs = browser.find_elements(By.CSS_SELECTOR, 'img[data-thumb="lif1"]')
    assert len(thumbs) == 5 and all(t.is_displayed() for t in thumbs)
    sources = [t.get_attribute("src") for t in thumbs]
    assert len(set(sources)) == 5  # each step its own map
    thumbs[4].click()
    assert browser.find_element(By.CSS_SELECTOR, ".t").text == "t = 4 / 4"
    assert panel.get_attribute("src") == sources[4] and not why.is_displayed()


def test_a_long_recording_shows_every_step_and_a_numbered_raster(tmp_path, browser):
    """40 steps (as the SHD example's report): the strip of all steps wraps onto rows, so that
    every step is in sight at a notebook's width, nothing scrolled away; the Linear layer's
    raster frames exactly the step shown, inside its axes."""
    from selenium.webdriver.common.by import By

    torch.manual_seed(0)
    frames = (torch.rand(40, 1, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1", "lif3"])  # lif3: maps [T, B, N]
    browser.set_window_size(1000, 1400)
    browser.get(write_report(tmp_path / "report.html", frames, result).as_uri())
    width = browser.execute_script("return document.documentElement.clientWidth")
    for key in ("input", "lif1"):
        thumbs = browser.find_elements(By.CSS_SELECTOR, f'img[data-thumb="{key}"]')
        assert [t.get_attribute("alt") for t in thumbs] == [f"t={t}" for t in range(40)]
        for thumb in thumbs:
            assert thumb.is_displayed()
            assert thumb.rect["x"] >= 0 and thumb.rect["x"] + thumb.rect["width"] <= width
    strip = browser.find_element(By.CSS_SELECTOR, ".strip")
    assert browser.execute_script("return arguments[0].scrollWidth", strip) <= strip.size["width"]

    image = browser.find_element(By.CSS_SELECTOR, "figure.raster img")
    marker = browser.find_element(By.CSS_SELECTOR, "figure.raster .marker")
    box, at = image.rect, marker.rect
    step = box["width"] * 0.76 / 40  # the axes span 76 % of the picture's width
    assert abs(at["width"] - step) < 1.5 and at["height"] > box["height"] / 2
    assert abs(at["x"] - (box["x"] + 0.2 * box["width"])) < 1.5  # step 0: the first column
    browser.find_elements(By.CSS_SELECTOR, 'img[data-thumb="lif1"]')[39].click()
    at = marker.rect
    assert abs(at["x"] - (box["x"] + 0.2 * box["width"] + 39 * step)) < 1.5  # the last one
    assert at["x"] + at["width"] <= box["x"] + 0.96 * box["width"] + 1.5
