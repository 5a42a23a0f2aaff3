from __future__ import annotations

import pytest

from oncall import escape
from oncall.kinds import alert_kind


def test_cut_marks_the_cut() -> None:
    assert escape.cut("abcdef", 4) == "abc…"
    assert escape.cut("abc", 4) == "abc"


def test_md_escapes_structure_and_mentions() -> None:
    out = escape.md("[x](y) <b> @team |")
    assert out == "\\[x\\]\\(y\\) &lt;b&gt; @\u200bteam \\|"


def test_slack_escapes_control_sequences() -> None:
    out = escape.slack("<!here> <@U123> & `x`")
    assert "<" not in out and ">" not in out and "`" not in out and "&amp;" in out


def test_plain_breaks_placeholders() -> None:
    assert "{{" not in escape.plain("{{incident.title}}") and "}}" not in escape.plain("{{x}}")


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        (
            "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-78 integrations/linux_hos",
            "DiskUsageWarning xqwatcher filesystem ext4",
        ),
        (
            "[Prometheus]: [FIRING:3] DiskUsageWarning mitxonline-production (xqwatcher filesystem /dev/root ext4 ip-10-2-1-9 integrations/linux_host warning)",
            "DiskUsageWarning xqwatcher filesystem ext4",
        ),
        (
            "[Prometheus]: [FIRING:1] MemoryUsageWarning operations-qa (memory ip-10-1-3-33 integrations/linux_host warning)",
            "MemoryUsageWarning memory",
        ),
        (
            "[Prometheus]: [FIRING:1] InvalidAccessKeyProduction apps-production (odl-video-service critical)",
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
        "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp filesystem /dev/root ext4 ip-10-7-0-1 warning)"
    )
    b = alert_kind(
        "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-1 warning)"
    )
    assert a != b
