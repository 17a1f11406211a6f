"""The code location loads, as CI would notice a broken import or a dangling asset key."""

import dagster as dg

from titanic_assets.definitions import defs as load_definitions

defs = load_definitions()

GRAPH = ["raw_passengers", "passengers", "passenger_features", "survival_model", "model_evaluation"]


def test_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert set(GRAPH) <= keys


def test_every_table_has_a_blocking_contract_and_the_model_a_gate() -> None:
    checks = {
        (key.asset_key.to_user_string(), key.name): spec.blocking
        for checks_def in defs.asset_checks
        for key, spec in zip(checks_def.check_keys, checks_def.check_specs, strict=True)
    }
    assert checks[("raw_passengers", "raw_passengers_contract")] is True
    assert checks[("passengers", "passengers_contract")] is True
    assert checks[("passenger_features", "passenger_features_contract")] is True
    assert checks[("model_evaluation", "model_quality_gate")] is True


def test_every_asset_is_described_and_grouped() -> None:
    for assets_def in defs.assets:
        for key in assets_def.keys:
            assert assets_def.descriptions_by_key.get(key), key
            assert assets_def.group_names_by_key[key] != "default", key


def test_dg_check_defs_loads_the_project(tmp_path) -> None:
    """`dg check defs`, as a user runs it in the project, finds and loads every definition."""
    import subprocess
    import sys
    from pathlib import Path

    from titanic_assets.testing import environment

    root = Path(__file__).resolve().parents[1]
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=root,
        env=environment(tmp_path, {"VIRTUAL_ENV": sys.prefix}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
