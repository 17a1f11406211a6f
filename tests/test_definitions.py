"""The code location loads, as CI would notice a broken import or a dangling asset key; each
model (Titanic, Adult income, German credit) is one instance of the loop, keyed under its
name, its jobs and sensors named for it."""

import dagster as dg

from titanic_assets.definitions import defs as load_definitions

defs = load_definitions()

GRAPH = ["raw_rows", "labelled_rows", "feature_table", "trained_model", "model_evaluation"]
MONITORING = ["serving_model", "hourly_traffic", "drift_report", "model_performance"]
MODELS = ["titanic", "adult_income", "german_credit"]
JOBS = [
    "model_training",
    "rollback_serving_model",
    "hourly_traffic_job",
    "monitoring_windows",
    "batch_scoring",
    "export_serving_model_archive",
]
SENSORS = [
    "hourly_traffic_on_landing",
    "monitoring_windows_on_new_hours",
    "retrain_on_new_evidence",
    "batch_scoring_on_new_files",
    "serving_model_archive_on_store_change",
]


def test_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    for model in MODELS:
        assert {f"{model}/{name}" for name in GRAPH + MONITORING} <= keys


def test_each_instance_is_keyed_under_its_name_with_its_jobs_and_sensors_named() -> None:
    repository = defs.get_repository_def()
    keys = list(repository.asset_graph.get_all_asset_keys())
    # Every asset is one model's: none outside the instances' prefixes.
    assert keys and all(key.path[0] in MODELS and len(key.path) == 2 for key in keys)
    jobs = {job.name for job in repository.get_all_jobs()} - {"__ASSET_JOB"}
    assert jobs == {f"{model}_{job}" for model in MODELS for job in JOBS}
    sensors = {sensor.name for sensor in repository.sensor_defs}
    assert sensors == {f"{model}_{sensor}" for model in MODELS for sensor in SENSORS}
    for model in MODELS:
        assert repository.get_job(f"{model}_rollback_serving_model").graph.node_names() == [
            f"{model}_restore_serving_model"
        ]


def test_every_table_has_a_blocking_contract_and_the_model_a_gate() -> None:
    checks = {
        (key.asset_key.to_user_string(), key.name): spec.blocking
        for checks_def in defs.asset_checks
        for key, spec in zip(checks_def.check_keys, checks_def.check_specs, strict=True)
    }
    assert checks[("titanic/raw_rows", "raw_rows_contract")] is True
    assert checks[("titanic/labelled_rows", "labelled_rows_contract")] is True
    assert checks[("titanic/feature_table", "feature_table_contract")] is True
    assert checks[("titanic/landed_outcomes", "landed_outcomes_contract")] is True
    assert checks[("titanic/labelled_traffic", "labelled_traffic_contract")] is True
    assert checks[("titanic/model_evaluation", "model_quality_gate")] is True


def test_every_asset_is_described_and_grouped() -> None:
    for assets_def in defs.assets:
        for key in assets_def.keys:
            assert assets_def.descriptions_by_key.get(key), key
            assert assets_def.group_names_by_key[key].startswith(f"{key.path[0]}_"), key


# `dg check defs` on the project (and on bad instances): tests/test_domains.py.
