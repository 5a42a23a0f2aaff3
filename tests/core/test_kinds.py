"""Alert titles into kinds: names are kept, what varies (hosts, ids, pods, environments) is not."""

from __future__ import annotations

import random
import string
import time

import pytest

from oncall.kinds import TITLE_CAP, alert_kind, alert_name, is_id
from tests.factories import DIGIT_NAMES, FIXTURES

NAMES = FIXTURES / "real" / "mitodl-alert-names.txt"
PROM = "[Prometheus]: [FIRING:1]"


def _real_names() -> list[str]:
    lines = NAMES.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#") and " " not in line]


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        (
            f"{PROM} DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-78 integrations/linux_hos",
            "DiskUsageWarning xqwatcher filesystem ext4",
        ),
        (
            f"{PROM.replace(':1', ':3')} DiskUsageWarning mitxonline-production (xqwatcher filesystem /dev/root ext4 ip-10-2-1-9 integrations/linux_host warning)",
            "DiskUsageWarning xqwatcher filesystem ext4",
        ),
        (
            f"{PROM} MemoryUsageWarning operations-qa (memory ip-10-1-3-33 integrations/linux_host warning)",
            "MemoryUsageWarning memory",
        ),
        (
            f"{PROM} InvalidAccessKeyProduction apps-production (odl-video-service critical)",
            "InvalidAccessKeyProduction odl-video-service",
        ),
        (
            "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-fmT0KbL5X'@'10.7.0.237' (using password: YES)",
            "Task handler raised error: \"OperationalError(<n>, \"Access denied for user '<id>'@'<ip>' (using password: YES)",
        ),
        (
            "[Pingdom] Open Discussions production home page has an alert",
            "[Pingdom] Open Discussions production home page has an alert",
        ),
        (
            "simple-rds-mitxonline-production-app-db-CPUUtilization",
            "simple-rds-mitxonline-production-app-db-CPUUtilization",
        ),
    ],
)
def test_alert_kind(title: str, kind: str) -> None:
    assert alert_kind(title) == kind


def test_kinds_differ_by_application() -> None:
    a = alert_kind(
        f"{PROM} DiskUsageWarning mitx-production (edxapp filesystem /dev/root ext4 ip-10-7-0-1 warning)"
    )
    b = alert_kind(
        f"{PROM} DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-1 warning)"
    )
    assert a != b


# -- an alert name is never thrown away as an id ----------------------------------------------


@pytest.mark.parametrize("name", DIGIT_NAMES)
def test_a_name_with_digits_and_mixed_case_is_its_own_kind(name: str) -> None:
    assert not is_id(name)
    assert alert_kind(name) == name
    assert alert_name(name) == name
    assert alert_kind(f"{name} fired on edge-gateway") == f"{name} fired on edge-gateway"


@pytest.mark.parametrize("name", _real_names())
def test_every_real_lone_alert_name_is_its_own_kind(name: str) -> None:
    assert alert_kind(name) == name and alert_name(name) == name


def test_names_that_differ_are_different_kinds() -> None:
    kinds = {alert_kind(n) for n in DIGIT_NAMES}
    assert len(kinds) == len(DIGIT_NAMES)  # today every one of them is "<id>", one kind


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("login failed for v-edxa-fmT0KbL5X", "login failed for <id>"),
        ("login failed for v-edxa-Q9zzTTr2a", "login failed for <id>"),
        ("request 3f2a9c1e7b4d failed", "request <id> failed"),
        ("job 0c9d6f4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f stuck", "job <id> stuck"),
        ("pod api-7d9f8b6c5d-x2k4p evicted", "pod api-<pod> evicted"),
        ("session fmT0KbL5X expired", "session <id> expired"),
    ],
)
def test_real_ids_still_vary(title: str, kind: str) -> None:
    assert alert_kind(title) == kind


def test_random_ids_are_ids() -> None:
    """The shape rule, measured: random mixed-case ids with a digit are ids at least 97% of the time."""
    rng = random.Random(16)
    alphabet = string.ascii_letters + string.digits
    tokens: list[str] = []
    while len(tokens) < 2_000:
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 16)))
        if any(c.isdigit() for c in t) and any(c.isupper() for c in t) and any(c.islower() for c in t):
            tokens.append(t)
    assert sum(map(is_id, tokens)) >= 0.97 * len(tokens)


