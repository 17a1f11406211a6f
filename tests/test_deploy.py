"""The deployment files past one machine, validated as far as this machine can: they parse,
they name only keys their consumers define, and the instance file loads with Dagster's own
config loader. A cluster, the chart's rendering and BentoCloud are not tested here."""

import attr
import yaml

from titanic_assets.testing import ROOT

DEPLOY = ROOT / "deploy"
FEEDBACK_SECRET = "titanic-feedback-token"

# The keys of Dagster's Helm chart values (helm/dagster/values.schema.json in
# dagster-io/dagster, 1.13 series) for the parts these values set, property by property.
IMAGE = {"repository": None, "tag": None, "pullPolicy": None}
CHART_KEYS = {
    "dagsterWebserver": {
        "replicaCount": None, "image": IMAGE, "nameOverride": None, "pathPrefix": None,
        "service": None, "workspace": None, "env": None, "envConfigMaps": None,
        "envSecrets": None, "deploymentLabels": None, "labels": None, "nodeSelector": None,
        "affinity": None, "tolerations": None, "podSecurityContext": None,
        "securityContext": None, "resources": None, "readinessProbe": None,
        "livenessProbe": None, "startupProbe": None, "annotations": None,
        "enableReadOnly": None, "dbStatementTimeout": None, "dbPoolRecycle": None,
        "logLevel": None, "schedulerName": None, "volumeMounts": None, "volumes": None,
        "initContainerResources": None,
    },
    "dagster-user-deployments": {
        "enabled": None, "enableSubchart": None, "imagePullSecrets": None,
        "deployments": [{
            "name": None, "image": IMAGE, "dagsterApiGrpcArgs": None, "codeServerArgs": None,
            "includeConfigInLaunchedRuns": {"enabled": None}, "deploymentNamespace": None,
            "port": None, "env": None, "envConfigMaps": None, "envSecrets": None,
            "annotations": None, "nodeSelector": None, "affinity": None, "tolerations": None,
            "podSecurityContext": None, "securityContext": None, "resources": None,
            "livenessProbe": None, "readinessProbe": None, "startupProbe": None,
            "labels": None, "volumeMounts": None, "volumes": None, "schedulerName": None,
            "initContainers": None, "sidecarContainers": None,
        }],
    },
    "postgresql": {
        "image": None, "enabled": None, "postgresqlHost": None, "postgresqlUsername": None,
        "postgresqlPassword": None, "postgresqlDatabase": None, "postgresqlParams": None,
        "postgresqlScheme": None, "service": {"port": None},
    },
    "generatePostgresqlPasswordSecret": None,
    "runLauncher": {
        "type": None,
        "config": {
            "celeryK8sRunLauncher": None, "customRunLauncher": None,
            "k8sRunLauncher": {
                "image": None, "imagePullPolicy": None, "jobNamespace": None,
                "loadInclusterConfig": None, "kubeconfigFile": None, "envConfigMaps": None,
                "envSecrets": None, "envVars": None, "volumeMounts": None, "volumes": None,
                "labels": None, "failPodOnRunFailure": None, "resources": None,
                "schedulerName": None, "securityContext": None, "runK8sConfig": None,
            },
        },
    },
    "computeLogManager": {
        "type": None,
        "config": {
            "azureBlobComputeLogManager": None, "s3ComputeLogManager": None,
            "customComputeLogManager": None,
            "gcsComputeLogManager": {
                "bucket": None, "localDir": None, "prefix": None,
                "jsonCredentialsEnvvar": None, "uploadInterval": None, "showUrlOnly": None,
            },
        },
    },
    "dagsterDaemon": None,
    **dict.fromkeys(
        ["generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress",
         "imagePullSecrets", "scheduler", "pythonLogs", "busybox", "migrate", "telemetry",
         "serviceAccount", "global", "retention", "additionalInstanceConfig"]
    ),
}  # fmt: skip


def unknown_keys(values, allowed, path: str = "") -> list[str]:
    """Keys in `values` the allowed tree does not define (None in the tree: anything below)."""
    if allowed is None:
        return []
    if isinstance(allowed, list):
        return [
            k
            for i, item in enumerate(values)
            for k in unknown_keys(item, allowed[0], f"{path}[{i}]")
        ]
    found = []
    for key, value in values.items():
        if key not in allowed:
            found.append(f"{path}.{key}")
        else:
            found += unknown_keys(value, allowed[key], f"{path}.{key}")
    return found


def test_helm_values_parse_and_name_only_keys_the_dagster_chart_defines():
    values = yaml.safe_load((DEPLOY / "helm" / "dagster-values.yaml").read_text())
    assert unknown_keys(values, CHART_KEYS) == []
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["computeLogManager"]["type"] == "GCSComputeLogManager"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "titanic_assets.definitions"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["TITANIC_PROFILE"] == "gcp" and env["TITANIC_PREDICTION_LOG"].startswith("gs://")
    # The gcp profile needs the feedback token: the code location and each run get it.
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert deployment["envSecrets"] == launcher["envSecrets"] == [{"name": FEEDBACK_SECRET}]


def test_helm_key_check_catches_a_misspelt_key():
    values = yaml.safe_load((DEPLOY / "helm" / "dagster-values.yaml").read_text())
    values["runLauncher"]["config"]["k8sRunLauncher"]["loadInClusterConfig"] = True
    assert unknown_keys(values, CHART_KEYS) == [
        ".runLauncher.config.k8sRunLauncher.loadInClusterConfig"
    ]


def test_bentoml_deployment_names_only_keys_of_bentomls_deployment_schema():
    from bentoml._internal.cloud.schemas.modelschemas import (
        DeploymentServiceConfig,
        DeploymentTargetHPAConf,
        EnvItemSchema,
    )
    from bentoml._internal.cloud.schemas.schemasv2 import CreateDeploymentSchema
    from bentoml._internal.utils.cattr import bentoml_cattr

    config = yaml.safe_load((DEPLOY / "bentoml" / "deployment.yaml").read_text())
    fields = {f.name for f in attr.fields(CreateDeploymentSchema)}
    assert set(config) <= fields
    for service in config["services"].values():
        assert set(service) <= {f.name for f in attr.fields(DeploymentServiceConfig)}
        assert set(service["scaling"]) <= {f.name for f in attr.fields(DeploymentTargetHPAConf)}
    envs = [bentoml_cattr.structure(e, EnvItemSchema) for e in config["envs"]]
    assert {e.name for e in envs} >= {"TITANIC_PREDICTION_LOG", "TITANIC_PROFILE"}
    assert {e.name: e.value for e in envs}["TITANIC_MODEL"] == "titanic"  # the model it serves
    assert config["secrets"] == [FEEDBACK_SECRET]  # TITANIC_FEEDBACK_TOKEN
    # The service's BentoML name for that model: the model's and what it predicts.
    assert "TitanicSurvival" in config["services"]


def test_the_postgres_instance_file_loads_with_dagsters_config_loader(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for name, value in {"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PORT": "5432",
                        "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_USERNAME": "dagster",
                        "DAGSTER_PG_PASSWORD": "x"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "postgres" / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "DAGSTER_PG_HOST"}
