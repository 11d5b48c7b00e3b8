"""simtrial: in-silico trials of HER2-targeted breast-cancer therapy, stratified by HER2 IHC.

``import simtrial as st`` gives the public API::

    scenario = st.load_scenario("scenarios/ihc3_deescalation_ni.yaml")
    result = st.run(scenario, n_sims=2000, seed=1)          # PowerResult
    size = st.sample_size(scenario, target_power=0.85)      # SampleSizeResult, confirmed
    pos = st.assurance(scenario_with_prior, n_sims=5000)    # AssuranceResult: power averaged over the prior
    grid = st.sweep(scenario, st.SweepPlan.from_cli(["analysis.ni_margin=1.2:1.4:0.1"]))  # SweepResult
    stats = st.analyze(time, event, arm)                    # TwoArmAnalysis on your own data

and the trial as data (``st.Population``, ``st.Arm``, ``st.Accrual``, ``st.Exponential``, ...,
``st.Trial`` (alias ``st.Scenario``), ``st.Analysis``) to build a trial without a scenario file;
``st.REGISTRY`` says what each design accepts.  Names load on
first use, so ``import simtrial`` (and ``simtrial --version``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from simtrial._version import __version__

_EXPORTS: dict[str, str] = {
    "load_scenario": "simtrial.scenario",
    "scenario_from_dict": "simtrial.scenario",
    "ScenarioError": "simtrial.scenario",
    "run": "simtrial.power",
    "PowerResult": "simtrial.power",
    "sample_size": "simtrial.samplesize",
    "SampleSizeResult": "simtrial.samplesize",
    "assurance": "simtrial.probability_of_success",
    "AssuranceResult": "simtrial.probability_of_success",
    "assurance_sample_size": "simtrial.probability_of_success",
    "sweep": "simtrial.sweeps",
    "SweepResult": "simtrial.sweeps",
    "SweepPlan": "simtrial.spec.sweep",
    "analyze": "simtrial.analysis",
    "TwoArmAnalysis": "simtrial.analysis",
    "InvalidInput": "simtrial.errors",
    "BudgetExhausted": "simtrial.errors",
    "Population": "simtrial.spec",
    "Arm": "simtrial.spec",
    "Accrual": "simtrial.spec",
    "Subgroup": "simtrial.spec",
    "Exponential": "simtrial.survival",
    "Weibull": "simtrial.survival",
    "PiecewiseExponential": "simtrial.survival",
    "CureMixture": "simtrial.survival",
    "Trial": "simtrial.spec",
    "Scenario": "simtrial.spec",
    "Analysis": "simtrial.spec",
    "SequentialPlan": "simtrial.spec",
    "Simulation": "simtrial.spec",
    "SampleSizeSearch": "simtrial.spec",
    "REGISTRY": "simtrial.designs.registry",
    "CATEGORIES": "simtrial.her2",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simtrial' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
