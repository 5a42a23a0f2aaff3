"""Google Drive, Docs and Sheets for coe-prep, with one service-account token for all three.

The key comes from a Secret block; google-auth signs the token request, whose URI is
configurable so tests reach the sandbox, and the shared HTTP stage (`oncall.clients.http`)
sends it, so the exchange is retried, timed out and scrubbed as every request is. Drive and
Docs go through the stage too; so does the tracking sheet: gspread builds the Sheets requests (its
URLs are constants, so a subclass rewrites the host for the sandbox) and its session sends
them through the stage's `StageAdapter`, so Sheets retries, holds after a 429 and maps its
errors as every other API does. Sheets has a client of its own, as Google's quotas are per API:
a 429 from Sheets holds Sheets, not Drive. Calls are chosen for the request budget: a new COE
costs 6 API requests, an existing one 3.

Drive search can lag behind a file made moments ago; `get_file` by id never does, which is why
the flow keeps the copy's id once it knows it. The copy cannot carry an id of our own choosing:
Drive refuses generated ids for Google Docs ("Generated IDs are not supported for Docs Editors
formats").
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import gspread
import httpx
import requests
from google.auth import transport
from google.auth.exceptions import GoogleAuthError
from google.oauth2 import service_account
from pydantic import BaseModel, ConfigDict

from oncall.clients.http import SAFE_METHODS, ApiClient, decode_json
from oncall.clients.records import answer_shape
from oncall.coe_doc import Block, CellLink, blocks_from_docs
from oncall.coe_review import default_template_blocks
from oncall.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    MalformedError,
    NotFoundError,
    RejectedError,
    remember_secret,
)
from oncall.retry import DEFAULT_CONCURRENCY, RetryPolicy
from oncall.tracker import HEADER_RANGE, TRACKER_RANGE, column_letter, read_cells

SYSTEM = "Google"
SETTING = "ONCALL_GOOGLE_SERVICE_ACCOUNT (Secret block 'oncall-google-service-account')"
SCOPES = [
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/documents",
    "https://www.googleapis.com/auth/spreadsheets",
]
INCIDENT_KEY = "oncallIncidentId"
DOC_MIME = "application/vnd.google-apps.document"
FILE_FIELDS = "id,name,mimeType,webViewLink,appProperties,trashed"
EXCHANGE = "the token exchange"


def a1(tab: str, cells: str) -> str:
    """The A1 range `cells` on tab `tab`, its name quoted as Sheets reads it (a `'` doubled), so
    any tab name, spaces and quotes included, names that tab."""
    return f"'{tab.replace(chr(39), chr(39) * 2)}'!{cells}"


# Docs strips these from inserted text ("Structural edit rules and behavior"), so a range over
# inserted text is counted without them.
_STRIPPED = re.compile("[\x00-\x08\x0c-\x1f\ue000-\uf8ff]")


def _inserted(text: str) -> str:
    return _STRIPPED.sub("", text)


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Docs index."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _empty_table_cells(start: int, rows: int, columns: int) -> dict[tuple[int, int], int]:
    """Where each cell's paragraph starts in an empty table at `start`: the table takes 1 index,
    each row 1, each cell 1 plus its paragraph's "\n" (Docs' "Work with tables" guide)."""
    out: dict[tuple[int, int], int] = {}
    for r in range(rows):
        row = start + 1 + r * (1 + 2 * columns)
        for c in range(columns):
            out[(r, c)] = row + 1 + 2 * c + 1
    return out


def _standalone_placeholders(document: Mapping[str, Any], keys: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, key) of each body paragraph that holds `{{key}}` and nothing else."""
    out: list[tuple[int, int, str]] = []
    for element in document["body"]["content"]:
        para = element.get("paragraph")
        if not para:
            continue
        text = "".join((e.get("textRun") or {}).get("content", "") for e in para.get("elements", []))
        key = text.removesuffix("\n").strip()
        if key.startswith("{{") and key.endswith("}}") and key[2:-2] in keys:
            out.append((int(element["startIndex"]), int(element["endIndex"]), key[2:-2]))
    return out


