"""Command line.

``python -m relu_rs demo``  trains one MLP with five activations and prints a comparison table,
                           then init-scale and depth sweeps (``--quick``: a fast, smaller run).
``python -m relu_rs bench`` times relu_rs next to NumPy (and PyTorch, when installed).
``python -m relu_rs info``  prints the version, SIMD path and thread count.
"""

from __future__ import annotations

import argparse
import sys

from . import info


def _print_info() -> None:
    facts = info()
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {shown}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m relu_rs", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, SIMD path and thread count")
    demo = sub.add_parser("demo", help="train an MLP on two spirals with each activation")
    demo.add_argument("--epochs", type=_positive_int, help="main table (default 60, --quick 8)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--hidden", type=_positive_int, default=64, help="main table: layer width")
    demo.add_argument("--layers", type=_positive_int, default=6, help="main table: hidden layers")
    demo.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    demo.add_argument(
        "--plot", metavar="FILE.png", help="loss curves, sweeps and decision regions (matplotlib)"
    )
    demo.add_argument(
        "--quick", action="store_true", help="far fewer epochs and smaller sweeps (tests, CI)"
    )
    bench = sub.add_parser("bench", help="time relu_rs next to numpy (and torch if installed)")
    bench.add_argument("--quick", action="store_true", help="fewer sizes, shorter timing loops")
    bench.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    bench.add_argument("--only", metavar="TEXT", help="only the rows whose op contains TEXT")
    bench.add_argument("--plot", metavar="FILE.png", help="bar chart of speedups (matplotlib)")
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info()
    elif args.command == "demo":
        from ._demo import format_int8, format_sweep, format_table, run_demo

        target = 0.95
        result = run_demo(
            epochs=args.epochs,
            seed=args.seed,
            hidden=args.hidden,
            layers=args.layers,
            lr=args.lr,
            target=target,
            plot_path=args.plot,
            quick=args.quick,
        )
        print(format_table(result.runs, target))
        if result.int8:
            print(f"\n{format_int8(result.int8)}")
        for sweep in (result.init, result.depth):
            if sweep is not None:
                print(f"\n{format_sweep(sweep)}")
    elif args.command == "bench":
        from . import _bench

        facts = info()
        print(f"relu_rs {facts['version']}, simd {facts['simd']}, {facts['num_threads']} threads")
        results = _bench.run(quick=args.quick, only=args.only)
        print(_bench.format_table(results))
        if args.json:
            _bench.write_json(results, args.json)
        if args.plot and _bench.plot(results, args.plot):
            print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
