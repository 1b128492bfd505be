"""The website's tools (tools.website): chapters as the site shows them, and the checks that read built pages."""

import socket

import nbformat
import pytest

from tools import website


def test_plumbing_statements_are_left_out_whole():
    source = ("x = 1\n"
              "record('01', x=x)  # course plumbing: for ./course bench\n"
              "record('01', y=1,  # course plumbing\n"
              "       z=2)\n"
              "if x:\n"
              "    print(x)\n"
              "    record('01', w=x)  # course plumbing\n"
              "assert x == 1")
    assert website.hide_plumbing(source) == "x = 1\nif x:\n    print(x)\nassert x == 1"


def test_a_marker_on_a_continuation_line_leaves_out_its_statement():
    source = "y = 2\nrecord(**{k: v\n          for k, v in {}.items()},   # course plumbing\n       n=1)"
    assert website.hide_plumbing(source) == "y = 2"


def test_code_without_plumbing_is_unchanged():
    source = "x = '# course plumbing'  # a string, not a mark\nprint(x)\n"
    assert website.hide_plumbing(source) == source


@pytest.mark.parametrize("source, problem", [
    ("x = (1,  # course plumbing\n", "cannot read the code"),
    ("%timeit f()  # course plumbing", "does not parse"),
    ("if x:\n    record(x)  # course plumbing", "would leave code that does not parse"),
])
def test_plumbing_that_cannot_be_hidden_is_named(source, problem):
    with pytest.raises(website.SiteError, match=problem):
        website.hide_plumbing(source)


def chapter(tmp_path, *cells):
    path = tmp_path / "notebooks" / "01_demo.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=list(cells)), path)
    return path


def test_the_site_copy_has_tags_and_no_plumbing_and_the_file_is_untouched(tmp_path):
    path = chapter(tmp_path, nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nx = 1\nrecord(x=x)  # course plumbing"))
    before = path.read_bytes()
    shown = website.site_notebook(path)
    assert shown.cells[0].source == "x = 1" and shown.cells[0].metadata["tags"] == ["nbval-ignore-output"]
    assert path.read_bytes() == before


def test_a_chapter_the_site_cannot_show_is_named_with_its_cell(tmp_path):
    path = chapter(tmp_path, nbformat.v4.new_markdown_cell("# Title"),
                   nbformat.v4.new_code_cell("if x:\n    record(x)  # course plumbing"))
    with pytest.raises(website.SiteError, match="01_demo.ipynb: cell 1: hiding the course plumbing"):
        website.site_notebook(path)


def test_image_outputs_counts_each_output_that_carries_an_image():
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    cells = [nbformat.v4.new_code_cell("a", outputs=[nbformat.v4.new_output("display_data", data=png),
                                                     nbformat.v4.new_output("execute_result", data=png)]),
             nbformat.v4.new_code_cell("b", outputs=[nbformat.v4.new_output("stream", text="hi"),
                                                     nbformat.v4.new_output("display_data",
                                                                            data={"image/jpeg": "/9j/"})]),
             nbformat.v4.new_markdown_cell("![not an output](x.png)")]
    assert website.image_outputs(nbformat.v4.new_notebook(cells=cells)) == 3


def test_table_of_contents_puts_the_readme_first_and_the_chapters_in_order():
    toc = website.table_of_contents(["01_a.ipynb", "02_b.ipynb"])
    assert toc.index("root: README") < toc.index("notebooks/01_a") < toc.index("notebooks/02_b") < \
        toc.index("file: GLOSSARY") < toc.index("file: data/README") < toc.index("file: CONTRIBUTING")


def test_korean_characters_keeps_each_hangul_character_once():
    assert website.korean_characters("convolution 합성곱, 합성 (padding 패딩)") == "합성곱패딩"


def write_site(root, pages):
    """A built site in `root`: {relative path: html}."""
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(html, encoding="utf-8")
    return root


def test_broken_links_finds_missing_files_and_anchors_and_nothing_else(tmp_path):
    site = write_site(tmp_path, {
        "index.html": '<a href="README.html#two-commands">ok</a><a href="https://example.org/">elsewhere</a>',
        "README.html": '<h2 id="two-commands">Two</h2><a href="#two-commands">self</a><a href="notebooks/01.html">'
                       'ch</a><img src="_images/fig.png"><a href="CONTRIBUTING.html">gone</a>',
        "notebooks/01.html": '<a href="../README.html#nowhere">bad anchor</a><link href="../_static/x.css">'
                             '<a href="mailto:someone@example.org">mail</a>',
        "_images/fig.png": "",
        "_static/template.html": '<a href="{{ pathto(x) }}">a theme template, not a page</a>',
    })
    assert website.broken_links(site) == [
        "README.html: CONTRIBUTING.html (no file CONTRIBUTING.html)",
        "notebooks/01.html: ../README.html#nowhere (no anchor #nowhere)",
        "notebooks/01.html: ../_static/x.css (no file _static/x.css)",
    ]


def test_a_folder_without_a_built_site_is_refused(tmp_path):
    with pytest.raises(website.SiteError, match="no built site"):
        website.broken_links(tmp_path)


def test_external_resources_finds_scripts_styles_fonts_and_images_from_other_hosts(tmp_path):
    site = write_site(tmp_path, {
        "index.html": '<a href="https://example.org/">a link is fine</a><script src="_static/a.js"></script>'
                      '<script src="https://cdn.example.org/mathjax.js"></script>'
                      '<link rel="stylesheet" href="//fonts.example.org/css">',
        "_static/theme.css": '@font-face { src: url("https://fonts.example.org/kr.woff2"); }'
                             ' .icon { background: url("data:image/svg+xml;utf8,<svg/>"); }',
    })
    assert website.external_resources(site) == [
        "index.html: https://cdn.example.org/mathjax.js",
        "index.html: //fonts.example.org/css",
        "_static/theme.css: https://fonts.example.org/kr.woff2",
    ]


def test_page_images_lists_image_sources_and_a_missing_page_is_named(tmp_path):
    write_site(tmp_path, {"a.html": '<p><img src="../_images/1.png" alt="x"><img src="../_images/2.png"></p>'})
    assert website.page_images(tmp_path / "a.html") == ["../_images/1.png", "../_images/2.png"]
    with pytest.raises(website.SiteError, match="no such page"):
        website.page_images(tmp_path / "b.html")


def test_the_build_guard_refuses_other_hosts_and_lets_loopback_through(silent_listener):
    with website.network_blocked() as attempts:
        with pytest.raises(OSError, match=website.NETWORK_BLOCKED):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with socket.socket() as sock, pytest.raises(OSError, match=website.NETWORK_BLOCKED):
            sock.connect(("192.0.2.1", 443))
        with socket.create_connection(silent_listener, timeout=2):
            pass
    assert attempts == ["('192.0.2.1', 80)", "('192.0.2.1', 443)"]


def test_the_site_is_served_on_loopback(tmp_path):
    import urllib.request

    write_site(tmp_path, {"index.html": "<p>course</p>"})
    with website.serving(tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(url + "index.html", timeout=5).read() == b"<p>course</p>"
