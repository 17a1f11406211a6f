"""The documentation, kept true: the site builds with `mkdocs build --strict` (a broken link,
page or anchor fails), the README stays a five-minute read whose figures are the code's, no
page calls a figure stale, and getting started's commands run as written.

How getting started's commands run (docs/getting-started.md, its ```shell blocks):
- every `curl` is run by bash as written, against the session's service with its first
  model (tests/conftest.py: `server`, `model_a`), its address put in place of the page's
  `localhost:3003`, in a temporary directory holding a `.feedback_token` (the session's
  service takes outcomes without one, as a service with no TITANIC_FEEDBACK_TOKEN does); the
  answer is compared with the ```json block the page shows after it;
- every `make` command is checked with `make -n` as written (the target exists and takes
  the arguments), and run for real by the test MAKE_COVERED names: `make dev` and `make
  materialize` take a minute or more each, more than this file's share of the suite;
- the ports `make dev` prints on the page are the configured models' (`instance_names`).
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import AFTER_THE_SERVICE_TESTS, Server
from titanic_assets.core.instances import instance_names
from titanic_assets.core.settings import Settings, variable
from titanic_assets.loop.monitoring.evidence import MIN_NEW_ROWS
from titanic_assets.loop.training.model_evaluation import MIN_NEW_GROUP_ROC_AUC, MIN_ROC_AUC
from titanic_assets.ml import drift, promotion, sequential
from titanic_assets.testing import BIN, ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
GETTING_STARTED = DOCS / "getting-started.md"
MAX_README_LINES = 150
FIRST_PREDICTION_BY = 60
PAGE_SERVICE = "localhost:3003"  # where getting started sends its requests (make dev's titanic)
FIRST_SERVICE_PORT = 3001  # make dev's SERVICE_PORT
# Each make command getting started gives, and the test that runs it for real (its file and
# what in it shows the command).
MAKE_COVERED = {
    "make dev": ("tests/test_dev_loop.py", '["make", "dev"'),
    "make materialize MODEL=titanic": ("tests/test_your_own_model.py", "make materialize MODEL="),
    "make test": (None, "the suite itself, this test included"),
}
# Words that mark a figure kept past its measurement: a figure is re-measured or removed.
STALE = re.compile(
    r"not\s+(been\s+)?re-?measured|re-?measured\s+on\s+(this|another)\s+branch"
    r"|(is|are|may\s+be)\s+(stale|out\s+of\s+date|outdated)",
    re.I,
)
# What issue 28 found contradicting the code, which must not come back.
CONTRADICTIONS = (
    "387 tests", "0.832", "file of the day", "4.0–4.2 s", "4.0-4.2 s",
    "712 training rows", "1,841 req/s",
)  # fmt: skip


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the site ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as `mkdocs build --strict` builds it (offline: no plugin fetches)."""
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    return folder


def test_the_site_builds_strict_with_every_page_in_its_navigation(site: Path) -> None:
    for page in pages():
        assert (site / page.stem / "index.html").is_file() or page.stem == "index", page
    assert (site / "index.html").is_file()


def test_the_configuration_page_is_the_settings_module(site: Path) -> None:
    html = (site / "configuration" / "index.html").read_text()
    for name in Settings.model_fields:
        assert f"<code>{variable(name)}</code>" in html, variable(name)
    assert "<!-- generated" not in html


