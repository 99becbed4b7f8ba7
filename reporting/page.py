"""HTML pages written with dominate: headers, text, tables, inline plots and rows of titled images."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import dominate
from dominate.tags import a, div, figcaption, figure, h1, h3, img, p, table, td, th, tr
from dominate.util import raw

from instagan.util.files import atomic_write_text


class HTML:
    """A page ``<web_dir>/index.html`` whose images live in ``<web_dir>/images/``."""

    def __init__(self, web_dir: str | Path, title: str) -> None:
        self.web_dir = Path(web_dir)
        self.img_dir = self.web_dir / "images"
        self.img_dir.mkdir(parents=True, exist_ok=True)
        self.doc = dominate.document(title=title)
        with self.doc.head:
            dominate.tags.style(
                "body{font-family:sans-serif;margin:1em;max-width:100%} td{vertical-align:top;font-size:13px}"
                " table.values td,table.values th{padding:2px 10px;text-align:left}"
                " .row{display:flex;flex-wrap:wrap;gap:6px} .row figure{margin:0;text-align:center;font-size:12px}"
                " .row img{max-width:100%;image-rendering:pixelated} .row figcaption{overflow-wrap:anywhere}"
            )
        with self.doc:
            h1(title, style="font-size:1.4em")

    def add_header(self, text: str) -> None:
        with self.doc:
            h3(text)

    def add_text(self, text: str) -> None:
        with self.doc:
            p(text)

    def add_raw(self, markup: str) -> None:
        with self.doc:
            raw(markup)

    def add_table(self, header: list[str], rows: list[list[str]]) -> None:
        """A table of text cells under a header row."""
        with self.doc:
            with table(cls="values", border=1, style="border-collapse:collapse"):
                with tr():
                    for cell in header:
                        th(cell)
                for row in rows:
                    with tr():
                        for cell in row:
                            td(cell)

    def add_images(self, ims: list[str], txts: list[str], links: list[str], width: int = 256) -> None:
        """A row of titled images, ``width`` pixels wide at most, that wraps on a narrow screen; ``ims`` and ``links``
        are paths relative to the images folder."""
        with self.doc:
            with div(cls="row"):
                for im, txt, link in zip(ims, txts, links):
                    with figure(style=f"width:min({width}px,45vw)"):
                        with a(href=f"images/{quote(link)}"):  # quoted: '#', '?' and '%' in a file name
                            img(src=f"images/{quote(im)}", alt=txt, style="width:100%")
                        figcaption(txt)

    def save(self) -> Path:
        path = self.web_dir / "index.html"
        atomic_write_text(path, self.doc.render())
        return path
