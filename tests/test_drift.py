"""Drift statistics on constructed samples, with the shipped passengers as the reference."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TITANIC
from titanic_assets.ml import drift

MONITORED = TITANIC.monitored


@pytest.fixture(scope="module")
def reference(shipped_passengers: pd.DataFrame) -> pd.DataFrame:
    return shipped_passengers


def resample(table: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return table.sample(n, replace=True, random_state=seed).reset_index(drop=True)


def by_feature(report: drift.DriftReport) -> dict[str, drift.FeatureDrift]:
    return {f.feature: f for f in report.features}


def test_ages_shifted_by_fifteen_years_are_detected_as_age_drift(reference):
    shifted = resample(reference, 300, seed=1).assign(Age=lambda t: t["Age"] + 15)

    report = drift.drift_report(MONITORED, reference, shifted)

    assert report.drift_detected
    assert report.drifted_features == ["Age"]
    age = by_feature(report)["Age"]
    assert age.test == "KS" and age.p_value < report.threshold
    assert age.psi_reading == "major"
    assert report.smallest_p_value == age.p_value
    assert report.share_drifted == pytest.approx(1 / len(MONITORED))


def test_traffic_of_third_class_men_is_detected_in_class_and_sex(reference):
    men = reference[(reference["Pclass"] == 3) & (reference["Sex"] == "male")]

    report = drift.drift_report(MONITORED, reference, resample(men, 200, seed=2))

    assert {"Pclass", "Sex"} <= set(report.drifted_features)
    assert by_feature(report)["Sex"].test == "chi-squared"


def test_traffic_all_embarked_at_queenstown_is_detected(reference):
    report = drift.drift_report(
        MONITORED, reference, resample(reference, 200, seed=3).assign(Embarked="Q")
    )

    assert "Embarked" in report.drifted_features


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_resample_of_the_reference_is_not_drift(reference, seed):
    report = drift.drift_report(MONITORED, reference, resample(reference, 300, seed=seed))

    assert report.enough_traffic
    assert not report.drift_detected, report.rows()
    assert report.summary.startswith("no drift in 9 features")


def test_fewer_rows_than_the_minimum_are_not_enough_traffic_not_drift(reference):
    five_odd_requests = resample(reference, 5, seed=4).assign(Age=90.0, Fare=500.0)

    report = drift.drift_report(MONITORED, reference, five_odd_requests)

    assert not report.enough_traffic
    assert not report.drift_detected
    assert report.features == ()
    assert report.summary.startswith("not enough traffic: 5 logged rows")
    assert report.smallest_p_value is None and report.largest_psi is None


def test_the_minimum_counts_rows_exactly(reference):
    just_enough = resample(reference, drift.MIN_ROWS, seed=5)

    assert drift.drift_report(MONITORED, reference, just_enough).enough_traffic
    assert not drift.drift_report(MONITORED, reference, just_enough.iloc[:-1]).enough_traffic


def test_psi_is_zero_for_identical_data_and_major_for_fares_times_two_and_a_half(reference):
    same = drift.drift_report(MONITORED, reference, reference)
    shifted = drift.drift_report(
        MONITORED, reference, reference.assign(Fare=reference["Fare"] * 2.5)
    )

    assert [f.psi for f in same.features] == pytest.approx([0.0] * len(MONITORED))
    assert not same.drift_detected
    fare = by_feature(shifted)["Fare"]
    assert fare.psi > drift.PSI_MAJOR and fare.psi_reading == "major"
    assert shifted.drifted_features == ["Fare"]
    assert shifted.largest_psi == fare.psi


def test_psi_readings_follow_the_common_thresholds():
    assert drift.psi_reading(0.05) == "stable"
    assert drift.psi_reading(0.1) == "moderate"
    assert drift.psi_reading(0.25) == "moderate"
    assert drift.psi_reading(0.3) == "major"


def test_missing_values_are_counted_not_fatal(reference):
    traffic = resample(reference, 200, seed=6).astype(object)
    traffic.loc[:49, "Age"] = None
    traffic.loc[50:59, "Embarked"] = np.nan
    traffic.loc[60:69, "Cabin"] = ""
    traffic.loc[70:79, "Name"] = None

    report = drift.drift_report(MONITORED, reference, traffic)

    features = by_feature(report)
    assert features["Age"].missing_share_current >= 0.25
    assert features["Age"].missing_share_reference == pytest.approx(reference["Age"].isna().mean())
    assert features["Embarked"].missing_share_current >= 0.05
    assert features["Title"].missing_share_current == pytest.approx(0.05)
    assert all(np.isfinite(f.p_value) and np.isfinite(f.psi) for f in report.features)


def test_a_field_that_stops_arriving_is_drift(reference):
    no_ages = resample(reference, 200, seed=7).assign(Age=np.nan)

    report = drift.drift_report(MONITORED, reference, no_ages)

    assert "Age" in report.drifted_features
    assert by_feature(report)["Age"].missing_share_current == 1.0


def test_numbers_logged_as_text_are_read_and_blanks_are_missing(reference):
    as_text = resample(reference, 300, seed=8).astype(str).replace("nan", "")

    report = drift.drift_report(MONITORED, reference, as_text)

    assert not report.drift_detected, report.rows()
    assert by_feature(report)["Age"].missing_share_current > 0


def test_a_value_that_is_not_a_number_is_a_clear_error(reference):
    traffic = resample(reference, 5, seed=9).astype(object)
    traffic.loc[3, "Fare"] = "cheap"

    # Even in a window too short to test: bad input is never silently "not enough traffic".
    with pytest.raises(ValueError, match=r"1 current value\(s\) of Fare are not numbers.*cheap"):
        drift.drift_report(MONITORED, reference, traffic)


def test_a_missing_input_column_is_a_clear_error(reference):
    with pytest.raises(ValueError, match=r"current rows lack .*'Cabin'"):
        drift.drift_report(MONITORED, reference, reference.drop(columns=["Cabin"]))


def test_an_empty_reference_is_a_clear_error(reference):
    with pytest.raises(ValueError, match="reference has no rows"):
        drift.drift_report(MONITORED, reference.iloc[:0], reference)


def test_plots_show_the_drifted_features_as_markdown_images(reference):
    traffic = resample(reference, 300, seed=10).assign(Age=lambda t: t["Age"] + 15, Embarked="Q")
    report = drift.drift_report(MONITORED, reference, traffic)

    images = drift.drift_plots(MONITORED, reference, traffic, report)

    assert set(images) == set(report.drifted_features) == {"Age", "Embarked"}
    assert all(
        image.startswith("![") and "data:image/png;base64," in image for image in images.values()
    )
    assert (
        drift.drift_plots(
            MONITORED, reference, reference, drift.drift_report(MONITORED, reference, reference)
        )
        == {}
    )


def test_categories_the_reference_never_had_are_counted_and_a_window_of_them_drifts(reference):
    """A category the model has never seen (an open category's new value) is counted per
    feature: its share of the window and the commonest such values; many rows of one drift."""
    window = resample(reference, 300, seed=4)
    window.loc[:119, "Embarked"] = "Belfast"
    window.loc[120:124, "Embarked"] = "Cork"

    report = drift.drift_report(MONITORED, reference, window)

    assert "Embarked" in report.drifted_features
    embarked = by_feature(report)["Embarked"]
    assert embarked.unseen_share_current == pytest.approx(125 / 300)
    assert embarked.unseen == (("BELFAST", 120), ("CORK", 5))  # as the domain reads a port
    assert report.unseen_categories == {
        "Embarked": {"share": round(125 / 300, 4), "values": {"BELFAST": 120, "CORK": 5}}
    }
    assert {row["feature"]: row["unseen_current"] for row in report.rows()}["Sex"] == 0.0
