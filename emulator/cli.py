"""Command line: ``python -m emulator run|compare|evaluate|deploy|sweep|chips|workloads``.

User errors (bad files, unknown names, networks that do not fit, diverging training, output
that cannot be written) print one ``error:`` line and exit with status 2; a failed or interrupted
run keeps its finished epochs and says where they are and how to go on. What a finished run's
report warns about (a MaxCut graph's isolated nodes) is also one ``warning:`` line on stderr.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.catalog import available, resolve
from emulator.errors import ConfigError, DivergenceError, EmulatorError, OutputError
from emulator.schema import shown

if TYPE_CHECKING:
    from emulator.results import RunResult
    from emulator.tasks.classification import Run


def _run_one(workload, chip, out_dir: Path, *, resume: bool, progress: bool, data=None,
             again: str | None = None) -> RunResult:
    """Train (or continue) one run in ``out_dir`` and write its report.

    A write failure, a divergence or Ctrl-C stops it with a message that says what is kept;
    ``again`` says how to go on (default: the same command with ``--resume``).
    """
    from emulator.report import write_report
    from emulator.tasks.classification import Run

    start = time.perf_counter()
    run = Run(workload, chip, out_dir, data=data)
    earlier_s = 0.0  # the epochs an interrupted run had finished
    if resume:
        run.restore()
        earlier_s = sum(record.wall_s for record in run.history)
        print(f"resuming {out_dir} after epoch {run.epoch}", file=sys.stderr)
    try:
        run.train(progress=progress, on_epoch=lambda r: print(
            f"epoch {r.epoch}: train {r.train_accuracy:.4f}  test {r.test_accuracy:.4f}  "
            f"({r.wall_s:.1f} s)", file=sys.stderr))
        result = run.result(earlier_s + time.perf_counter() - start, progress=progress)
        write_report(result, out_dir)
    except KeyboardInterrupt:
        before = " before the first epoch finished" if run.epoch == 0 else ""
        raise Interrupted(f"interrupted{before}; {_kept(run)}; {_again(run, again)}") from None
    except OutputError as exc:
        raise exc.explained(_kept(run), _again(run, again)) from None
    except DivergenceError as exc:
        beta = ", or lower eqprop.beta" if run.workload.training.algorithm == "eqprop" else ""
        raise DivergenceError(f"{exc}{beta}; {_kept(run)}") from None
    return result


def _kept(run: Run) -> str:
    """What a stopped run leaves on disk, in words: the epochs in its checkpoint."""
    from emulator.tasks.checkpoint import CHECKPOINT

    n = run.saved_epoch
    if n == 0:
        return "nothing was saved"
    return f"the {n} finished epoch{'s are' if n > 1 else ' is'} kept in {run.out_dir / CHECKPOINT}"


def _again(run: Run, again: str | None) -> str:
    """How to go on after a stopped run: ``again``, or by default from its checkpoint with ``--resume``."""
    if again:
        return again
    return f"continue with the same command and --resume {run.out_dir}" if run.saved_epoch else \
        "run the same command again"


class Interrupted(Exception):
    """Ctrl-C: the message says what is kept and how to go on."""


def cmd_run(args) -> int:
    from emulator.chip import load_chip
    from emulator.workload import load_workload

    workload = load_workload(resolve("workloads", args.workload), args.set)
    chip = load_chip(resolve("chips", args.chip), args.chip_set)
    if workload.kind == "maxcut":
        return _run_maxcut(workload, chip, args)
    if workload.kind == "snn_inference":
        return _run_inference(workload, chip, args)
    if args.resume:
        out = _out_dir(args.resume, "--resume")
    else:
        out = _out_dir(args.out or _default_out(workload.name, chip.name))
    result = _run_one(workload, chip, out, resume=bool(args.resume), progress=not args.quiet)
    _summary(result, out)
    return 0


def _run_maxcut(workload, chip, args) -> int:
    from emulator.tasks.maxcut import run_maxcut
    from emulator.report import format_percent, format_si, write_report

    _no_resume(workload, args)
    out = _out_dir(args.out or _default_out(workload.name, chip.name))
    result = run_maxcut(workload, chip)
    try:
        write_report(result, out)
    except OutputError as exc:
        raise exc.explained("the anneals' results are not kept", "run it again") from None
    if result.graph.note:
        print(f"warning: {result.graph.note}", file=sys.stderr)
    m = result.metrics
    ratio = f" ({m.best_ratio:.4f} of the best known)" if m.best_ratio is not None else ""
    tts = (f"time-to-solution {format_si(m.time_to_solution_s, 's')}, energy-to-solution "
           f"{format_si(m.energy_to_solution_j, 'J')}" if m.time_to_solution_s is not None
           else "no run reached the target")
    print(f"{workload.name} on {chip.name}: best cut {m.best_cut:g}{ratio}, mean {m.mean_cut:g} over "
          f"{len(result.runs)} runs, {format_percent(m.success_probability)} reached the target; {tts} "
          f"(emulated); wall {result.time.wall_s:.1f} s; report in {out}")
    return 0


def _no_resume(workload, args):
    if args.resume:
        raise ConfigError(f"--resume: {workload.name} is a {workload.kind} workload, which has no epochs to resume; "
                          "run it again without --resume")


def _inference_run(workload, chip, out: Path, progress: bool):
    """Run an inference workload on ``chip`` and write its report into ``out``."""
    from emulator.report import write_report
    from emulator.tasks.inference import run_inference

    result = run_inference(workload, chip, progress=progress)
    try:
        write_report(result, out)
    except OutputError as exc:
        raise exc.explained("the inferences' results are not kept", "run it again") from None
    return result


def _inference_summary(result, out: Path):
    from emulator.report import format_percent, format_si

    print(f"{result.workload} on {result.chip}: accuracy {format_percent(result.metrics.accuracy)} on "
          f"{result.metrics.samples:,} samples, {format_si(result.energy.inference.per_sample_j, 'J')} and "
          f"{format_si(result.time.emulated_s_per_inference, 's')} per inference (emulated); wall "
          f"{result.time.wall_s:.1f} s; report in {out}")


def _run_inference(workload, chip, args) -> int:
    _no_resume(workload, args)
    out = _out_dir(args.out or _default_out(workload.name, chip.name))
    _inference_summary(_inference_run(workload, chip, out, not args.quiet), out)
    return 0


def _compare_inference(workload, args) -> int:
    from emulator.chip import load_chip
    from emulator.report import write_comparison
    from emulator.tasks.inference import families_with_nir

    if args.baseline:
        raise ConfigError("--baseline trains the workload with another algorithm, and an snn_inference workload "
                          "trains nothing: leave --baseline out")
    families = families_with_nir()
    names = (_chip_names(args.chips) if args.chips is not None else
             [n for n in available("chips") if load_chip(resolve("chips", n)).backend in families])
    out = _out_dir(args.out or _default_out(workload.name, "compare"))
    results = []
    for name in names:
        print(f"== {name}", file=sys.stderr)
        results.append(_inference_run(workload, load_chip(resolve("chips", name)), out / name, not args.quiet))
    write_comparison(results, out)
    for r in results:
        _inference_summary(r, out / r.chip)
    print(f"comparison: {out / 'comparison.md'}")
    return 0


def cmd_compare(args) -> int:
    from emulator.chip import load_chip
    from emulator.report import run_label, write_comparison
    from emulator.tasks.classification import load_data
    from emulator.workload import load_workload

    workload = load_workload(resolve("workloads", args.workload), args.set)
    if workload.kind == "snn_inference":
        return _compare_inference(workload, args)
    if workload.kind != "classification":
        raise ConfigError(f"compare puts chips side by side on classification and snn_inference workloads; "
                          f"{workload.name} is a {workload.kind} workload: run it with `run {workload.name} --chip CHIP`")
    names = _chip_names(args.chips) if args.chips is not None else list(available("chips"))
    runs = [(workload, load_chip(resolve("chips", name))) for name in names]
    if args.baseline:
        runs.insert(0, _baseline(args, load_workload, load_chip))
    out = _out_dir(args.out or _default_out(workload.name, "compare"))
    data = load_data(workload)
    results = []
    for w, chip in runs:
        label = run_label(chip.name, w.training.algorithm)
        print(f"== {label}", file=sys.stderr)
        results.append(_run_one(w, chip, out / label, resume=False, progress=not args.quiet, data=data,
                                again="run compare again"))
    try:
        write_comparison(results, out, baseline=0 if args.baseline else None)
    except OutputError as exc:
        raise exc.explained(f"each chip's checkpoint is kept in its folder in {out}", "run compare again") from None
    for r in results:
        _summary(r, out / run_label(r.chip, r.algorithm))
    print(f"comparison: {out / 'comparison.md'}")
    return 0


def _baseline(args, load_workload, load_chip):
    """The workload and chip of ``--baseline ALGORITHM[:CHIP]``: the compared workload trained with
    ALGORITHM, on CHIP or else the first known chip that can run it."""
    from emulator.schema import Override
    from emulator.training.algorithms import chips_that_run
    from emulator.workload import ALGORITHMS

    option = f"--baseline {shown(args.baseline)}"
    algorithm, _, chip = args.baseline.partition(":")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"{option}: unknown training algorithm {algorithm!r}; give one of {', '.join(ALGORITHMS)}, "
                          "e.g. --baseline backprop (on digital) or --baseline backprop:digital")
    if not chip:
        able = chips_that_run(algorithm)
        if not able:
            raise ConfigError(f"{option}: no known chip can train with {algorithm}")
        chip = able[0]
    override = Override("training.algorithm", algorithm, option)
    return (load_workload(resolve("workloads", args.workload), [*args.set, override]),
            load_chip(resolve("chips", chip)))


def _chip_names(option: str) -> list[str]:
    """The chips of ``--chips``: comma-separated names, each once, at least one."""
    names = [name.strip() for name in option.split(",") if name.strip()]
    if not names:
        raise ConfigError(f"--chips {shown(option)} names no chip; give comma-separated chip names, e.g. "
                          "--chips digital,loihi2, or leave --chips out for every chip")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"--chips {shown(option)}: {', '.join(twice)} given twice; name each chip once")
    return names


def cmd_evaluate(args) -> int:
    from emulator.chip import load_chip
    from emulator.report import write_report
    from emulator.tasks.checkpoint import load_trained
    from emulator.tasks.classification import evaluate_trained

    trained = load_trained(Path(args.run_dir), "evaluate")
    chip = load_chip(resolve("chips", args.chip), args.chip_set)
    out = _out_dir(args.out or _default_out(trained.workload.name, f"{chip.name}-from-{trained.chip.name}"))
    result = evaluate_trained(trained, chip, out, progress=not args.quiet)
    try:
        write_report(result, out)
    except OutputError as exc:
        raise exc.explained(f"the trained run in {args.run_dir} is untouched", "run evaluate again") from None
    _summary(result, out)
    return 0


def cmd_deploy(args) -> int:
    from emulator.chip import deploy_targets, get_backend
    from emulator.tasks.checkpoint import load_trained
    from emulator.tasks.classification import load_data

    targets = deploy_targets()
    if args.to not in targets:
        raise ConfigError(f"--to {args.to}: unknown target; deploy knows: {', '.join(sorted(targets)) or '(none)'}")
    if args.samples < 1:
        raise ConfigError(f"--samples {args.samples}: give at least 1")
    chips = _chips_of_families(targets[args.to])
    trained = load_trained(Path(args.run_dir), "deploy", chip=chips[0] if chips else "CHIP")
    backend = get_backend(trained.chip.backend)
    if args.to not in backend.deploy_targets:
        offered = ", ".join(sorted(backend.deploy_targets)) or "no framework"
        raise ConfigError(f"{args.run_dir} was trained for chip {trained.chip.name!r} ({trained.chip.backend} "
                          f"back-end), which deploys to {offered}; --to {args.to} takes runs of the "
                          f"{', '.join(targets[args.to])} back-end: train one with `python -m emulator run "
                          f"{trained.workload.name} --chip {chips[0] if chips else 'CHIP'}` and deploy that run")
    out = _out_dir(args.out)
    try:
        deployed = backend.deploy_targets[args.to](backend, trained, load_data(trained.workload), out,
                                                   samples=args.samples, hardware=args.hw,
                                                   on_line=lambda line: print(line, end="", flush=True))
    except OutputError as exc:
        raise exc.explained(f"the bundle in {out} is incomplete (the run in {args.run_dir} is untouched)",
                            "deploy again") from None
    print(deployed.summary)
    if deployed.passed is False:
        print(deployed.problem, file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args) -> int:
    from emulator.sweep import SweepInterrupted, command_line_sweep, load_sweep, plan, run_sweep

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give at least 1")
    if args.scheduler and (args.workers or args.dashboard):
        raise ConfigError(f"--scheduler {args.scheduler}: --workers and --dashboard are for the embedded local "
                          "cluster; a running cluster has its own workers and dashboard")
    if args.chips:
        sweep = command_line_sweep(args.sweep, args.chips, args.grid, args.chip_grid, args.seeds)
    elif args.grid or args.chip_grid or args.seeds:
        raise ConfigError("--grid, --chip-grid and --seeds sweep workloads without a sweep file: give the chips "
                          "with --chips too")
    else:
        if args.sweep not in available("sweeps") and args.sweep in available("workloads"):
            raise ConfigError(f"{args.sweep} is a workload, not a sweep file; sweep it without a file with "
                              f"`sweep {args.sweep} --chips CHIP,CHIP --grid KEY=VALUE,VALUE`")
        sweep = load_sweep(resolve("sweeps", args.sweep))
    points = plan(sweep, args.set, args.chip_set)
    out = _out_dir(args.resume, "--resume") if args.resume else _out_dir(args.out or _default_out("sweep", sweep.name))
    try:
        folder = run_sweep(points, out, resume=bool(args.resume), scheduler=args.scheduler, workers=args.workers,
                           dashboard=args.dashboard, progress=not args.quiet)
    except SweepInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    counts = folder.counts()
    print(f"sweep {sweep.name}: {counts['done']} of {len(folder.rows)} points done, {counts['failed']} failed; "
          f"report in {out / 'sweep.md'}")
    return 0 if counts["failed"] == 0 else 1


def _chips_of_families(families) -> list[str]:
    """Names of the known chips whose back-end family is one of ``families``."""
    from emulator.chip import load_chip

    names = []
    for name, path in available("chips").items():
        try:
            if load_chip(path).backend in families:
                names.append(name)
        except EmulatorError:
            continue  # an invalid chip file is reported by `emulator chips`, not here
    return names


def cmd_chips(args) -> int:
    from emulator.chip import load_chip

    for name, path in available("chips").items():
        try:
            chip = load_chip(path)
            print(f"{name:<16} {chip.backend:<10} {chip.description}")
        except EmulatorError as exc:
            print(f"{name:<16} {'(invalid)':<10} {exc}")
    return 0


def cmd_workloads(args) -> int:
    from emulator.workload import load_workload

    for name, path in available("workloads").items():
        try:
            w = load_workload(path)
            if w.kind == "maxcut":
                graph = w.graph.file or f"random n={w.graph.random.nodes}"
                print(f"{name:<20} {'maxcut':<14} {graph:<14} {w.description}")
            elif w.kind == "snn_inference":
                print(f"{name:<20} {w.data.dataset:<14} {Path(w.network.file).name:<14} {w.description}")
            else:
                print(f"{name:<20} {w.dataset.name:<14} {'-'.join(map(str, w.network.layers)):<14} {w.description}")
        except EmulatorError as exc:
            print(f"{name:<20} (invalid) {exc}")
    return 0


def _out_dir(name: str, option: str = "--out") -> Path:
    """The output folder, checked before any work is done: a folder (or none yet) in which files
    can be written. It is left as it was (made later, by the first file written)."""
    from emulator.files import check_writable

    out = Path(name)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{option} {name}: {existing} is a file; choose a folder name")
    try:
        check_writable(out)
    except OutputError as exc:
        raise OutputError(f"{option} {name}: {exc.failure}", f"choose another folder or {exc.remedy}") from None
    return out


def _default_out(workload: str, chip: str) -> str:
    return f"runs/{workload}-{chip}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _summary(result: RunResult, out: Path):
    from emulator.report import title

    m, e, t, deployed = result.metrics, result.energy.inference, result.time, result.deployed
    trained = (f"deployed from {deployed.epochs} epochs on {deployed.trained_on}" if deployed
               else f"after {m.epochs} epochs")
    print(f"{title(result)}: test accuracy {m.test_accuracy:.4f} {trained}; "
          f"{e.per_sample_j:.3e} J and {t.emulated_s_per_inference:.3e} s "
          f"per inference (emulated); wall {t.wall_s:.1f} s; report in {out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    overrides = dict(action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a workload key, e.g. --set training.epochs=1 (repeatable)")
    chip_overrides = dict(action="append", default=[], metavar="KEY.PATH=VALUE",
                          help="override a key of the chip file, e.g. --chip-set parameters.forward.adc_bits=6 "
                               "(repeatable)")
    r = sub.add_parser("run", help="train and evaluate a workload on a chip, write a report")
    r.add_argument("workload", help="workload name (in workloads/) or YAML path")
    r.add_argument("--chip", required=True, help="chip name (in chips/) or YAML path")
    r.add_argument("--set", **overrides)
    r.add_argument("--chip-set", **chip_overrides)
    r.add_argument("--out", help="report folder (default runs/<workload>-<chip>-<time>)")
    r.add_argument("--resume", metavar="DIR", help="continue the interrupted run saved in DIR")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("compare", help="run one workload on several chips, side by side")
    c.add_argument("workload")
    c.add_argument("--chips", help="comma-separated chip names (default: every chip in chips/)")
    c.add_argument("--set", **overrides)
    c.add_argument("--baseline", metavar="ALGORITHM[:CHIP]",
                   help="also train the workload with ALGORITHM (e.g. backprop) on CHIP (default: the first chip "
                        "that can run it: digital for backprop), first in the table, and give every run's energy "
                        "as a ratio of its")
    c.add_argument("--out")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_compare)
    e = sub.add_parser("evaluate", help="program a trained run's network once onto a chip and evaluate it there "
                                        "(naive deployment: no training on that chip)")
    e.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished run")
    e.add_argument("--chip", required=True, help="chip name (in chips/) or YAML path")
    e.add_argument("--chip-set", **chip_overrides)
    e.add_argument("--out", help="report folder (default runs/<workload>-<chip>-from-<trained chip>-<time>)")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("deploy", help="bundle a run trained on loihi2 for Lava, or one trained on snn as a NIR graph, "
                                      "and check the bundle against the emulator")
    d.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished run (trained with --chip loihi2 for lava, "
                                                      "an snn chip for nir)")
    d.add_argument("--to", required=True, help="framework to deploy to: lava, or nir (a NIR graph file)")
    d.add_argument("--out", required=True, metavar="DIR", help="bundle folder: new, empty, or a previous bundle")
    d.add_argument("--hw", action="store_true",
                   help="make the bundle run on Loihi 2 hardware (needs Intel's lava-loihi); skips the check here")
    d.add_argument("--samples", type=int, default=10, metavar="N", help="test samples to bundle and check (default 10)")
    d.set_defaults(func=cmd_deploy)
    w = sub.add_parser("sweep", help="run many points (workloads x chips x settings x seeds) on a Dask cluster "
                                     "and report them together")
    w.add_argument("sweep", metavar="SWEEP", help="sweep name (in workloads/sweeps/) or YAML path; with --chips, "
                                                 "comma-separated workload names instead")
    w.add_argument("--chips", help="comma-separated chip names: sweep the workloads SWEEP names without a sweep file")
    w.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2",
                   help="without a sweep file: a workload key and its values (repeatable; the points are every "
                        "combination)")
    w.add_argument("--chip-grid", action="append", default=[], metavar="KEY.PATH=V1,V2",
                   help="without a sweep file: a chip key and its values (repeatable)")
    w.add_argument("--seeds", metavar="S1,S2", help="without a sweep file: values of training.seed")
    w.add_argument("--set", **overrides)
    w.add_argument("--chip-set", **chip_overrides)
    w.add_argument("--out", help="sweep folder (default runs/sweep-<name>-<time>)")
    w.add_argument("--resume", metavar="DIR", help="run only the points of the sweep in DIR that are missing or failed")
    w.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://host:8786), or none to run the points here one after "
                        "another (default: Dask's scheduler-address setting, else a local cluster)")
    w.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per core)")
    w.add_argument("--dashboard", nargs="?", const="127.0.0.1:8787", metavar="ADDRESS",
                   help="serve the local cluster's Dask dashboard (default address 127.0.0.1:8787; needs bokeh)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=cmd_sweep)
    sub.add_parser("chips", help="list the known chips").set_defaults(func=cmd_chips)
    sub.add_parser("workloads", help="list the workloads").set_defaults(func=cmd_workloads)
    return p


def main(argv=None) -> int:
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        # past a file-size limit (ulimit -f), a write fails with EFBIG, reported as a user error,
        # instead of the signal killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
