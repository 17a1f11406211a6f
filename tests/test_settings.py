"""The settings: declared once, validated at start-up with the variable's name, documented
by the configuration page's tables exactly, and read from the environment in one module only."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from docs_hooks import SETTINGS_MARK, on_page_markdown
from titanic_assets.core.settings import SettingsError, load_settings, markdown_table
from titanic_assets.loop.monitoring.evidence import MIN_NEW_ROWS

ROOT = Path(__file__).resolve().parents[1]


def test_relative_locations_are_under_titanic_home_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TITANIC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TITANIC_PREDICTION_LOG", "logs/predictions")
    assert load_settings().prediction_log == str(tmp_path / "home" / "logs" / "predictions")
    monkeypatch.delenv("TITANIC_HOME")
    monkeypatch.delenv("TITANIC_LABELS_DIR", raising=False)
    assert load_settings().labels_dir == str(ROOT / "data" / "labels")
    monkeypatch.setenv("TITANIC_PREDICTION_LOG", "/srv/log")
    assert load_settings().prediction_log == "/srv/log"
    monkeypatch.setenv("TITANIC_PREDICTION_LOG", "gs://titanic-traffic/log")
    assert load_settings().prediction_log == "gs://titanic-traffic/log"


def test_an_empty_variable_means_the_default(monkeypatch):
    monkeypatch.setenv("TITANIC_SERVING_WORKERS", "")
    assert load_settings().serving_workers == 2


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("TITANIC_PREDICTION_LOG_KEEP_DAYS", "-3", "greater than or equal to 1"),
        ("TITANIC_RETRAIN_MIN_NEW_ROWS", "many", "valid integer"),
        ("TITANIC_MODEL_POLL_SECONDS", "0", "greater than 0"),
        ("TITANIC_PREDICTION_LOG", "gs:/bucket/log", "not gs://<bucket>/<prefix>"),
        ("TITANIC_PREDICTION_LOG", "gs://Not_A_Bucket!/log", "not gs://<bucket>/<prefix>"),
        ("TITANIC_GCS_BUCKET", "gs://my-bucket", "not a bucket name"),
        ("TITANIC_PROFILE", "prod", "'local' or 'gcp'"),
        ("TITANIC_LOG_FORMAT", "xml", "'json' or 'text'"),
        ("TITANIC_MODEL", "Titanic!", "should match pattern"),
    ],
)
def test_a_wrong_value_fails_at_start_up_naming_the_variable_and_the_reason(
    monkeypatch, variable, value, reason
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert f"{variable}: " in str(error.value)
    assert reason in str(error.value)
    assert repr(value) in str(error.value)


def test_the_gcp_profile_needs_its_bucket(monkeypatch):
    monkeypatch.setenv("TITANIC_PROFILE", "gcp")
    monkeypatch.delenv("TITANIC_GCS_BUCKET", raising=False)
    with pytest.raises(SettingsError, match="TITANIC_GCS_BUCKET"):
        load_settings()


def test_the_configuration_page_s_tables_are_the_declared_settings():
    """docs/configuration.md holds a mark per profile, which the site's build replaces with
    `markdown_table`'s output (docs_hooks.py; tests/test_docs.py builds the site)."""
    page = (ROOT / "docs" / "configuration.md").read_text()
    for profile in ("local", "gcp"):
        assert SETTINGS_MARK.format(profile=profile) in page, profile
    source = SimpleNamespace(file=SimpleNamespace(abs_src_path=str(ROOT / "docs" / "x.md")))
    rendered = on_page_markdown(page, source, {"docs_dir": str(ROOT / "docs")}, None)
    for profile in ("local", "gcp"):
        assert markdown_table(profile) in rendered, profile


def test_the_default_retrain_size_is_the_one_the_promotion_needs():
    assert load_settings().retrain_min_new_rows == MIN_NEW_ROWS
