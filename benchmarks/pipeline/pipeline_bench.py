#!/usr/bin/env python3
"""End-to-end harness: the pipeline into the null: sink against the parse limit, in one run.

For a corpus of COPIES copies of tests/data (and, for the memory check, 4 x COPIES), it runs:
  - the reference: build/bin/edgarpipe_parse_limit --threads PARSERS (simdjson On-Demand visiting
    every value, files already in memory, as many threads as the pipeline has parsers);
  - the pipeline: build/bin/edgarpipe run CORPUS --sink null: --parsers PARSERS ...
and prints files/s, MB/s, the ratio to the reference, and the peak memory of the whole process
tree: private memory (USS) of the supervisor and its stages plus the /dev/shm bytes in use,
sampled every 10 ms in two separate untimed runs, max taken.

  benchmarks/pipeline/pipeline_bench.py --copies 10 --parsers 2 --runs 3 [--csv out.csv]

Medians of --runs counted runs after one warm-up. The page cache is warmed before each set.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
DATA = os.path.join(ROOT, "tests", "data")


def make_corpus(where, copies):
    os.makedirs(where, exist_ok=True)
    for i in range(copies):
        dest = os.path.join(where, f"copy{i:04d}")
        if not os.path.exists(dest):
            shutil.copytree(DATA, dest, ignore=shutil.ignore_patterns("*.md"))
    return where


def checkpoint(url):
    """PostgreSQL benchmarks start every timed load from a checkpoint: otherwise one the server
    starts on its own (WAL past max_wal_size after earlier loads) lands in some runs and not
    others. Needs a superuser or pg_checkpoint; without, the runs are just noisier."""
    subprocess.run(["psql", "-X", "-q", url, "-c", "CHECKPOINT"], capture_output=True)


def warm(path):
    for dirpath, _, names in os.walk(path):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                while f.read(1 << 20):
                    pass


def shm_used_kib():
    st = os.statvfs("/dev/shm")
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def private_kib(pid):
    """Private memory of one process outside the shared segments, in KiB. smaps calls a page of a
    shared segment "private" while one process alone maps it, so segment mappings are skipped
    here and counted once, from /dev/shm, by the callers."""
    total, in_segment = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                in_segment = "/dev/shm/" in line
            elif not in_segment and line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def tree_memory_kib(root_pid, shm_baseline):
    """Private memory (USS) of root_pid and its descendants plus the shared memory in use, in KiB.

    Shared segments are counted once, from /dev/shm, rather than through each process's PSS:
    PSS shares shift while processes map and unmap, and samples across processes are not atomic.
    """
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            total += private_kib(pid)
        except OSError:
            pass
    return total + max(0, shm_used_kib() - shm_baseline)


def run_sampled(cmd, interval=0.02):
    """Runs cmd (stdout discarded), sampling the peak memory of its process tree plus the /dev/shm in
    use (tree_memory_kib) every `interval` seconds, or not at all with None (sampling costs CPU on a
    small box: timed runs do not sample). Returns (returncode, stderr text, peak bytes, seconds)."""
    baseline = shm_used_kib()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_memory_kib(proc.pid, baseline))
            time.sleep(interval)

    sampler = threading.Thread(target=sample)
    if interval is not None:
        sampler.start()
    _, err = proc.communicate()
    if interval is not None:
        sampler.join()
    return proc.returncode, err.decode(errors="replace"), peak[0] * 1024, time.monotonic() - started


def run_pipeline(corpus, args, summary, sample_memory=False):
    cmd = [os.path.join(BIN, "edgarpipe"), "run", corpus, "--sink", "null:", "--readers", str(args.readers),
           "--parsers", str(args.parsers), "--writers", str(args.writers), "--progress", "never",
           "--summary-json", summary]
    code, err, peak, _ = run_sampled(cmd, 0.01 if sample_memory else None)
    if code != 0:
        sys.exit(f"pipeline failed ({code}): {err}")
    with open(summary) as f:
        s = json.load(f)
    return s["seconds"], s["bytes"], s["files_loaded"], peak // 1024


def run_limit(corpus, threads):
    out = subprocess.run([os.path.join(BIN, "edgarpipe_parse_limit"), "--threads", str(threads), corpus],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["seconds"], r["bytes"], r["files"]


def measure(corpus, args, tmp):
    warm(corpus)
    summary = os.path.join(tmp, "summary.json")
    run_pipeline(corpus, args, summary)  # warm-up
    run_limit(corpus, args.parsers)
    pipe, limit = [], []
    for _ in range(args.runs):
        pipe.append(run_pipeline(corpus, args, summary))
        limit.append(run_limit(corpus, args.parsers))
    peak_kib = max(run_pipeline(corpus, args, summary, sample_memory=True)[3] for _ in range(2))
    p_secs = statistics.median(r[0] for r in pipe)
    l_secs = statistics.median(r[0] for r in limit)
    bytes_, files = pipe[0][1], pipe[0][2]
    return {
        "files": files, "bytes": bytes_,
        "pipeline_s": p_secs, "pipeline_files_s": files / p_secs, "pipeline_mb_s": bytes_ / 1e6 / p_secs,
        "limit_s": l_secs, "limit_mb_s": limit[0][1] / 1e6 / l_secs,
        "ratio": l_secs / p_secs,
        "peak_mib": peak_kib / 1024,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--parsers", type=int, default=2)
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--csv", help="append one line per corpus size to this CSV file")
    ap.add_argument("--workdir", help="where to build the corpora (default: a temporary directory)")
    args = ap.parse_args()

    tmp = args.workdir or tempfile.mkdtemp(prefix="edgarpipe-bench-")
    try:
        rows = []
        for copies in (args.copies, 4 * args.copies):
            corpus = make_corpus(os.path.join(tmp, f"corpus{copies}"), copies)
            r = measure(corpus, args, tmp)
            r["copies"] = copies
            rows.append(r)
            print(f"{copies:5d} copies: {r['files']} files, {r['bytes'] / 1e6:.0f} MB | pipeline {r['pipeline_s']:.2f} s, "
                  f"{r['pipeline_files_s']:.0f} files/s, {r['pipeline_mb_s']:.0f} MB/s | parse limit ({args.parsers} "
                  f"threads) {r['limit_mb_s']:.0f} MB/s | ratio {r['ratio']:.2f} | peak memory {r['peak_mib']:.0f} MiB")
        growth = rows[1]["peak_mib"] / rows[0]["peak_mib"]
        print(f"peak memory, 4x corpus / 1x corpus: {growth:.3f} (goal: within 1.10)")
        if args.csv:
            new = not os.path.exists(args.csv)
            with open(args.csv, "a") as f:
                if new:
                    f.write("copies,readers,parsers,writers,files,bytes,pipeline_s,pipeline_files_s,pipeline_mb_s,"
                            "limit_mb_s,ratio,peak_mib\n")
                for r in rows:
                    f.write(f"{r['copies']},{args.readers},{args.parsers},{args.writers},{r['files']},{r['bytes']},"
                            f"{r['pipeline_s']:.4f},{r['pipeline_files_s']:.1f},{r['pipeline_mb_s']:.1f},"
                            f"{r['limit_mb_s']:.1f},{r['ratio']:.3f},{r['peak_mib']:.1f}\n")
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
