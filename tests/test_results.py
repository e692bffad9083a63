"""Typed results: the ``report.json`` layout in code, round trips, and reports of earlier emulators."""
import json
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from emulator.results import Deployment, MaxCutResult, Metrics, RunResult, from_dict

#: report.json files as earlier emulators wrote them: a one-epoch digits_snn run on digital by the first
#: emulator (no schema_version, kind, per_core or theta = 0 traffic) and a maxcut_rand20 run on oim-cmos
#: written before schema_version
DATA = Path(__file__).parent / "data"


def old_report(name: str) -> tuple[dict, str]:
    """A stored report.json: the loaded dict and its text."""
    text = (DATA / name).read_text()
    return json.loads(text), text


@pytest.fixture
def classification() -> RunResult:
    return RunResult.from_dict(old_report("old_classification_report.json")[0])


@pytest.fixture
def maxcut() -> MaxCutResult:
    return MaxCutResult.from_dict(old_report("old_maxcut_report.json")[0])


def test_a_classification_result_round_trips(classification):
    relaxation = replace(classification.relaxation["inference"], messages_per_step_theta0=(3.0, 1.5, 0.0),
                         theta0_samples=360)
    deployed = Deployment(trained_folder="runs/a", trained_on="digital", epochs=20)
    for r in (classification, replace(classification, relaxation={"inference": relaxation}, deployed=deployed),
              replace(classification, history=(), relaxation={}, program={})):
        assert RunResult.from_dict(r.to_dict()) == r
        assert from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with_deployed = replace(classification, deployed=deployed).to_dict()
    assert with_deployed["deployed"] == {"from": "runs/a", "trained_on": "digital", "epochs": 20}
    assert list(with_deployed)[-1] == "deployed"


def test_a_maxcut_result_round_trips(maxcut):
    assert MaxCutResult.from_dict(maxcut.to_dict()) == maxcut and from_dict(maxcut.to_dict()) == maxcut
    unknown_best = replace(maxcut, graph=replace(maxcut.graph, best_known_cut=None, best_known_source=None))
    assert from_dict(json.loads(json.dumps(unknown_best.to_dict()))) == unknown_best
    assert unknown_best.to_dict()["graph"]["best_known_cut"] is None  # written as null, not left out


def test_a_report_of_the_first_emulator_reads_and_writes_the_same_json(classification):
    old, text = old_report("old_classification_report.json")
    r = from_dict(old)
    assert r == classification and r.metrics.test_accuracy == old["metrics"]["test_accuracy"]
    assert r.per_core == {"inference": {}} and (r.algorithm, r.inference) == ("eqprop", "relaxation")
    relaxation = r.relaxation["inference"]
    assert relaxation.messages_per_step_theta0 is None and relaxation.theta0_samples is None
    assert r.deployed is None and r.history[0].lipschitz == tuple(old["history"][0]["lipschitz"])
    new = r.to_dict()
    assert list(new)[0] == "schema_version" and new["schema_version"] == 1 and "kind" not in new
    added = ("schema_version", "per_core", "algorithm", "inference")
    assert json.dumps({k: v for k, v in new.items() if k not in added}, indent=2) == text


def test_a_maxcut_report_from_before_schema_version_reads_and_writes_the_same_json(maxcut):
    old, text = old_report("old_maxcut_report.json")
    assert from_dict(old) == maxcut and maxcut.metrics.best_cut == old["metrics"]["best_cut"]
    new = maxcut.to_dict()
    assert list(new)[:2] == ["schema_version", "kind"]
    assert json.dumps({k: v for k, v in new.items() if k != "schema_version"}, indent=2) == text


@pytest.mark.parametrize("change, words", [
    ({"schema_version": 2}, "schema_version 2: this emulator reads versions up to 1"),
    ({"kind": "knapsack"}, "report kind 'knapsack'"),
    ({"metrics": {"test_accuracy": 0.9}}, "^metrics: no 'train_accuracy' key$"),
    ({"history": {"epoch": 1}}, "^history: expected a list, got {'epoch': 1}$"),
    ({"history": [{"epoch": 1}]}, "^history: no 'train_accuracy' key$"),
    ({"counters": 3}, "^counters: expected a JSON object, got 3$"),
])
def test_a_report_that_cannot_be_read_says_why(change, words):
    old, _ = old_report("old_classification_report.json")
    with pytest.raises(ValueError, match=words):
        from_dict(old | change)


def test_a_report_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="a 'maxcut' report, not a 'classification' one"):
        RunResult.from_dict(old_report("old_maxcut_report.json")[0])
    with pytest.raises(ValueError, match="a report is a JSON object, not list"):
        from_dict([])


def test_results_are_frozen_and_their_required_fields_required(classification):
    with pytest.raises(FrozenInstanceError):
        classification.metrics.test_accuracy = 1.0
    with pytest.raises(TypeError, match="train_accuracy"):
        Metrics(test_accuracy=0.9, epochs=1)