def test_the_alertname_of_an_alertmanager_title_is_kept_whole_even_when_it_looks_random() -> None:
    assert alert_kind(f"{PROM} fmT0KbL5X production (edxapp warning)") == "fmT0KbL5X edxapp"
    assert alert_name(f"{PROM} fmT0KbL5X production (edxapp warning)") == "fmT0KbL5X"


# -- pods, jobs and instances in the label list -----------------------------------------------


def test_pods_in_the_label_list_are_one_kind() -> None:
    a = alert_kind(f"{PROM} KubePodCrashLooping production (checkout-api-7d9f8b6c5d-x2k4p critical)")
    b = alert_kind(f"{PROM} KubePodCrashLooping production (checkout-api-5c4b8f7d9q-m8n2z critical)")
    c = alert_kind(f"{PROM} KubePodCrashLooping production (checkout-api-6b8fd4bcd7-2j9kt critical)")
    assert a == b == c == "KubePodCrashLooping checkout-api-<pod>"


def test_statefulset_ordinals_and_instance_ports_in_the_label_list_are_one_kind() -> None:
    kinds = {
        alert_kind(f"{PROM} BrokerMemoryAlarm production (rabbitmq-{n} rabbitmq-{n}:15692 critical)")
        for n in range(3)
    }
    assert len(kinds) == 1
    assert alert_kind(f"{PROM} BrokerMemoryAlarm production (kafka-0 critical)") != kinds.pop()


def test_the_same_pod_normaliser_serves_labels_and_free_text() -> None:
    free = alert_kind("KubePodCrashLooping checkout-api-7d9f8b6c5d-x2k4p")
    labelled = alert_kind(f"{PROM} KubePodCrashLooping production (checkout-api-7d9f8b6c5d-x2k4p)")
    assert free.split()[-1] == labelled.split()[-1] == "checkout-api-<pod>"


# -- one cut length ---------------------------------------------------------------------------


def test_the_cut_is_opsgenies_130() -> None:
    assert TITLE_CAP == 130
    head = f"{PROM} DiskUsageWarning mitx-production (xqwatcher "
    whole = head + "a" * (TITLE_CAP - 1 - len(head) - 5) + " edge"
    assert len(whole) == TITLE_CAP - 1 and alert_kind(whole).endswith(" edge")  # 129: not cut
    cut = whole + "x"
    assert len(cut) == TITLE_CAP and not alert_kind(cut).endswith("edgex")  # 130: the last word is partial


# -- alert_name --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "name"),
    [
        (f"{PROM} DiskUsageWarning mitx-production (xqwatcher ip-10-7-0-78 warning)", "DiskUsageWarning"),
        ("[FIRING:2] APISIXEdge5xxRateFast production", "APISIXEdge5xxRateFast"),
        ("KubePodCrashLooping", "KubePodCrashLooping"),
        ("kubepodcrashlooping", "kubepodcrashlooping"),
        ("KubePodCrashLooping [namespace=prod, pod=api-7d9f8b6c5d-x2k4p]", "KubePodCrashLooping"),
        ("InvalidAccessKeyNonProd qa (odl-open-discussions warning)", "InvalidAccessKeyNonProd"),
        ("[Pingdom] MITx Online Production is down", None),
        ("Cybersource credentials potentially out of date", None),
        ("Grading Celery Task Failed (STUB entry. Needs love)", None),
        ("v-edxa-fmT0KbL5X", None),
        ("ip-10-7-0-78", None),
        ("", None),
    ],
)
def test_alert_name(title: str, name: str | None) -> None:
    assert alert_name(title) == name


# -- any group_by: the words before the label list ----------------------------------------------


