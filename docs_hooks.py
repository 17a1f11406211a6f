"""mkdocs hooks (mkdocs.yml): the pages' generated parts, rendered at build time, and links
to the repository's files.

- `<!-- generated: settings local -->` and `<!-- generated: settings gcp -->`: the settings
  tables, `titanic_assets.core.settings.markdown_table()`'s output (what `python -m
  titanic_assets.core.settings` prints), so the configuration page is the settings module.
- `<!-- generated: benchmark results -->`: every stamped result in benchmarks/results/*.json
  (benchmarks/stamp.py writes them), one section per file with its stamp and its figures,
  whatever set of files is present. A figure the docs show is one a run wrote, with the
  commit, date, model, cores and load it was measured at.
- A relative link from a page to a file of the repository outside `docs/` (e.g.
  `[components.py](../titanic_assets/components.py)`, which GitHub follows) becomes the link's
  text and the file's path: the site has no copy of the code. A link to a file that does not
  exist is left as it is, so `mkdocs build --strict` fails on it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "benchmarks" / "results"
SETTINGS_MARK = "<!-- generated: settings {profile} -->"
RESULTS_MARK = "<!-- generated: benchmark results -->"
LINK = re.compile(r"\[([^\]]+)\]\(([^)#\s]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for profile in ("local", "gcp"):
        mark = SETTINGS_MARK.format(profile=profile)
        if mark in markdown:
            markdown = markdown.replace(mark, settings_table(profile))
    if RESULTS_MARK in markdown:
        markdown = markdown.replace(RESULTS_MARK, results_markdown(RESULTS))
    return repository_links(markdown, Path(page.file.abs_src_path), Path(config["docs_dir"]))


def repository_links(markdown: str, page: Path, docs: Path) -> str:
    """Links to existing repository files outside the docs folder, as their text and path."""

    def replace(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if "://" in target or target.startswith(("mailto:", "/")):
            return match.group(0)
        path = (page.parent / target).resolve()
        if path.is_relative_to(docs.resolve()) or not path.exists():
            return match.group(0)
        relative = path.relative_to(ROOT).as_posix()
        return text if relative in text or path.name in text else f"{text} (`{relative}`)"

    return LINK.sub(replace, markdown)


def settings_table(profile: str) -> str:
    if str(ROOT) not in sys.path:  # the checkout being documented, whatever is installed
        sys.path.insert(0, str(ROOT))
    from titanic_assets.core.settings import markdown_table

    return markdown_table(profile)


# --- stamped results ----------------------------------------------------------------------


def results_markdown(folder: Path) -> str:
    """Every stamped result in `folder` as markdown, grouped by benchmark."""
    results = []
    for path in sorted(folder.glob("*.json")):
        try:
            results.append((path, json.loads(path.read_text())))
        except (OSError, ValueError) as error:
            results.append((path, {"unreadable": str(error)}))
    if not results:
        return (
            "No stamped results in this checkout: `make bench` measures and writes them to "
            "`benchmarks/results/`."
        )
    sections = []
    for path, result in results:
        sections.append(result_section(path, result))
    return "\n\n".join(sections)


def result_section(path: Path, result: dict[str, Any]) -> str:
    benchmark = result.get("benchmark", path.stem)
    model = result.get("model", "")
    lines = [f"### {benchmark}{f' · {model}' if model else ''}", ""]
    if "unreadable" in result:
        return "\n".join([*lines, f"`{path.name}` could not be read: {result['unreadable']}"])
    lines += [stamp_line(path, result), ""]
    figures = result.get("figures", {})
    rows, tables = flatten(figures)
    if rows:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| `{name}` | {cell(value)} |" for name, value in rows]
    for name, table in tables:
        lines += ["", f"`{name}`:", "", *table_lines(table)]
    return "\n".join(lines)


def stamp_line(path: Path, result: dict[str, Any]) -> str:
    parts = [f"`benchmarks/results/{path.name}`"]
    commit = str(result.get("commit", ""))[:10]
    if commit:
        dirty = " with uncommitted changes" if result.get("uncommitted_changes") else ""
        parts.append(f"commit `{commit}`{dirty}")
    if result.get("started"):
        parts.append(f"measured {result['started']}")
    if result.get("model_family"):
        parts.append(f"family {result['model_family']}")
    if result.get("cores"):
        usable = result.get("usable_cores")
        parts.append(f"{result['cores']} cores" + (f" ({usable} usable)" if usable else ""))
    start, end = result.get("load_average_at_start"), result.get("load_average_at_end")
    if start or end:
        parts.append(f"load average {load(start)} at the start, {load(end)} at the end")
    if result.get("command"):
        parts.append(f"`{result['command']}`")
    return "Stamp: " + " · ".join(parts)


def load(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " / ".join(str(v) for v in value)
    return "?" if value is None else str(value)


def flatten(
    figures: Any, prefix: str = ""
) -> tuple[list[tuple[str, Any]], list[tuple[str, list[dict[str, Any]]]]]:
    """Scalar figures as (name, value) rows, nested names joined by ` · `; lists of records
    (one dict per row) as tables of their own."""
    rows: list[tuple[str, Any]] = []
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    if not isinstance(figures, dict):
        return [(prefix or "value", figures)], []
    for key, value in figures.items():
        name = f"{prefix} · {key}" if prefix else str(key)
        if isinstance(value, dict) and {"median", "min", "max"} <= set(value):
            rows.append((name, Spread(value)))
        elif isinstance(value, dict):
            more_rows, more_tables = flatten(value, name)
            rows += more_rows
            tables += more_tables
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((name, value))
        else:
            rows.append((name, value))
    return rows, tables


def table_lines(records: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for record in records:
        columns += [c for c in record if c not in columns]
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        lines.append("| " + " | ".join(cell(record.get(c, "")) for c in columns) + " |")
    return lines


class Spread(dict):
    """A figure measured several times: its median, min and max (and the runs)."""


def cell(value: Any) -> str:
    if isinstance(value, Spread):
        runs = value.get("runs")
        over = f" over {len(runs)} runs" if isinstance(runs, list) else ""
        text = f"{cell(value['median'])} (median; {cell(value['min'])}–{cell(value['max'])}{over})"
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, list | dict):
        text = json.dumps(value)
    else:
        text = str(value)
    return text.replace("<", "&lt;").replace("|", "\\|").replace("\n", " ")
