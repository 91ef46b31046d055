#!/usr/bin/env python3
"""The container image, built and run for real with Debian's podman, no registry:

- a Debian 12 base made by `mmdebstrap --variant=minbase bookworm` from the Debian archive and
  `podman import`ed as localhost/debian:12; deploy/container/Dockerfile built on it (BASE);
- the image runs as a non-root user, its entry point is edgarpipe;
- with the engine's default /dev/shm (64 MiB) a load stops at once, naming the --shm-size to give;
- with --shm-size 512m it loads tests/data into PostgreSQL on loopback (--network=host), and the
  tables equal a load by the host's binary.

podman settings that work on this kind of machine: runtime runc with cgroup_manager cgroupfs
(crun fails on hybrid cgroups), raised default ulimits (in a CONTAINERS_CONF file), --root and
--runroot on the command line, host networking (the default bridge rewrites the firewall).
Skips (exit 77) without podman or mmdebstrap, or without EDGARPIPE_TEST_PG.

Usage: container_test.py REPO_ROOT BIN_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sinktest import TABLES, Postgres, check, verdict  # noqa: E402


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
    try:
        base = os.path.join(work, "base.tar")
        r = sh("mmdebstrap", "--variant=minbase", "--quiet", "bookworm", base, timeout=900)
        check(r.returncode == 0, f"mmdebstrap: {r.stderr[-500:]}")
        if r.returncode != 0:
            return verdict("container")
        r = sh(*podman, "import", base, "localhost/debian:12", timeout=300)
        check(r.returncode == 0, f"podman import: {r.stderr[-500:]}")
        r = sh(*podman, "build", "--network=host", "--build-arg", "BASE=localhost/debian:12", "-f",
               os.path.join(root, "deploy", "container", "Dockerfile"), "-t", "localhost/edgarpipe:test", root,
               timeout=2400)
        check(r.returncode == 0, f"podman build: {r.stdout[-1500:]}{r.stderr[-1500:]}")
        if r.returncode != 0:
            return verdict("container")
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
    finally:
        pg_sink.drop_all()
        sh(*podman, "rm", "--all", "--force")
        subprocess.run(["rm", "-rf", work])
    return verdict("container")


if __name__ == "__main__":
    sys.exit(main())
