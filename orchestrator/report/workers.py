"""Forked worker processes for the site build: the page and plot shares run in parallel with the
pages the parent writes itself."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from typing import Self

# Below this much work (see site's _work_units), doing it in-process beats forking workers.
PARALLEL_WORK_THRESHOLD = 2000


class Workers:
    """Run ``work(share, shares)`` in ``count`` forked processes while the ``with`` body runs here.

    fork (not spawn) so workers share the built state without pickling 10 000 records. A worker
    that fails sends its traceback back and the build fails with it.
    """

    def __init__(self, work, count: int) -> None:
        self.work = work
        self.count = count
        self.processes: list = []

    def __enter__(self) -> Self:
        # A daemonic process may not have children (e.g. when called from a multiprocessing pool).
        if (self.count <= 1 or "fork" not in multiprocessing.get_all_start_methods()
                or multiprocessing.current_process().daemon):
            self.work(0, 1)
            return self
        context = multiprocessing.get_context("fork")
        for share in range(self.count):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_worker_main, args=(self.work, share, self.count, sender), daemon=True)
            process.start()
            sender.close()
            self.processes.append((process, receiver))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        failures = []
        for process, receiver in self.processes:
            if exc_type is not None:
                process.terminate()
            try:
                message = receiver.recv() if exc_type is None else None
            except EOFError:
                message = "worker died without a report"
            process.join()
            receiver.close()
            if exc_type is None and (message is not None or process.exitcode != 0):
                failures.append(message or f"worker exit code {process.exitcode}")
        if failures and exc_type is None:
            raise RuntimeError(f"site build worker failed: {failures[0]}")


def _worker_main(work, share: int, shares: int, sender) -> None:
    try:
        work(share, shares)
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        sender.send(traceback.format_exc())
        sender.close()
        os._exit(1)
    sender.send(None)
    sender.close()
