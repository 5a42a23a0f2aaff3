"""Fake Google APIs: OAuth token exchange, Drive v3 (generateIds, copy, list, get, delete), Docs v1
(get, batchUpdate with replaceAllText).

`files.get` honours `fields` (Drive's partial response, e.g. `driveId,capabilities(canAddChildren)`)
and carries the caller's `capabilities`; `driveId` is there only for an item on a Shared Drive.

Errors have Google's shape, `{"error": {"code", "message", "errors": [{domain, reason}], "status"}}`,
including the 403 a service account gets when it copies into a My Drive folder (no storage
quota of its own) and the 403 for a folder it cannot write. Tests run google-api-python-client
against these routes, so the shapes follow the published discovery documents.

Drive as it behaves, not as one would like it to:
- Search (`files.list` with `q`) may not see a file made moments ago; `search_lag_seconds` keeps a
  new file out of search results for that long (`files.get` by id sees it at once).
- A copy may carry an id from `files.generateIds` in its body. A second copy with that id gets 409
  `duplicate`; an id Drive did not generate gets 400 `fileIdNotUsable`; and a Google Docs Editors
  file (a Doc, Sheet, Slides deck, Drawing or Form) refuses any generated id with 403
  `generatedIdNotSupported` ("Generated IDs are not supported for Docs Editors formats"), as Drive
  answered a live create, and a files.copy of a Slides deck (googleapis/google-api-go-client#2334).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import SANDBOX_WEB

DOC_MIME = "application/vnd.google-apps.document"
FOLDER_MIME = "application/vnd.google-apps.folder"
# The Google Docs Editors formats: Drive gives them ids of its own and refuses a generated one.
DOCS_EDITORS = {
    DOC_MIME,
    "application/vnd.google-apps.spreadsheet",
    "application/vnd.google-apps.presentation",
    "application/vnd.google-apps.drawing",
    "application/vnd.google-apps.form",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
}


@dataclass
class Paragraph:
    text: str
    style: str = "NORMAL_TEXT"


@dataclass
class GoogleState:
    client_email: str = "oncall-flows@sandbox-project.iam.gserviceaccount.com"
    tokens: set[str] = field(default_factory=set)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[str, list[Paragraph]] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    unwritable: set[str] = field(default_factory=set)  # folder ids the service account cannot write
    search_lag_seconds: float = 0.0  # how long a new file stays out of Drive search results
    generated_ids: set[str] = field(default_factory=set)  # from files.generateIds, not used yet
    made_at: dict[str, float] = field(default_factory=dict)  # file id -> time.monotonic() it was made

    def add_folder(self, folder_id: str, name: str, shared_drive: str | None = "drive-ops") -> None:
        self.files[folder_id] = {
            "id": folder_id,
            "name": name,
            "mimeType": FOLDER_MIME,
            "parents": [],
            "appProperties": {},
            "trashed": False,
            "driveId": shared_drive,
        }

    def add_doc(self, doc_id: str, title: str, markdown: str, parent: str = "folder-templates") -> None:
        self.files[doc_id] = {
            "id": doc_id,
            "name": title,
            "mimeType": DOC_MIME,
            "parents": [parent],
            "appProperties": {},
            "trashed": False,
            "driveId": "drive-ops",
        }
        self.docs[doc_id] = doc_from_markdown(markdown)
        self.revisions[doc_id] = 1

    def text(self, doc_id: str) -> str:
        return "".join(p.text + "\n" for p in self.docs[doc_id])


def doc_from_markdown(markdown: str) -> list[Paragraph]:
    """How a markdown file looks once imported into Google Docs: a paragraph per line, headings styled."""
    out = []
    for line in markdown.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        out.append(Paragraph(m.group(2), f"HEADING_{len(m.group(1))}") if m else Paragraph(line))
    return out


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _error(code: int, message: str, reason: str, domain: str = "global") -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
                "status": _STATUS.get(code, "UNKNOWN"),
            }
        },
        status_code=code,
    )


def partial(body: dict[str, Any], fields: str) -> dict[str, Any]:
    """Drive's partial response: only the named fields, `a(b,c)` naming fields inside `a`, `a/b`
    one inside `a`; a field the item lacks (`driveId` in a My Drive) stays out."""
    out: dict[str, Any] = {}
    for name, inner in _field_list(fields):
        if name not in body:
            continue
        value = body[name]
        out[name] = partial(value, inner) if inner and isinstance(value, dict) else value
    return out


def _field_list(fields: str) -> list[tuple[str, str]]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(fields + ","):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(fields[start:i].strip())
            start = i + 1
    out = []
    for part in filter(None, parts):
        if "(" in part and part.endswith(")"):
            name, _, inner = part[:-1].partition("(")
            out.append((name.strip(), inner))
        else:
            name, _, inner = part.partition("/")
            out.append((name, inner))
    return out


def _claims(assertion: str) -> dict[str, Any]:
    payload = assertion.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def build_google_app(state: GoogleState) -> Router:
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = _claims(str(form.get("assertion", "")))
        except (IndexError, ValueError):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT"}, status_code=400
            )
        if (
            claims.get("iss") != state.client_email
            or not claims.get("scope")
            or claims.get("exp", 0) < time.time()
        ):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status_code=400
            )
        access = f"ya29.sandbox-{uuid.uuid4().hex}"
        state.tokens.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def authed(request: Request) -> JSONResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or value not in state.tokens:
            return _error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "authError",
            )
        return None

    def file_json(f: dict[str, Any]) -> dict[str, Any]:
        out = {"kind": "drive#file", **{k: v for k, v in f.items() if v is not None}}
        if f["mimeType"] == DOC_MIME:
            # Drive's own link is on docs.google.com; the sandbox's pages say they are the sandbox's.
            out["webViewLink"] = f"{SANDBOX_WEB}/google/document/d/{f['id']}/edit"
        return out

    async def generate_ids(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        params = request.query_params
        try:
            count = int(params.get("count", "10"))
        except ValueError:
            return _error(
                400,
                f"Invalid value '{params['count']}'. Values must match the following regular expression: '-?\\d+'",
                "invalidParameter",
            )
        if not 1 <= count <= 1000:
            return _error(
                400,
                f"Invalid value '{count}'. Values must be within the range: [1, 1000]",
                "invalidParameter",
            )
        space = params.get("space", "drive")
        if space not in ("drive", "appDataFolder"):
            return _error(400, f"Invalid Value: space={space}", "invalid")
        if params.get("type", "files") not in ("files", "shortcuts"):
            return _error(400, f"Invalid Value: type={params['type']}", "invalid")
        ids = ["1" + secrets.token_urlsafe(24) for _ in range(count)]
        state.generated_ids.update(ids)
        return JSONResponse({"kind": "drive#generatedIds", "space": space, "ids": ids})

    def claimed_id(body: dict[str, Any], mime: str) -> str | JSONResponse | None:
        """The id the request body asks for, or Drive's refusal of it."""
        wanted = body.get("id")
        if wanted is None:
            return None
        if wanted in state.files:
            return _error(409, "A file already exists with the provided ID.", "duplicate")
        if wanted not in state.generated_ids:
            return _error(400, "The provided file ID is not usable.", "fileIdNotUsable")
        if mime in DOCS_EDITORS:
            return _error(
                403,
                "Generated IDs are not supported for Docs Editors formats.",
                "generatedIdNotSupported",
            )
        return str(wanted)

    async def copy(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        source = state.files.get(request.path_params["file_id"])
        if source is None or source["trashed"]:
            return _error(404, f"File not found: {request.path_params['file_id']}.", "notFound")
        body = await request.json()
        parents = body.get("parents") or source["parents"]
        if len(parents) != 1:
            return _error(403, "Increasing the number of parents is not allowed", "cannotAddParent")
        folder = state.files.get(parents[0])
        if folder is None:
            return _error(404, f"File not found: {parents[0]}.", "notFound")
        if folder["id"] in state.unwritable:
            return _error(
                403,
                "The user does not have sufficient permissions for this file.",
                "insufficientFilePermissions",
            )
        if folder.get("driveId") is None:
            return _error(
                403,
                "Service Accounts do not have storage quota. Leverage shared drives "
                "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), "
                "or use OAuth delegation (http://support.google.com/a/answer/7281227) instead.",
                "storageQuotaExceeded",
                "usageLimits",
            )
        claimed = claimed_id(body, source["mimeType"])
        if isinstance(claimed, JSONResponse):
            return claimed
        new_id = claimed or f"doc-{uuid.uuid4().hex[:20]}"
        state.generated_ids.discard(new_id)
        state.made_at[new_id] = time.monotonic()
        state.files[new_id] = {
            **source,
            "id": new_id,
            "name": body.get("name") or f"Copy of {source['name']}",
            "parents": parents,
            "appProperties": dict(body.get("appProperties") or {}),
            "driveId": folder.get("driveId"),
            "trashed": False,
        }
        if source["id"] in state.docs:
            state.docs[new_id] = [Paragraph(p.text, p.style) for p in state.docs[source["id"]]]
            state.revisions[new_id] = 1
        return JSONResponse(file_json(state.files[new_id]))

    async def list_files(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        q = request.query_params.get("q", "")
        wanted = dict(re.findall(r"appProperties has \{\s*key='([^']+)' and value='([^']*)'\s*\}", q))
        if q and not wanted and "trashed" not in q:
            return _error(400, "Invalid Value", "invalid")
        indexed_before = time.monotonic() - state.search_lag_seconds
        found = [
            f
            for f in state.files.values()
            if all(f["appProperties"].get(k) == v for k, v in wanted.items())
            and ("trashed = false" not in q or not f["trashed"])
            and state.made_at.get(f["id"], 0.0) <= indexed_before
        ]
        return JSONResponse(
            {"kind": "drive#fileList", "incompleteSearch": False, "files": [file_json(f) for f in found]}
        )

    async def one_file(request: Request) -> Response:
        if (denied := authed(request)) is not None:
            return denied
        f = state.files.get(request.path_params["file_id"])
        if f is None:
            return _error(404, f"File not found: {request.path_params['file_id']}.", "notFound")
        if request.method == "DELETE":
            del state.files[f["id"]]
            state.docs.pop(f["id"], None)
            state.made_at.pop(f["id"], None)
            return Response(status_code=204)
        full = {**file_json(f), "capabilities": capabilities(f)}
        wanted = request.query_params.get("fields")
        return JSONResponse(partial(full, wanted) if wanted else full)

    def capabilities(f: dict[str, Any]) -> dict[str, bool]:
        """The caller's (the service account's) capabilities; canAddChildren is false for a file
        that is not a folder, and for a folder it may not write (Drive's documented meaning)."""
        folder = f["mimeType"] == FOLDER_MIME
        return {
            "canAddChildren": folder and not f["trashed"] and f["id"] not in state.unwritable,
            "canListChildren": folder,
            "canEdit": f["id"] not in state.unwritable,
        }

    def doc_json(doc_id: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"endIndex": 1, "sectionBreak": {"sectionStyle": {}}}]
        index = 1
        for p in state.docs[doc_id]:
            end = index + _u16(p.text) + 1
            content.append(
                {
                    "startIndex": index,
                    "endIndex": end,
                    "paragraph": {
                        "elements": [
                            {
                                "startIndex": index,
                                "endIndex": end,
                                "textRun": {"content": p.text + "\n", "textStyle": {}},
                            }
                        ],
                        "paragraphStyle": {"namedStyleType": p.style, "direction": "LEFT_TO_RIGHT"},
                    },
                }
            )
            index = end
        return {
            "documentId": doc_id,
            "title": state.files[doc_id]["name"],
            "revisionId": f"rev-{state.revisions[doc_id]}",
            "body": {"content": content},
            "suggestionsViewMode": "SUGGESTIONS_INLINE",
        }

    async def get_doc(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        doc_id = request.path_params["doc_id"]
        if doc_id not in state.docs:
            if doc_id in state.files:
                return _error(400, "This operation is not supported for this document", "failedPrecondition")
            return _error(404, "Requested entity was not found.", "notFound")
        return JSONResponse(doc_json(doc_id))

    async def batch_update(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        doc_id = request.path_params["doc_id"]
        if doc_id not in state.docs:
            return _error(404, "Requested entity was not found.", "notFound")
        replies: list[dict[str, Any]] = []
        paragraphs = state.docs[doc_id]
        for req in (await request.json()).get("requests", []):
            if set(req) != {"replaceAllText"}:
                return _error(
                    400, f"Invalid requests[{len(replies)}]: unsupported by the sandbox", "badRequest"
                )
            spec = req["replaceAllText"]
            needle, repl = spec["containsText"]["text"], spec.get("replaceText", "")
            if not needle:
                return _error(400, "Invalid requests: containsText.text must not be empty", "badRequest")
            flags = 0 if spec["containsText"].get("matchCase") else re.IGNORECASE
            pattern = re.compile(re.escape(needle), flags)
            changed = 0
            for p in paragraphs:
                p.text, n = pattern.subn(repl.replace("\\", "\\\\"), p.text)
                changed += n
            # New lines in replacement text become new paragraphs, as in Docs.
            state.docs[doc_id] = paragraphs = [
                Paragraph(part, p.style if i == 0 else "NORMAL_TEXT")
                for p in paragraphs
                for i, part in enumerate(p.text.split("\n"))
            ]
            replies.append({"replaceAllText": {"occurrencesChanged": changed} if changed else {}})
        state.revisions[doc_id] += 1
        return JSONResponse(
            {
                "documentId": doc_id,
                "replies": replies,
                "writeControl": {"requiredRevisionId": f"rev-{state.revisions[doc_id]}"},
            }
        )

    return Router(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/drive/v3/files", list_files),
            Route("/drive/v3/files/generateIds", generate_ids),
            Route("/drive/v3/files/{file_id}/copy", copy, methods=["POST"]),
            Route("/drive/v3/files/{file_id}", one_file, methods=["GET", "DELETE"]),
            Route("/docs/v1/documents/{doc_id}:batchUpdate", batch_update, methods=["POST"]),
            Route("/docs/v1/documents/{doc_id}", get_doc),
        ]
    )