def _replace_requests(values: dict[str, str]) -> list[dict[str, Any]]:
    """A replaceAllText per placeholder `{{name}}`, case matched."""
    return [
        {"replaceAllText": {"containsText": {"text": "{{" + n + "}}", "matchCase": True}, "replaceText": v}}
        for n, v in values.items()
    ]


def _replaced(names: list[str], replies: list[Any]) -> dict[str, int]:
    """What each replaceAllText replaced, from its reply (Docs leaves the count out when 0)."""
    return {
        n: int((r.get("replaceAllText") or {}).get("occurrencesChanged", 0))
        for n, r in zip(names, replies, strict=False)
    }


class DriveFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str
    mimeType: str = ""
    webViewLink: str | None = None
    appProperties: dict[str, str] = {}
    trashed: bool = False

    @property
    def link(self) -> str:
        return self.webViewLink or f"https://docs.google.com/document/d/{self.id}/edit"


class DocumentRead(BaseModel):
    """A COE document as coe-review reads it back: its blocks, and the revision they are of
    (a write-back names it, so a person's edit in between is never overwritten)."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    revision_id: str
    blocks: tuple[Block, ...]


class _TokenAnswer(transport.Response):
    """The stage's answer as google-auth reads one (its body already read and checked)."""

    def __init__(self, answer: httpx.Response) -> None:
        self._answer = answer

    @property
    def status(self) -> int:
        return self._answer.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._answer.headers)

    @property
    def data(self) -> bytes:
        return self._answer.content


class _StageTokenRequest(transport.Request):
    """google-auth's HTTP seam, sending the token exchange through the stage.

    So the exchange takes the configured timeout, attempts, backoff and transport, and a 5xx or a
    dropped connection is retried as every read is (a new token each time: nothing to duplicate).
    Only a 200 holding a token is handed back: every failure is the stage's error, raised here, so
    google-auth's own retry loop (three tries, real sleeps) never runs above the stage's. The
    scrubber learns the signed assertion before it is sent and the token before google-auth has it.
    """

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _TokenAnswer:
        for assertion in parse_qs((body or b"").decode("utf-8", errors="replace")).get("assertion", []):
            remember_secret(assertion)  # signed by the key: a credential for its hour
        answer = self.api.request(method, url, what=EXCHANGE, content=body, headers=headers)
        try:
            token = decode_json(answer.content)["access_token"]
        except (ValueError, TypeError, KeyError):
            raise MalformedError(
                SYSTEM, f"{EXCHANGE}: the answer holds no access token", status=answer.status_code
            ) from None
        remember_secret(str(token))
        return _TokenAnswer(answer)


def _exchange(credentials: service_account.Credentials, request: _StageTokenRequest) -> None:
    """A token for `credentials`, through the stage. A refusal is the key's fault, so it names
    the setting; the stage's other errors (down, rate limited, malformed) are raised as they are."""
    try:
        credentials.refresh(request)  # type: ignore[no-untyped-call]
    except (RejectedError, NotFoundError) as exc:
        said = str(exc).removeprefix(f"{SYSTEM}: ")
        raise AuthError(SYSTEM, f"{said}; check {SETTING}", status=exc.status) from None
    except GoogleAuthError as exc:  # google-auth's own: a key it cannot sign with
        raise AuthError(SYSTEM, f"{EXCHANGE} failed ({type(exc).__name__}); check {SETTING}") from None


class _TokenAuth(httpx.Auth):
    """Adds the service account's bearer token, exchanging a new one (through the stage) once it
    expires; Drive, Docs and Sheets all send it."""

    def __init__(self, credentials: service_account.Credentials, request: _StageTokenRequest) -> None:
        self.credentials = credentials
        self.request = request
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            if not self.credentials.valid:
                _exchange(self.credentials, self.request)
        token = str(self.credentials.token)
        remember_secret(token)  # cheap when repeated; a token exchanged by another workspace too
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _sheets_client(root: str | None) -> type[gspread.HTTPClient]:
    if root is None:
        return gspread.HTTPClient

    class SandboxHTTPClient(gspread.HTTPClient):
        def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
            endpoint = endpoint.replace("https://sheets.googleapis.com", f"{root}/sheets")
            return super().request(method, endpoint, *args, **kwargs)

    return SandboxHTTPClient


