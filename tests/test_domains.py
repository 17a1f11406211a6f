"""The engine serves any domain: the code location loads with `dg check defs`, an instance
naming a domain that does not exist or lacks a part fails it with one message naming the
instance and what is missing, and outside titanic_assets/domains/ no code names Titanic's
columns or its passengers (issue 26)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from titanic_assets.core.domain import DomainError, load_domain
from titanic_assets.testing import BIN, ROOT, environment

# The grep: `grep -rliE "<this>" titanic_assets bento --include=*.py`.
DOMAIN_WORDS = re.compile(
    r"pclass|sibsp|parch|embarked|survived|passengerid|passenger", re.IGNORECASE
)


def dg_check_defs(project: Path, work: Path) -> subprocess.CompletedProcess:
    """`dg check defs` as a user runs it in `project`, importing the project's own code."""
    return subprocess.run(
        [str(BIN / "dg"), "check", "defs"],
        cwd=project,
        env=environment(work, {"VIRTUAL_ENV": sys.prefix, "PYTHONPATH": str(project)}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_check_defs_loads_the_project(tmp_path: Path) -> None:
    """`dg check defs`, as a user runs it in the project, finds and loads every definition."""
    checked = dg_check_defs(ROOT, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def copy_of_the_project(target: Path) -> Path:
    """The project's tracked files (as they are in the working tree), copied to `target`."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


# A domain like Titanic's, but its Domain(...) gives no label.
WITHOUT_A_LABEL = """
import dataclasses

from titanic_assets.core.domain import Domain
from titanic_assets.domains.titanic import DOMAIN as TITANIC

DOMAIN = Domain(
    **{f.name: getattr(TITANIC, f.name) for f in dataclasses.fields(Domain) if f.name != "label"}
)
"""


def test_a_domain_that_does_not_exist_fails_dg_check_defs_naming_the_instance(
    tmp_path: Path,
) -> None:
    project = copy_of_the_project(tmp_path / "project")
    instance = project / "titanic_assets" / "defs" / "broken"
    instance.mkdir()
    (instance / "defs.yaml").write_text(
        "type: titanic_assets.components.ModelLoop\nattributes:\n  domain: nowhere\n"
    )

    checked = dg_check_defs(project, tmp_path / "work")

    output = checked.stdout + checked.stderr
    assert checked.returncode != 0, output
    # Dagster shows the instance in its component tree and the line of its defs.yaml; the
    # cause is one line naming the instance, the domain and what is missing.
    assert "broken/defs.yaml:3 - attributes.domain" in output, output
    cause = (
        "model 'broken': domain 'nowhere' does not exist "
        "(no module titanic_assets.domains.nowhere or nowhere)"
    )
    assert f"ValueError: {cause}" in output, output
    # Not a traceback from deep in the engine: the loop was never built.
    assert "titanic_assets/loop/" not in output, output
    assert "titanic_assets/core/domain.py" not in output, output


def test_a_domain_without_a_part_is_named_with_the_part(tmp_path: Path, monkeypatch) -> None:
    """The same resolver turns this DomainError into the message at the defs.yaml line
    (above): here the domain's own words, without a second `dg check defs` run."""
    package = tmp_path / "unlabelled"
    package.mkdir()
    (package / "__init__.py").write_text(WITHOUT_A_LABEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DomainError) as raised:
        load_domain("unlabelled")
    assert str(raised.value) == (
        "domain 'unlabelled' lacks 'label': its Domain(...) must give them"
    )


def test_outside_the_domains_no_code_names_a_titanic_column_or_passengers() -> None:
    """The issue's grep lists only files under titanic_assets/domains/."""
    domains = ROOT / "titanic_assets" / "domains"
    naming = sorted(
        str(path.relative_to(ROOT))
        for package in ("titanic_assets", "bento")
        for path in (ROOT / package).rglob("*.py")
        if not path.is_relative_to(domains) and DOMAIN_WORDS.search(path.read_text())
    )
    assert naming == [], f"naming Titanic outside titanic_assets/domains/: {naming}"


def test_a_model_on_the_input_design_survives_the_io_manager_s_pickle() -> None:
    """A domain that reads its inputs as they are (core/designs.InputDesign) trains a model
    Dagster's IO manager can store: pickled and loaded, it scores as before."""
    import dataclasses
    import pickle

    import numpy as np
    import pandas as pd

    from titanic_assets.core.designs import InputDesign
    from titanic_assets.core.domain import load_domain
    from titanic_assets.ml import fitting

    titanic = load_domain("titanic")
    plain = dataclasses.replace(titanic, design=lambda: InputDesign(titanic.inputs))
    rows = pd.read_csv(titanic.data).head(300)
    model = fitting.lightgbm(plain)(rows[list(titanic.input_names)], rows[titanic.label])
    again = pickle.loads(pickle.dumps(model))
    columns = rows[list(titanic.input_names)]
    np.testing.assert_array_equal(again.predict_proba(columns), model.predict_proba(columns))
    assert again.feature_names == ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")


def _fare_per_family_member(columns):
    import numpy as np

    fare = np.asarray(columns["Fare"], dtype=np.float64)
    family = np.asarray(columns["SibSp"], dtype=np.float64) + np.asarray(columns["Parch"]) + 1
    return fare / family


def test_derived_features_are_built_the_same_for_a_table_and_a_request_and_refused_unpickled():
    """A derived feature (core/designs.InputDesign's `derived`) is a column of the matrix for
    a DataFrame and for a request's lists alike, missing reads as NaN; a lambda (which the
    saved model could not carry) and a name taken by an input are refused when the design is
    built, naming the feature."""
    import numpy as np
    import pandas as pd

    from titanic_assets.core.designs import InputDesign

    titanic = load_domain("titanic")
    design = InputDesign(titanic.inputs, derived={"fare_each": _fare_per_family_member})
    assert design.feature_names[-1] == "fare_each"
    rows = pd.read_csv(titanic.data).head(5)[list(titanic.input_names)]
    table = design.matrix(rows)
    np.testing.assert_allclose(table[:, -1], rows.Fare / (rows.SibSp + rows.Parch + 1))
    request = {name: [None] for name in titanic.input_names} | {"SibSp": [0], "Parch": [0]}
    assert np.isnan(design.matrix(request)[0, -1])  # no fare: NaN, not an error
    with pytest.raises(ValueError, match="fare_each must be a module-level function"):
        InputDesign(titanic.inputs, derived={"fare_each": lambda columns: columns["Fare"]})
    with pytest.raises(ValueError, match=r"\['Fare'\] are named as inputs"):
        InputDesign(titanic.inputs, derived={"Fare": _fare_per_family_member})
