"""Matching alert titles to runbook entries: the real runbook's cases and ones that must not match."""

from __future__ import annotations

import re

import pytest

from bench.runbook_matching import (
    LAYOUT_NAMES,
    documented,
    layout_figures,
    layout_runbook,
    near_misses,
    title_forms,
)
from oncall import coverage, kinds
from oncall.coverage import Matcher, likely_product, significant_words
from oncall.kinds import alert_kind
from oncall.runbook import parse_runbook, parse_runbook_files
from tests.factories import DIGIT_NAMES, FIXTURES

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
        (  # the environment slot of a copied title varies, as in kinds (issue 16)
            "[Prometheus]: [FIRING:1] KeycloakInternalError qa (keycloak warning)",
            "KeycloakInternalError production (keycloak critical)",
        ),
        ("[Prometheus]: [FIRING:1] KeycloakInternalError qa (forum warning)", None),
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


# -- issue 16: names, whole identifiers, environment slots, labels ----------------------------


def _book(*keys: str) -> Matcher:
    """One heading per key, each a complete entry."""
    text = "# Runbook\n## Team\n" + "".join(f"### {k}\n_Diagnosis_\nlook\n_Mitigation_\nfix\n" for k in keys)
    return Matcher(parse_runbook(text))


def _covers(matcher: Matcher, title: str) -> str | None:
    match = matcher.match(title)
    return match.entry.key if match else None


PROM = "[Prometheus]: [FIRING:1]"


@pytest.mark.parametrize("name", DIGIT_NAMES)
def test_a_name_with_digits_covers_its_alert_in_every_form(name: str) -> None:
    book = _book(*DIGIT_NAMES)
    assert name.lower() in significant_words(name)
    for title in (
        name,
        name.lower(),
        f"{PROM} {name} production (edge-gateway warning)",
        f"{name} [namespace=edge, severity=critical]",
        f"Alert {name} fired on edge-gateway",
    ):
        assert _covers(book, title) == name, title


def test_real_ids_still_vary_in_matching() -> None:
    assert "v-edxa-fmt0kbl5x" not in significant_words("denied for 'v-edxa-fmT0KbL5X'@'10.7.0.237'")
    assert significant_words("login failed for v-edxa-Q9zzTTr2a") == ("login", "failed")


@pytest.mark.parametrize(
    ("entry", "near_miss"),
    [
        ("DiskFull", "DiskFullSoon"),
        ("QueueDepthHigh", "QueueLatencyHigh"),
        ("HighErrorRate", "HighErrorRateBudgetBurn"),
        ("KubePodCrashLooping", "KubePodCrashLoopingSoon"),
        ("NodeNotReachable", "NodeNotReachableSoon"),
    ],
)
def test_whole_identifiers_match_whole_identifiers(entry: str, near_miss: str) -> None:
    book = _book(entry)
    for title in (
        near_miss,
        near_miss.lower(),
        f"{PROM} {near_miss} production (app-1 warning)",
        f"{near_miss} [severity=critical]",
        " ".join(re.findall("[A-Z][a-z]*", near_miss)),  # spelled out: `Disk Full Soon`
    ):
        assert _covers(book, title) is None, title
    assert _covers(book, entry.lower()) == entry


@pytest.mark.parametrize(
    "title",
    [
        "Kube Pod Crash Looping",
        "Kube Pod Crash Looping on checkout-api-7d9f8b6c5d-x2k4p",
        "[Grafana] Kube Pod Crash Looping: 3 pods",
        "kube pod crash looping",
    ],
)
def test_an_alert_name_covers_titles_that_spell_it_out(title: str) -> None:
    assert _covers(_book("KubePodCrashLooping"), title) == "KubePodCrashLooping"


def test_a_capitalised_function_word_is_part_of_a_spelled_name() -> None:
    book = _book("NodeFilesystemAlmostOutOfFiles")
    assert (
        _covers(book, "Node Filesystem Almost Out Of Files on node-exporter")
        == "NodeFilesystemAlmostOutOfFiles"
    )
    assert _covers(book, "Node Filesystem Almost Out Of Files Soon") is None


