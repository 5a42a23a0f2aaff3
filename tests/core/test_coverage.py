"""Matching alert titles to runbook entries: the real runbook's cases and ones that must not match."""

from __future__ import annotations

import pytest

from oncall.coverage import Matcher, likely_product, significant_words
from oncall.runbook import parse_runbook
from tests.factories import FIXTURES

REAL = FIXTURES / "real" / "mitodl-oncall-runbook.md"
EXTRA = """
# Products
## Payments
### HighLatency {env} payments-api
_Diagnosis_
x
_Mitigation_
y
### DiskUsageWarning
_Diagnosis_
generic disk entry
_Mitigation_
y
## Keycloak
### KeycloakInternalError production (keycloak critical)
_Diagnosis_
x
_Mitigation_
y
"""


@pytest.fixture(scope="module")
def real() -> Matcher:
    return Matcher(parse_runbook(REAL.read_text(), source="mitodl"))


@pytest.fixture(scope="module")
def extra() -> Matcher:
    return Matcher(parse_runbook(EXTRA, source="extra"))


CASES = [
    # (alert title, heading of the entry that must cover it, or None when nothing may)
    (
        "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-78 integrations/linux_hos",
        "DiskUsageWarning xqwatcher",
    ),
    (
        "[Prometheus]: [FIRING:3] DiskUsageWarning mitxonline-production (xqwatcher filesystem /dev/root ext4 ip-10-2-0-5 integrations/linux_host warning)",
        "DiskUsageWarning xqwatcher",
    ),
    (
        "[Prometheus]: [FIRING:1] MemoryUsageWarning operations-qa (memory ip-10-1-3-33 integrations/linux_host warning)",
        "MemoryUsageWarning operations-<ENVIRONMENT>",
    ),
    (
        "[Prometheus]: [FIRING:1] MemoryUsageWarning operations-production (memory ip-10-1-9-2 integrations/linux_host warning)",
        "MemoryUsageWarning operations-<ENVIRONMENT>",
    ),
    (
        "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp filesystem /dev/root ext4 ip-10-7-0-78 integrations/linux_host warning)",
        None,
    ),
    (
        "[Prometheus]: [FIRING:1] MemoryUsageWarning mitx-production (memory ip-10-1-3-33 integrations/linux_host warning)",
        None,
    ),  # `operations-<ENV>` needs the operations- prefix
    (
        "[Prometheus]: [FIRING:1] InvalidAccessKeyNonProd qa (odl-open-discussions warning)",
        "InvalidAccessKeyNonProd qa (odl-open-discussions warning)",
    ),
    (
        "[Prometheus]: [FIRING:2] InvalidAccessKeyProduction apps-production (odl-video-service critical)",
        "[Prometheus]: [FIRING:1] InvalidAccessKeyProduction apps-production (odl-video-service critical)",
    ),
    (
        "[Prometheus]: [FIRING:1] InvalidAccessKeyProduction apps-production (odl-open-discussions critical)",
        None,
    ),  # same alert name, another application
    (
        "[Prometheus]: [FIRING:1] AlternateInvalidAccessKeyProduction production (bootcamp-ecommerce critical)",
        "[Prometheus]: [FIRING:1] AlternateInvalidAccessKeyProduction production (bootcamp-ecommerce critical)",
    ),
    ("[Prometheus]: [FIRING:1] AlternateInvalidAccessKeyNonProd qa (bootcamp-ecommerce warning)", None),
    (
        "[Prometheus]: [FIRING:1] DiskUsageWarning production-apps (reddit filesystem /dev/nvme0n1p1 ext4 ip-10-13-1-59 integrations/linux_",
        "[Prometheus]: [FIRING:1] DiskUsageWarning production-apps (reddit filesystem /dev/nvme0n1p1 ext4 ip-10-13-1-59 integrations/linux_",
    ),
    (
        "[Prometheus]: [FIRING:1] DiskUsageWarning production-apps (reddit filesystem /dev/nvme1n1p1 ext4 ip-10-13-2-7 integrations/linux_host warning)",
        "[Prometheus]: [FIRING:1] DiskUsageWarning production-apps (reddit filesystem /dev/nvme0n1p1 ext4 ip-10-13-1-59 integrations/linux_",
    ),
    (
        "[Pingdom] Open Discussions production home page has an alert",
        "[Pingdom] Open Discussions production home page has an alert",
    ),
    ("[Pingdom] MITx Online Production is down", None),
    (
        "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-fmT0KbL5X'@'10.7.0.237' (using password: YES)",
        "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-fmT0KbL5X'@'10.7.0.237' (using password: YES)",
    ),
    (
        "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-Q9zzTTr2a'@'10.7.3.19' (using password: YES)",
        "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-fmT0KbL5X'@'10.7.0.237' (using password: YES)",
    ),
    (
        'Task handler raised error: "OperationalError(2013, "Lost connection to MySQL server during query")',
        None,
    ),
    (
        "ApiException hubspot_xpro.tasks.sync_contact_with_hubspot",
        "ApiException hubspot_xpro.tasks.sync_contact_with_hubspot",
    ),
    ("ApiException hubspot_xpro.tasks.sync_deal_with_hubspot", None),
    ("Cybersource credentials potentially out of date", "Cybersource credentials potentially out of date"),
    (
        "Grading Celery Task Failed for course-v1:MITx+6.00x+2T2026",
        "Grading Celery Task Failed (STUB entry. Needs love)",
    ),
    ("Request by developer to add videos", None),  # a non-alert entry (and a typo) covers nothing
    ("CPUUsageWarning", None),
    ("VaultAbsent", None),
    ("simple-rds-mitxonline-production-app-db-CPUUtilization", None),
    ("", None),
]


