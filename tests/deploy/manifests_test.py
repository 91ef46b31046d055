#!/usr/bin/python3
"""The deployment files are what their engines accept, checked offline (no cluster runs here):

- every field of deploy/kubernetes/*.yaml is a field of the Kubernetes API object it sits in
  (the models of Debian's python3-kubernetes, API 1.22: batch/v1 Job with completionMode, and
  CronJob), with values of the right kinds; a misspelled field fails the check (shown on a
  mutated copy, so the check itself can fail);
- the Indexed Job's shards are `--shard $(JOB_COMPLETION_INDEX)/completions`; Secrets and claims
  that pods name exist in the files; /dev/shm is a Memory emptyDir;
- each pod's /dev/shm size is enough for its edgarpipe arguments: the real binary runs them
  (inputs swapped for tests/data, the sink for null:) in a private mount namespace whose /dev/shm
  is a tmpfs of exactly sizeLimit, and passes edgarpipe's own pool check;
- deploy/compose.yaml passes `docker-compose config` (Debian's docker-compose), and refuses to
  start without the secrets it takes from the environment;
- deploy/systemd/ passes `systemd-analyze verify` and keeps what a load needs (RemoveIPC=no, a
  memory bound, the password through LoadCredential=).

Runs with Debian's Python (/usr/bin/python3), which has the packages.
Usage: manifests_test.py REPO_ROOT BIN_DIR
"""
import copy
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import kubernetes.client as k8s
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sinktest import check, verdict  # noqa: E402