def test_a_heading_that_spells_a_name_out_covers_the_alert() -> None:
    book = _book("Kube Pod Crash Looping")
    assert _covers(book, f"{PROM} KubePodCrashLooping production (api warning)") == "Kube Pod Crash Looping"
    assert _covers(book, "Kube Pod Crash Looping on checkout-api") == "Kube Pod Crash Looping"
    assert _covers(book, "KubePodCrashLoopingSoon") is None
    assert _covers(book, "Kube Pod Crash Looping Soon") is None  # a spelled name is matched whole too


def test_a_copied_heading_covers_the_same_alert_from_another_environment() -> None:
    book = Matcher(parse_runbook(REAL.read_text()))
    for env in ("rc", "qa", "production"):
        title = f"{PROM} InvalidAccessKeyNonProd {env} (odl-open-discussions warning)"
        match = book.match(title)
        assert (
            match is not None
            and match.entry.title == "InvalidAccessKeyNonProd qa (odl-open-discussions warning)"
        )
    assert book.match(f"{PROM} InvalidAccessKeyNonProd rc (odl-video-service warning)") is None  # another app


def test_a_placeholder_in_the_environment_slot_still_constrains() -> None:
    book = Matcher(parse_runbook(REAL.read_text()))
    assert book.match(f"{PROM} MemoryUsageWarning operations-rc (memory ip-10-1-3-33 warning)") is not None
    assert book.match(f"{PROM} MemoryUsageWarning mitx-production (memory ip-10-1-3-33 warning)") is None


def test_pods_and_ordinals_in_a_copied_heading_cover_the_other_pods() -> None:
    book = _book(
        f"{PROM} BrokerMemoryAlarm production (rabbitmq-0 critical)",
        f"{PROM} PodOOMKilled production (checkout-api-7d9f8b6c5d-x2k4p)",
    )
    assert _covers(book, f"{PROM} BrokerMemoryAlarm production (rabbitmq-2 critical)") is not None
    assert _covers(book, f"{PROM} PodOOMKilled rc (checkout-api-5c4b8f7d9q-m8n2z warning)") is not None
    assert _covers(book, f"{PROM} PodOOMKilled rc (search-api-5c4b8f7d9q-m8n2z warning)") is None


@pytest.mark.parametrize(
    ("label", "workload"),
    [
        ("checkout-api-7d9f8b6c5d-x2k4p", "checkout-api"),
        ("checkout-api-5c4b8f7d9q-m8n2z", "checkout-api"),
        ("node-exporter-x2k4p", "node-exporter"),
        ("rabbitmq-2", "rabbitmq"),
        ("nightly-backup-28391234", "nightly-backup"),
        ("nightly-backup-28391234-x2k4p", "nightly-backup"),
        ("web-1:9100", "web"),
        ("odl-video-service", "odl-video-service"),
        ("mitx-production", "mitx-production"),
    ],
)
def test_pod_job_and_instance_labels_are_read_as_their_workload(label: str, workload: str) -> None:
    assert significant_words(f"{PROM} KubeJobFailed production ({label} warning)")[-1] == workload


def test_rootly_labels_are_read_by_their_values() -> None:
    book = _book(f"{PROM} CheckoutLatencyHigh production (checkout-api critical)")
    assert _covers(book, "CheckoutLatencyHigh [application=checkout-api, pod=checkout-api-7d9f8b6c5d-x2k4p]")
    assert _covers(book, "CheckoutLatencyHigh [application=search-api]") is None


def test_a_bare_name_is_covered_by_the_one_entry_that_names_it_and_by_none_when_several_do() -> None:
    one = _book(f"{PROM} CheckoutLatencyHigh production (checkout-api critical)")
    assert _covers(one, "CheckoutLatencyHigh") is not None
    assert _covers(one, "checkoutlatencyhigh") is not None
    two = _book(f"{PROM} DiskUsageWarning production (reddit ext4)", "DiskUsageWarning xqwatcher")
    assert _covers(two, "DiskUsageWarning") is None  # which application? the title does not say
    generic = _book("DiskUsageWarning", "DiskUsageWarning xqwatcher")
    assert _covers(generic, "DiskUsageWarning") == "DiskUsageWarning"


