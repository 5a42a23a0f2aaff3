"""A fake Sheets v4 API for what gspread calls: spreadsheet metadata, values get, update, append.

Shares tokens with the other Google fakes. Values are stored as strings, as `RAW` input keeps them.
As the real `values.get` does, answers leave out empty trailing cells of each row (or column) and
empty trailing rows (or columns), and honour `majorDimension` (`ROWS` or `COLUMNS`), in reads and
in the bodies of writes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.google_fake import GoogleState, _error
from oncall.sandbox.responses import JSONResponse

_A1 = re.compile(r"^(?:'((?:[^']|'')+)'|([^!']+))(?:!([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?)?$")


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _trimmed(lines: list[list[str]]) -> list[list[str]]:
    """What the API sends: no empty cell at the end of a line, no empty line at the end."""
    out = []
    for line in lines:
        end = len(line)
        while end and line[end - 1] == "":
            end -= 1
        out.append(line[:end])
    while out and not out[-1]:
        out.pop()
    return out


def _dimension(value: str | None) -> str | None:
    return value if value in ("ROWS", "COLUMNS") else None


def _bad_dimension(value: object) -> JSONResponse:
    return _error(
        400,
        f"Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"{value}\"",
        "badRequest",
    )


def build_sheets_app(state: GoogleState, sheets: dict[str, dict[str, list[list[str]]]]) -> Router:
    def authed(request: Request) -> JSONResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or value not in state.tokens:
            return _error(401, "Request had invalid authentication credentials.", "authError")
        return None

    def parse(book: dict[str, list[list[str]]], a1: str) -> tuple[str, int, int, int, int | None] | None:
        m = _A1.match(a1)
        if not m:
            return None
        tab = (m.group(1) or "").replace("''", "'") or (m.group(2) or "")
        if tab not in book:
            return None
        c1 = _col(m.group(3)) if m.group(3) else 1
        r1 = int(m.group(4)) if m.group(4) else 1
        c2 = _col(m.group(5)) if m.group(5) else (c1 if m.group(3) and m.group(5) is None else 26)
        r2 = int(m.group(6)) if m.group(6) else None
        return tab, c1, r1, c2, r2

    async def metadata(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        sid = request.path_params["sid"]
        if sid not in sheets:
            return _error(404, "Requested entity was not found.", "notFound")
        tabs = [
            {
                "properties": {
                    "sheetId": i,
                    "title": t,
                    "index": i,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": max(1000, len(rows)), "columnCount": 26},
                }
            }
            for i, (t, rows) in enumerate(sheets[sid].items())
        ]
        return JSONResponse(
            {
                "spreadsheetId": sid,
                "properties": {"title": "COE tracker", "locale": "en_US", "timeZone": "Etc/GMT"},
                "sheets": tabs,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{sid}/edit",
            }
        )

    async def values(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        sid, rest = request.path_params["sid"], unquote(request.path_params["rest"])
        if sid not in sheets:
            return _error(404, "Requested entity was not found.", "notFound")
        book = sheets[sid]
        append = rest.endswith(":append")
        a1 = rest.removesuffix(":append")
        where = parse(book, a1)
        if where is None:
            return _error(400, f"Unable to parse range: {a1}", "badRequest")
        tab, c1, r1, c2, r2 = where
        rows = book[tab]
        if request.method == "GET":
            major = _dimension(request.query_params.get("majorDimension", "ROWS"))
            if major is None:
                return _bad_dimension(request.query_params.get("majorDimension"))
            last = len(rows) if r2 is None else min(r2, len(rows))
            grid = [[str(v) for v in (row + [""] * c2)[c1 - 1 : c2]] for row in rows[r1 - 1 : last]]
            if major == "COLUMNS":
                grid = [list(column) for column in zip(*grid, strict=True)]
            chosen = _trimmed(grid)
            body: dict[str, Any] = {
                "range": f"'{tab}'!{_letters(c1)}{r1}:{_letters(c2)}{max(last, r1)}",
                "majorDimension": major,
            }
            if chosen:
                body["values"] = chosen
            return JSONResponse(body)
        if request.query_params.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return _error(400, "Invalid valueInputOption", "badRequest")
        payload = await request.json()
        written = _dimension(payload.get("majorDimension") or "ROWS")  # null is the default
        if written is None:
            return _bad_dimension(payload.get("majorDimension"))
        # None is a cell to leave as it is ("null values will be skipped"), as in the API.
        new: list[list[str | None]] = [
            [None if v is None else str(v) for v in row] for row in payload.get("values", [])
        ]
        if written == "COLUMNS" and new:
            height = max(len(column) for column in new)
            padded = [column + [None] * (height - len(column)) for column in new]
            new = [list(row) for row in zip(*padded, strict=True)]
        start = len(rows) + 1 if append else r1
        for i, row in enumerate(new):
            index = start - 1 + i
            while len(rows) <= index:
                rows.append([])
            line = rows[index] + [""] * max(0, c1 - 1 + len(row) - len(rows[index]))
            for j, value in enumerate(row):
                if value is not None:
                    line[c1 - 1 + j] = value
            rows[index] = line
        width = max((len(r) for r in new), default=0)
        updated = f"'{tab}'!{_letters(c1)}{start}:{_letters(c1 + width - 1)}{start + len(new) - 1}"
        updates = {
            "spreadsheetId": sid,
            "updatedRange": updated,
            "updatedRows": len(new),
            "updatedColumns": width,
            "updatedCells": sum(v is not None for r in new for v in r),
        }
        if append:
            return JSONResponse(
                {
                    "spreadsheetId": sid,
                    "tableRange": f"'{tab}'!A1:{_letters(c2)}{start - 1}",
                    "updates": updates,
                }
            )
        return JSONResponse(updates)

    return Router(
        routes=[
            Route("/sheets/v4/spreadsheets/{sid}", metadata),
            Route("/sheets/v4/spreadsheets/{sid}/values/{rest:path}", values, methods=["GET", "PUT", "POST"]),
        ]
    )
