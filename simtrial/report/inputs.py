"""What a report reads: output sets (summary JSON, per-trial CSV, resolved scenario), from disk or from results.

An output set is what ``simtrial run --out DIR`` / ``simtrial samplesize --out DIR``
write.  A report built straight from results goes through the very same texts
(``output_set_from_power`` / ``output_set_from_samplesize`` serialise, ``OutputSet.from_texts``
parses), so a report built from a directory is byte-identical to one built from the run.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simtrial.errors import InvalidInput

SUMMARY = "summary.json"
TRIALS = "trials.csv"
RESOLVED = "scenario.resolved.yaml"
POWER_CURVE = "power_curve.csv"
MANIFEST = "simtrial-manifest.json"


def header_comment(path: str | Path | None) -> str:
    """The leading ``#`` comment block of a scenario file, verbatim (``""`` if none or unreadable)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    return header_of_text(text)


def header_of_text(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            lines.append(line.rstrip())
        elif line.strip() == "" and not lines:
            continue
        else:
            break
    return "\n".join(lines) + ("\n" if lines else "")


def header_lines(header: str) -> str:
    """The comment block as plain text (``# `` markers removed)."""
    out = []
    for line in header.splitlines():
        body = line[1:]
        out.append(body[1:] if body.startswith(" ") else body)
    return "\n".join(out).strip("\n")


def resolved_scenario_text(resolved: dict[str, Any], header: str = "") -> str:
    """``scenario.resolved.yaml``: the source file's header comment (YAML ignores it), then the resolved dict."""
    return header + yaml.safe_dump(dict(resolved), sort_keys=False, allow_unicode=True)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


@dataclass(frozen=True)
class OutputSet:
    """One run's (or sample-size search's) results as the report reads them."""

    summary: dict[str, Any]
    resolved: dict[str, Any]
    resolved_text: str
    trials_csv: str | None = field(default=None, repr=False)
    source: str = "<results>"

    @property
    def kind(self) -> str:
        """``samplesize``, ``assurance``, ``null`` (a run under H0) or ``power`` (a run under H1)."""
        if "power_curve" in self.summary:
            return "samplesize"
        if "assurance" in self.summary:
            return "assurance"
        return "null" if self.summary.get("null") else "power"

    @property
    def header(self) -> str:
        return header_of_text(self.resolved_text)

    def trials(self):
        """The per-trial frame (pandas), or None when the set has none."""
        if self.trials_csv is None:
            return None
        import pandas as pd

        return pd.read_csv(io.StringIO(self.trials_csv))

    @classmethod
    def from_texts(cls, texts: dict[str, str], source: str = "<results>") -> OutputSet:
        if SUMMARY not in texts or RESOLVED not in texts:
            missing = [n for n in (SUMMARY, RESOLVED) if n not in texts]
            raise InvalidInput(f"{source}: no simtrial results ({', '.join(missing)} missing); allowed: the --out "
                               "directory of `simtrial run` or `simtrial samplesize`")
        try:
            summary = json.loads(texts[SUMMARY])
            resolved = yaml.safe_load(texts[RESOLVED])
        except (ValueError, yaml.YAMLError) as exc:
            raise InvalidInput(f"{source}: unreadable results ({type(exc).__name__}: {exc})") from None
        if not isinstance(summary, dict) or not ("power" in summary or "assurance" in summary) or "n_sims" not in summary:
            raise InvalidInput(f"{source}: {SUMMARY} is not a simtrial summary (no power or assurance / n_sims)")
        if not isinstance(resolved, dict) or "design" not in resolved:
            raise InvalidInput(f"{source}: {RESOLVED} is not a resolved simtrial scenario")
        return cls(summary, resolved, texts[RESOLVED], texts.get(TRIALS), source)


def read_output_set(directory: str | Path) -> OutputSet:
    """Read an output directory; refuse one without results or whose files do not match their manifest."""
    path = Path(directory)
    if not path.is_dir():
        raise InvalidInput(f"--from {directory}: not a directory; allowed: the --out directory of "
                           "`simtrial run` or `simtrial samplesize`")
    texts: dict[str, str] = {}
    for name in (SUMMARY, RESOLVED, TRIALS):
        try:
            texts[name] = (path / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"--from {directory}: cannot read {name} ({exc})") from None
    manifest_path = path / MANIFEST
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = dict(manifest["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"--from {directory}: unreadable {MANIFEST} ({exc})") from None
        for name, digest in files.items():
            try:
                actual = hashlib.sha256((path / name).read_bytes()).hexdigest()
            except OSError:
                actual = None
            if actual != digest:
                raise InvalidInput(f"--from {directory}: {name} does not match {MANIFEST} (incomplete or edited "
                                   "output set); allowed: a complete output set")
    elif SUMMARY in texts:
        raise InvalidInput(f"--from {directory}: no {MANIFEST}: an incomplete output set (a run stopped while "
                           "writing?); allowed: a complete output set")
    return OutputSet.from_texts(texts, source=f"--from {directory}")


def output_set_from_power(result, header: str = "") -> OutputSet:
    """A ``PowerResult`` as the texts `simtrial run --out` writes."""
    texts = {
        SUMMARY: _json(result.to_dict()),
        TRIALS: result.per_trial_frame().to_csv(index=False),
        RESOLVED: resolved_scenario_text(dict(result.resolved_scenario), header),
    }
    return OutputSet.from_texts(texts)


def output_set_from_samplesize(result, header: str = "") -> OutputSet:
    """A ``SampleSizeResult`` as the texts `simtrial samplesize --out` writes."""
    texts = {
        SUMMARY: _json(result.to_dict()),
        TRIALS: result.confirmation.per_trial_frame().to_csv(index=False),
        RESOLVED: resolved_scenario_text(result.resolved_scenario(), header),
    }
    return OutputSet.from_texts(texts)


def output_set_from_assurance(result, header: str = "") -> OutputSet:
    """An ``AssuranceResult`` as the texts `simtrial assurance --out` writes."""
    texts = {
        SUMMARY: _json(result.to_dict()),
        TRIALS: result.per_trial_frame().to_csv(index=False),
        RESOLVED: resolved_scenario_text(dict(result.run.resolved_scenario), header),
    }
    return OutputSet.from_texts(texts)


SWEEP = "sweep.json"


def read_sweep(directory: str | Path) -> dict[str, Any]:
    """``sweep.json`` of a `simtrial sweep --out DIR`, checked against the directory's manifest."""
    path = Path(directory)
    if not path.is_dir():
        raise InvalidInput(f"--sweep {directory}: not a directory; allowed: the --out directory of `simtrial sweep`")
    target = path / SWEEP
    if not target.exists():
        raise InvalidInput(f"--sweep {directory}: no {SWEEP}; allowed: the --out directory of `simtrial sweep`")
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        digest = dict(manifest["files"])[SWEEP]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"--sweep {directory}: no usable {MANIFEST} naming {SWEEP} ({exc}); allowed: a complete "
                           "sweep output set") from None
    data = target.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise InvalidInput(f"--sweep {directory}: {SWEEP} does not match {MANIFEST} (incomplete or edited)")
    try:
        sweep = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise InvalidInput(f"--sweep {directory}: unreadable {SWEEP} ({exc})") from None
    if not isinstance(sweep, dict) or not isinstance(sweep.get("varied"), list) or not isinstance(sweep.get("rows"), list):
        raise InvalidInput(f"--sweep {directory}: {SWEEP} is not a simtrial sweep (no varied / rows)")
    return sweep
