"""deploy/: each overlay rendered (tests/deploy/kustomize.py) and every document
validated offline against the Kubernetes API schemas of a pinned version, then
held to RefRun's own rules: one beat, probes, limits, a locked-down container,
secrets referenced by name only."""

import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize import Unsupported, build, merge, pod_spec

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REPO = DEPLOY.parent
# OKD 4.17 (CERN PaaS is OKD 4) is Kubernetes 1.30: raise this with the cluster. kubernetes-validate is
# pinned in requirements-dev.txt, so its schemas are too.
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = ["openshift", "ingress"]

# route.openshift.io/v1 is not among Kubernetes' schemas: the fields of the
# OpenShift Route API that deploy/ may use, nothing else accepted.
ROUTE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "route.openshift.io/v1"},
        "kind": {"const": "Route"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["to"],
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "path": {"type": "string"},
                "to": {
                    "type": "object",
                    "required": ["kind", "name"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"const": "Service"},
                        "name": {"type": "string"},
                        "weight": {"type": "integer", "minimum": 0, "maximum": 256},
                    },
                },
                "port": {
                    "type": "object",
                    "required": ["targetPort"],
                    "additionalProperties": False,
                    "properties": {"targetPort": {"type": ["string", "integer"]}},
                },
                "tls": {
                    "type": "object",
                    "required": ["termination"],
                    "additionalProperties": False,
                    "properties": {
                        "termination": {"enum": ["edge", "passthrough", "reencrypt"]},
                        "insecureEdgeTerminationPolicy": {"enum": ["Allow", "Disable", "Redirect", "None"]},
                    },
                },
                "wildcardPolicy": {"enum": ["None", "Subdomain"]},
            },
        },
    },
}


def validate(document: dict) -> None:
    if document["kind"] == "Route":
        jsonschema.validate(document, ROUTE_SCHEMA)
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> list[dict]:
    return build(DEPLOY / "overlays" / request.param)


def by_kind(documents: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def containers(documents: list[dict]):
    for document in documents:
        spec = pod_spec(document)
        if spec is not None:
            for container in spec["containers"]:
                yield document, spec, container


def test_it_renders_every_overlay_into_valid_kubernetes_documents(rendered):
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds in (
        ["ConfigMap", "Deployment", "Deployment", "Deployment", "Job", "Route", "Service"],
        ["ConfigMap", "Deployment", "Deployment", "Deployment", "Ingress", "Job", "Service"],
    )
    for document in rendered:
        validate(document)


def test_it_rejects_a_misspelt_field_so_the_validation_is_real(rendered):
    web = merge(by_kind(rendered, "Deployment")["refrun-web"], {"spec": {"replica": 2}})
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(web)
    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "x"}, "spec": {"too": {}}}
    with pytest.raises(jsonschema.ValidationError):
        validate(route)


def test_it_refuses_a_kustomization_field_the_renderer_does_not_know(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(Unsupported, match="namePrefix"):
        build(tmp_path)


def test_it_routes_the_web_service_from_each_overlay():
    openshift = build(DEPLOY / "overlays" / "openshift")
    route = by_kind(openshift, "Route")["refrun"]
    assert route["spec"]["to"]["name"] in by_kind(openshift, "Service")
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    host = route["spec"]["host"]
    config = by_kind(openshift, "ConfigMap")["refrun-config"]["data"]
    assert host in config["ALLOWED_HOSTS"].split(",")
    assert f"https://{host}" in config["CSRF_TRUSTED_ORIGINS"].split(",")

    ingress_docs = build(DEPLOY / "overlays" / "ingress")
    ingress = by_kind(ingress_docs, "Ingress")["refrun"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] in by_kind(ingress_docs, "Service")
    assert (
        ingress["spec"]["rules"][0]["host"]
        in by_kind(ingress_docs, "ConfigMap")["refrun-config"]["data"]["ALLOWED_HOSTS"]
    )
    for documents in (openshift, ingress_docs):
        assert not [c["image"] for _, _, c in containers(documents) if not c["image"].count("/")], "image not renamed"


def test_it_runs_exactly_one_beat_and_replaces_it_rather_than_overlapping(rendered):
    beat = by_kind(rendered, "Deployment")["refrun-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_it_probes_web_on_health_and_readiness_and_the_worker_with_a_ping(rendered):
    deployments = by_kind(rendered, "Deployment")
    web = deployments["refrun-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    hosts = by_kind(rendered, "ConfigMap")["refrun-config"]["data"]["ALLOWED_HOSTS"].split(",")
    for probe in (web["startupProbe"], web["livenessProbe"], web["readinessProbe"]):
        headers = {h["name"]: h["value"] for h in probe["httpGet"]["httpHeaders"]}
        # Else Django answers 400 (host) or redirects to https (production).
        assert headers["Host"] in hosts and headers["X-Forwarded-Proto"] == "https"
    worker = deployments["refrun-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["exec"]["command"] == ["refrun", "worker-ping"]


def test_it_locks_down_every_container_and_bounds_its_resources(rendered):
    found = 0
    for document, spec, container in containers(rendered):
        where = f"{document['kind']}/{document['metadata']['name']}"
        found += 1
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert "runAsUser" not in spec["securityContext"], f"{where}: OpenShift picks the UID"
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, where
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, where
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp must be writable"
    assert found == 4  # web, worker, beat, migrate


def test_it_references_secrets_by_name_and_never_carries_one():
    for path in DEPLOY.rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            assert not document or document.get("kind") != "Secret", f"{path} commits a Secret"
    for overlay in OVERLAYS:
        names = set()
        for _, spec, container in containers(build(DEPLOY / "overlays" / overlay)):
            names |= {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
            names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}
        assert names == {"refrun-secrets"}


def test_it_sets_only_settings_that_something_reads(rendered):
    readers = "".join(
        (REPO / p).read_text() for p in ("refrun/settings.py", "refrun/gunicorn.conf.py", "deploy/entrypoint.sh")
    )
    for key in by_kind(rendered, "ConfigMap")["refrun-config"]["data"]:
        name = key.removesuffix("_FILE") if key.endswith("_FILE") else key
        assert re.search(rf'"{name}"|\${{{name}[:}}]', readers), f"nothing reads {key}"


def test_it_gives_every_role_the_manifests_start_to_the_entrypoint(rendered):
    roles = set(re.findall(r"^\s+([a-z-]+)\)$", (DEPLOY / "entrypoint.sh").read_text(), re.MULTILINE))
    for _, _, container in containers(rendered):
        assert container["args"][0] in roles
    assert "worker-ping" in roles
