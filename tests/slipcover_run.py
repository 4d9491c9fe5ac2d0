"""``python -m slipcover`` for ``make test``, without the controller's scan of unseen files.

With pytest-xdist, SlipCover lists every source file no process imported as uncovered: each
worker adds the files it did not import, and the controller (which runs no test and imports
little) then adds nearly all of them again, parsing and compiling some 400 modules on one core
after the workers have finished: 3-5 s at the end of every run. The workers' lists already
cover every file (a file neither imported is added by both), so the controller skips its own
when its workers' coverage is merged (``SLIPCOVER_COVERAGE_DIR`` set); run without workers
(``PYTEST_WORKERS=0``) it scans as before. Everything else is SlipCover's own command line.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any


def _patch() -> None:
    from slipcover import slipcover as sc

    scan = getattr(sc.Slipcover, "_add_unseen_source_files", None)
    if scan is None:  # another SlipCover: leave it as it is
        return

    def workers_scan(self: Any, source: Any) -> None:
        if os.environ.get("SLIPCOVER_COVERAGE_DIR") and not os.environ.get("PYTEST_XDIST_WORKER"):
            return  # the xdist controller: its workers have listed the unseen files
        scan(self, source)

    sc.Slipcover._add_unseen_source_files = workers_scan


if __name__ == "__main__":
    _patch()
    sys.argv = ["slipcover", *sys.argv[1:]]
    runpy.run_module("slipcover", run_name="__main__", alter_sys=True)