@pytest.mark.parametrize(("title", "heading"), CASES)
def test_real_runbook_cases(real: Matcher, title: str, heading: str | None) -> None:
    match = real.match(title)
    assert (match.entry.title if match else None) == heading


def test_match_reports_the_words_that_tied_them(real: Matcher) -> None:
    match = real.match(CASES[0][0])
    assert match is not None and match.words == ("diskusagewarning", "xqwatcher")


@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("HighLatency staging payments-api p99=2.1s", "HighLatency {env} payments-api"),
        ("HighLatency prod payments-web", None),
        (
            "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp filesystem /dev/root ext4)",
            "DiskUsageWarning",
        ),
        (
            "[Prometheus]: [FIRING:1] KeycloakInternalError production (keycloak critical)",
            "KeycloakInternalError production (keycloak critical)",
        ),
        ("[Prometheus]: [FIRING:1] KeycloakInternalError qa (keycloak warning)", None),
    ],
)
def test_placeholders_generic_entries_and_specificity(
    extra: Matcher, title: str, heading: str | None
) -> None:
    match = extra.match(title)
    assert (match.entry.title if match else None) == heading


def test_the_most_specific_entry_wins() -> None:
    book = parse_runbook(
        "## A\n### DiskUsageWarning\n_Diagnosis_\n## B\n### DiskUsageWarning xqwatcher\n_Diagnosis_\n"
    )
    match = Matcher(book).match("[FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-1)")
    assert match is not None and match.entry.title == "DiskUsageWarning xqwatcher"


def test_significant_words_drop_what_varies() -> None:
    assert significant_words(
        "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 "
        "ip-10-7-0-78 integrations/linux_host warning)"
    ) == ("diskusagewarning", "mitx-production", "xqwatcher", "filesystem", "ext4")


def test_likely_product() -> None:
    book = parse_runbook(REAL.read_text())
    assert (
        likely_product(
            book, "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-1)"
        )
        == "XQueueWatcher"
    )
    assert likely_product(
        book, "[Prometheus]: [FIRING:1] InvalidAccessKeyNonProd rc (odl-open-discussions warning)"
    ) == ("ODL Open Discussions")
    assert likely_product(book, "zzz qqq") is None
