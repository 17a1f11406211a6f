"""The code location loads, as CI would notice a broken import or a dangling asset key; the
Titanic model is one instance of the loop, keyed under titanic/, its jobs and sensors named
for it."""

import dagster as dg

from titanic_assets.definitions import defs as load_definitions

defs = load_definitions()

GRAPH = ["raw_rows", "labelled_rows", "feature_table", "trained_model", "model_evaluation"]
MONITORING = ["serving_model", "hourly_traffic", "drift_report", "model_performance"]
JOBS = [
    "titanic_model_training",
    "titanic_rollback_serving_model",
    "titanic_hourly_traffic_job",
    "titanic_monitoring_windows",
    "titanic_batch_scoring",
]
SENSORS = [
    "titanic_hourly_traffic_on_landing",
    "titanic_monitoring_windows_on_new_hours",
    "titanic_retrain_on_new_evidence",
    "titanic_batch_scoring_on_new_files",
]


def test_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {f"titanic/{name}" for name in GRAPH + MONITORING} <= keys


def test_the_titanic_instance_is_keyed_under_titanic_with_its_jobs_and_sensors_named() -> None:
    repository = defs.get_repository_def()
    keys = list(repository.asset_graph.get_all_asset_keys())
    # Every asset is the Titanic model's (the only instance): none outside its prefix.
    assert keys and all(key.path[0] == "titanic" and len(key.path) == 2 for key in keys)
    jobs = {job.name for job in repository.get_all_jobs()} - {"__ASSET_JOB"}
    assert jobs == set(JOBS)
    assert {sensor.name for sensor in repository.sensor_defs} == set(SENSORS)
    assert repository.get_job("titanic_rollback_serving_model").graph.node_names() == [
        "titanic_restore_serving_model"
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
            assert assets_def.group_names_by_key[key] != "default", key


# `dg check defs` on the project (and on bad instances): tests/test_domains.py.
