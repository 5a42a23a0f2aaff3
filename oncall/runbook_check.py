"""`oncall runbook check`, decided: what a team's CI learns about its runbook.

Pure. The command (deployments/runbook_check.py) reads the runbook, the titles and the rule
files and checks the links; this module lists the entries, matches each title or alert as
runbook-gaps would, lets a rule's `runbook_url` decide when it was checked, and renders the
result as text for people or as JSON lines for scripts. A CI job fails on a gap or a broken
link, never on a link nobody could verify (an auth wall, a timeout).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from oncall.coverage import Matcher
from oncall.errors import InputError
from oncall.escape import terminal
from oncall.kinds import alert_kind
from oncall.links import LinkCheck, LinkStatus
from oncall.runbook import Runbook, RunbookEntry

# PyYAML's safe loader, in C when libyaml is there: a 1,000-rule file loads in 0.1 s, not 1 s.
_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TEMPLATED = "{{"  # a Prometheus template: the link differs per firing, so it is not checked


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CheckStatus(StrEnum):
    COVERED = "covered"
    GAP = "gap"
    BROKEN_LINK = "broken-link"


class EntryRef(_Frozen):
    """Where an entry is, as the JSON lines give it."""

    title: str
    path: str
    line: int
    anchor: str

    @classmethod
    def of(cls, entry: RunbookEntry) -> EntryRef:
        return cls(title=entry.title, path=entry.path, line=entry.line, anchor=entry.anchor)


class EntryListing(_Frozen):
    """One entry as a person checking the parse wants to see it."""

    title: str
    name: str
    product: str | None
    path: str
    line: int
    anchor: str
    form: str
    flags: list[str]
    link: str | None


class RuleAlert(_Frozen):
    """One alerting rule of a Prometheus rule file."""

    alert: str
    runbook_url: str | None = None
    file: str
    group: str = ""


class CheckResult(_Frozen):
    title: str
    kind: str
    status: CheckStatus
    entry: EntryRef | None
    why: list[str]  # the words that tied title and entry, or the link that decided
    by_link: bool = False  # the rule's runbook_url decided, not the words
    flags: list[str] = []  # the entry's quality flags, for people (not in the JSON line)
    note: str = ""  # for people: what the link check found, when it did not decide

    def json_line(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "kind": self.kind,
            "status": self.status.value,
            "entry": self.entry.model_dump() if self.entry else None,
            "why": self.why,
        }


def list_entries(runbook: Runbook) -> list[EntryListing]:
    return [
        EntryListing(
            title=e.title,
            name=e.key,
            product=e.product,
            path=e.path,
            line=e.line,
            anchor=e.anchor,
            form=e.form.value,
            flags=e.flags,
            link=runbook.link(e),
        )
        for e in runbook.entries
    ]


def parse_rules(text: str, path: str) -> list[RuleAlert]:
    """The alerting rules of a Prometheus rule file (or PrometheusRule manifests); recording rules
    are skipped. Anything else is an InputError naming the file, so CI never passes on a typo."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_SAFE_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"rules file {path} is not YAML{where}: {problem}") from None
    if not documents:
        raise InputError(f"rules file {path} is empty; expected a Prometheus rule file with 'groups:'")
    out: list[RuleAlert | None] = []
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule":
            doc = doc.get("spec")
        groups = doc.get("groups") if isinstance(doc, dict) else None
        if not isinstance(groups, list):
            raise InputError(
                f"rules file {path} is not a Prometheus rule file: expected 'groups:' with a list of groups"
            )
        for g, group in enumerate(groups, 1):
            if not isinstance(group, dict):
                raise InputError(f"rules file {path}: group {g} is not a mapping with 'name:' and 'rules:'")
            name = terminal(str(group.get("name") or f"#{g}"), 80)
            rules = group.get("rules") or []
            if not isinstance(rules, list):
                raise InputError(f"rules file {path}: group {name} has 'rules:' that is not a list")
            out += [_rule(rule, path, name, r) for r, rule in enumerate(rules, 1)]
    return [r for r in out if r is not None]


def _rule(rule: object, path: str, group: str, number: int) -> RuleAlert | None:
    where = f"rules file {path}: rule {number} of group {group}"
    if not isinstance(rule, dict):
        raise InputError(f"{where} is not a mapping")
    if "alert" not in rule:
        if "record" in rule:
            return None
        raise InputError(f"{where} has neither 'alert' nor 'record'")
    alert = rule["alert"]
    annotations = rule.get("annotations") or {}
    if not isinstance(alert, str) or not alert.strip():
        raise InputError(f"{where}: 'alert' is not a name")
    if not isinstance(annotations, dict):
        raise InputError(f"{where} ({terminal(alert, 80)}): 'annotations' is not a mapping")
    url = annotations.get("runbook_url")
    if url is not None and not isinstance(url, str):
        raise InputError(f"{where} ({terminal(alert, 80)}): 'runbook_url' is not a string")
    return RuleAlert(alert=alert.strip(), runbook_url=(url or "").strip() or None, file=path, group=group)


def links_to_check(alerts: Iterable[RuleAlert]) -> list[str]:
    """Each distinct link once; templated links differ per firing and are left to matching."""
    return list(
        dict.fromkeys(a.runbook_url for a in alerts if a.runbook_url and _TEMPLATED not in a.runbook_url)
    )


def _by_words(matcher: Matcher, title: str) -> CheckResult:
    match = matcher.match(title)
    if match is None:
        return CheckResult(title=title, kind=alert_kind(title), status=CheckStatus.GAP, entry=None, why=[])
    return CheckResult(
        title=title,
        kind=alert_kind(title),
        status=CheckStatus.COVERED,
        entry=EntryRef.of(match.entry),
        why=list(match.words),
        flags=match.entry.flags,
    )