@pytest.mark.parametrize(
    ("prod", "rc"),
    [
        # group_by [alertname, service, env]: three words before the parentheses
        (
            f"{PROM} SyntheticAlert1998 service-58 prod (x ip-10-1-2-3 warning)",
            f"{PROM.replace(':1', ':4')} SyntheticAlert1998 service-58 rc (x ip-10-9-9-9 critical)",
        ),
        # four words: cluster, env and service
        (
            "[FIRING:1] SyntheticAlert1998 eu-1 apps-production service-58 (x)",
            "[FIRING:2] SyntheticAlert1998 eu-1 apps-qa service-58 (x)",
        ),
        # no label list at all
        ("[FIRING:1] SyntheticAlert1998 service-58 prod", "[FIRING:3] SyntheticAlert1998 service-58 rc"),
        # group_by [] (or `...`): every common label inside the parentheses, alertname first
        (
            "[FIRING:1]  (SyntheticAlert1998 prod service-58)",
            "[FIRING:1]  (SyntheticAlert1998 rc service-58)",
        ),
        # resolved
        (
            "[RESOLVED] SyntheticAlert1998 service-58 prod (x)",
            "[Prometheus]: [RESOLVED] SyntheticAlert1998 service-58 rc (x)",
        ),
    ],
)
def test_the_environment_varies_whatever_the_grouping(prod: str, rc: str) -> None:
    kind = alert_kind(prod)
    assert kind == alert_kind(rc)
    assert kind.startswith("SyntheticAlert1998 ") and "service-<n>" in kind  # numbers vary, as in labels
    assert "[" not in kind and "FIRING" not in kind and "RESOLVED" not in kind
    assert "prod" not in kind and "rc" not in kind.split() and "ip-" not in kind
    assert alert_name(prod) == alert_name(rc) == "SyntheticAlert1998"


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("[FIRING:1] SyntheticAlert1998 (x warning)", "SyntheticAlert1998 x"),  # group_by [alertname]
        ("[FIRING:1] SyntheticAlert1998 prod (x)", "SyntheticAlert1998 x"),  # two words: the env slot
        (f"{PROM} SyntheticAlert1998 service-58 prod (x)", "SyntheticAlert1998 service-<n> x"),
        ("[FIRING:1] SyntheticAlert1998 service-58 prod", "SyntheticAlert1998 service-<n>"),
        ("[FIRING:1] SyntheticAlert1998 eu-west api prod (x)", "SyntheticAlert1998 eu-west api x"),
        ("[FIRING:1]  (SyntheticAlert1998 prod service-58)", "SyntheticAlert1998 service-<n>"),
        ("[RESOLVED] SyntheticAlert1998", "SyntheticAlert1998"),
        # free text after the prefix (a custom template) loses the prefix and keeps its words
        ("[Prometheus]: [FIRING:1] Disk is almost full on 10.1.2.3", "Disk is almost full on <ip>"),
        (
            "[Pingdom] Open Discussions production home page has an alert",
            "[Pingdom] Open Discussions production home page has an alert",
        ),
    ],
)
def test_kinds_for_each_grouping(title: str, kind: str) -> None:
    assert alert_kind(title) == kind


def test_a_cut_title_without_a_label_list_drops_its_partial_last_word() -> None:
    head = "[FIRING:1] SyntheticAlert1998 api "
    title = head + "p" * (TITLE_CAP - len(head) - 6) + " rc-pa"
    assert len(title) == TITLE_CAP
    assert alert_kind(title) == "SyntheticAlert1998 api " + "p" * (TITLE_CAP - len(head) - 6)


@pytest.mark.parametrize(
    "title",
    [
        "-".join(["a"] * 16_000),
        "aB1-" * 4_000,
        "x-" * 3_000 + "api-7d9f8b6c5d-x2k4p",
        "[FIRING:1] " + "a-" * 8_000,
    ],
    ids=["hyphens", "mixed", "pod-after-hyphens", "firing"],
)
def test_a_long_hyphenated_title_gets_its_kind_in_seconds_not_minutes(title: str) -> None:
    """Rootly and JSM titles have no 130-character cut: a 32,000-character `a-a-a-…` took a minute."""
    start = time.process_time()
    kind = alert_kind(title)
    took = time.process_time() - start
    assert kind and took < 5.0, took  # a hang guard, not a speed target (those are in make bench)


def test_one_normaliser_reads_every_title() -> None:
    from datetime import UTC, datetime

    from oncall.coe import coe_title
    from oncall.kinds import one_line, title_parts
    from oncall.models import Incident

    messy = "DiskFull \n\t on  db-1\r\n(prod)"
    assert one_line(messy) == "DiskFull on db-1 (prod)"
    assert title_parts(messy).text == one_line(messy)
    inc = Incident(id="i", message=messy, status="closed", created_at=datetime(2026, 11, 21, 12, tzinfo=UTC))
    assert coe_title(inc, "UTC") == f"COE 2026-11-21 {one_line(messy)}"
