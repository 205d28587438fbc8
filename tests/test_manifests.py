"""The deployment manifests (deploy/*.yaml): valid against Kubernetes' own
schemas (kubernetes-validate bundles them, so this runs offline), runnable
on any cluster (no storage class, no :latest), and hardened the same way
everywhere. The ConfigMap example's model is served by a real bridge."""

import base64
import copy
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import requests
import yaml

from conftest import ROOT

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
VARIANTS = [DEPLOY / "kubernetes.yaml", DEPLOY / "kubernetes-models-url.yaml",
            DEPLOY / "kubernetes-models-configmap.yaml"]
# The oldest Kubernetes still in wide use and the newest the validator knows.
VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]
# KServe's additions to a pod spec in a predictor (ComponentExtensionSpec):
# everything else in the predictor is a Kubernetes PodSpec.
KSERVE_EXTENSIONS = {"minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "scaleMetricType",
                     "containerConcurrency", "timeout", "canaryTrafficPercent", "logger", "batcher",
                     "labels", "annotations", "deploymentStrategy", "autoScaling"}


def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_documents():
    return [(path.name, i, doc) for path in MANIFESTS for i, doc in enumerate(documents(path))]


def pod_specs():
    """(where, pod spec) for every pod any manifest runs."""
    out = []
    for name, _, doc in all_documents():
        if doc["kind"] == "Deployment":
            out.append((f"{name}:{doc['metadata']['name']}", doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "InferenceService":
            predictor = {k: v for k, v in doc["spec"]["predictor"].items() if k not in KSERVE_EXTENSIONS}
            out.append((f"{name}:{doc['metadata']['name']}", predictor))
    return out


def containers(spec):
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name,index,doc", all_documents(),
                         ids=[f"{n}-{i}-{d['kind']}" for n, i, d in all_documents()])
def test_valid_against_the_kubernetes_schema(name, index, doc, version):
    if doc["kind"] == "InferenceService":
        # KServe's CRD is not in Kubernetes' schemas: its predictor is a
        # PodSpec plus KServe's own fields, so the PodSpec is checked as a Pod's.
        assert doc["apiVersion"] == "serving.kserve.io/v1beta1"
        assert set(doc["spec"]) == {"predictor"}
        predictor = {k: v for k, v in doc["spec"]["predictor"].items() if k not in KSERVE_EXTENSIONS}
        doc = {"apiVersion": "v1", "kind": "Pod", "metadata": doc["metadata"], "spec": predictor}
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{name} document {index} ({doc['kind']}): {'.'.join(map(str, exc.path))}: "
                    f"{exc.message}")


def test_the_validator_refuses_what_kubernetes_refuses():
    doc = documents(DEPLOY / "kubernetes.yaml")[1]
    assert doc["kind"] == "Deployment"
    broken = copy.deepcopy(doc)
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["2Gi"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    misspelt = copy.deepcopy(doc)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, VERSIONS[-1], strict=True)


def test_no_storage_class_needed():
    for name, _, doc in all_documents():
        assert doc["kind"] != "PersistentVolumeClaim", name
    for where, spec in pod_specs():
        for volume in spec.get("volumes", []):
            assert "persistentVolumeClaim" not in volume, where


@pytest.mark.parametrize("where,spec", pod_specs(), ids=[w for w, _ in pod_specs()])
def test_every_pod_is_hardened_and_sized(where, spec):
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec.get("automountServiceAccountToken") is False
    for c in containers(spec):
        image = c["image"]
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image.rsplit("/", 1)[-1]), \
            f"{c['name']}: {image} has no tag"
        assert not image.endswith(":latest"), image
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], c["name"]


def test_the_pod_user_is_the_image_user():
    user = re.search(r"^USER (\d+)", (ROOT / "Dockerfile.r-py").read_text(), re.M).group(1)
    for where, spec in pod_specs():
        assert spec["securityContext"]["runAsUser"] == int(user), where


def serving_container(spec):
    return spec["containers"][0]


