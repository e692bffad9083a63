"""Where a sweep's points run: one after another in this process, or as tasks of a Dask cluster.

:func:`connect` picks the scheduler: ``none`` runs in this process (for debugging); an address
(``tcp://host:8786``, or Dask's own ``scheduler-address`` setting, e.g. from
``DASK_SCHEDULER_ADDRESS``) connects to a running cluster; otherwise an embedded
``LocalCluster`` starts, one single-threaded worker process per core, on the loopback interface,
with no dashboard unless one is asked for, logging only Dask's errors (a sweep reports its points
itself).

A runner runs *jobs* ``(point index, task, trained)``, where ``trained`` is None, the reference's
:class:`~emulator.sweep.task.Outcome`, or the point index of the job that makes it, and yields
``(point index, outcome)`` as points finish.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from emulator.errors import ConfigError
from emulator.sweep.task import Outcome, Task, run_point

Job = tuple[int, Task, "Outcome | int | None"]
#: seconds to wait for a scheduler given by address
CONNECT_TIMEOUT_S = 10


class InProcess:
    """Runs the points here, one after another, in the order given (a reference before its users)."""

    description = "in this process, one point after another"
    dashboard = None

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Outcome]]:
        outcomes: dict[int, Outcome] = {}
        for i, task, trained in jobs:
            outcomes[i] = run_point(task, outcomes[trained] if isinstance(trained, int) else trained)
            yield i, outcomes[i]

    def running(self) -> int:
        return 1


class DaskRunner:
    """Runs the points as tasks of a Dask cluster; a naive point's task waits for its reference's."""

    def __init__(self, client, description: str, dashboard: bool):
        self.client, self.description = client, description
        self.dashboard = client.dashboard_link if dashboard else None

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Outcome]]:
        from distributed import as_completed

        token = uuid.uuid4().hex[:8]  # keys unique to this sweep, also on a scheduler shared with others
        futures, index = {}, {}
        for i, task, trained in jobs:
            needs = futures[trained] if isinstance(trained, int) else trained
            futures[i] = self.client.submit(run_point, task, needs, key=f"run_point-{i}-{token}")
            index[futures[i].key] = i
        try:
            for future in as_completed(list(futures.values())):
                yield index[future.key], self._outcome(future)
                future.release()
        finally:
            self.client.cancel([f for f in futures.values() if not f.done()])

    @staticmethod
    def _outcome(future) -> Outcome:
        """A finished task's outcome; a task Dask could not run (its worker died too often, it could
        not be unpickled there) as a failed one."""
        if future.status == "finished":
            return future.result()
        exc = future.exception() if future.status == "error" else None
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}" if exc else f"Dask task {future.status}"
        return Outcome({}, error=error, details=error)

    def running(self) -> int:
        """Points running now: those the workers hold, at most one per worker thread."""
        return min(sum(len(keys) for keys in self.client.processing().values()),
                   sum(self.client.nthreads().values()))


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None,
            dashboard: str | None = None) -> Iterator[InProcess | DaskRunner]:
    """The runner of ``scheduler``: ``"none"``, a Dask scheduler's address, or None (Dask's
    ``scheduler-address`` setting if there is one, else an embedded local cluster of ``workers``
    processes, one per core by default, with its dashboard at ``dashboard`` if given)."""
    if scheduler is not None and scheduler.lower() == "none":
        yield InProcess()
        return
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or dask.config.get("scheduler-address", None)
    if address:
        option = f"--scheduler {address}" if scheduler else f"Dask's scheduler-address setting ({address})"
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"{option}: cannot reach a Dask scheduler there ({' '.join(str(exc).split())}); start "
                              "one with `dask scheduler`, or leave --scheduler out for a local cluster") from None
        with client:
            # the scheduler loads its dashboard module only when it serves the dashboard
            served = client.run_on_scheduler(lambda: "distributed.dashboard.scheduler" in sys.modules)
            yield DaskRunner(client, f"the Dask cluster at {address}", served)
        return
    if dashboard and importlib.util.find_spec("bokeh") is None:
        raise ConfigError("--dashboard: Dask's dashboard needs bokeh; install it with `pip install 'bokeh>=3.1'`")
    n = workers or os.cpu_count() or 1
    with _workers_ignore_ctrl_c():
        # without a dashboard, the scheduler's plain HTTP routes (health, metrics) take a free loopback port
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=dashboard, env={"NUMBA_NUM_THREADS": "1"}, silence_logs=logging.ERROR,
                               scheduler_kwargs=None if dashboard else {"dashboard_address": "127.0.0.1:0"})
    with cluster, Client(cluster) as client:
        yield DaskRunner(client, f"a local Dask cluster of {n} worker process{'es' if n > 1 else ''}",
                         bool(dashboard))


@contextmanager
def _workers_ignore_ctrl_c():
    """Start worker processes that ignore SIGINT, as processes started while it is ignored do: Ctrl-C
    in a terminal reaches the whole process group, and this process stops the cluster itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
