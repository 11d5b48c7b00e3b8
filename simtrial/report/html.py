"""Render a ``ReportData`` and its figures into one self-contained HTML page (Jinja2, inline CSS and SVG)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from simtrial.errors import InvalidInput
from simtrial.report.data import ReportData
from simtrial.report.text import num, pct


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("simtrial.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = num
    env.filters["pct"] = pct
    return env


def render_html(report: ReportData, figures: dict[str, str] | None = None) -> str:
    """The page as text; ``figures`` (figure id -> SVG) default to ``figures.draw_all(report)``."""
    import markupsafe

    if figures is None:
        from simtrial.report.figures import draw_all

        figures = draw_all(report)
    template = _environment().get_template("report.html.j2")
    s = {sec.name: sec.data for sec in report.sections}
    return template.render(title=report.title, s=s, titles={sec.name: sec.title for sec in report.sections},
                           order=[sec.name for sec in report.sections],
                           fig={k: markupsafe.Markup(v) for k, v in figures.items()})


def check_html_target(path: str | Path) -> Path:
    """Refuse, before any work, an --out that is a directory or cannot be written."""
    p = Path(path)
    if not str(path).strip():
        raise InvalidInput("--out: an empty path; allowed: a file path such as report.html")
    if p.is_dir():
        raise InvalidInput(f"--out {path}: is a directory; allowed: a file path such as {p / 'report.html'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"--out {path}: the directory {parent} does not exist; allowed: a file in an existing directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InvalidInput(f"--out {path}: cannot write there (permission denied); nothing was written")
    return p


def write_html(path: str | Path, text: str) -> None:
    """Write atomically: a temporary file beside the target, fsync, then ``os.replace``."""
    p = check_html_target(path)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InvalidInput(f"--out {path}: writing failed ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
