#!/usr/bin/env python3
"""The container image, built and run for real with Debian's podman, no registry:

- a Debian 12 base made by `mmdebstrap --variant=minbase bookworm` from the Debian archive and
  `podman import`ed as localhost/debian:12; deploy/container/Dockerfile built on it (BASE);
- the image runs as a non-root user, its entry point is edgarpipe;
- with the engine's default /dev/shm (64 MiB) a load stops at once, naming the --shm-size to give;
- with --shm-size 512m it loads tests/data into PostgreSQL on loopback (--network=host), and the
  tables equal a load by the host's binary;
- the Indexed Job's pod template (deploy/kubernetes/job-indexed.yaml) runs for real through
  `podman kube play`, one Pod per completion index, `parallelism` at a time, over zips of
  tests/data: the tables equal the host's load, and a pod run again (a retry) loads nothing.
  What the test changes in each Pod, and why: JOB_COMPLETION_INDEX is set in its env (the Job
  controller does that) and `$(VAR)` in args expanded from the env as the kubelet does (podman 4.3
  passes them literally); the claim becomes a hostPath holding the two zips; the Memory emptyDir
  becomes a hostPath of a tmpfs of exactly its sizeLimit (podman 4.3 makes an emptyDir a disk
  volume owned by root); the image is the one built here, the sink the test's database, and the
  network the host's. The Secret is made a podman secret in the form podman reads for
  secretKeyRef (the Secret's data as JSON).

The image is built two ways. The whole two-stage build (the Dockerfile's build stage compiles the
sources in the image) runs when the Dockerfile, .dockerignore or a CMakeLists.txt of what the
image builds (the top level, ipc/, lib/, apps/: their find_package lines the build stage's
packages must satisfy) is new since the last one that passed on this machine: a marker keyed by their hash in the cache directory
($EDGARPIPE_TEST_CACHE, default ~/.cache/edgarpipe-test) says so; EDGARPIPE_TEST_CONTAINER_FULL=1
forces it. Otherwise the image is the Dockerfile's `prebuilt` target: the same runtime stage with
the host's build installed (the host is Debian 12 too), a minute instead of ten. The Debian base
made by mmdebstrap is kept there for a week.

podman settings that work on this kind of machine: runtime runc with cgroup_manager cgroupfs
(crun fails on hybrid cgroups), raised default ulimits (in a CONTAINERS_CONF file), --root and
--runroot on the command line, host networking (the default bridge rewrites the firewall).
Skips (exit 77) without podman or mmdebstrap, or without EDGARPIPE_TEST_PG; the pods need root
(for the tmpfs) and catatonit (podman's pod pause process).

Usage: container_test.py REPO_ROOT BIN_DIR
"""
import base64
import copy
import datetime
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sinktest import TABLES, Postgres, check, verdict  # noqa: E402


def job_pods(job, image, sink, sec_dir, shm_root):
    """The Pods a Job controller would make of the Indexed Job, one per completion index, as podman
    kube play can run them (the changes are listed in the module's comment), and the size of the
    tmpfs each pod's Memory emptyDir needs under shm_root/INDEX."""
    template = job["spec"]["template"]
    pods, tmpfs = [], {}
    for index in range(job["spec"]["completions"]):
        spec = copy.deepcopy(template["spec"])
        spec["hostNetwork"] = True
        for container in spec["containers"]:
            container["image"] = image
            container.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "value": str(index)})
            values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
            args = [re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), a) for a in container["args"]]
            args[args.index("--sink") + 1] = sink
            container["args"] = args
        for volume in spec["volumes"]:
            if "persistentVolumeClaim" in volume:
                volume["hostPath"] = {"path": sec_dir, "type": "Directory"}
                del volume["persistentVolumeClaim"]
            elif volume.get("emptyDir", {}).get("medium") == "Memory":
                tmpfs[index] = volume["emptyDir"]["sizeLimit"]
                volume["hostPath"] = {"path": f"{shm_root}/{index}", "type": "Directory"}
                del volume["emptyDir"]
        name = f"{job['metadata']['name']}-{index}"
        pods.append((name, {"apiVersion": "v1", "kind": "Pod", "spec": spec,
                            "metadata": {"name": name, "labels": template["metadata"].get("labels", {})}}))
    return pods, tmpfs


CACHE = os.environ.get("EDGARPIPE_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgarpipe-test")


