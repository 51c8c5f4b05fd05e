"""The referee suite: each fake driven by the platform's own client library. Run through
`cargo test -p postroute-fakes --test referee`, which starts the fakes and sets REFEREE_*; an
optional argument runs only the checks whose name contains it. Exits 1 when any check fails."""

import os
import signal
import sys

import common

# A hung library call must fail the suite, not the CI job's clock.
signal.alarm(int(os.environ.get("REFEREE_TIMEOUT_SECS", "300")))

common.keep_to_loopback()

import meta_checks  # noqa: E402,F401 - registers its checks
import resend_checks  # noqa: E402,F401
import smtp_checks  # noqa: E402,F401
import x_checks  # noqa: E402,F401


def main():
    selected = sys.argv[1] if len(sys.argv) > 1 else None
    failures = common.run(selected)
    total = sum(1 for f in common.CHECKS if not selected or selected in f"{f.__module__}.{f.__name__}")
    print(f"referee: {total - len(failures)} of {total} checks passed")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
