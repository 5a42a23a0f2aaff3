from __future__ import annotations

import sys

from bench import alert_paging


def main() -> int:
    print("# oncall-flows benchmarks\n")
    print(alert_paging.report(alert_paging.run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