def test_matching_reads_the_entry_key() -> None:
    decorated = parse_runbook(
        "# R\n## T\n### Alert: `WafBlockSpike` [warning]\n_Diagnosis_\nx\n_Mitigation_\ny\n"
    )
    assert decorated.entries[0].key == "WafBlockSpike"
    match = Matcher(decorated).match(f"{PROM} WafBlockSpike production (edge warning)")
    assert match is not None and match.words == ("wafblockspike",)


def test_one_cut_length_for_kinds_and_matching() -> None:
    assert coverage.TITLE_CAP is kinds.TITLE_CAP == 130
    head = f"{PROM} DiskUsageWarning mitx-production (xqwatcher "
    whole = head + "a" * (kinds.TITLE_CAP - 1 - len(head) - 5) + " edge"
    assert len(whole) == 129  # not cut: its last word counts, in both
    assert significant_words(whole)[-1] == "edge" and alert_kind(whole).endswith(" edge")
    cut = whole + "x"
    assert len(cut) == 130  # cut mid-word by OpsGenie: the partial word counts in neither
    assert "edgex" not in significant_words(cut) and not alert_kind(cut).endswith("edgex")


# -- the layout fixtures: every documented alert in every title form, no near miss --------------


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_layout_targets(layout: str) -> None:
    matcher = Matcher(layout_runbook(layout))
    figures = layout_figures(layout, matcher.match, lambda e: e.key)
    assert figures["false"] == []
    assert all(share >= 0.95 for share in figures["share"].values()), figures["missed"]
    assert len(documented(layout)) >= 8 and len(near_misses(layout)) >= 7


@pytest.mark.parametrize(
    ("title", "product"),
    [
        ("KubePodCrashLoopingSoon", "kubernetes"),
        (f"{PROM} KubeJobCompletion production (batch warning)", "kubernetes"),
        ("NodeFilesystemSpaceFillingUpFast", "node"),
        ("PrometheusRuleEvaluationSlow", "prometheus"),
        ("EtcdHighCommitDurations", "etcd"),
    ],
)
def test_likely_product_reads_the_words_inside_alert_names(title: str, product: str) -> None:
    assert likely_product(layout_runbook("files"), title) == product


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_no_name_one_segment_away_from_a_documented_one_is_covered(layout: str) -> None:
    """Beyond the fixtures' near misses: each documented name with a segment added or dropped."""
    matcher = Matcher(layout_runbook(layout))
    names = documented(layout)
    covered = []
    for name in names:
        segments = re.findall("[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", name)
        for miss in {
            f"{name}Soon",
            f"{name}Critical",
            f"Kube{name}",
            "".join(segments[:-1]),
            "".join(segments[1:]),
        }:
            if miss in names or len(miss) < 4:
                continue
            covered += [t for t in title_forms(miss).values() if matcher.match(t) is not None]
    assert covered == []


def test_a_heading_copied_from_a_title_grouped_by_more_labels_varies_its_environment() -> None:
    book = parse_runbook("# Apps\n\n## SyntheticAlert1998 service-58 qa (x)\n\n_Mitigation_\n\nRestart.\n")
    matcher = Matcher(book)
    for env in ("rc", "prod", "apps-production"):
        match = matcher.match(f"[Prometheus]: [FIRING:1] SyntheticAlert1998 service-58 {env} (x)")
        assert match is not None and match.entry.line == 3, env
    assert matcher.match("[FIRING:1] SyntheticAlert1998 billing rc (x)") is None  # another service
    assert matcher.match("[FIRING:1] SyntheticAlert1999 service-58 rc (x)") is None


def test_a_kebab_case_file_covers_the_alert_it_spells() -> None:
    page = "# {}\n\n## Diagnosis\n\nLook.\n\n## Mitigation\n\nFix.\n"
    book = parse_runbook_files(
        {
            "db/disk-full.md": page.format("Disk Full"),
            "db/queue-depth-high.md": page.format("Queue depth high"),
        },
        source="runbooks",
    )
    matcher = Matcher(book)
    for title in ("DiskFull", "[FIRING:1] DiskFull prod (db)", "Disk Full on db-1", "diskfull"):
        assert _covers(matcher, title) == "disk-full", title
    assert _covers(matcher, "QueueDepthHigh") == "queue-depth-high"
    for near in ("DiskFullSoon", "[FIRING:1] DiskFullSoon prod (db)", "Disk Full Soon", "QueueDepthHighSoon"):
        assert _covers(matcher, near) is None, near
