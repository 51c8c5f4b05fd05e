"""Exits 0 when this Python has every package pinned in requirements.txt at its pinned version;
otherwise prints what is missing and exits 1. The Rust test runs it before the suite."""

import pathlib
import sys
from importlib import metadata

REQUIREMENTS = pathlib.Path(__file__).with_name("requirements.txt")


def python_name() -> str:
    return f"Python {sys.version.split()[0]} at {sys.executable}"


def main() -> int:
    if sys.version_info < (3, 9):
        print(f"Python {sys.version.split()[0]} is older than 3.9")
        return 1
    problems = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, pinned = line.partition("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed")
            continue
        if installed != pinned:
            problems.append(f"{name} is {installed}, {pinned} is pinned")
    if problems:
        shown = "; ".join(problems[:3])
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        print(f"{python_name()}: {shown}{more}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
