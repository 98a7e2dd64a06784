"""The notebook view in a real browser (headless Chromium driven by Selenium): two views in one
page, each with its own slider, sample picker and play button; a hostile layer name stays text.

Skips only where no Chromium and chromedriver are installed, and never under CI (CI=true):
there it fails (see `browser` in conftest).
"""

import pytest
import torch
from conftest import needs_browser
from plain_snn import ConvSNN

from sam_plugins import LayerSAM, SAMResult, explain

pytestmark = needs_browser
SCRIPT = "</script><script>alert(1)</script>"


def test_two_views_on_one_page_move_independently(tmp_path, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    torch.manual_seed(0)
    frames = (torch.rand(5, 2, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1", "lif2"])
    maps = torch.rand(5, 1, 12)
    dense = LayerSAM(SCRIPT, maps, maps.sum(0), maps.sum(-1), kind="Leaky")
    hostile = SAMResult({SCRIPT: dense}, 0.5, window="previous")
    # as a notebook holds them: the cells' outputs one after another in one document
    page = tmp_path / "notebook.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>nb</title></head><body>"
        + result._repr_html_()
        + result.view(frames)._repr_html_()
        + hostile._repr_html_()
        + "</body></html>"
    )
    browser.get(page.as_uri())
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert  # the hostile name ran nothing
    views = browser.find_elements(By.CSS_SELECTOR, "div.sam-view")
    assert len(views) == 3 and len({v.get_attribute("id") for v in views}) == 3
    assert SCRIPT in views[2].text  # shown as text
    first, second = views[0], views[1]

    def visible(view):
        return [
            s for s in view.find_elements(By.CSS_SELECTOR, "section.sample") if s.is_displayed()
        ]

    assert [s.get_attribute("data-sample") for s in visible(first)] == ["0"]
    section = visible(second)[0]
    image = section.find_element(By.CSS_SELECTOR, 'img[data-key="lif1"]')
    label = section.find_element(By.CSS_SELECTOR, ".t")
    why = section.find_element(By.CSS_SELECTOR, ".why")
    before = image.get_attribute("src")
    other = visible(first)[0].find_element(By.CSS_SELECTOR, 'img[data-key="lif1"]')
    other_before = other.get_attribute("src")
    assert label.text == "t = 0 / 4" and why.is_displayed()

    section.find_element(By.CSS_SELECTOR, "input.step").send_keys(Keys.ARROW_RIGHT)
    assert label.text == "t = 1 / 4" and not why.is_displayed()
    assert image.get_attribute("src") != before  # the shown frame changed
    assert other.get_attribute("src") == other_before  # the other view did not move
    assert visible(first)[0].find_element(By.CSS_SELECTOR, ".t").text == "t = 0 / 4"
    # the strip of all steps: a click on step 3 shows step 3
    section.find_elements(By.CSS_SELECTOR, 'img[data-thumb="lif1"]')[3].click()
    assert label.text == "t = 3 / 4"
    assert image.get_attribute("src") == section.find_elements(
        By.CSS_SELECTOR, 'img[data-thumb="lif1"]'
    )[3].get_attribute("src")

    Select(first.find_element(By.CSS_SELECTOR, "select.sample-pick")).select_by_value("1")
    assert [s.get_attribute("data-sample") for s in visible(first)] == ["1"]
    assert [s.get_attribute("data-sample") for s in visible(second)] == ["0"]

    button = visible(first)[0].find_element(By.CSS_SELECTOR, "button.play")
    button.click()
    shown = visible(first)[0].find_element(By.CSS_SELECTOR, ".t")
    WebDriverWait(browser, 5).until(lambda _: shown.text == "t = 2 / 4")
    button.click()
    assert label.text == "t = 3 / 4"  # playing one view left the other where it was
    # the raster's step marker follows the slider
    raster = views[2].find_element(By.CSS_SELECTOR, ".marker")
    left = raster.value_of_css_property("left")
    views[2].find_element(By.CSS_SELECTOR, "input.step").send_keys(Keys.END)
    assert raster.value_of_css_property("left") != left


def test_a_live_frame_in_a_page_beside_the_notebook_view(tmp_path, browser):
    """`frame_html` as a live page shows it, in the same page as a notebook view: every image
    decoded and shown at a readable size, the [N] layer as a row of cells, the prediction and
    the time line; the view's slider still works beside it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from sam_plugins.viewer import frame_html, page

    torch.manual_seed(0)
    frames = (torch.rand(6, 1, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1", "lif3"])
    maps = {name: result[name].maps[4, 0] for name in result}
    live = frame_html(frames[4, 0], maps, 4, "predicted 2", result["lif1"].profile[:5, 0], 6)
    path = tmp_path / "live.html"
    path.write_text(page(live + result.view(frames)._repr_html_()))
    browser.set_window_size(1200, 1000)
    browser.get(path.as_uri())
    frame = browser.find_element(By.CSS_SELECTOR, "div.sam-live")
    images = frame.find_elements(By.TAG_NAME, "img")
    assert [i.get_attribute("alt") for i in images] == ["input", "lif1", "lif3"]
    for image in images:
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
        assert image.is_displayed() and image.size["width"] == 240
    assert images[0].size["height"] == 240 and images[2].size["height"] <= 24  # a row of cells
    assert frame.find_element(By.CSS_SELECTOR, ".prediction").text == "predicted 2"
    assert frame.find_element(By.CSS_SELECTOR, ".t").text == "t = 4 / 5"
    line = frame.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert line.is_displayed() and line.size["width"] == 480
    view = browser.find_element(By.CSS_SELECTOR, "div.sam-view")
    view.find_element(By.CSS_SELECTOR, "input.step").send_keys(Keys.ARROW_RIGHT)
    assert view.find_element(By.CSS_SELECTOR, ".t").text == "t = 1 / 5"