KINDS = {("batch/v1", "Job"): "V1Job", ("batch/v1", "CronJob"): "V1CronJob", ("v1", "Secret"): "V1Secret",
         ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim"}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def unknown_fields(value, type_name, path):
    """Paths of fields the API type does not have, or of values of the wrong kind."""
    bad = []
    if type_name in PRIMITIVES:
        if not isinstance(value, PRIMITIVES[type_name]) or (type_name == "int" and isinstance(value, bool)):
            bad.append(f"{path}: {value!r} is not a {type_name}")
        return bad
    if type_name == "datetime":
        return bad
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        for i, item in enumerate(value):
            bad += unknown_fields(item, m.group(1), f"{path}[{i}]")
        return bad
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            return [f"{path}: not a map"]
        for key, item in value.items():
            bad += unknown_fields(item, m.group(1), f"{path}.{key}")
        return bad
    model = getattr(k8s, type_name)
    if not isinstance(value, dict):
        return [f"{path}: not an object ({type_name})"]
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            bad.append(f"{path}.{key}: no such field in {type_name}")
            continue
        bad += unknown_fields(item, model.openapi_types[fields[key]], f"{path}.{key}")
    return bad


def pod_specs(doc):
    if doc["kind"] == "Job":
        return [doc["spec"]["template"]["spec"]]
    if doc["kind"] == "CronJob":
        return [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def mebibytes(quantity):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def shm_is_enough(bin_dir, data_dir, args, size_mib):
    """Runs the pod's edgarpipe arguments (inputs -> tests/data, sink -> null:) with a /dev/shm of
    SIZE_MIB; returns (passed, stderr) or None where no private mount namespace can be made."""
    run = ["run", data_dir, "--sink", "null:", "--progress", "never"]
    keep = {"--readers", "--parsers", "--writers", "--max-file-size", "--batch-size"}
    for i, a in enumerate(args):
        if a in keep:
            run += [a, args[i + 1]]
    script = f"mount -t tmpfs -o size={size_mib}m tmpfs /dev/shm && exec {os.path.join(bin_dir, 'edgarpipe')} " + \
             " ".join(run)
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    if "unshare:" in r.stderr or "mount:" in r.stderr:
        return None
    return r.returncode == 0, r.stderr


def systemd_verify(unit_dir):
    """systemd-analyze verify of the units in UNIT_DIR: its complaints (unknown keys included,
    which it only warns about), empty when they are clean."""
    units = sorted(os.path.join(unit_dir, u) for u in os.listdir(unit_dir))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    return (r.stdout + r.stderr).strip() if r.returncode != 0 or r.stderr.strip() else ""


def check_systemd(root, bin_dir):
    """deploy/systemd/ passes systemd-analyze verify (with ExecStart pointed at the build, as
    verify wants the program to exist), keeps /dev/shm (RemoveIPC=no), bounds memory above the
    pools and takes the password through LoadCredential=; a misspelled key fails the check."""
    if not shutil.which("systemd-analyze"):
        print("note: no systemd-analyze; deploy/systemd/ was not verified", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as units:
        for name in os.listdir(os.path.join(root, "deploy", "systemd")):
            with open(os.path.join(root, "deploy", "systemd", name)) as f:
                text = f.read().replace("/usr/local/bin/edgarpipe", os.path.join(os.path.abspath(bin_dir), "edgarpipe"))
            with open(os.path.join(units, name), "w") as f:
                f.write(text)
        complaints = systemd_verify(units)
        check(complaints == "", f"systemd-analyze verify: {complaints[-500:]}")
        service = open(os.path.join(units, "edgarpipe-sync.service")).read()
        for line in ("RemoveIPC=no", "LoadCredential=pgpassword:", "SuccessExitStatus=3", "LimitNOFILE="):
            check(line in service, f"edgarpipe-sync.service has no {line}")
        memory = re.search(r"^MemoryMax=(\d+)G$", service, re.M)
        check(memory is not None and int(memory.group(1)) * 1024 > 512, "edgarpipe-sync.service: MemoryMax")
        with open(os.path.join(units, "edgarpipe-sync.service"), "w") as f:
            f.write(service.replace("RemoveIPC=no", "RemoveIPc=no"))
        check("RemoveIPc" in systemd_verify(units), "a misspelled key passed systemd-analyze verify")


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    data_dir = os.path.join(root, "tests", "data")
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "deploy", "kubernetes", "*.yaml"))):
        with open(path) as f:
            docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
    kinds = {d["kind"] for _, d in docs}
    check({"Job", "CronJob", "Secret", "PersistentVolumeClaim"} <= kinds, f"manifests: kinds {sorted(kinds)}")

    secrets = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Secret"}
    claims = {d["metadata"]["name"] for _, d in docs if d["kind"] == "PersistentVolumeClaim"}
    for name, doc in docs:
        model = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
        check(model is not None, f"{name}: {doc.get('apiVersion')} {doc.get('kind')} is not an API this checks")
        if model is None:
            continue
        bad = unknown_fields(doc, model, doc["kind"])
        check(not bad, f"{name}: " + "; ".join(bad))
        for pod in pod_specs(doc):
            container = pod["containers"][0]
            args = container["args"]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    check(ref["name"] in secrets and ref["key"] in secrets[ref["name"]].get("stringData", {}),
                          f"{name}: secret {ref['name']}/{ref['key']} is not in the manifests")
            volumes = {v["name"]: v for v in pod["volumes"]}
            for v in volumes.values():
                if "persistentVolumeClaim" in v:
                    check(v["persistentVolumeClaim"]["claimName"] in claims, f"{name}: claim of {v['name']}")
            shm = [m for m in container["volumeMounts"] if m["mountPath"] == "/dev/shm"]
            check(len(shm) == 1, f"{name}: /dev/shm is not mounted")
            if not shm:
                continue
            empty = volumes[shm[0]["name"]].get("emptyDir", {})
            check(empty.get("medium") == "Memory" and "sizeLimit" in empty, f"{name}: /dev/shm is not a Memory emptyDir")
            if args[0] == "run" and "sizeLimit" in empty:
                outcome = shm_is_enough(bin_dir, data_dir, args, mebibytes(empty["sizeLimit"]))
                if outcome is None:
                    print(f"note: no private /dev/shm here; {name}'s sizeLimit was not tried", file=sys.stderr)
                else:
                    check(outcome[0], f"{name}: edgarpipe refuses /dev/shm of {empty['sizeLimit']}: {outcome[1][-300:]}")
                    small = shm_is_enough(bin_dir, data_dir, args, 64)
                    check(small is not None and not small[0] and "--shm-size=" in small[1],
                          f"{name}: a 64 MiB /dev/shm was not refused: {small}")
        if doc["kind"] == "Job" and doc["spec"].get("completionMode") == "Indexed":
            args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
            shard = args[args.index("--shard") + 1] if "--shard" in args else None
            check(shard == f"$(JOB_COMPLETION_INDEX)/{doc['spec']['completions']}",
                  f"{name}: --shard {shard} does not match completions {doc['spec']['completions']}")
            check(doc["spec"].get("backoffLimit", 6) > 0, f"{name}: no retries")

    # The check fails on what it must catch.
    job = next(d for _, d in docs if d["kind"] == "Job")
    typo = copy.deepcopy(job)
    typo["spec"]["completionMod"] = typo["spec"].pop("completionMode")
    check(any("completionMod" in b for b in unknown_fields(typo, "V1Job", "Job")), "a misspelled field passed")
    wrong = copy.deepcopy(job)
    wrong["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = ["2Gi"]
    check(unknown_fields(wrong, "V1Job", "Job"), "a list where a map goes passed")

    compose = os.path.join(root, "deploy", "compose.yaml")
    env = dict(os.environ, PGPASSWORD="x", MSSQL_SA_PASSWORD="y", EDGARPIPE_USER_AGENT="Tests tests@example.com")
    r = subprocess.run(["docker-compose", "-f", compose, "config"], capture_output=True, text=True, env=env)
    check(r.returncode == 0, f"docker-compose config: {r.stderr[-500:]}")
    if r.returncode == 0:
        services = yaml.safe_load(r.stdout)["services"]
        check({"postgres", "mssql", "sync", "load-mssql"} <= set(services), f"compose services: {sorted(services)}")
        for s in ("sync", "load-mssql"):
            check(services[s].get("shm_size") not in (None, "64m"), f"compose: {s} has no shm_size")
    unset = {k: v for k, v in env.items() if k != "PGPASSWORD"}
    r = subprocess.run(["docker-compose", "-f", compose, "config", "-q"], capture_output=True, text=True, env=unset)
    check(r.returncode != 0 and "PGPASSWORD" in r.stderr, f"compose without PGPASSWORD: {r.returncode} {r.stderr[-200:]}")

    check_systemd(root, bin_dir)

    return verdict("deployment manifests")


if __name__ == "__main__":
    sys.exit(main())