_CREDENTIALS: dict[tuple[str, str, str], service_account.Credentials] = {}
_CREDENTIALS_LOCK = threading.Lock()


def _credentials(key: dict[str, Any], token_uri: str) -> service_account.Credentials:
    """One credentials object (so one token exchange an hour) per key and token endpoint in a process."""
    ident = (str(key.get("client_email")), str(key.get("private_key_id")), token_uri)
    with _CREDENTIALS_LOCK:
        if ident not in _CREDENTIALS:
            try:
                _CREDENTIALS[ident] = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    {**key, "token_uri": token_uri}, scopes=SCOPES
                )
            except (ValueError, KeyError) as exc:
                raise ConfigError(f"{SETTING} could not be used: {type(exc).__name__}") from None
        return _CREDENTIALS[ident]


def load_key(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(f"{SETTING} is not JSON; paste the whole service-account key file") from None
    if not isinstance(info, dict) or info.get("type") != "service_account" or "private_key" not in info:
        raise ConfigError(
            f"{SETTING} is not a service-account key file (type service_account, with a private_key)"
        )
    return info


class GoogleWorkspace:
    """Drive, Docs and Sheets with one service-account key; the http options are every client's
    (`timeout`, `concurrency`, `retry`, `transport`, `sleep`), shared by its two `ApiClient`s."""

    def __init__(
        self,
        key: dict[str, Any],
        *,
        base_url: str | None = None,
        timeout: float = 15.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        root = base_url.rstrip("/") if base_url else None
        token_uri = f"{root}/token" if root else key.get("token_uri", "https://oauth2.googleapis.com/token")
        self.credentials = _credentials(key, token_uri)
        self.email = str(key.get("client_email", "the service account"))
        self.drive = f"{root}/drive/v3" if root else "https://www.googleapis.com/drive/v3"
        self.docs = f"{root}/docs/v1" if root else "https://docs.googleapis.com/v1"
        http: dict[str, Any] = {
            "system": SYSTEM,
            "base_url": "",
            "credential_setting": SETTING,
            "transport": transport,
            "timeout": timeout,
            "retry": retry,
            "sleep": sleep,
            "max_connections": concurrency,
        }
        self.token_api = ApiClient(**http)  # the token endpoint's own: it has no bearer token to send
        self._token_request = _StageTokenRequest(self.token_api)
        http["auth"] = _TokenAuth(self.credentials, self._token_request)
        self.api = ApiClient(**http)
        self.sheets_api = ApiClient(
            **http,
            advice={
                401: f"share the sheet with {self.email} as editor",
                403: f"share the sheet with {self.email} as editor",
                404: "check ONCALL_COE_SHEET_ID and ONCALL_COE_SHEET_TAB",
            },
            uncertain="the write may have happened, a rerun finds the row first",
        )
        session = requests.Session()
        adapter = self.sheets_api.adapter(SAFE_METHODS | {"PUT"})  # a cell written twice holds the same value
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._sheets = _sheets_client(root)(self.credentials, session=session)  # the stage adds the token
        self._sheets.set_timeout(timeout)

    def close(self) -> None:
        self._sheets.session.close()
        self.sheets_api.close()
        self.api.close()
        self.token_api.close()

    def __enter__(self) -> GoogleWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Drive ------------------------------------------------------------------------------

    def find_coe(self, incident_id: str) -> DriveFile | None:
        """The COE already made for this incident, found by the id stored on the file."""
        q = f"appProperties has {{ key='{INCIDENT_KEY}' and value='{incident_id.replace(chr(39), '')}' }} and trashed = false"
        params = {
            "q": q,
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
            "corpora": "allDrives",
            "fields": f"files({FILE_FIELDS})",
        }
        body = self.api.get_json(
            f"{self.drive}/files", params=params, what=f"Drive search for the COE of {incident_id}"
        )
        with answer_shape(SYSTEM, f"Drive search for the COE of {incident_id}"):
            files = [DriveFile.model_validate(f) for f in body.get("files", [])]
        return min(files, key=lambda f: f.id) if files else None

    def copy_template(self, template_id: str, folder_id: str, name: str, incident_id: str) -> DriveFile:
        """One copy of the template, tagged with the incident id. A lost answer is found by `find_coe`
        (once Drive search sees the copy)."""
        params = {"supportsAllDrives": "true", "fields": FILE_FIELDS}
        payload = {"name": name, "parents": [folder_id], "appProperties": {INCIDENT_KEY: incident_id}}
        try:
            response = self.api.request(
                "POST",
                f"{self.drive}/files/{template_id}/copy",
                params=params,
                json=payload,
                what=f"copy of template {template_id}",
                idempotent=False,
            )
        except AuthError as exc:
            if "storage quota" in str(exc):
                raise RejectedError(
                    SYSTEM,
                    f"folder {folder_id} is in a My Drive: service accounts have no storage "
                    "quota; use a folder on a Shared Drive (ONCALL_COE_FOLDER_ID)",
                    status=403,
                ) from None
            raise AuthError(
                SYSTEM,
                f"cannot copy template {template_id} into folder {folder_id}; share both with "
                f"{self.email} (Content manager on the folder's Shared Drive)",
                status=exc.status,
            ) from None
        except NotFoundError:
            raise NotFoundError(
                SYSTEM,
                f"template {template_id} or folder {folder_id} was not found or is not shared "
                f"with {self.email}; check ONCALL_COE_TEMPLATE_ID and ONCALL_COE_FOLDER_ID",
                status=404,
            ) from None
        with answer_shape(SYSTEM, f"copy of template {template_id}", write=True):
            copy = DriveFile.model_validate(response.json())
        if copy.mimeType and copy.mimeType != DOC_MIME:
            self.api.request(
                "DELETE",
                f"{self.drive}/files/{copy.id}",
                params={"supportsAllDrives": "true"},
                what=f"removal of the bad copy {copy.id}",
            )
            raise RejectedError(
                SYSTEM,
                f"template {template_id} is a {copy.mimeType}, not a Google Doc; "
                "set ONCALL_COE_TEMPLATE_ID to a Google Docs document",
            )
        return copy

    def get_file(self, file_id: str) -> DriveFile:
        """The file by its id: unlike search, this sees a file the moment it is made."""
        params = {"supportsAllDrives": "true", "fields": FILE_FIELDS}
        body = self.api.get_json(f"{self.drive}/files/{file_id}", params=params, what=f"file {file_id}")
        with answer_shape(SYSTEM, f"file {file_id}"):
            return DriveFile.model_validate(body)

    # -- Docs -------------------------------------------------------------------------------

    def document_text(self, doc_id: str) -> str:
        body = self.api.get_json(f"{self.docs}/documents/{doc_id}", what=f"document {doc_id}")
        parts: list[str] = []

        def walk(content: list[dict[str, Any]]) -> None:
            for element in content:
                for run in (element.get("paragraph") or {}).get("elements", []):
                    parts.append((run.get("textRun") or {}).get("content", ""))
                for row in (element.get("table") or {}).get("tableRows", []):
                    for cell in row.get("tableCells", []):
                        walk(cell.get("content", []))

        with answer_shape(SYSTEM, f"document {doc_id}"):
            walk((body.get("body") or {}).get("content", []))
            return "".join(parts)

    def read_document(self, doc_id: str) -> DocumentRead:
        """One documents.get, as blocks. A deleted or unshared document (404), one the account may
        not open (403) or a file that is not a Google Doc (400) raises with that `status`, which
        `coe_review.document_problem` turns into what to fix."""
        what = f"document {doc_id}"
        body = self.api.get_json(f"{self.docs}/documents/{doc_id}", what=what)
        with answer_shape(SYSTEM, what):
            return DocumentRead(
                id=str(body.get("documentId") or doc_id),
                title=str(body.get("title") or ""),
                revision_id=str(body["revisionId"]),
                blocks=blocks_from_docs(body),
            )

    def template_blocks(self, template_id: str | None) -> tuple[Block, ...]:
        """The reference a COE is judged against: the team's template Doc (one read), or the
        default template when the team has none."""
        if template_id:
            return self.read_document(template_id).blocks
        return default_template_blocks()

    def replace_all(self, doc_id: str, values: dict[str, str]) -> dict[str, int]:
        """One batchUpdate with a replaceAllText per placeholder; returns what each replaced."""
        names = list(values)
        requests_ = _replace_requests(values)
        response = self.api.request(
            "POST",
            f"{self.docs}/documents/{doc_id}:batchUpdate",
            json={"requests": requests_},
            what=f"fill of document {doc_id}",
        )
        # Filling is idempotent (a placeholder replaced once is gone): a rerun simply fills again.
        with answer_shape(SYSTEM, f"fill of document {doc_id}"):
            replies = response.json().get("replies", [])
            return _replaced(names, replies)

    def link_cells(self, doc_id: str, revision_id: str, links: Sequence[CellLink]) -> str:
        """Linked text written at the start of table cells, in one batchUpdate locked to
        `revision_id` (the revision the cells' indexes were read at, `DocumentRead.revision_id`);
        returns the document's new revision.

        Each link is an insertText and an updateTextStyle over the inserted text, highest index
        first, so every index still points where it was read. The lock makes the write safe to
        resend: a person's edit since the read, or this write already applied by an attempt whose
        answer was lost, moves the revision, and Docs refuses the resent write whole. Either way the
        caller gets `ConflictError` and reads the document again; after a lost answer it then finds
        the link already there, and writes nothing twice.
        """
        if not links:
            return revision_id
        ordered = sorted(enumerate(links), key=lambda pair: (-pair[1].index, -pair[0]))
        requests_: list[dict[str, Any]] = []
        for _, link in ordered:
            text = _inserted(link.text) or _inserted(link.url)
            requests_.append({"insertText": {"location": {"index": link.index}, "text": text}})
            requests_.append(
                {
                    "updateTextStyle": {
                        "range": {"startIndex": link.index, "endIndex": link.index + _u16(text)},
                        "textStyle": {"link": {"url": link.url}},
                        "fields": "link",
                    }
                }
            )
        what = f"links in document {doc_id}"
        body = self._locked_update(doc_id, revision_id, requests_, what)
        with answer_shape(SYSTEM, what, write=True):
            return str(body["writeControl"]["requiredRevisionId"])

    def fill(
        self, doc_id: str, values: dict[str, str], tables: Mapping[str, Sequence[Sequence[str]]]
    ) -> dict[str, int]:
        """`replace_all`, with native tables: each `{{key}}` of `tables` that is a paragraph of its
        own becomes a table of those rows (the first the header), its cells written at indexes
        computed from one documents.get, all in one batchUpdate with the replaceAllText requests
        (index-based ones first, from the end of the document back, so each index holds when it
        is applied). A placeholder sharing its paragraph is left to replaceAllText: pass its text
        form in `values`. Returns, per name, the places filled: its replace count, plus one for
        each table placed.

        The batch is locked to the revision it was computed from, so it never lands on a document
        that changed since the read, and a resent batch after a lost answer is refused rather than
        applied twice (`ConflictError`; a rerun reads again and finds the table there). Without
        tables it is exactly `replace_all`.
        """
        if not tables:
            return self.replace_all(doc_id, values)
        what = f"document {doc_id}"
        document = self.api.get_json(f"{self.docs}/documents/{doc_id}", what=what)
        with answer_shape(SYSTEM, what):
            revision = str(document["revisionId"])
            spots = _standalone_placeholders(document, set(tables))
        placed: dict[str, int] = {}
        requests_: list[dict[str, Any]] = []
        for start, end, key in sorted(spots, reverse=True):
            rows = [list(r) for r in tables[key]]
            columns = max((len(r) for r in rows), default=0)
            if not columns:
                continue
            placed[key] = placed.get(key, 0) + 1
            requests_.append({"deleteContentRange": {"range": {"startIndex": start, "endIndex": end - 1}}})
            requests_.append(
                {"insertTable": {"rows": len(rows), "columns": columns, "location": {"index": start}}}
            )
            cells = _empty_table_cells(start + 1, len(rows), columns)  # Docs puts the table at index + 1
            for (r, c), index in reversed(list(cells.items())):
                text = rows[r][c] if c < len(rows[r]) else ""
                if text:
                    requests_.append({"insertText": {"location": {"index": index}, "text": text}})
        names = list(values)
        requests_ += _replace_requests(values)
        what = f"fill of document {doc_id}"
        body = self._locked_update(doc_id, revision, requests_, what)
        with answer_shape(SYSTEM, what, write=True):
            replies = body.get("replies", [])[len(requests_) - len(names) :]
            counts = _replaced(names, replies)
        for key, n in placed.items():
            counts[key] = counts.get(key, 0) + n
        return counts

    def _locked_update(
        self, doc_id: str, revision_id: str, requests_: list[dict[str, Any]], what: str
    ) -> Any:
        """One batchUpdate under `writeControl.requiredRevisionId`. A 400 to a locked write is
        the lock refusing it: Google documents that 400 but not its text, so the mapping rests on
        the lock, never on the message, which is kept for a 400 with another cause."""
        try:
            response = self.api.request(
                "POST",
                f"{self.docs}/documents/{doc_id}:batchUpdate",
                json={"requests": requests_, "writeControl": {"requiredRevisionId": revision_id}},
                what=what,
                idempotent=True,  # the lock refuses a resent write once the first has landed
            )
        except RejectedError as exc:
            if exc.status != 400:
                raise
            said = str(exc).removeprefix(f"{SYSTEM}: ")
            raise ConflictError(
                SYSTEM,
                f"document {doc_id} is no longer at revision {revision_id} (edited since it was "
                f"read, or an earlier attempt of this write landed and its answer was lost), or "
                f"Docs refused the write: {said}; this write was not applied: read the document again",
                status=400,
            ) from None
        with answer_shape(SYSTEM, what, write=True):
            body = response.json()
            if not isinstance(body, dict):
                raise TypeError("a batchUpdate answer is an object")
            return body

    # -- Sheets (gspread) ---------------------------------------------------------------------

    def _sheet_call(self, what: str, call: Callable[[], Any], *, write: bool = False) -> Any:
        """One gspread call: its requests go through the stage, which retries them and raises
        its error about `what`; a wrong answer shape names `what` too."""
        with self.sheets_api.calling(what), answer_shape(SYSTEM, what, write=write):
            return call()

    def find_row(self, sheet_id: str, tab: str, incident_id: str) -> tuple[int | None, list[str]]:
        """The 1-based row holding `incident_id` in column A, and its values in every column.

        Sheets leaves a row's empty trailing cells out of its answer, so the row is padded back to
        its full width: an empty cell reads as "" wherever it is.
        """
        for number, row in enumerate(self.tracker_values(sheet_id, tab), 1):
            if row and row[0] == incident_id:
                return number, read_cells(row)
        return None, []

    def tracker_values(self, sheet_id: str, tab: str) -> list[list[object]]:
        """Every row of the tracker, header included, in one values.get (`coe_review.read_entries`
        reads them; Sheets leaves out a row's empty trailing cells, which `read_cells` pads)."""
        rng = a1(tab, TRACKER_RANGE)
        body = self._sheet_call("reading the COE tracker", lambda: self._sheets.values_get(sheet_id, rng))
        with answer_shape(SYSTEM, "reading the COE tracker"):
            values = body.get("values", [])
            if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
                raise TypeError("a values range is a list of rows")
            return values

    def append_row(
        self,
        sheet_id: str,
        tab: str,
        row: list[str | float],
        formats: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        """Append `row` after the tab's last row, in one `appendCells` (a batchUpdate request).

        Each cell is typed, as `RAW` would keep it: a string is a `stringValue`, never parsed (an
        alert title can never become a formula); a number is a `numberValue` with the number
        format `formats[column]` gives ((type, pattern), e.g. ("DATE_TIME", "yyyy-mm-dd hh:mm")),
        so dates and durations sort and sum. The tab's numeric id comes from one metadata read.
        """
        grid = self._grid_id(sheet_id, tab)
        cells: list[dict[str, Any]] = []
        for column, value in enumerate(row):
            if isinstance(value, str):
                cells.append({"userEnteredValue": {"stringValue": value}})
                continue
            cell: dict[str, Any] = {"userEnteredValue": {"numberValue": value}}
            if formats and column in formats:
                kind, pattern = formats[column]
                cell["userEnteredFormat"] = {"numberFormat": {"type": kind, "pattern": pattern}}
            cells.append(cell)
        body = {
            "requests": [
                {
                    "appendCells": {
                        "sheetId": grid,
                        "rows": [{"values": cells}],
                        "fields": "userEnteredValue,userEnteredFormat.numberFormat",
                    }
                }
            ]
        }
        self._sheet_call(
            "adding to the COE tracker", lambda: self._sheets.batch_update(sheet_id, body), write=True
        )

    def _grid_id(self, sheet_id: str, tab: str) -> int:
        """The numeric id of tab `tab` (what batchUpdate requests name a tab by)."""
        body = self._sheet_call(
            "reading the COE tracker's tabs",
            lambda: self._sheets.fetch_sheet_metadata(
                sheet_id, params={"fields": "sheets.properties(sheetId,title)"}
            ),
        )
        with answer_shape(SYSTEM, "reading the COE tracker's tabs"):
            for sheet in body.get("sheets", []):
                props = sheet["properties"]
                if props["title"] == tab:
                    return int(props["sheetId"])
        raise NotFoundError(
            SYSTEM, f"the COE tracker has no tab {tab!r}; check ONCALL_COE_SHEET_TAB", status=404
        )

    def write_cell(self, sheet_id: str, tab: str, number: int, column: int, value: str) -> None:
        """One cell (`column` 0-based) of row `number`, and nothing around it."""
        rng = a1(tab, f"{column_letter(column)}{number}")
        self._sheet_call(
            "updating the COE tracker",
            lambda: self._sheets.values_update(
                sheet_id, rng, {"valueInputOption": "RAW"}, {"values": [[value]]}
            ),
            write=True,
        )

    # -- Checks for `oncall doctor`: reads only -------------------------------------------------

    def check_token(self) -> str:
        """A fresh token exchange, so a revoked or mistyped key shows now, not in the first run."""
        _exchange(self.credentials, self._token_request)
        return self.email

    def folder(self, folder_id: str) -> DriveFolder:
        """The folder's Shared Drive (`driveId`, absent in a My Drive) and whether the account may
        add files to it (`capabilities.canAddChildren`)."""
        params = {"supportsAllDrives": "true", "fields": FOLDER_FIELDS}
        what = f"folder {folder_id}"
        body = self.api.get_json(f"{self.drive}/files/{folder_id}", params=params, what=what)
        with answer_shape(SYSTEM, what):
            return DriveFolder.model_validate(body)

    def sheet_tabs(self, sheet_id: str) -> list[str]:
        """The titles of the spreadsheet's tabs."""
        body = self._sheet_call(
            "reading the COE tracker's tabs", lambda: self._sheets.fetch_sheet_metadata(sheet_id)
        )
        with answer_shape(SYSTEM, "reading the COE tracker's tabs"):
            return [str(s["properties"]["title"]) for s in body.get("sheets", [])]

    def sheet_header(self, sheet_id: str, tab: str) -> list[str] | None:
        """The tab's first row (`HEADER_RANGE`), or None when the sheet has no such tab (Sheets
        answers 400 "Unable to parse range" for a range on a tab it lacks)."""
        rng = a1(tab, HEADER_RANGE)
        try:
            body = self._sheet_call(
                "reading the COE tracker's header", lambda: self._sheets.values_get(sheet_id, rng)
            )
        except RejectedError as exc:
            if exc.status == 400 and "Unable to parse range" in str(exc):
                return None
            raise
        with answer_shape(SYSTEM, "reading the COE tracker's header"):
            rows = body.get("values", [])
            return [str(v) for v in rows[0]] if rows else []


FOLDER_FIELDS = "id,name,mimeType,driveId,trashed,capabilities(canAddChildren)"
FOLDER_MIME = "application/vnd.google-apps.folder"


class DriveFolder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str
    mimeType: str = ""
    driveId: str | None = None  # the Shared Drive; Drive leaves it out for a My Drive item
    trashed: bool = False
    capabilities: dict[str, bool] = {}

    @property
    def can_add(self) -> bool:
        return bool(self.capabilities.get("canAddChildren"))
