"""The learner's JupyterLab in a real browser: Kernel > Restart Kernel and Run All Cells on chapters 01, 02 and 03 (a
training chapter), then in each an exercise typed wrong and right, as a learner would, and in chapter 02 a slider moved
(`./course browser-test`; screenshots in test-artifacts/browser/).

JupyterLab renders long notebooks lazily, so the test reads the notebook's state from the page's own
JupyterLab application (served with expose_app_in_browser) instead of counting cells in the page, and
scrolls each figure into view before it checks that the image was drawn.
"""

import json
import os
import re
import time

import nbformat
import pytest

from helpers.paths import project_root
from tools import browser_lab
from tools.execution import chapter_notebooks
from tools.exercise_proof import find_exercise_cells

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_BROWSER_TEST") != "1",
                                reason="the browser test runs with ./course browser-test (JupyterLab in headless Chromium)")

ARTIFACTS = project_root() / "test-artifacts" / "browser"
RUN_ALL_SECONDS = 150
# Per chapter: the exercise typed into the page, a wrong answer and words its check must answer with.
TYPED = {
    "01": ("01.2", "coffee = data.coffee()\ncoffee_shape = (400, 600, 3)\ncoffee_pixel = coffee[250, 100]",
           "x and y are swapped"),
    "02": ("02.2", "after_conv = 109\nafter_pool = 54", "the size for padding=\"valid\""),
    "03": ("03.2", "y_train_onehot = y_train\nonehot_loss = \"categorical_crossentropy\"", "these are class numbers"),
}

STATE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
  const session = panel.sessionContext.session;
  const cells = panel.content.model.cells;
  let code = 0, ran = 0, errors = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code += 1;
    if (cell.executionCount !== null) ran += 1;
    for (let j = 0; j < cell.outputs.length; j++) if (cell.outputs.get(j).type === 'error') errors += 1;
  }
  return {kernel: session && session.kernel ? session.kernel.status : 'none', code, ran, errors};
}"""
NOTEBOOK = "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"
PRINTED = """(index) => {
  const outputs = window.jupyterapp.shell.currentWidget.content.model.cells.get(index).outputs.toJSON();
  return outputs.filter(o => o.output_type === 'stream').map(o => Array.isArray(o.text) ? o.text.join('') : o.text).join('');
}"""
SHOW_CELL = """async ([index, label]) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  await notebook.scrollToItem(index, 'center');
  notebook.activeCellIndex = index;
  const node = notebook.widgets[index].node;
  document.querySelectorAll(`[data-browser-test="${label}"]`).forEach(n => n.removeAttribute('data-browser-test'));
  node.setAttribute('data-browser-test', label);
  node.scrollIntoView({block: 'center'});
}"""
IMAGES_DRAWN = """(index) => {
  const images = [...window.jupyterapp.shell.currentWidget.content.widgets[index].node
    .querySelectorAll('.jp-OutputArea-output img')];
  return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0);
}"""


class Timer:
    """Named durations in seconds, measured one after another."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.laps = {}

    def lap(self, name):
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 1)
        self.last = now

    def total(self):
        return round(time.perf_counter() - self.start, 1)


def wait_for_state(page, done, seconds, what):
    """Poll the notebook's state until `done(state)`; fail naming `what` (and the last state) after `seconds`."""
    deadline = time.monotonic() + seconds
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(STATE)
        if state and done(state):
            return state
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {seconds} s; last state {state}")


def wait_for_printed(page, index, prefix, seconds=30):
    """Wait until code cell `index` printed text starting with `prefix`; return that text."""
    deadline = time.monotonic() + seconds
    printed = ""
    while time.monotonic() < deadline:
        printed = page.evaluate(PRINTED, index)
        if printed.startswith(prefix):
            return printed
        time.sleep(0.2)
    raise AssertionError(f"cell {index} should print '{prefix}...', printed {printed!r}")


def run_all(page):
    """Kernel > Restart Kernel and Run All Cells..., confirmed, as a learner clicks it."""
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel and Run All Cells")).click()
    page.locator(".jp-Dialog .jp-mod-accept").click()


