"""A fake Sheets v4 API for what gspread calls: spreadsheet metadata, values get, update, append,
and `spreadsheets.batchUpdate` with `appendCells` (the tracker's typed row).

Shares tokens with the other Google fakes. As `RAW` input keeps them, a string is stored as a
string (never a formula) and a JSON number as a number (`Number`, a float that remembers its
number format). Reads give each cell as the sheet shows it (`FORMATTED_VALUE`, the default: a
number in its format's pattern) or as stored (`UNFORMATTED_VALUE`). As the real `values.get`
does, answers leave out empty trailing cells of each row (or column) and empty trailing rows
(or columns), and honour `majorDimension` (`ROWS` or `COLUMNS`), in reads and in the bodies of
writes.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.google_fake import GoogleState, _error
from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import SANDBOX_WEB

_A1 = re.compile(r"^(?:'((?:[^']|'')+)'|([^!']+))(?:!([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?)?$")


_EPOCH = datetime(1899, 12, 30)  # serial day 0 (DateTimeRenderOption SERIAL_NUMBER)
_TOKENS = re.compile(r"\[h\]|yyyy|mm|dd|hh|ss|.", re.S)


class Number(float):
    """A number cell, with the pattern of its number format (None: automatic)."""

    pattern: str | None

    def __new__(cls, value: float, pattern: str | None = None) -> Number:
        cell = super().__new__(cls, value)
        cell.pattern = pattern
        return cell

    def __str__(self) -> str:
        return _formatted(float(self), self.pattern)


def _formatted(value: float, pattern: str | None) -> str:
    """The cell as the sheet shows it. The patterns the flows write (date, time and elapsed hours,
    to the second at most) are rendered; any other, like automatic, as a plain number."""
    if not pattern or not set(_TOKENS.findall(pattern)) & {"yyyy", "dd", "hh", "[h]", "ss"}:
        return str(int(value)) if value == int(value) else f"{value:.10g}"
    seconds = round(value * 86400)  # the nearest second, then cut to the shown unit
    at = _EPOCH + timedelta(seconds=seconds)
    out, after_hours = [], False
    for token in _TOKENS.findall(pattern):
        if token == "yyyy":
            out.append(f"{at.year:04d}")
        elif token == "dd":
            out.append(f"{at.day:02d}")
        elif token == "mm":
            out.append(f"{at.minute:02d}" if after_hours else f"{at.month:02d}")
        elif token == "hh":
            out.append(f"{at.hour:02d}")
        elif token == "[h]":
            out.append(str(math.floor(seconds / 3600)))
        elif token == "ss":
            out.append(f"{at.second:02d}")
        else:
            out.append(token)
        after_hours = token in ("hh", "[h]") or (after_hours and token == ":")
    return "".join(out)


def _raw_cell(value: Any) -> str | Number | None:
    """A value written with `RAW`: kept as it is, a string as a string and a number as a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return Number(value)
    return str(value)


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


def _cell(cell: dict[str, Any], masks: set[str]) -> str | Number:
    """One CellData of appendCells: its userEnteredValue (a string is never parsed: a formula is only
    a `formulaValue`, which the fake refuses), with the number format its userEnteredFormat gives,
    as far as `fields` lets."""
    every = "*" in masks
    value = (cell.get("userEnteredValue") or {}) if every or "userEnteredValue" in masks else {}
    number_format = (cell.get("userEnteredFormat") or {}).get("numberFormat") or {}
    keep_format = every or masks & {"userEnteredFormat", "userEnteredFormat.numberFormat"}
    pattern = number_format.get("pattern") if keep_format else None
    if "numberValue" in value:
        return Number(float(value["numberValue"]), pattern)
    if "boolValue" in value:
        return "TRUE" if value["boolValue"] else "FALSE"
    return str(value.get("stringValue", ""))


def _dimension(value: str | None) -> str | None:
    return value if value in ("ROWS", "COLUMNS") else None


def _bad_dimension(value: object) -> JSONResponse:
    return _error(
        400,
        f"Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"{value}\"",
        "badRequest",
    )


def build_sheets_app(state: GoogleState, sheets: dict[str, dict[str, list[list[Any]]]]) -> Router:
    def authed(request: Request) -> JSONResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or value not in state.tokens:
            return _error(401, "Request had invalid authentication credentials.", "authError")
        return None

    def parse(book: dict[str, list[list[Any]]], a1: str) -> tuple[str, int, int, int, int | None] | None:
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
        if request.method == "POST":
            return await batch_update(request, sid.removesuffix(":batchUpdate"))
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
                "spreadsheetUrl": f"{SANDBOX_WEB}/google/spreadsheets/d/{sid}/edit",
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
            render = request.query_params.get("valueRenderOption", "FORMATTED_VALUE")
            if render not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
                return _error(
                    400,
                    f"Invalid value at 'value_render_option' "
                    f'(type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "{render}"',
                    "badRequest",
                )

            def shown(v: Any) -> Any:
                if isinstance(v, Number) and render != "FORMATTED_VALUE":
                    value = float(v)
                    return int(value) if value.is_integer() else value
                return str(v)

            last = len(rows) if r2 is None else min(r2, len(rows))
            grid = [[shown(v) for v in (row + [""] * c2)[c1 - 1 : c2]] for row in rows[r1 - 1 : last]]
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
        new: list[list[str | Number | None]] = [
            [_raw_cell(v) for v in row] for row in payload.get("values", [])
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

    async def batch_update(request: Request, sid: str) -> JSONResponse:
        """`appendCells` only (what the tracker sends): the row after the last row with data."""
        if sid not in sheets:
            return _error(404, "Requested entity was not found.", "notFound")
        payload = await request.json()
        tabs = list(sheets[sid].items())
        for n, req in enumerate(payload.get("requests") or []):
            append = req.get("appendCells") if isinstance(req, dict) and len(req) == 1 else None
            if not isinstance(append, dict):
                return _error(
                    400, f"Invalid requests[{n}]: the sandbox serves appendCells only", "badRequest"
                )
            fields = str(append.get("fields") or "")
            if not fields:
                return _error(
                    400,
                    f"Invalid requests[{n}].appendCells: At least one field must be specified.",
                    "badRequest",
                )
            grid = append.get("sheetId", 0)
            if not isinstance(grid, int) or not 0 <= grid < len(tabs):
                return _error(
                    400, f"Invalid requests[{n}].appendCells: No grid with id: {grid}", "badRequest"
                )
            rows = tabs[grid][1]
            last = len(rows)
            while last and not any(v != "" for v in rows[last - 1]):
                last -= 1
            masks = {f.strip() for f in fields.split(",")}
            cells = [c for r in append.get("rows") or [] for c in r.get("values") or []]
            if any("formulaValue" in (c.get("userEnteredValue") or {}) for c in cells):
                return _error(400, f"requests[{n}]: the sandbox does not evaluate formulas", "badRequest")
            for row_data in append.get("rows") or []:
                line: list[Any] = []
                for cell in row_data.get("values") or []:
                    line.append(_cell(cell, masks))
                rows.insert(last, line)
                last += 1
        return JSONResponse({"spreadsheetId": sid, "replies": [{} for _ in payload.get("requests") or []]})

    return Router(
        routes=[
            Route("/sheets/v4/spreadsheets/{sid}", metadata, methods=["GET", "POST"]),
            Route("/sheets/v4/spreadsheets/{sid}/values/{rest:path}", values, methods=["GET", "PUT", "POST"]),
        ]
    )