def test_the_performance_page_renders_every_stamped_result_and_none_when_there_are_none(
    tmp_path: Path,
) -> None:
    import docs_hooks

    assert "No stamped results" in docs_hooks.results_markdown(tmp_path)
    stamped = {
        "benchmark": "pipeline", "model": "titanic", "model_family": "lightgbm",
        "commit": "0123456789abcdef", "uncommitted_changes": False,
        "started": "2026-12-04T19:00:00+00:00", "cores": 2, "usable_cores": 2,
        "load_average_at_start": [0.5, 0.4, 0.3], "load_average_at_end": [1.0, 0.5, 0.3],
        "command": "pipeline.py --model titanic",
        "figures": {
            "training": {"wall_s": 1.23456, "cpu_s": {"median": 2.0, "min": 1.5, "max": 3.0}},
            "steps": [{"step": "a", "s": 0.5}],
        },
    }  # fmt: skip
    (tmp_path / "pipeline-titanic.json").write_text(json.dumps(stamped))
    (tmp_path / "odd-model.json").write_text(json.dumps({"figures": 3}))
    rendered = docs_hooks.results_markdown(tmp_path)
    assert "### pipeline · titanic" in rendered and "commit `0123456789`" in rendered
    assert "| `training · wall_s` | 1.235 |" in rendered
    assert "| `training · cpu_s` | 2 (median; 1.5–3) |" in rendered
    assert "| step | s |" in rendered and "load average 0.5 / 0.4 / 0.3" in rendered
    assert "### odd-model" in rendered


# --- the README ----------------------------------------------------------------------------


def test_the_readme_is_a_five_minute_read() -> None:
    assert len(README.read_text().splitlines()) <= MAX_README_LINES


def test_the_readme_s_first_prediction_is_by_line_60_and_the_one_getting_started_runs() -> None:
    lines = README.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("curl"))
    assert first + 1 <= FIRST_PREDICTION_BY, f"the first curl is on line {first + 1}"
    request = []
    for line in lines[first:]:
        request.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    first_request = next(c for c in commands(GETTING_STARTED) if c.startswith("curl "))
    assert " ".join(request) == first_request


def test_the_readme_s_links_are_to_pages_and_anchors_that_exist(site: Path) -> None:
    links = re.findall(r"\]\((docs/[^)#]+)(#[^)]+)?\)", README.read_text())
    assert len(links) >= 13
    for page, anchor in links:
        assert (ROOT / page).is_file(), page
        if anchor:
            html = (site / Path(page).stem / "index.html").read_text()
            assert f'id="{anchor[1:]}"' in html, f"{page}{anchor}"


def test_the_readme_s_five_figures_are_the_code_s() -> None:
    readme = flat(README.read_text())
    settings = Settings.model_fields
    for figure in (
        f"lower bound is at least **{MIN_ROC_AUC:.2f}**",
        f"new families at least **{MIN_NEW_GROUP_ROC_AUC:.2f}**",
        f"no worse by more than **{promotion.MARGIN}**",
        f"only with **{MIN_NEW_ROWS}** labelled rows",
        f"Below **{drift.MIN_ROWS}** logged rows",
        f"within **{settings['shadow_max_outcomes'].default:,}** outcomes or "
        f"**{settings['shadow_max_days'].default:g}** days, at a **{sequential.ALPHA:.0%}**",
    ):
        assert figure in readme, figure


# --- every page ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [README, *pages()], ids=lambda p: p.name)
def test_no_page_keeps_a_stale_figure_or_a_contradiction_issue_28_found(path: Path) -> None:
    text = flat(path.read_text())
    assert not STALE.search(text), STALE.search(text)
    for wrong in CONTRADICTIONS:
        assert wrong not in text, wrong
    # make rejects `make monitor --all`: the argument goes through ARGS.
    assert not re.search(r"make monitor(?: MODEL=\w+)? --all", text)


def test_the_architecture_page_names_every_module() -> None:
    page = (DOCS / "architecture.md").read_text()
    for folder in ("titanic_assets", "bento"):
        for module in sorted((ROOT / folder).rglob("*.py")):
            if module.name != "__init__.py":
                assert module.name in page, module.relative_to(ROOT)


# --- getting started, run as written ------------------------------------------------------


