"""Just enough of `kustomize build` to render deploy/overlays/* in the tests.

kustomize itself is a Go binary that no package registry reachable here ships
(PyPI's `pykustomize` needs Python 3.14), so the tests render the overlays with
this: resources (files and folders), strategic-merge patches by kind and name
(maps merged, lists of named items merged by name, other lists replaced) and the
images transformer. A kustomization that uses anything else is refused rather
than half-rendered, so a field added to deploy/ later cannot be silently skipped.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "images"}


class Unsupported(Exception):
    pass


def build(folder: Path) -> list[dict]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise Unsupported(f"{folder}/kustomization.yaml uses {sorted(unknown)}: render it with kustomize")
    documents: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            documents += build(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"patch {patch} in {folder}: only file patches are understood here")
        for change in yaml.safe_load_all((folder / patch["path"]).read_text()):
            target = _find(documents, change["kind"], change["metadata"]["name"])
            documents[documents.index(target)] = merge(target, change)
    for image in kustomization.get("images", []):
        for document in documents:
            for container in _containers(document):
                name, _, _ = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', 'latest')}"
    return documents


def merge(base, change):
    """Strategic merge as kustomize applies it to the kinds used in deploy/."""
    if isinstance(base, dict) and isinstance(change, dict):
        merged = copy.deepcopy(base)
        for key, value in change.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(change, list) and all(isinstance(i, dict) and "name" in i for i in base):
        merged = copy.deepcopy(base)
        names = [item["name"] for item in merged]
        for item in change:
            if item["name"] in names:
                merged[names.index(item["name"])] = merge(merged[names.index(item["name"])], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(change)


def pod_spec(document: dict) -> dict | None:
    if document["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return document["spec"]["template"]["spec"]
    if document["kind"] == "CronJob":
        return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _containers(document: dict) -> list[dict]:
    spec = pod_spec(document)
    return [] if spec is None else spec.get("initContainers", []) + spec["containers"]


def _find(documents: list[dict], kind: str, name: str) -> dict:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise Unsupported(f"patch for {kind}/{name}, which no resource defines")