@pytest.mark.parametrize("where,spec", pod_specs(), ids=[w for w, _ in pod_specs()])
def test_probes_ask_routes_the_bridge_answers_openly(where, spec, examples_server):
    c = serving_container(spec)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        path = c[probe]["httpGet"]["path"]
        # Open without an API key too: probes carry none.
        answer = requests.get(examples_server.url + path, timeout=10)
        assert answer.status_code == 200, (probe, path, answer.text)
    assert c["readinessProbe"]["httpGet"]["path"] in ("/readyz", "/v2/health/ready")


def bridge_settings(spec):
    """Every BRIDGE_* name a pod sets, directly or through a ConfigMap."""
    names = {e["name"] for e in serving_container(spec).get("env", [])}
    for name, _, doc in all_documents():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "r-bridge-config":
            names |= set(doc["data"])
    return {n for n in names if n.startswith("BRIDGE_")}


@pytest.mark.parametrize("where,spec", pod_specs(), ids=[w for w, _ in pod_specs()])
def test_every_setting_named_exists(where, spec):
    from bridge.settings import Settings

    known = {f"BRIDGE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert bridge_settings(spec) <= known, bridge_settings(spec) - known


def test_the_deployment_has_its_companions():
    for path in VARIANTS:
        docs = {d["kind"]: d for d in documents(path)}
        labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
        assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert docs["Service"]["spec"]["selector"].items() <= labels.items()
        assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", docs["Deployment"]["metadata"]["name"])
        # The PDB leaves a pod to serve while the HPA's minimum is running.
        assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] < \
            docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"]


def without_model_delivery(path):
    """A variant's objects with how the models arrive taken out."""
    out = {}
    for doc in documents(path):
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "r-bridge-models":
            continue
        doc = copy.deepcopy(doc)
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            spec.pop("initContainers", None)
            spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "models"]
        out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


@pytest.mark.parametrize("variant", VARIANTS[1:], ids=lambda p: p.name)
def test_variants_differ_only_in_how_models_arrive(variant):
    assert without_model_delivery(variant) == without_model_delivery(VARIANTS[0])


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda p: p.name)
def test_the_models_reach_the_folder_the_bridge_serves(variant):
    deployment = next(d for d in documents(variant) if d["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    bridge = serving_container(spec)
    models_dir = next(e["value"] for e in bridge["env"] if e["name"] == "BRIDGE_MODELS")
    mount = next(m for m in bridge["volumeMounts"] if m["name"] == "models")
    assert mount["mountPath"] == models_dir and mount.get("readOnly") is True
    for init in spec.get("initContainers", []):
        target = next(m["mountPath"] for m in init["volumeMounts"] if m["name"] == "models")
        script = " ".join(init.get("command", []) + init.get("args", []))
        assert target in script, f"{init['name']} does not write into {target}"


def test_the_models_image_dockerfile_lints():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    done = subprocess.run([hadolint, str(DEPLOY / "Dockerfile.models")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_configmap_example_is_served_with_its_lock(start_server, model_dir):
    """The ConfigMap's files, written out as the kubelet mounts them, are
    served by a bridge that requires the lock, and they are the repository's
    example model byte for byte."""
    path = DEPLOY / "kubernetes-models-configmap.yaml"
    config = next(d for d in documents(path)
                  if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "r-bridge-models")
    size = sum(len(base64.b64decode(v)) for v in config.get("binaryData", {}).values()) + \
        sum(len(v.encode()) for v in config.get("data", {}).values())
    assert size < 1024 * 1024, "a ConfigMap holds at most 1 MiB"
    for name, value in config["binaryData"].items():
        data = base64.b64decode(value)
        assert data == (ROOT / "r_models" / name).read_bytes(), f"{name} differs from r_models/{name}"
        (model_dir / name).write_bytes(data)
    for name, value in config["data"].items():
        (model_dir / name).write_text(value)
    lock = json.loads(config["data"]["bridge.lock"])
    assert lock["files"] == {n: hashlib.sha256(base64.b64decode(v)).hexdigest()
                             for n, v in config["binaryData"].items()}
    server = start_server(model_dir, "--reload-interval", "0", env={"BRIDGE_REQUIRE_LOCK": "1"})
    listing = requests.get(server.url + "/models", timeout=10).json()["models"]
    assert [m["status"] for m in listing] == ["loaded"] * len(config["binaryData"]), listing
