"""The demo in a fast mode: every activation appears, and ReLU beats the sigmoid baseline."""

from __future__ import annotations

import subprocess
import sys

from relu_rs._demo import ACTIVATIONS, format_table, run_demo


def test_demo_fast_mode_table() -> None:
    runs = run_demo(epochs=8, quiet=True)
    table = format_table(runs, 0.95)
    for name in ACTIVATIONS:
        assert f"| {name} |" in table
    by_name = {r.name: r for r in runs}
    assert by_name["relu"].losses[-1] < by_name["sigmoid"].losses[-1]
    assert by_name["leaky_relu"].dead_fraction == 0.0
    assert by_name["prelu"].dead_fraction == 0.0
    assert by_name["prelu"].alpha_range is not None
    # a ReLU unit is dead exactly when it is inactive on every example
    assert by_name["relu"].dead_fraction == by_name["relu"].inactive_fraction


def test_demo_cli_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "relu_rs", "demo", "--epochs", "2", "--hidden", "16",
         "--layers", "2"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "| prelu |" in out.stdout
    assert "epoch" in out.stderr  # progress is shown


def test_bench_quick_runs_and_writes_json(tmp_path: object) -> None:
    import json
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "bench.json"
    out = subprocess.run(
        [sys.executable, "-m", "relu_rs", "bench", "--quick", "--json", str(path)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    assert "| relu out= | float32 | 1K |" in out.stdout
    assert "[1/" in out.stderr  # progress
    data = json.loads(path.read_text())
    assert data["results"] and all(r["seconds"]["relu_rs"] > 0 for r in data["results"])
