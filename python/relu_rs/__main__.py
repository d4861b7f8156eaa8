"""Command line: ``python -m relu_rs info`` prints what this build runs on."""

from __future__ import annotations

import argparse
import sys

from ._functional import info


def _print_info() -> None:
    facts = info()
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relu_rs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, SIMD path and thread count")
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
