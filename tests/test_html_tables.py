"""HTML tables of a mail body as the grids the docx reader gives, bounded, and read by extract_indicators."""
from __future__ import annotations

import time

import docx

from intake.documents import read_attachment
from intake.documents.html_tables import MAX_COLUMNS, MAX_ROWS, MAX_TABLES, html_tables
from intake.model import DocumentText
from intake.report.indicators import extract_indicators
from tests.fixtures.documents import add_table, docx_bytes
from tests.fixtures.indicator_shapes import DAO_TAO, DN_HTQL, HTML_BODY, HTML_REPORT, YEAR


def test_spans_are_expanded_as_the_docx_reader_expands_merged_cells():
    """The same table written in Word and in HTML gives the same grid (DocumentText.tables)."""
    rows = [["TT", "Nội dung", "Kết quả thực hiện", "", "Tỷ lệ (%)"],
            ["", "", f"Năm {YEAR}", "Lũy kế", ""],
            ["1", DN_HTQL, "35", "105", "70"],
            ["2", DAO_TAO, "300", "960", ""]]
    document = docx.Document()
    add_table(document, rows, merges=[(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 3), (0, 4, 1, 4), (2, 4, 3, 4)])
    from_word = read_attachment("bc.docx", "", docx_bytes(document))[0].tables
    html = ("<table><tr><th rowspan=2>TT</th><th rowspan='2'>Nội dung</th><th colspan=\"2\">Kết quả thực hiện</th>"
            f"<th rowspan=2>Tỷ lệ (%)</th></tr><tr><th>Năm {YEAR}</th><th>Lũy kế</th></tr>"
            f"<tr><td>1</td><td>{DN_HTQL}</td><td>35</td><td>105</td><td rowspan=2>70</td></tr>"
            f"<tr><td>2</td><td>{DAO_TAO}</td><td>300</td><td>960</td></tr></table>")
    assert html_tables(html) == from_word


def test_an_html_report_table_is_read_by_extract_indicators():
    rows = extract_indicators([DocumentText("(nội dung thư)", "html", tables=html_tables(HTML_REPORT))])
    assert [(r.indicator, r.unit, r.target, r.result, r.cumulative, r.rate, r.findings) for r in rows] == [
        (*row, []) for row in HTML_BODY.expected]


def test_cell_text_as_a_mail_editor_writes_it():
    html = ("<table><tr><td><p class=MsoNormal><span>Lượt người được</span>\n  <span>đào tạo</span></p>"
            "<p>(năm 2024)</p></td><td>1&nbsp;200<br>lượt</td><td>A &amp; B<script>x()</script></td></tr></table>")
    assert html_tables(html) == [[["Lượt người được đào tạo\n(năm 2024)", "1 200\nlượt", "A & B"]]]


def test_nested_tables_are_tables_of_their_own_in_the_order_they_start():
    html = ("<table><tr><td>trước<table><tr><td>Kế hoạch</td><td>10</td></tr></table>sau</td></tr></table>"
            "<table><tr><td>thứ ba</td></tr></table>")
    assert html_tables(html) == [[["trước\nsau"]], [["Kế hoạch", "10"]], [["thứ ba"]]]


def test_broken_markup_is_read_as_a_browser_would():
    html = "<table><td>a<td colspan=x>b<tr><td rowspan=0>c<td>d</table><td>outside</td>"
    assert html_tables(html) == [[["a", "b"], ["c", "d"]]]


def test_spans_and_counts_are_capped():
    huge_span = "<table><tr><td rowspan=99999 colspan=99999>x</td></tr><tr><td>y</td></tr></table>"
    (grid,) = html_tables(huge_span)
    assert len(grid) == 2 and all(len(row) == MAX_COLUMNS for row in grid)
    many_rows = "<table>" + "<tr><td>1</td><td>2</td></tr>" * (MAX_ROWS * 3) + "</table>"
    assert len(html_tables(many_rows)[0]) == MAX_ROWS
    wide = "<table><tr>" + "<td>1</td>" * (MAX_COLUMNS * 3) + "</tr></table>"
    assert len(html_tables(wide)[0][0]) == MAX_COLUMNS
    many_tables = "<table><tr><td>t</td></tr></table>" * (MAX_TABLES * 2)
    assert len(html_tables(many_tables)) == MAX_TABLES


def test_a_large_hostile_body_is_read_in_bounded_time():
    body = "<table>" + "<tr>" + "<td rowspan=500 colspan=64>x" * 2_000 + "</table>" * 200
    started = time.perf_counter()
    grids = html_tables(body * 20)
    assert time.perf_counter() - started < 10
    assert sum(len(row) for grid in grids for row in grid) <= 200_000


def test_markup_that_stalls_or_breaks_html_parser_is_read_quickly():
    """Python 3.11's html.parser takes minutes over unclosed "<a<a<a…" and raises on "<![": not this reader."""
    table = "<table><tr><td>Kế hoạch</td><td>10</td></tr></table>"
    for junk in ("<a" * 500_000, "<![" * 300_000, "<!--" + "x" * 1_000_000, "&" * 1_000_000):
        started = time.perf_counter()
        assert html_tables(table + junk) == [[["Kế hoạch", "10"]]]
        assert time.perf_counter() - started < 5
