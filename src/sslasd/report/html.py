"""The HTML page: one self-contained file with inline CSS, no script and no external asset.

Everything that comes from a run folder passes through :func:`esc` before it enters the page,
so a machine called ``<b>`` or a config comment with ``&`` renders as text. The layout is a
single column (max 1180 px) with a sticky table of contents on the left when the window is wide
enough (a laptop at 1366 px), and above the content otherwise; it prints cleanly too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

CSS = """
:root { --ink:#212529; --muted:#5b6770; --line:#dee2e6; --soft:#f5f7f9; --accent:#1f6fb4; }
* { box-sizing:border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:var(--ink); background:#fff; }
.layout { display:flex; gap:28px; max-width:1440px; margin:0 auto; padding:20px 24px 60px; }
nav.toc { flex:0 0 190px; position:sticky; top:16px; align-self:flex-start; font-size:14px; }
nav.toc ol { list-style:none; margin:0; padding:0; }
nav.toc li { margin:2px 0; }
nav.toc a { display:block; padding:4px 10px; border-radius:6px; color:var(--ink); text-decoration:none; }
nav.toc a:hover { background:var(--soft); color:var(--accent); }
nav.toc .toc-title { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted);
  padding:0 10px 6px; }
main { flex:1 1 auto; min-width:0; max-width:1180px; }
header.top { display:flex; flex-wrap:wrap; gap:18px; align-items:stretch; justify-content:space-between;
  border-bottom:1px solid var(--line); padding-bottom:16px; margin-bottom:8px; }
header.top > div:first-child { flex:1 1 480px; min-width:0; }
header.top h1 { font-size:24px; margin:0 0 4px; }
.subtitle { color:var(--muted); font-size:14px; }
.facts { display:flex; flex-wrap:wrap; gap:6px 18px; margin-top:10px; font-size:13.5px; }
.facts span b { color:var(--muted); font-weight:500; margin-right:4px; }
.score-card { flex:0 0 auto; min-width:230px; padding:14px 20px; border-radius:10px; background:var(--soft);
  border:1px solid var(--line); text-align:right; }
.score-card .label { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); }
.score-card .value { font-size:42px; font-weight:700; line-height:1.1; color:var(--accent); }
.score-card .rule { font-size:12.5px; color:var(--muted); max-width:300px; margin-left:auto; }
section { padding-top:18px; }
h2 { font-size:19px; margin:10px 0 8px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:15.5px; margin:16px 0 6px; }
p.lead { color:var(--muted); margin:4px 0 10px; font-size:14px; }
.note { background:#fff9db; border:1px solid #ffe066; border-radius:8px; padding:8px 12px; font-size:14px;
  margin:8px 0; }
figure { margin:8px 0 16px; }
figure img { max-width:100%; height:auto; display:block; border:1px solid var(--line); border-radius:6px; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
.table-wrap { overflow-x:auto; margin:6px 0 14px; }
table { border-collapse:collapse; font-size:13.5px; font-variant-numeric:tabular-nums; }
th, td { padding:4px 10px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { background:var(--soft); font-weight:600; position:sticky; top:0; }
th.l, td.l { text-align:left; }
td.official { font-weight:650; }
td.diag { color:var(--muted); }
tr.mean td { background:#f1f6fc; font-weight:600; }
tr.total td { background:#e7f0fa; font-weight:700; border-top:2px solid var(--accent); }
details { border:1px solid var(--line); border-radius:8px; margin:8px 0; }
details summary { cursor:pointer; padding:8px 12px; background:var(--soft); border-radius:8px;
  font-weight:600; }
details pre { margin:0; padding:12px 14px; overflow-x:auto; font-size:12.5px; line-height:1.45;
  font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:3px 16px; font-size:14px; margin:6px 0; }
dl.kv dt { color:var(--muted); }
dl.kv dd { margin:0; overflow-wrap:anywhere; font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  font-size:13px; }
footer { color:var(--muted); font-size:12.5px; margin-top:36px; border-top:1px solid var(--line);
  padding-top:10px; }
@media (max-width:1100px) {
  .layout { display:block; }
  nav.toc { position:static; margin-bottom:12px; }
  nav.toc ol { display:flex; flex-wrap:wrap; gap:4px; }
}
@media print { nav.toc { display:none; } figure, table { break-inside:avoid; } }
"""


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor id, its title in the table of contents, its HTML body."""

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    """``value`` as text safe inside HTML (``<``, ``>``, ``&`` and quotes escaped)."""
    return html.escape(str(value), quote=True)


def note(text: str) -> str:
    """A highlighted note, used where a piece of the run is missing."""
    return f'<div class="note">{esc(text)}</div>'


def figure(uri: str, alt: str, caption: str) -> str:
    """An embedded image (``uri`` is a ``data:`` URI) with a caption."""
    return f'<figure><img src="{uri}" alt="{esc(alt)}"><figcaption>{esc(caption)}</figcaption></figure>'


def details(summary: str, text: str, *, open_: bool = False) -> str:
    """A collapsible block that shows ``text`` verbatim in a monospace ``<pre>``."""
    flag = " open" if open_ else ""
    return f"<details{flag}><summary>{esc(summary)}</summary><pre>{esc(text)}</pre></details>"


def key_values(items: Sequence[tuple[str, object]]) -> str:
    """A two-column list of names and values."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="kv">{rows}</dl>'


@dataclass(frozen=True)
class Cell:
    """A table cell: its text and CSS classes (``l`` left-aligned, ``official``, ``diag``)."""

    text: str
    cls: str = ""


def table(headers: Sequence[Cell], rows: Sequence[tuple[str, Sequence[Cell]]]) -> str:
    """A table; each row is (row CSS class, cells). Texts are escaped here."""

    def cell(tag: str, c: Cell) -> str:
        cls = f' class="{c.cls}"' if c.cls else ""
        return f"<{tag}{cls}>{esc(c.text)}</{tag}>"

    def row(cls: str, cells: Sequence[Cell]) -> str:
        start = f'<tr class="{cls}">' if cls else "<tr>"
        return start + "".join(cell("td", c) for c in cells) + "</tr>"

    head = "".join(cell("th", h) for h in headers)
    body = "".join(row(cls, cells) for cls, cells in rows)
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def page(*, title: str, header: str, sections: Sequence[Section], footer: str) -> str:
    """The complete HTML document: table of contents, header, sections, footer."""
    toc = "".join(f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<div class="layout"><nav class="toc"><div class="toc-title">Contents</div><ol>{toc}</ol></nav>'
        f"<main>{header}{body}<footer>{esc(footer)}</footer></main></div></body></html>\n"
    )
