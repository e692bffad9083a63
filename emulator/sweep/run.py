"""Running a sweep: the points still to do go to a scheduler, and each is written as it finishes."""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from emulator.sweep.folder import SweepFolder
from emulator.sweep.outputs import write_outputs
from emulator.sweep.points import Plan
from emulator.sweep.schedulers import Job, connect
from emulator.sweep.task import Task


class SweepInterrupted(Exception):
    """Ctrl-C stopped a sweep; the message says how far it got and how to finish it."""

    def __init__(self, folder: SweepFolder):
        counts = folder.counts()
        super().__init__(f"interrupted; {counts['done']} of {len(folder.rows)} points are done in {folder.path}; "
                         f"finish the others with the same command and --resume {folder.path}")


def run_sweep(plan: Plan, out: Path, *, resume: bool = False, scheduler: str | None = None,
              workers: int | None = None, dashboard: str | None = None, progress: bool = True) -> SweepFolder:
    """Run the points of ``plan`` that ``out`` lacks (all of them for a new sweep) and write the
    sweep's ``sweep.json``, ``sweep.md`` and figures there.

    Parameters
    ----------
    plan : Plan
    out : Path
        The sweep's folder: new (or empty of sweeps), or, with ``resume``, the folder of the same sweep.
    scheduler, workers, dashboard
        Where the points run (see :func:`emulator.sweep.schedulers.connect`).
    progress : bool
        A progress bar over the points (on a terminal).

    Raises
    ------
    SweepInterrupted
        On Ctrl-C, once the points in flight are abandoned (they run again on ``--resume``).
    """
    folder = SweepFolder(out, plan)
    folder.start(resume)
    todo = folder.todo()
    with connect(scheduler, workers, dashboard) as runner:
        folder.save()
        print(f"sweep {plan.spec.name}: {len(todo)} of {len(folder.rows)} points to run, {runner.description}; "
              f"results in {out}", file=sys.stderr)
        if runner.dashboard:
            print(f"Dask dashboard: {runner.dashboard}", file=sys.stderr)
        bar = tqdm(total=len(todo), unit="point", desc=plan.spec.name, disable=None if progress else True)
        try:
            for i, outcome in runner.run(_jobs(plan, folder, todo)):
                folder.record(i, outcome)
                bar.update()
                left = len(todo) - bar.n
                bar.set_postfix({"running": min(runner.running(), left), "failed": folder.counts()["failed"]},
                                refresh=False)
                if not outcome.done:
                    bar.write(f"point {folder.rows[i]['folder']} failed: {outcome.error}", file=sys.stderr)
        except KeyboardInterrupt:
            raise SweepInterrupted(folder) from None
        finally:
            bar.close()
    write_outputs(folder)
    return folder


def _jobs(plan: Plan, folder: SweepFolder, todo: list[int]) -> list[Job]:
    """The points to run, in order; a naive point needs its reference's run: the job that makes it, or
    the finished one in the sweep's folder."""
    jobs, running = [], set(todo)
    for i in todo:
        planned = plan.points[i]
        if planned.reference is None:
            jobs.append((i, Task(planned.workload, planned.chip), None))
            continue
        trained = planned.reference if planned.reference in running else folder.reference_of(i)
        reference = plan.points[planned.reference]
        jobs.append((i, Task(planned.workload, planned.chip, reference.chip,
                             str(folder.point_folder(planned.reference))), trained))
    return jobs
