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
import urllib.parse

TABLES = ["companies", "company_tickers", "former_names", "submission_pages", "filings", "entities", "concepts",
          "facts", "ingest_files"]
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)


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

    def psql(url, sql):
        r = sh("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr}")
        return r.stdout

    dbs = []
    try:
        base = os.path.join(work, "base.tar")
        r = sh("mmdebstrap", "--variant=minbase", "--quiet", "bookworm", base, timeout=900)
        check(r.returncode == 0, f"mmdebstrap: {r.stderr[-500:]}")
        if r.returncode != 0:
            return 1
        r = sh(*podman, "import", base, "localhost/debian:12", timeout=300)
        check(r.returncode == 0, f"podman import: {r.stderr[-500:]}")
        r = sh(*podman, "build", "--network=host", "--build-arg", "BASE=localhost/debian:12", "-f",
               os.path.join(root, "deploy", "container", "Dockerfile"), "-t", "localhost/edgarpipe:test", root,
               timeout=2400)
        check(r.returncode == 0, f"podman build: {r.stdout[-1500:]}{r.stderr[-1500:]}")
        if r.returncode != 0:
            return 1
        image = "localhost/edgarpipe:test"
        r = sh(*podman, "run", "--rm", "--network=host", "--entrypoint", "id", image, "-u")
        check(r.returncode == 0 and r.stdout.strip() not in ("", "0"), f"the image runs as root: {r.stdout}{r.stderr}")
        r = sh(*podman, "run", "--rm", "--network=host", image, "--version")
        check(r.returncode == 0 and r.stdout.startswith("edgarpipe "), f"entry point: {r.stdout}{r.stderr[-300:]}")

        data = os.path.join(root, "tests", "data")
        urls = {}
        for name in ("container", "host"):
            db = f"edgarpipe_container_{name}_{os.getpid()}"
            psql(pg, f"DROP DATABASE IF EXISTS {db}")
            psql(pg, f"CREATE DATABASE {db}")
            dbs.append(db)
            urls[name] = urllib.parse.urlunsplit(urllib.parse.urlsplit(pg)._replace(path="/" + db))
        run = ["run", "/data", "--sink", urls["container"], "--progress", "never"]
        volume = f"{data}:/data:ro"
        r = sh(*podman, "run", "--rm", "--network=host", "-v", volume, image, *run, timeout=600)
        check(r.returncode == 1 and "--shm-size=512m" in r.stderr,
              f"the default 64 MiB /dev/shm: exit {r.returncode}: {r.stderr[-400:]}")
        check(psql(urls["container"], "SELECT count(*) FROM pg_tables WHERE tablename = 'ingest_runs'").strip() == "0",
              "a run refused for its /dev/shm touched the database")
        r = sh(*podman, "run", "--rm", "--network=host", "--shm-size=512m", "-v", volume, image, *run, timeout=600)
        check(r.returncode == 0 and "run 1 completed" in r.stderr, f"load in the container: {r.stderr[-800:]}")
        h = sh(os.path.join(bin_dir, "edgarpipe"), "run", data, "--sink", urls["host"], "--progress", "never",
               timeout=600)
        check(h.returncode == 0, f"load by the host binary: {h.stderr[-400:]}")
        for table in TABLES:
            # ingest_files: the same keys, hashes, statuses and row counts (paths differ: /data).
            cols = "dataset, cik, page, source_file, bytes, content_hash, status, rows" if table == "ingest_files" else "*"
            sql = f"SELECT {cols} FROM {table}"
            a = sorted(psql(urls["container"], sql).splitlines())
            b = sorted(psql(urls["host"], sql).splitlines())
            check(a == b and a, f"{table}: the container's load differs from the host's ({len(a)} vs {len(b)} rows)")
    finally:
        for db in dbs:
            try:
                psql(pg, f"DROP DATABASE IF EXISTS {db}")
            except RuntimeError:
                pass
        sh(*podman, "rm", "--all", "--force")
        subprocess.run(["rm", "-rf", work])
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("container: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
