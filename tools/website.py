"""The course as a website: Jupyter Book 1.x over the committed notebooks, their stored outputs shown, nothing executed.

Usage: ./course site [--serve] [--port N]   (runs `python -m tools.website` in the site's own virtualenv)
The pages are README.md (the landing page), the chapters in order, GLOSSARY.md, data/README.md and
CONTRIBUTING.md, copied into build/site-source/ in the repository's layout, so the README's links
(`notebooks/01_....ipynb`, `data/README.md`) work on GitHub and on the site alike. The chapters are copies
with nbval's markers as tags and the `# course plumbing` statements (benchmark records) left out. MathJax and
a Korean font subset come from installed packages into the site itself: the pages load nothing from
elsewhere. The build treats warnings as errors and blocks every connection that leaves this machine.

The checks (`./course site-test`, tests/site/) use the functions below that read the built HTML.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import importlib.util
import io
import json
import re
import shutil
import socket
import sys
import threading
import tokenize
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tools import markers
from tools.execution import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "build" / "site-source"
OUTPUT_DIR = ROOT / "build" / "site"
PAGES = ("README.md", "GLOSSARY.md", "data/README.md", "CONTRIBUTING.md")
PLUMBING = "# course plumbing"
STATIC_FOLDER = "_site_static"   # copied into the built site's _static/
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
NETWORK_BLOCKED = "network access attempted during the site build"
# The bundled Korean subset first (its unicode-range keeps it to Hangul, so Latin text stays in the theme's system
# font; placed after it, Chromium draws the first Korean words it lays out with no Korean font at all), then common
# system fonts for Korean characters the subset lacks.
KOREAN_FONTS = ('"Course Korean", system-ui, "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", "NanumGothic", '
                "sans-serif")
# The README's own words on the stored outputs, shown as a banner on every page.
STORED_OUTPUTS = ("Outputs on these pages are the notebooks' stored outputs: fast mode, offline (4,000 MNIST digits; "
                  "the synthetic stand-in for the flower photos). Your own run, in full mode and online by default, "
                  "trains on the full data sets and shows its own numbers. Lines that only record numbers for the "
                  "course's benchmark (marked # course plumbing in the notebooks) are left out of these pages.")


class SiteError(RuntimeError):
    """A page, notebook or built file the website cannot be made from or checked against."""


# --- the chapters as the site shows them -------------------------------------------------------------------------

def _plumbing_lines(source: str) -> list[int]:
    """Line numbers (1-based) of comments that mark a statement as course plumbing."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        raise SiteError(f"cannot read the code: {error}") from None
    return [token.start[0] for token in tokens if token.type == tokenize.COMMENT and token.string.startswith(PLUMBING)]


def hide_plumbing(source: str) -> str:
    """`source` without the statements marked `# course plumbing` (the whole statement, continuation lines too)."""
    marked = _plumbing_lines(source)
    if not marked:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise SiteError(f"cannot hide course plumbing in code that does not parse: {error}") from None
    statements = [node for node in ast.walk(tree) if isinstance(node, ast.stmt)]
    dropped = set()
    for line in marked:
        holding = [node for node in statements if node.lineno <= line <= node.end_lineno]
        if not holding:
            raise SiteError(f"line {line}: '{PLUMBING}' marks no statement")
        innermost = min(holding, key=lambda node: node.end_lineno - node.lineno)
        dropped.update(range(innermost.lineno, innermost.end_lineno + 1))
    kept = [text for number, text in enumerate(source.splitlines(), start=1) if number not in dropped]
    shown = "\n".join(kept).rstrip()
    try:
        ast.parse(shown)
    except SyntaxError:
        raise SiteError(f"hiding the course plumbing would leave code that does not parse: {shown!r}") from None
    return shown


def site_notebook(path: Path):
    """The chapter at `path` as the site shows it: markers as tags, plumbing statements left out."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    try:
        markers.migrate_notebook(notebook)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                try:
                    cell.source = hide_plumbing(cell.source)
                except SiteError as error:
                    raise SiteError(f"cell {index}: {error}") from None
    except (SiteError, markers.MarkerError) as error:
        raise SiteError(f"{path.name}: {error}") from None
    return notebook


def image_outputs(notebook) -> int:
    """How many images a notebook's stored outputs hold (one per output that carries an image type)."""
    return sum(1 for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
               if any(kind in output.get("data", {}) for kind in IMAGE_TYPES))


# --- the book's source folder ------------------------------------------------------------------------------------

def table_of_contents(chapters: list[str]) -> str:
    """Jupyter Book's _toc.yml: the README as the landing page, the chapters, then the reference pages."""
    lines = ["format: jb-book", "root: README", "parts:", "  - caption: Chapters", "    chapters:"]
    lines += [f"      - file: notebooks/{Path(name).stem}" for name in chapters]
    lines += ["  - caption: Reference", "    chapters:"]
    lines += [f"      - file: {Path(page).with_suffix('').as_posix()}" for page in PAGES[1:]]
    return "\n".join(lines) + "\n"


