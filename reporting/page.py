"""HTML pages written with dominate: headers, text, links, tables, inline plots and rows of titled images, laid out so
that nothing is wider than the window (long names wrap, tables and rows of images shrink to fit)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import dominate
from dominate.tags import a, b, details, div, figcaption, figure, h1, h3, h4, img, p, span, summary, table, td, th, tr
from dominate.util import raw

from instagan.util.files import atomic_write_text

STYLE = (
    "body{font-family:sans-serif;margin:1em;max-width:100%;overflow-wrap:anywhere} td{vertical-align:top;font-size:13px}"
    " h4{margin:1.6em 0 .4em} p{max-width:70em}"
    " table.values{border-collapse:collapse;max-width:100%;margin-bottom:.6em}"
    " table.values td,table.values th{padding:2px 10px;text-align:left}"
    " .row{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:6px} .row figure{margin:0;text-align:center;font-size:12px}"
    " .grid{display:grid;gap:6px;margin-bottom:6px} .grid figure{margin:0;text-align:center;font-size:12px}"
    " .row img,.grid img{max-width:100%;image-rendering:pixelated} .label{font-size:13px;font-weight:bold;margin:0}"
    " .plots{display:flex;flex-wrap:wrap;gap:12px} .plots svg{max-width:100%;height:auto}"
)


class HTML:
    """A page ``<web_dir>/index.html`` (or another name, at ``save``) whose images live in ``<web_dir>/images/``."""

    def __init__(self, web_dir: str | Path, title: str) -> None:
        self.web_dir = Path(web_dir)
        self.img_dir = self.web_dir / "images"
        self.img_dir.mkdir(parents=True, exist_ok=True)
        self.doc = dominate.document(title=title)
        with self.doc.head:
            dominate.tags.meta(charset="utf-8")
            dominate.tags.style(STYLE)
        with self.doc:
            h1(title, style="font-size:1.4em")

    def add_header(self, text: str, level: int = 3) -> None:
        """A heading: ``level`` 3 for a part of the page, 4 for a part of a part."""
        with self.doc:
            (h3 if level == 3 else h4)(text)

    def add_text(self, text: str) -> None:
        with self.doc:
            p(text)

    def add_raw(self, markup: str) -> None:
        with self.doc:
            raw(markup)

    def add_links(self, links: list[tuple[str, str | None]], before: str = "") -> None:
        """One line of links (text, href relative to the page; a None href is shown in bold, as where one is)."""
        with self.doc:
            with p():
                if before:
                    span(before + " ")
                for k, (text, href) in enumerate(links):
                    if k:
                        span(" · ")
                    if href is None:
                        b(text)
                    else:
                        a(text, href=quote(href))

    def add_table(self, header: list[str], rows: list[list[str]], collapsed: str | None = None) -> None:
        """A table of text cells under a header row; with ``collapsed``, folded away under that line until clicked."""
        with self.doc:
            with details() if collapsed else div():
                if collapsed:
                    summary(collapsed)
                with table(cls="values", border=1):
                    with tr():
                        for cell in header:
                            th(cell)
                    for row in rows:
                        with tr():
                            for cell in row:
                                td(cell)

    def add_images(self, ims: list[str], txts: list[str], links: list[str], width: int = 256, columns: int | None = None,
                   label: str = "") -> None:  # fmt: skip
        """A row of titled images, ``width`` pixels wide at most; ``ims`` and ``links`` are paths relative to the images
        folder. Without ``columns`` the row wraps on a narrow screen; with it, the images sit in that many columns that
        shrink to fit the window, so that rows of the same ``columns`` line up. ``label`` heads the row."""
        layout = (f"grid-template-columns:repeat({columns},minmax(0,{width}px))", "grid") if columns else ("", "row")
        with self.doc:
            if label:
                p(label, cls="label")
            with div(cls=layout[1], style=layout[0]):
                for im, txt, link in zip(ims, txts, links):
                    with figure(style="" if columns else f"width:min({width}px,45vw)"):
                        with a(href=f"images/{quote(link)}"):  # quoted: '#', '?' and '%' in a file name
                            img(src=f"images/{quote(im)}", alt=txt, style="width:100%")
                        figcaption(txt)

    def add_picture(self, src: str, caption: str, width: int) -> None:
        """One picture at ``src`` (relative to the page), ``width`` pixels wide at most, linked to itself."""
        with self.doc:
            with div(cls="row"):
                with figure(style=f"width:min({width}px,100%)"):
                    with a(href=quote(src)):
                        img(src=quote(src), alt=caption, style="width:100%")
                    figcaption(caption)

    def save(self, name: str = "index.html") -> Path:
        path = self.web_dir / name
        atomic_write_text(path, self.doc.render())
        return path
