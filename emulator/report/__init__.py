"""Reports of a run: ``report.json``, ``report.md`` and PNG figures, and comparisons of several runs.

The report only *shows* a typed result (:mod:`emulator.results`); it knows nothing about chips,
back-ends or training. Each kind of result has a renderer module (:data:`RENDERERS`) with its
``render_markdown(result)`` and its ``FIGURES``. Every file is written atomically, and
``report.json`` last: a folder holding a ``report.json`` holds a finished report.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from emulator.files import make_folder, remove, write_text
from emulator.report import classification, inference, maxcut
from emulator.report.compare import (comparison, folder_names, label, plot_comparison, render_comparison_markdown,
                                     render_inference_comparison, run_label)
from emulator.report.format import format_count, format_percent, format_si, json_text
from emulator.report.sections import title
from emulator.results import REPORT, InferenceResult, MaxCutResult, RunResult

__all__ = ["write_report", "render_markdown", "write_comparison", "run_label", "format_si", "format_count",
           "format_percent", "title"]

#: the renderer module of each kind of result
RENDERERS = {"classification": classification, "maxcut": maxcut, "snn_inference": inference}


def render_markdown(result: RunResult | MaxCutResult | InferenceResult) -> str:
    """The Markdown report of ``result``, ending with a newline; its figure links are relative to
    the folder :func:`write_report` writes into. Sections are listed by each kind's renderer."""
    return RENDERERS[result.kind].render_markdown(result)


def write_report(result: RunResult | MaxCutResult | InferenceResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a run's report files into ``out_dir`` (created if needed).

    ``report.md`` and the figures come first, ``report.json``
    (:meth:`~emulator.results.Result.to_dict`) last; a ``report.json`` already in ``out_dir`` is
    removed before anything is written, so that a failure part-way leaves none. A file that
    cannot be written raises :class:`~emulator.errors.OutputError`.

    Returns
    -------
    dict of str to Path
        ``{"json": report.json, "markdown": report.md}`` and the figures: for a classification
        run ``accuracy`` (accuracy.png), ``energy`` (energy_breakdown.png), ``messages``
        (messages_per_step.png); for a MaxCut run ``cuts`` (cuts.png); for an inference run ``energy``
        (energy_per_inference.png).
    """
    out = make_folder(Path(out_dir))
    renderer = RENDERERS[result.kind]
    remove(out / REPORT)
    files = {"markdown": write_text(out / "report.md", renderer.render_markdown(result))}
    for key, name, plot in renderer.FIGURES:
        files[key] = plot(result, out / name)
    return {"json": write_json(out / REPORT, result.to_dict()), **files}


def write_comparison(results: Sequence[RunResult], out_dir: str | Path, baseline: int | None = None
                     ) -> dict[str, Path]:
    """Write per-chip reports and a side-by-side comparison of several runs of one workload.

    Parameters
    ----------
    results : sequence of RunResult, or of InferenceResult
        One per chip (and training algorithm); their order is kept in every table and figure.
    out_dir : str or Path
        Destination folder (created if needed). Each result is reported into
        ``out_dir/<chip>/``, or ``out_dir/<chip>-<algorithm>/`` if it did not train with EqProp (see
        :func:`~emulator.report.compare.run_label` and :func:`~emulator.report.compare.folder_names`).
    baseline : int, optional
        The index of the baseline run in ``results``: every run's energies are also given as a ratio
        of its.

    Returns
    -------
    dict of str to Path
        ``{"json": comparison.json, "markdown": comparison.md, "figure": comparison.png,
        "chip:<folder>": that chip's report folder, ...}``; ``comparison.json`` is written last
        (see :func:`~emulator.report.compare.comparison`).
    """
    if not results:
        raise ValueError("write_comparison needs at least one result")
    out = make_folder(Path(out_dir))
    folders = folder_names([label(r) for r in results])
    for folder, r in zip(folders, results):
        write_report(r, out / folder)
    remove(out / "comparison.json")
    text = (render_inference_comparison(results, folders) if results[0].kind == "snn_inference"
            else render_comparison_markdown(results, folders, baseline))
    markdown = write_text(out / "comparison.md", text)
    figure = plot_comparison(results, out / "comparison.png")
    return {"json": write_json(out / "comparison.json", comparison(results, baseline)), "markdown": markdown,
            "figure": figure, **{f"chip:{folder}": out / folder for folder in folders}}


def write_json(path: Path, obj) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; returns ``path``."""
    return write_text(path, json_text(obj, indent=2))