def book_config() -> dict:
    """Jupyter Book's _config.yml (as a dict; JSON is YAML): stored outputs only, nothing from elsewhere."""
    return {
        "title": "cnn-course",
        "author": "the cnn-course authors",
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence", "dollarmath"]},
        "html": {"use_repository_button": False, "use_issues_button": False, "use_edit_page_button": False,
                 "home_page_in_navbar": True, "announcement": STORED_OUTPUTS},
        "launch_buttons": {"thebe": False, "notebook_interface": "jupyterlab"},
        "repository": {"url": "", "path_to_book": ""},
        "sphinx": {"config": {
            "mathjax_path": "mathjax/tex-mml-chtml.js",   # relative to _static: served by the site itself
            # not "_static": Jupyter Book would add every .js file in it (all of MathJax) to every page
            "html_static_path": [STATIC_FOLDER],
            "html_css_files": ["korean.css"],
            "nb_ipywidgets_js": {},                      # no require.js from a CDN
            "html_show_copyright": False,
            "myst_heading_anchors": 3,                   # GitHub's anchors (README.md#section) work here too
        }},
    }


def _installed_package_folder(name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SiteError(f"the package {name!r} is not installed: run ./course site, which installs requirements-site.lock")
    return Path(next(iter(spec.submodule_search_locations)))


def copy_mathjax(static: Path) -> None:
    """MathJax 3's TeX+MathML component with its fonts and TeX extensions, from the django-static-mathjax package."""
    es5 = _installed_package_folder("mathjax") / "static" / "mathjax" / "es5"
    target = static / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / "tex-mml-chtml.js", target)
    for folder in ("output/chtml/fonts", "input/tex/extensions"):
        shutil.copytree(es5 / folder, target / folder, dirs_exist_ok=True)


def korean_characters(text: str) -> str:
    """The Hangul syllables and letters in `text`, each once, in order."""
    return "".join(dict.fromkeys(char for char in text if "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f"
                                 or "\uac00" <= char <= "\ud7a3"))


def write_korean_font(static: Path, text: str) -> None:
    """NanumGothic (OFL, shipped by koreanize-matplotlib) cut down to the Korean characters in `text`, with its CSS."""
    from fontTools import subset

    characters = korean_characters(text)
    css = [f"html {{ --pst-font-family-base: {KOREAN_FONTS}; --pst-font-family-heading: {KOREAN_FONTS}; }}"]
    if characters:
        font = _installed_package_folder("koreanize_matplotlib") / "fonts" / "NanumGothic.ttf"
        options = subset.Options()
        options.flavor = "woff"
        loaded = subset.load_font(str(font), options)
        cutter = subset.Subsetter(options)
        cutter.populate(text=characters)
        cutter.subset(loaded)
        subset.save_font(loaded, str(static / "korean-subset.woff"), options)
        css.insert(0, '@font-face { font-family: "Course Korean"; src: url("korean-subset.woff") format("woff"); '
                      "unicode-range: U+1100-11FF, U+3130-318F, U+AC00-D7A3; font-display: block; }")
    (static / "korean.css").write_text("\n".join(css) + "\n", encoding="utf-8")


def prepare_source(target: Path = SOURCE_DIR) -> list[str]:
    """Write the book's source folder from the repository; return the chapter file names in order."""
    import nbformat

    if target.exists():
        shutil.rmtree(target)
    (target / "notebooks").mkdir(parents=True)
    text = []
    for page in PAGES:
        source = ROOT / page
        if not source.is_file():
            raise SiteError(f"{page} is missing: the site's pages are {', '.join(PAGES)}")
        (target / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / page)
        text.append(source.read_text(encoding="utf-8"))
    chapters = chapter_notebooks()
    if not chapters:
        raise SiteError(f"no chapter notebooks (NN_slug.ipynb) in {ROOT / 'notebooks'}")
    for path in chapters:
        nbformat.write(site_notebook(path), target / "notebooks" / path.name)
        text.append(path.read_text(encoding="utf-8"))
    (target / "_toc.yml").write_text(table_of_contents([path.name for path in chapters]), encoding="utf-8")
    (target / "_config.yml").write_text(json.dumps(book_config(), indent=2) + "\n", encoding="utf-8")
    static = target / STATIC_FOLDER
    static.mkdir()
    copy_mathjax(static)
    write_korean_font(static, "".join(text))
    return [path.name for path in chapters]


# --- building it, offline ----------------------------------------------------------------------------------------

def _is_loopback(address) -> bool:
    """True for a connect() address on this machine (127.0.0.0/8, ::1, localhost, a Unix socket)."""
    if isinstance(address, (str, bytes)):
        return True
    host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
    return host in ("localhost", "::1") or host.startswith("127.")


