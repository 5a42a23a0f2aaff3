from __future__ import annotations

import sys

from bench import alert_paging, findings, flows, imports, runbook_matching, sre_requests


def main() -> int:
    print("# oncall-flows benchmarks\n")
    print(imports.report(imports.run()))
    print()
    print(runbook_matching.report(runbook_matching.run()))
    print()
    print(alert_paging.report(alert_paging.run()))
    print()
    print(findings.report(findings.run()))
    print()
    print(sre_requests.report(sre_requests.run()))
    print()
    print(flows.report(flows.run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
