"""The course's website, built as `./course site` builds it, checked like the notebooks (`./course site-test`).

The build runs in the website's own virtualenv with warnings as errors and every outgoing connection refused;
then the built pages are read: every internal link and image resolves, each chapter page shows as many images
as its notebook stores, nothing loads from another host. Last, headless Chromium opens the landing page, a
chapter and the glossary from a loopback server, with every request to another host refused: figures drawn,
formulas typeset by the site's own MathJax, the Korean font loaded. Screenshots go to test-artifacts/site/.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from helpers.paths import project_root
from tools import browser_lab, website
from tools.execution import chapter_notebooks

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_SITE_TEST") != "1",
                                reason="the website test runs with ./course site-test (build, then headless Chromium)")

ARTIFACTS = project_root() / "test-artifacts" / "site"
BUILD_SECONDS = 120
CHAPTERS = chapter_notebooks()
IDS = [path.stem[:2] for path in CHAPTERS]
SHOWN_CHAPTER = "01"   # figures and formulas
IMAGES_DRAWN = """() => [...document.querySelectorAll('img')].map(img => ({
  src: img.getAttribute('src'), drawn: img.complete && img.naturalWidth > 0}))"""
FORMULAS = "() => MathJax.startup.promise.then(() => document.querySelectorAll('mjx-container').length)"
KOREAN_TEXT = "th p, td p"
KOREAN_FONT = """() => document.fonts.ready.then(() => [...document.fonts]
  .filter(face => face.family.replace(/"/g, '') === 'Course Korean').map(face => face.status))"""


@pytest.fixture(scope="module")
def site():
    """The built site's folder, after a build in the website's virtualenv (its log saved beside the screenshots)."""
    python = os.environ.get("COURSE_SITE_PYTHON", str(project_root() / ".venv-site" / "bin" / "python"))
    if not Path(python).is_file():
        pytest.fail(f"no website virtualenv at {python}: run ./course site-test, which sets it up")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = subprocess.run([python, "-m", "tools.website"], cwd=project_root(), capture_output=True, text=True,
                            timeout=BUILD_SECONDS)
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    (ARTIFACTS / "build.log").write_text(log, encoding="utf-8")
    assert result.returncode == 0, f"the site build failed:\n{log[-3000:]}"
    assert website.NETWORK_BLOCKED not in log
    html = website.OUTPUT_DIR / "_build" / "html"
    size_mb = sum(path.stat().st_size for path in html.rglob("*") if path.is_file()) / 1e6
    print(f"\nsite built in {seconds:.1f} s: {size_mb:.1f} MB in {html.relative_to(project_root())}/")
    return html


def test_pages_are_the_readme_the_chapters_in_order_and_the_reference_pages(site):
    assert 'url=README.html' in (site / "index.html").read_text(encoding="utf-8")
    landing = (site / "README.html").read_text(encoding="utf-8")
    order = [landing.find(f'href="notebooks/{path.stem}.html"') for path in CHAPTERS]
    assert -1 not in order and order == sorted(order), "the landing page lists every chapter, in order"
    for page in ("GLOSSARY.html", "data/README.html", "CONTRIBUTING.html"):
        assert f'href="{page}"' in landing, f"the README links to {page} on the site"
    assert website.STORED_OUTPUTS.split(":")[0] in landing, "the landing page says the outputs are stored ones"


def test_every_internal_link_and_image_resolves(site):
    assert website.broken_links(site) == []


def test_nothing_loads_from_another_host(site):
    assert website.external_resources(site) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_page_shows_every_stored_image(site, path):
    stored = website.image_outputs(nbformat.read(path, as_version=4))
    shown = website.page_images(site / "notebooks" / f"{path.stem}.html")
    assert len(shown) == stored, f"{path.name} stores {stored} images, its page shows {len(shown)}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_page_hides_test_markers_and_plumbing(site, path):
    page = (site / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
    comments = re.findall(r'<span class="c1">([^<]*)</span>', page)
    assert not [comment for comment in comments if comment.startswith((website.PLUMBING, "# NBVAL_"))]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, as in the browser test) driven by Playwright."""
    reason = browser_lab.skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser_lab.find_chromium(),
                                              args=list(browser_lab.CHROMIUM_FLAGS), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(site, browser):
    """open_page(relative path) -> a page loaded from a loopback server; requests to other hosts are refused."""
    refused = []
    with website.serving(site) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def only_this_site(route):
            if route.request.url.startswith(url):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_site)

        def opened(path):
            page.goto(url + path, wait_until="load")
            return page

        yield opened
        page.close()
    assert refused == [], f"the pages asked another host for {refused}"


def test_landing_page_in_chromium(open_page):
    page = open_page("README.html")
    assert "cnn-course" in page.title()
    page.screenshot(path=ARTIFACTS / "landing.png")


def test_chapter_figures_and_formulas_in_chromium(open_page):
    (path,) = [path for path in CHAPTERS if path.name.startswith(SHOWN_CHAPTER)]
    page = open_page(f"notebooks/{path.stem}.html")
    for image in page.locator("img").all():   # a figure far down the page loads when scrolled to
        image.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(img => img.complete)")
    images = page.evaluate(IMAGES_DRAWN)
    assert len(images) == website.image_outputs(nbformat.read(path, as_version=4))
    assert all(image["drawn"] for image in images), [image["src"] for image in images if not image["drawn"]]
    assert page.evaluate(FORMULAS) > 0, "MathJax typeset no formula"
    page.locator("img").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"chapter-{SHOWN_CHAPTER}.png")


def korean_text_fonts(page) -> dict[str, list[str]]:
    """The fonts Chromium drew each Korean table header or cell of `page` with, by its text."""
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    nodes = session.send("DOM.querySelectorAll", {"nodeId": root, "selector": KOREAN_TEXT})["nodeIds"]
    texts = page.evaluate(f"() => [...document.querySelectorAll('{KOREAN_TEXT}')].map(node => node.textContent)")
    return {text: [font["familyName"] for font in session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]
            for node, text in zip(nodes, texts) if website.korean_characters(text)}


def test_glossary_korean_text_drawn_with_the_bundled_font(open_page):
    page = open_page("GLOSSARY.html")
    assert page.evaluate(KOREAN_FONT) == ["loaded"], "the bundled Korean font did not load"
    fonts = korean_text_fonts(page)
    assert len(fonts) > 20
    # the subset is NanumGothic; without it, a machine with no Korean font draws empty boxes
    assert not [text for text, names in fonts.items() if "NanumGothic" not in names], fonts
    page.screenshot(path=ARTIFACTS / "glossary.png")