def type_into_cell(page, index, text):
    """Click into code cell `index`, replace its text with `text` (typed into the editor), run it and the next cell."""
    page.evaluate(SHOW_CELL, [index, "typing"])
    page.locator('[data-browser-test="typing"] .cm-content').click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
    page.keyboard.press("Shift+Enter")  # runs the scaffold, selects the check cell
    page.keyboard.press("Shift+Enter")  # runs the check


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server and one headless Chromium for every chapter: (server, browser, notebooks folder, timer)."""
    reason = browser_lab.skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    scratch = tmp_path_factory.mktemp("browser")
    (scratch / "notebooks").mkdir()
    timer = Timer()
    with browser_lab.LabServer(scratch / "notebooks", scratch / "lab") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_lab.find_chromium(),
                                             args=list(browser_lab.CHROMIUM_FLAGS), headless=True)
        timer.lap("JupyterLab and Chromium started")
        try:
            yield server, browser, scratch / "notebooks", timer
        finally:
            browser.close()
    print(f"\nbrowser test: JupyterLab and Chromium started in {timer.laps['JupyterLab and Chromium started']} s")


@pytest.fixture(scope="module", params=sorted(TYPED))
def lab_run(request, lab):
    """Chapter NN in JupyterLab in headless Chromium after Restart Kernel and Run All: (page, facts)."""
    server, browser, folder, _ = lab
    chapter = request.param
    (path,) = chapter_notebooks([f"{chapter}_"])
    notebook_path = browser_lab.scratch_chapter(path, folder)
    timer = Timer()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.set_default_timeout(60_000)
        # a workspace of its own per chapter: JupyterLab does not reopen the previous chapter's tab beside it
        page.goto(f"{server.url}lab/workspaces/chapter-{chapter}/tree/{notebook_path.name}?token={server.token}")
        wait_for_state(page, lambda state: state["kernel"] == "idle", 90, "the notebook opening with an idle kernel")
        timer.lap("page open, kernel idle")
        run_all(page)
        state = wait_for_state(page, lambda state: state["errors"] or (state["kernel"] == "idle" and
                                                                         state["ran"] == state["code"]),
                               RUN_ALL_SECONDS, "Restart Kernel and Run All finishing")
        timer.lap("Restart Kernel and Run All")
        ran = page.evaluate(NOTEBOOK)
        page.evaluate(SHOW_CELL, [0, "top"])
        page.screenshot(path=ARTIFACTS / f"{chapter}-1-after-run-all.png")
        facts = {"chapter": chapter, "state": state, "notebook": ran, "timer": timer,
                 "scratch_notebook": nbformat.read(notebook_path, as_version=4)}
        yield page, facts
    finally:
        page.close()                       # its kernel idles until the server stops with the module
    summary = {"chapter": chapter, "seconds": timer.laps, "total seconds": timer.total()}
    (ARTIFACTS / f"{chapter}-timings.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"\nbrowser test, chapter {chapter}: {timer.total()} s {timer.laps}; screenshots in {ARTIFACTS}")


def test_restart_and_run_all_shows_no_error_and_no_new_stderr(lab_run):
    _, facts = lab_run
    (path,) = chapter_notebooks([f"{facts['chapter']}_"])
    stored = json.loads(path.read_text(encoding="utf-8"))
    problems = browser_lab.output_problems(facts["notebook"], stored)
    assert facts["state"]["errors"] == 0 and not problems, "\n".join(problems)


def test_every_figure_is_drawn_in_the_page(lab_run):
    page, facts = lab_run
    figures = browser_lab.image_cells(facts["notebook"])
    assert figures, "the chapter shows figures, so its run must output images"
    not_drawn = []
    for index in figures:
        page.evaluate(SHOW_CELL, [index, "figure"])
        try:
            page.wait_for_function(IMAGES_DRAWN, arg=index, timeout=10_000)
        except Exception:  # playwright's TimeoutError: report every figure, not only the first
            not_drawn.append(index)
    page.evaluate(SHOW_CELL, [figures[0], "figure"])
    page.screenshot(path=ARTIFACTS / f"{facts['chapter']}-2-first-figure.png")
    facts["timer"].lap("figures checked")
    assert not not_drawn, f"cells {not_drawn} have image outputs that the page did not draw"


def test_an_exercise_answers_a_wrong_then_a_right_answer(lab_run):
    from helpers.exercises import REGISTRY

    page, facts = lab_run
    exercise_id, wrong, words = TYPED[facts["chapter"]]
    cells = {item.id: item for item in find_exercise_cells(facts["scratch_notebook"])}[exercise_id]
    committed = page.evaluate(PRINTED, cells.check)
    assert committed.startswith(f"{exercise_id} not attempted yet:"), committed
    type_into_cell(page, cells.scaffold, wrong)
    printed = wait_for_printed(page, cells.check, f"{exercise_id} not yet:")
    assert words in printed
    page.evaluate(SHOW_CELL, [cells.check, "check"])
    assert words in page.locator('[data-browser-test="check"] .jp-OutputArea-output').inner_text()
    page.screenshot(path=ARTIFACTS / f"{facts['chapter']}-3-exercise-not-yet.png")
    type_into_cell(page, cells.scaffold, REGISTRY.get(exercise_id).solution)
    printed = wait_for_printed(page, cells.check, f"{exercise_id} correct:")
    page.evaluate(SHOW_CELL, [cells.check, "check"])
    assert "correct:" in page.locator('[data-browser-test="check"] .jp-OutputArea-output').inner_text()
    page.screenshot(path=ARTIFACTS / f"{facts['chapter']}-4-exercise-correct.png")
    facts["timer"].lap("exercise typed wrong, then right")


# Per chapter: a cell's source that identifies a live-controls cell, and the slider in it the test moves.
SLIDERS = {"02": ("controls.live(plots.show_output_grid", 0)}
DRAWN_PICTURE = """(label) => {
  const img = document.querySelector(`[data-browser-test="${label}"] .widget-output img`);
  return img && img.complete && img.naturalWidth > 0 ? img.src : null;
}"""


def test_moving_a_slider_redraws_its_picture(lab_run):
    page, facts = lab_run
    if facts["chapter"] not in SLIDERS:
        pytest.skip(f"chapter {facts['chapter']} has no slider")
    source, slider = SLIDERS[facts["chapter"]]
    (index,) = [i for i, cell in enumerate(facts["scratch_notebook"].cells) if source in cell.source]
    page.evaluate(SHOW_CELL, [index, "slider"])
    page.wait_for_function(DRAWN_PICTURE, arg="slider", timeout=30_000)
    before = page.evaluate(DRAWN_PICTURE, "slider")
    handle = page.locator('[data-browser-test="slider"] .widget-slider .noUi-handle').nth(slider)
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(label) => ({DRAWN_PICTURE})(label) !== {json.dumps(before)}", arg="slider",
                           timeout=30_000)
    page.evaluate(SHOW_CELL, [index, "slider"])
    page.screenshot(path=ARTIFACTS / f"{facts['chapter']}-5-slider-moved.png")
    facts["timer"].lap("slider moved, picture redrawn")