def check_titles(matcher: Matcher, titles: Iterable[str]) -> list[CheckResult]:
    """Each title matched as runbook-gaps matches an alert's title."""
    return [_by_words(matcher, t) for t in titles]


def check_rules(
    matcher: Matcher, alerts: Iterable[RuleAlert], links: Mapping[str, LinkCheck]
) -> list[CheckResult]:
    """Each alert by its link when the link was checked and answered; else by its name's words.
    `links` is keyed by the link as written; results show it as the check shows it (redacted).

    A broken link fails the alert even when an entry matches its name: the page links there,
    so the responder lands on nothing. An unverified link (an auth wall, a timeout) decides
    nothing, and the words do.
    """
    out: list[CheckResult] = []
    seen: set[tuple[str, str | None]] = set()
    for alert in alerts:
        if (alert.alert, alert.runbook_url) in seen:  # the same alert at several severities
            continue
        seen.add((alert.alert, alert.runbook_url))
        words = _by_words(matcher, alert.alert)
        url = alert.runbook_url
        check = links.get(url) if url else None
        if url and _TEMPLATED in url:
            out.append(words.model_copy(update={"note": f"link {url} is templated; not checked"}))
        elif check is None or check.status is LinkStatus.UNVERIFIED:
            note = f"link {check.url} unverified: {check.reason}" if check else ""
            out.append(words.model_copy(update={"note": note}))
        elif check.status is LinkStatus.BROKEN:
            out.append(
                words.model_copy(
                    update={
                        "status": CheckStatus.BROKEN_LINK,
                        "why": [check.url],
                        "by_link": True,
                        "note": check.reason,
                    }
                )
            )
        else:
            entry = EntryRef.of(check.entry) if check.entry else words.entry
            out.append(
                words.model_copy(
                    update={
                        "status": CheckStatus.COVERED,
                        "entry": entry,
                        "why": [check.url],
                        "by_link": True,
                        "flags": check.entry.flags if check.entry else words.flags,
                    }
                )
            )
    return out


def exit_code(results: Iterable[CheckResult]) -> int:
    """0 when every title or alert is covered; 1 when one is a gap or has a broken link."""
    return 1 if any(r.status is not CheckStatus.COVERED for r in results) else 0


def _where(e: EntryRef | EntryListing) -> str:
    return f"{terminal(e.path)}:{e.line}" if e.path else f"line {e.line}"


def render_listing(runbook: Runbook, entries: list[EntryListing]) -> str:
    """What a person runs first: did the reader see the layout, the products and the entries."""
    flags = Counter(f for e in entries for f in e.flags)
    products = ", ".join(terminal(p, 60) for p in runbook.products[:20])
    more = f" and {len(runbook.products) - 20} more" if len(runbook.products) > 20 else ""
    lines = [
        f"Runbook {terminal(runbook.source)}: layout {runbook.layout.value}, {len(entries)} entries, "
        f"{len(runbook.products)} products",
    ]
    if products:
        lines.append(f"Products: {products}{more}")
    lines.append("")
    for e in entries:
        product = f"{terminal(e.product, 60)} / " if e.product else ""
        tail = f"  [{', '.join(e.flags)}]" if e.flags else ""
        lines.append(f"  {_where(e)}  {product}{terminal(e.title)}{tail}")
    counts = ", ".join(f"{n} {flag}" for flag, n in sorted(flags.items()))
    complete = sum(not e.flags for e in entries)
    lines += ["", f"{len(entries)} entries: {complete} complete" + (f", {counts}" if counts else "")]
    return "\n".join(lines)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


_LABEL = {CheckStatus.BROKEN_LINK: "BROKEN", CheckStatus.GAP: "GAP", CheckStatus.COVERED: "ok"}


def render_results(results: list[CheckResult]) -> str:
    """Problems first, then what is covered, then one summary line with the counts."""
    order = {CheckStatus.BROKEN_LINK: 0, CheckStatus.GAP: 1, CheckStatus.COVERED: 2}
    lines = []
    for r in sorted(results, key=lambda r: order[r.status]):
        head = f"{_LABEL[r.status]:<7}{terminal(r.title)}"
        if r.status is CheckStatus.BROKEN_LINK:
            # The check's reason names the link and what is missing; without one, say so here.
            head += f": {terminal(r.note, 300) or f'links to {terminal(r.why[0])}, which does not exist'}"
            if r.entry:
                head += f" (an entry matches the name: {terminal(r.entry.title, 80)} at {_where(r.entry)})"
        elif r.status is CheckStatus.GAP:
            head += ": no runbook entry"
        elif r.entry:
            head += f" -> {terminal(r.entry.title, 80)} at {_where(r.entry)}"
            head += f" [{', '.join(r.flags)}]" if r.flags else ""
            head += f" (by {'link' if r.by_link else 'words'}: {terminal(' '.join(r.why), 120)})"
        else:
            head += f" -> {terminal(r.why[0])}"
        if r.note and r.status is not CheckStatus.BROKEN_LINK:
            head += f"; {terminal(r.note)}"
        lines.append(head)
    counts = Counter(r.status for r in results)
    lines += [
        "",
        f"{len(results)} checked: {counts[CheckStatus.COVERED]} covered, "
        f"{_plural(counts[CheckStatus.GAP], 'gap')}, {_plural(counts[CheckStatus.BROKEN_LINK], 'broken link')}",
    ]
    return "\n".join(lines)
