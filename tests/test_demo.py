"""The demo in a fast mode: every activation appears, ReLU beats the sigmoid baseline, and the
init-scale and depth sweeps give a deterministic row per activation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relu_rs._demo import ACTIVATIONS, QUICK, Demo, format_sweep, format_table, run_demo


@pytest.fixture(scope="module")
def quick_demo() -> Demo:
    return run_demo(quick=True, quiet=True)


def test_demo_fast_mode_table() -> None:
    runs = run_demo(epochs=8, quiet=True, sweeps=False).runs
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


def test_sweeps_have_a_row_per_activation_and_a_column_per_setting(quick_demo: Demo) -> None:
    for sweep, n_settings, n_seeds, labels in (
        (quick_demo.init, len(QUICK.scales), QUICK.seeds, ["×0.25", "×0.5", "×1", "×2", "×4"]),
        (quick_demo.depth, len(QUICK.depths), QUICK.depth_seeds, ["2 layers", "8 layers"]),
    ):
        assert sweep is not None
        assert list(sweep.accuracy) == ACTIVATIONS
        for name in ACTIVATIONS:
            assert len(sweep.accuracy[name]) == n_settings
            assert all(len(cell) == n_seeds for cell in sweep.accuracy[name])
            assert all(0.0 <= a <= 1.0 for cell in sweep.accuracy[name] for a in cell)
        table = format_sweep(sweep).splitlines()
        assert table[0] == f"{sweep.caption}:"  # a one-line caption above the table
        assert table[2] == "| activation | " + " | ".join(labels) + " |"
        rows = [line for line in table if line.startswith("| ") and "activation" not in line]
        assert [r.split(" | ")[0][2:] for r in rows] == ACTIVATIONS
        assert all(r.count(" | ") == n_settings for r in rows)


def test_sweeps_are_deterministic(quick_demo: Demo) -> None:
    again = run_demo(quick=True, quiet=True)
    assert quick_demo.init is not None and again.init is not None
    assert quick_demo.depth is not None and again.depth is not None
    assert again.init.accuracy == quick_demo.init.accuracy
    assert again.depth.accuracy == quick_demo.depth.accuracy
    assert again.init.diverged == quick_demo.init.diverged


def test_relu_trains_where_sigmoid_does_not(quick_demo: Demo) -> None:
    # Sigmoid stays at chance at the deepest depth and at the smallest init scale (vanishing
    # gradients) while ReLU learns in both: a wide margin on every seed 0-5 in quick mode.
    assert quick_demo.depth is not None and quick_demo.init is not None
    deepest = quick_demo.depth
    assert deepest.mean("relu")[-1] > deepest.mean("sigmoid")[-1] + 0.05
    smallest = quick_demo.init
    assert smallest.mean("relu")[0] > smallest.mean("sigmoid")[0] + 0.05


def test_plot_writes_a_png(tmp_path: object) -> None:
    pytest.importorskip("matplotlib")
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "demo.png"
    run_demo(quick=True, quiet=True, plot_path=str(path))
    assert path.stat().st_size > 0


def test_demo_cli_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "relu_rs", "demo", "--quick", "--epochs", "2", "--hidden", "16",
         "--layers", "2"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "| prelu |" in out.stdout
    assert "2 → 2×16 → 1" in out.stderr and "2 epochs" in out.stderr  # options reach the table
    assert "| activation | ×0.25 | ×0.5 | ×1 | ×2 | ×4 |" in out.stdout
    assert "| activation | 2 layers | 8 layers |" in out.stdout
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


def test_demo_int8_activations_keep_the_accuracy() -> None:
    # post-training per-tensor int8 activations (relu_rs.quantized) on the trained ReLU family:
    # within 2 points of float32 (the quick run shows +0.1 to +0.4)
    from relu_rs._demo import format_int8

    demo = run_demo(epochs=8, quiet=True, sweeps=False)
    assert [r.name for r in demo.int8] == ["relu", "leaky_relu", "prelu"]
    for r in demo.int8:
        assert abs(r.int8_accuracy - r.float_accuracy) <= 0.02, r
    assert "| relu | " in format_int8(demo.int8)
