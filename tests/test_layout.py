"""The code's shape, which a new contributor relies on: modules a reader can hold in their
head, imports that never run in a circle, the engine importing no domain by name, the
environment read in one place, BentoML's private modules touched in one, and benchmarks that
stand without the tests."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("titanic_assets", "bento")
MAX_LINES = 450
MAX_SERVICE_LINES = 350
# Where the environment may be read: the settings alone (child_environment passes it on to
# the processes a command, a test or a benchmark starts).
READS_ENVIRONMENT = {"titanic_assets/core/settings.py"}
BENTOML_PRIVATE = ("bentoml._internal", "_bentoml_sdk", "_bentoml_impl")
DOMAINS = ROOT / "titanic_assets" / "domains"


def modules(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def name_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every module `path` imports, at the top or inside a function, as dotted names (for
    `from a import b`, both `a` and `a.b`: b may be a module)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("path", list(modules(*PACKAGES)), ids=lambda p: name_of(p))
def test_no_module_is_longer_than_a_reader_can_hold(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    limit = MAX_SERVICE_LINES if path == ROOT / "bento" / "service.py" else MAX_LINES
    assert lines <= limit, f"{path.relative_to(ROOT)}: {lines} lines, more than {limit}"


def test_every_part_of_the_code_is_checked() -> None:
    """The engine's stages (titanic_assets/loop), the domains and the service are all among
    the modules these tests read."""
    names = {name_of(path) for path in modules(*PACKAGES)}
    for package in ("titanic_assets.loop", "titanic_assets.domains.titanic", "bento"):
        assert {n for n in names if n.startswith(f"{package}.")}, package


def test_the_engine_imports_no_domain_by_name() -> None:
    """Only a domain's own package imports it: the engine finds a domain by the name an
    instance gives (core/domain.load_domain)."""
    importing = [
        str(path.relative_to(ROOT))
        for path in modules(*PACKAGES)
        if not path.is_relative_to(DOMAINS)
        and any(m.startswith("titanic_assets.domains") for m in imported(path))
    ]
    assert not importing, f"importing a domain by name: {importing}"


def test_the_import_graph_has_no_circle() -> None:
    graph = {name_of(path): set(imported(path)) for path in modules(*PACKAGES)}
    for name, targets in graph.items():
        graph[name] = {t for t in targets if t in graph and t != name}
    # Depth-first search; a module met again while still on the path closes a circle.
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            circle = path[path.index(name) :] + [name]
            pytest.fail("import circle: " + " -> ".join(circle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def reads_environment(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("getenv", "environ", "environb"):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and {a.name for a in node.names} & {"getenv", "environ", "environb"}
        ):
            return True
    return False


def test_the_environment_is_read_in_the_settings_alone() -> None:
    readers = {
        str(path.relative_to(ROOT)) for path in modules(*PACKAGES) if reads_environment(path)
    }
    assert readers <= READS_ENVIRONMENT, f"reading the environment: {sorted(readers)}"


def test_bentoml_private_modules_are_touched_in_one_module_at_most() -> None:
    touching = [
        str(path.relative_to(ROOT))
        for path in modules(*PACKAGES, "benchmarks")
        if any(m.startswith(BENTOML_PRIVATE) for m in imported(path))
    ]
    assert len(touching) <= 1, touching


def test_benchmarks_do_not_import_the_tests() -> None:
    for path in modules("benchmarks"):
        assert not any(m == "tests" or m.startswith("tests.") for m in imported(path)), path