def full_build_key(root):
    """The hash of what the two-stage build depends on beyond the sources: the Dockerfile and the
    CMake files of what it builds (the top level, ipc/, lib/, apps/; not tests/ or benchmarks/)."""
    files = ["deploy/container/Dockerfile", ".dockerignore", "CMakeLists.txt"] + sorted(
        os.path.relpath(p, root) for folder in ("ipc", "lib", "apps")
        for p in glob.glob(os.path.join(root, folder, "**", "CMakeLists.txt"), recursive=True))
    h = hashlib.sha256()
    for name in files:
        with open(os.path.join(root, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:16]


def debian_base(sh, work):
    """A Debian 12 minbase tar from mmdebstrap, kept in CACHE for the ISO week."""
    year, week = datetime.date.today().isocalendar()[:2]
    os.makedirs(CACHE, exist_ok=True)
    kept = os.path.join(CACHE, f"debian-12-minbase-{year}w{week:02d}.tar")
    if os.path.exists(kept):
        return kept, None
    fresh = os.path.join(work, "base.tar")
    r = sh("mmdebstrap", "--variant=minbase", "--quiet", "bookworm", fresh, timeout=900)
    if r.returncode != 0:
        return None, f"mmdebstrap: {r.stderr[-500:]}"
    for old in glob.glob(os.path.join(CACHE, "debian-12-minbase-*.tar")):
        os.remove(old)
    shutil.move(fresh, kept)
    return kept, None


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    pg = os.environ.get("EDGARPIPE_TEST_PG")
    missing = [t for t in ("podman", "mmdebstrap", "runc") if not shutil.which(t)]
    if missing or not pg:
        print(f"container test skipped: {'missing ' + ', '.join(missing) if missing else 'EDGARPIPE_TEST_PG unset'}")
        return 77
    work = tempfile.mkdtemp(prefix="edgarpipe-container-")
    conf = os.path.join(work, "containers.conf")
    with open(conf, "w") as f:
        f.write('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n')
    env = dict(os.environ, CONTAINERS_CONF=conf)
    podman = ["podman", "--root", os.path.join(work, "root"), "--runroot", os.path.join(work, "runroot"),
              "--storage-driver", "vfs"]

    def sh(*args, **kw):
        return subprocess.run(list(args), env=env, capture_output=True, text=True, **kw)

    pg_sink = Postgres(pg, "edgarpipe_container")
    mounts = []
    full_build_passed = None
    try:
        base, error = debian_base(sh, work)
        check(base is not None, error)
        if base is None:
            return verdict("container")
        r = sh(*podman, "import", base, "localhost/debian:12", timeout=300)
        check(r.returncode == 0, f"podman import: {r.stderr[-500:]}")
        dockerfile = os.path.join(root, "deploy", "container", "Dockerfile")
        marker = os.path.join(CACHE, f"container-full-build-{full_build_key(root)}.passed")
        full_build_passed = marker  # written when every check passed after a full build
        full = os.environ.get("EDGARPIPE_TEST_CONTAINER_FULL") == "1" or not os.path.exists(marker)
        started = time.monotonic()
        if not full:
            full_build_passed = None
        if full:
            r = sh(*podman, "build", "--network=host", "--build-arg", "BASE=localhost/debian:12", "-f", dockerfile,
                   "-t", "localhost/edgarpipe:test", root, timeout=2400)
        else:  # the runtime stage over the host's build (--target prebuilt)
            context = os.path.join(work, "context")
            r = sh("cmake", "--install", os.path.dirname(os.path.abspath(bin_dir)), "--prefix",
                   os.path.join(context, "prebuilt"), "--strip")
            check(r.returncode == 0, f"cmake --install of the host's build: {r.stdout[-500:]}{r.stderr[-500:]}")
            r = sh(*podman, "build", "--network=host", "--build-arg", "BASE=localhost/debian:12", "--target",
                   "prebuilt", "-f", dockerfile, "-t", "localhost/edgarpipe:test", context, timeout=1200)
        check(r.returncode == 0, f"podman build: {r.stdout[-1500:]}{r.stderr[-1500:]}")
        if r.returncode != 0:
            return verdict("container")
        print(f"image built in {time.monotonic() - started:.0f} s: "
              + ("the whole two-stage build" if full else "the runtime stage over the host's build (--target "
                 "prebuilt; the two-stage build passed for this Dockerfile and these CMake files)"))
        image = "localhost/edgarpipe:test"
        r = sh(*podman, "run", "--rm", "--network=host", "--entrypoint", "id", image, "-u")
        check(r.returncode == 0 and r.stdout.strip() not in ("", "0"), f"the image runs as root: {r.stdout}{r.stderr}")
        r = sh(*podman, "run", "--rm", "--network=host", image, "--version")
        check(r.returncode == 0 and r.stdout.startswith("edgarpipe "), f"entry point: {r.stdout}{r.stderr[-300:]}")

        data = os.path.join(root, "tests", "data")
        urls = {name: pg_sink.fresh() for name in ("container", "host")}
        run = ["run", "/data", "--sink", urls["container"], "--progress", "never"]
        volume = f"{data}:/data:ro"
        r = sh(*podman, "run", "--rm", "--network=host", "-v", volume, image, *run, timeout=600)
        check(r.returncode == 1 and "--shm-size=512m" in r.stderr,
              f"the default 64 MiB /dev/shm: exit {r.returncode}: {r.stderr[-400:]}")
        check(pg_sink.query(urls["container"], "SELECT count(*) FROM pg_tables WHERE tablename = 'ingest_runs'")
              == [("0",)],
              "a run refused for its /dev/shm touched the database")
        r = sh(*podman, "run", "--rm", "--network=host", "--shm-size=512m", "-v", volume, image, *run, timeout=600)
        check(r.returncode == 0 and "run 1 completed" in r.stderr, f"load in the container: {r.stderr[-800:]}")
        h = sh(os.path.join(bin_dir, "edgarpipe"), "run", data, "--sink", urls["host"], "--progress", "never",
               timeout=600)
        check(h.returncode == 0, f"load by the host binary: {h.stderr[-400:]}")
        for table in TABLES:  # ingest_files: keys, hashes, statuses, rows (the paths differ: /data)
            a, b = pg_sink.dump(urls["container"], table), pg_sink.dump(urls["host"], table)
            check(a == b and a, f"{table}: the container's load differs from the host's ({len(a)} vs {len(b)} rows)")
        if os.geteuid() != 0 or not shutil.which("catatonit"):
            print("the Job's pods skipped: they need root (a tmpfs per pod) and catatonit")
        else:
            play_job(root, work, sh, podman, image, pg_sink, urls["host"], mounts)
    finally:
        for mount in mounts:
            subprocess.run(["umount", mount])
        pg_sink.drop_all()
        sh(*podman, "rm", "--all", "--force")
        subprocess.run(["rm", "-rf", work])
    code = verdict("container")
    if code == 0 and full_build_passed:
        open(full_build_passed, "w").close()
    return code


def play_job(root, work, sh, podman, image, pg_sink, host_url, mounts):
    """deploy/kubernetes/job-indexed.yaml's pods through podman kube play, `parallelism` at a time."""
    with open(os.path.join(root, "deploy", "kubernetes", "job-indexed.yaml")) as f:
        job = yaml.safe_load(f)
    with open(os.path.join(root, "deploy", "kubernetes", "secret.yaml")) as f:
        secret = yaml.safe_load(f)
    sec = os.path.join(work, "sec")  # what the claim holds: the SEC's two archives
    os.makedirs(sec)
    for dataset in ("submissions", "companyfacts"):
        folder = os.path.join(root, "tests", "data", dataset)
        with zipfile.ZipFile(os.path.join(sec, dataset + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
            for top, _, names in sorted(os.walk(folder)):
                for name in sorted(names):
                    z.write(os.path.join(top, name), os.path.relpath(os.path.join(top, name), folder))
    data = {k: base64.b64encode(v.encode()).decode() for k, v in secret.get("stringData", {}).items()}
    data.update(secret.get("data", {}))
    with open(os.path.join(work, "secret.json"), "w") as f:
        json.dump(data, f)
    r = sh(*podman, "secret", "create", secret["metadata"]["name"], os.path.join(work, "secret.json"))
    check(r.returncode == 0, f"podman secret create: {r.stderr}")
    url = pg_sink.fresh()
    shm_root = os.path.join(work, "shm")
    pods, tmpfs = job_pods(job, image, url, sec, shm_root)
    for index, size in tmpfs.items():
        path = f"{shm_root}/{index}"
        os.makedirs(path)
        r = sh("mount", "-t", "tmpfs", "-o", f"size={size[:-1] if size.endswith('i') else size},mode=1777", "tmpfs",
               path)
        check(r.returncode == 0, f"a tmpfs of {size} for pod {index}: {r.stderr}")
        mounts.append(path)

    def play(name, pod):
        manifest = os.path.join(work, name + ".yaml")
        with open(manifest, "w") as f:
            yaml.safe_dump(pod, f)
        r = sh(*podman, "kube", "play", manifest, timeout=300)
        check(r.returncode == 0, f"podman kube play {name}: {r.stderr[-500:]}")
        return f"{name}-{pod['spec']['containers'][0]['name']}"

    def finish(container):
        r = sh(*podman, "wait", container, timeout=600)
        logs = sh(*podman, "logs", container).stderr
        check(r.stdout.strip() == "0" and "completed" in logs, f"{container}: exit {r.stdout.strip()}: {logs[-600:]}")
        user = sh(*podman, "inspect", container, "--format", "{{.Config.User}}").stdout.strip()
        check(user == str(job["spec"]["template"]["spec"]["securityContext"]["runAsUser"]),
              f"{container} ran as user {user!r}, not the template's runAsUser")

    started, parallelism = time.monotonic(), job["spec"]["parallelism"]
    for first in range(0, len(pods), parallelism):
        containers = [play(name, pod) for name, pod in pods[first:first + parallelism]]
        for container in containers:
            finish(container)
    print(f"{len(pods)} pods of the Indexed Job, {parallelism} at a time: {time.monotonic() - started:.1f} s")
    for table in TABLES:
        a, b = pg_sink.dump(url, table), pg_sink.dump(host_url, table)
        check(a == b and a, f"{table}: the Job's pods loaded other rows than the host ({len(a)} vs {len(b)} rows)")
    # A retry (backoffLimit): the pod of one index again, after its shard is loaded.
    name, pod = pods[len(pods) // 2]
    sh(*podman, "pod", "rm", "--force", name)
    finish(play(name, pod))
    last = pg_sink.query(url, "SELECT status, files_loaded, rows_written FROM ingest_runs ORDER BY run_id DESC LIMIT 1")
    check(last == [("completed", "0", "0")], f"a retried pod loaded again: {last}")
    sh(*podman, "pod", "rm", "--all", "--force")


if __name__ == "__main__":
    sys.exit(main())