@contextlib.contextmanager
def network_blocked():
    """Inside, every connection from this process that leaves this machine fails; yields the list of attempts."""
    attempts: list[str] = []
    connect, create_connection = socket.socket.connect, socket.create_connection

    def refuse(address):
        attempts.append(str(address))
        print(f"{NETWORK_BLOCKED}: {address}", file=sys.stderr, flush=True)
        raise OSError(f"{NETWORK_BLOCKED}: {address}")

    def guarded_connect(self, address):
        return connect(self, address) if _is_loopback(address) else refuse(address)

    def guarded_create_connection(address, *args, **kwargs):
        return create_connection(address, *args, **kwargs) if _is_loopback(address) else refuse(address)

    socket.socket.connect, socket.create_connection = guarded_connect, guarded_create_connection
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.create_connection = connect, create_connection


def build(source: Path = SOURCE_DIR, output: Path = OUTPUT_DIR) -> Path:
    """Build the HTML with warnings as errors and the network blocked; return the folder of the pages."""
    from jupyter_book.cli.main import build as jupyter_book_build

    if output.exists():
        shutil.rmtree(output)
    with network_blocked() as attempts:
        try:
            jupyter_book_build.main([str(source), "--path-output", str(output), "--builder", "html", "-W", "-n",
                                     "--keep-going"], standalone_mode=False)
        except SystemExit as stop:  # jupyter-book exits 1 on a failed build
            if stop.code:
                raise SiteError(f"the site build failed (exit {stop.code}): see the warnings above") from None
    if attempts:
        raise SiteError(f"{NETWORK_BLOCKED}: {attempts}")
    return output / "_build" / "html"


@contextlib.contextmanager
def serving(folder: Path, port: int = 0):
    """Serve `folder` on 127.0.0.1 (port 0: any free port) in a background thread; yields the site's URL."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # one line per request is noise in a terminal and in test logs
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def serve(folder: Path, port: int) -> None:
    """Serve `folder` on 127.0.0.1 until interrupted."""
    with serving(folder, port) as url:
        print(f"serving the course at {url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


# --- reading the built pages -------------------------------------------------------------------------------------

class _PageParser(HTMLParser):
    """Collects a page's ids, link targets, image sources and external resources."""

    RESOURCE_TAGS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])
        resource = attributes.get(self.RESOURCE_TAGS.get(tag, ""))
        if resource:
            self.resources.append(resource)


def read_page(path: Path) -> _PageParser:
    """The parsed HTML page at `path`."""
    if not path.is_file():
        raise SiteError(f"{path}: no such page")
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _is_external(url: str) -> bool:
    """True for a URL on another host (http, https, protocol-relative); data: URLs are part of the page."""
    return urlsplit(url).scheme in ("http", "https", "ftp") or url.startswith("//")


def built_pages(site: Path) -> list[Path]:
    """The HTML pages Sphinx wrote (not the theme's template fragments in _static/)."""
    return sorted(page for page in site.rglob("*.html") if page.relative_to(site).parts[0] not in ("_static", "_sources"))


def page_images(path: Path) -> list[str]:
    """The image sources of the built page at `path`, in order."""
    return read_page(path).images


def broken_links(site: Path) -> list[str]:
    """Every internal link, image or resource in the site's pages whose file or #anchor does not exist."""
    site = site.resolve()
    if not (site / "index.html").is_file():
        raise SiteError(f"{site} holds no built site (no index.html)")
    broken, parsed = [], {}

    def ids_of(path):
        if path not in parsed:
            parsed[path] = read_page(path)
        return parsed[path].ids

    for page in built_pages(site):
        parsed[page] = read_page(page)
        for url in [*parsed[page].links, *parsed[page].resources]:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):   # another host, mailto:, data:
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: {url}"
            if not target.is_file():
                broken.append(f"{where} (no file {target.relative_to(site) if target.is_relative_to(site) else target})")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in ids_of(target):
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")


def external_resources(site: Path) -> list[str]:
    """Scripts, styles, fonts and images the site would load from elsewhere (plain links to other sites are fine)."""
    found = [f"{page.relative_to(site)}: {url}" for page in built_pages(site)
             for url in read_page(page).resources if _is_external(url)]
    for sheet in sorted(site.rglob("*.css")):
        found += [f"{sheet.relative_to(site)}: {url}" for url in CSS_URL.findall(sheet.read_text(encoding="utf-8"))
                  if _is_external(url)]
    return found


def main(argv: list[str] | None = None) -> int:
    """Build the site; with --serve, serve it on 127.0.0.1 afterwards."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="serve the built site on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on (0: any free port)")
    args = parser.parse_args(argv)
    try:
        chapters = prepare_source()
        html = build()
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"built {len(chapters)} chapters and {len(PAGES)} pages into {html.relative_to(ROOT)}/", flush=True)
    if args.serve:
        serve(html, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
