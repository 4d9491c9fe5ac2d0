"""Run every ``benchmarks/bench_*.py`` and print a ratio table (``make bench``).

A bench module exposes ``cases() -> list[(name, candidate, baseline)]``: each candidate and
baseline is a zero-argument callable; this runner times both (best of several rounds) and
prints the speed ratio baseline/candidate. A module may also expose
``figures() -> list[(name, value, target, ok)]`` for other measured figures (accuracy, absolute
times), printed in a second table; a row may add ``baseline, ratio`` (measured in the same run). Timings are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

HERE = Path(__file__).resolve().parent


def best_time(fn: Callable[[], object], *, min_total: float = 0.3, max_rounds: int = 50) -> float:
    """Best wall time of one call [s], over rounds until ``min_total`` seconds are spent."""
    fn()  # warm-up (imports, caches)
    best = float("inf")
    spent = 0.0
    rounds = 0
    while rounds < 3 or (spent < min_total and rounds < max_rounds):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        rounds += 1
    return best


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (Python and numpy, via tracemalloc) during one call of ``fn``."""
    fn()  # warm-up, so imports and caches are not counted
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    console = Console(highlight=False)
    paths = sorted(HERE.glob("bench_*.py"))
    if names:
        paths = [p for p in paths if any(n in p.stem for n in names)]
    ratios = Table(
        title="Speed: candidate vs. baseline (best of several runs)", title_justify="left"
    )
    for col in ("bench", "case", "candidate [ms]", "baseline [ms]", "ratio"):
        ratios.add_column(col, justify="left" if col in ("bench", "case") else "right")
    memory = Table(
        title="Memory: peak allocated during one call (tracemalloc), candidate vs. baseline",
        title_justify="left",
    )
    for col in ("bench", "case", "candidate [KiB]", "baseline [KiB]", "ratio"):
        memory.add_column(col, justify="left" if col in ("bench", "case") else "right")
    figures = Table(title="Measured figures", title_justify="left")
    for col in ("bench", "figure", "value", "target", "met", "baseline", "ratio"):
        figures.add_column(col, justify="left" if col in ("bench", "figure") else "right")
    any_figures = False
    for path in paths:
        module = load(path)
        bench = path.stem.removeprefix("bench_")
        for name, candidate, baseline in module.cases():
            c = best_time(candidate)
            b = best_time(baseline)
            name = escape(name)  # labels like "time [s]" are text, not Rich markup
            ratios.add_row(bench, name, f"{c * 1e3:.3f}", f"{b * 1e3:.1f}", f"{b / c:,.0f}x")
            mc, mb = peak_memory(candidate), peak_memory(baseline)
            memory.add_row(
                bench, name, f"{mc / 1024:,.0f}", f"{mb / 1024:,.0f}", f"{mb / max(mc, 1):,.1f}x"
            )
        if hasattr(module, "figures"):
            for name, value, target, ok, *versus in module.figures():
                any_figures = True
                figures.add_row(
                    bench,
                    escape(name),
                    escape(value),
                    escape(target),
                    "yes" if ok else "NO",
                    *(escape(str(v)) for v in versus),
                )
    console.print(ratios)
    console.print(memory)
    if any_figures:
        console.print(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
