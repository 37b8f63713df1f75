"""Regenerate the experiments: ``python -m experiments [--only SECTION ...] [--quick] [--out DIR]``.

Sections: classification, regression, figure2, figure3 (all by default).
Each section's numbers go to ``<out>/results/<section>.json``; then every
figure is redrawn and ``<out>/RESULTS.md`` is rendered from all stored
sections, so ``--only`` refreshes one section and keeps the others.
``--quick`` runs tiny grids and few repetitions (seconds to a minute) and
writes to a temporary folder unless ``--out`` is given: its numbers only
show that the pipeline runs. ``--redraw`` recomputes nothing and only
redraws the figures and the report from the stored results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .common import DOCS, Stopwatch, load_results, save_results

SECTIONS = ("classification", "regression", "figure2", "figure3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable); the others keep their stored results")
    parser.add_argument("--quick", action="store_true", help="tiny grids, for a smoke run")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: docs/, or a temporary folder with --quick)")
    parser.add_argument("--redraw", action="store_true", help="only redraw figures and RESULTS.md")
    args = parser.parse_args(argv)

    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import tqdm  # noqa: F401
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        print(f"missing the experiments extra ({exc.name}): pip install -e '.[experiments]'", file=sys.stderr)
        return 2

    # Small dense solves run fastest single-threaded; the RNTK core keeps its own threads.
    threadpool_limits(1)

    out = args.out or (Path(tempfile.gettempdir()) / "rntk-experiments-quick" if args.quick else DOCS)
    out.mkdir(parents=True, exist_ok=True)
    clock = Stopwatch()
    if not args.redraw:
        for name in args.only or SECTIONS:
            module = __import__(f"experiments.{name}", fromlist=["run"])
            section_clock = Stopwatch()
            result = module.run(quick=args.quick)
            path = save_results(out, name, result)
            print(f"{name}: {section_clock.seconds():.0f} s -> {path}", file=sys.stderr)

    from . import plots, report

    results = load_results(out)
    for path in plots.draw_all(results, out):
        print(f"figure -> {path}", file=sys.stderr)
    path = report.write(results, out)
    print(f"report -> {path} ({clock.seconds():.0f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