def shell_blocks(page: Path) -> list[str]:
    return re.findall(r"^```shell\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def commands(page: Path) -> list[str]:
    """The page's commands, in order, continuation lines joined."""
    found = []
    for block in shell_blocks(page):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                found.append(" ".join(command.split()))
    return found


def answers(page: Path) -> dict[int, str]:
    """The ```json answer shown after a ```shell block, by the block's index: the answer of
    its last command."""
    text, shown = page.read_text(), {}
    blocks = list(re.finditer(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M))
    shell = -1
    for i, block in enumerate(blocks):
        if block.group(1) == "shell":
            shell += 1
            if i + 1 < len(blocks) and blocks[i + 1].group(1) == "json":
                shown[shell] = blocks[i + 1].group(2).strip()
    return shown


def same_answer(shown, got, where: str = "answer") -> None:
    """The page's answer against the service's: the same fields; `…` stands for any value
    (an id, a version); numbers to the page's 3 decimals."""
    if shown == "…":
        return
    if isinstance(shown, dict):
        assert isinstance(got, dict) and set(shown) == set(got), f"{where}: {shown} != {got}"
        for key in shown:
            same_answer(shown[key], got[key], f"{where}.{key}")
    elif isinstance(shown, float):
        assert got == pytest.approx(shown, abs=0.0005), f"{where}: the page {shown}, got {got}"
    else:
        assert shown == got, f"{where}: the page {shown!r}, got {got!r}"


def test_every_command_in_getting_started_is_a_make_target_or_a_request() -> None:
    found = commands(GETTING_STARTED)
    assert found, "no ```shell blocks"
    for command in found:
        assert command.startswith(("make ", "curl ")), command
        if command.startswith("make "):
            assert command in MAKE_COVERED, f"{command}: name the test that runs it"


@pytest.mark.parametrize("command", list(MAKE_COVERED))
def test_getting_started_s_make_commands_are_valid_and_run_by_a_test(command: str) -> None:
    assert command in commands(GETTING_STARTED)
    dry = subprocess.run([*command.split()[:1], "-n", *command.split()[1:]],
                         cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    test, shows = MAKE_COVERED[command]
    if test is not None:
        assert shows in (ROOT / test).read_text(), f"{test} no longer runs {command}"
    if command == "make materialize MODEL=titanic":
        assert "dg launch --assets 'key:titanic/* and not key:titanic/hourly_traffic'" in dry.stdout


def test_the_ports_make_dev_prints_on_the_page_are_the_configured_models() -> None:
    text = GETTING_STARTED.read_text()
    printed = re.findall(r"^Model (\w+): http://127\.0\.0\.1:(\d+)", text, flags=re.M)
    expected = [(m, str(p)) for p, m in enumerate(instance_names(), start=FIRST_SERVICE_PORT)]
    assert printed == expected
    titanic_port = dict(printed)["titanic"]
    assert f"localhost:{titanic_port}" == PAGE_SERVICE
    assert f"localhost:{titanic_port}" in README.read_text()


@getattr(pytest.mark, AFTER_THE_SERVICE_TESTS)
def test_getting_started_s_requests_are_answered_as_the_page_shows(
    server: Server, model_a: str, tmp_path: Path
) -> None:
    (tmp_path / ".feedback_token").write_text("a-token-the-session-service-does-not-ask-for\n")
    address = server.url.removeprefix("http://")
    shown = answers(GETTING_STARTED)
    requests = 0
    for index, block in enumerate(shell_blocks(GETTING_STARTED)):
        lines = [c for c in commands_of(block) if c.startswith("curl ")]
        output = ""
        for command in lines:
            assert PAGE_SERVICE in command, command
            ran = subprocess.run(
                ["bash", "-c", command.replace(PAGE_SERVICE, address)],
                cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert ran.returncode == 0, ran.stderr
            output = ran.stdout
            answer = json.loads(output)  # every request is answered in JSON
            assert "detail" not in answer, f"{command}: {answer}"
            requests += 1
        if lines and index in shown:
            same_answer(json.loads(shown[index]), json.loads(output), lines[-1][:60])
    assert requests >= 4


def commands_of(block: str) -> list[str]:
    return [" ".join(c.split()) for c in re.sub(r"\\\n\s*", "", block).splitlines() if c.strip()]
