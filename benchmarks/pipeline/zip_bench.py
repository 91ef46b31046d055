#!/usr/bin/env python3
"""Loading from a zip against loading the same files unpacked, in one run (null: sink).

Generates one corpus twice with edgarpipe-gen and the same seed (a directory and a zip: the same
files), warms the page cache, then alternates runs of
  edgarpipe run DIR --sink null:   and   edgarpipe run FILE.zip --sink null:
and prints medians, files/s, MB/s (of JSON) and the ratio zip/unpacked. The goal is 0.9: inflating
overlaps with parsing because each reader inflates its members straight into shared memory.

  benchmarks/pipeline/zip_bench.py --submissions 20000 --companyfacts 100 --readers 1 --parsers 2 --runs 3

--baseline-bin DIR also times the zip with another build's binaries (e.g. before a change to the
reader), alternated with the others in the same run. EDGARPIPE_BIN picks the build under test.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("EDGARPIPE_BIN", os.path.join(ROOT, "build", "bin"))


def run(input_path, args, summary, bin_dir=BIN):
    cmd = [os.path.join(bin_dir, "edgarpipe"), "run", input_path, "--sink", "null:", "--readers", str(args.readers),
           "--parsers", str(args.parsers), "--progress", "never", "--summary-json", summary]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"edgarpipe failed ({p.returncode}): {p.stderr[-2000:]}")
    with open(summary) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=20000)
    ap.add_argument("--companyfacts", type=int, default=100)
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--parsers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--baseline-bin", metavar="DIR", help="also time the zip with these binaries")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="edgarpipe-zipbench-")
    try:
        gen = [os.path.join(BIN, "edgarpipe-gen"), "--submissions", str(args.submissions), "--companyfacts",
               str(args.companyfacts), "--seed", str(args.seed)]
        directory, archive = os.path.join(tmp, "corpus"), os.path.join(tmp, "corpus.zip")
        subprocess.run(gen + ["--out", directory], check=True, capture_output=True)
        subprocess.run(gen + ["--zip", archive], check=True, capture_output=True)
        summary = os.path.join(tmp, "s.json")
        # (input, binaries): the unpacked folder, the zip, and the zip by the baseline build.
        loads = [(directory, BIN), (archive, BIN)] + ([(archive, args.baseline_bin)] if args.baseline_bin else [])
        for path, bin_dir in loads:  # warm-up: page cache and first-run effects
            run(path, args, summary, bin_dir)
        times = {load: [] for load in loads}
        for _ in range(args.runs):
            for load in loads:
                times[load].append(run(load[0], args, summary, load[1])["seconds"])
        s = run(directory, args, summary)
        files, bytes_ = s["files_loaded"], s["bytes"]
        d, z = statistics.median(times[loads[0]]), statistics.median(times[loads[1]])
        print(f"corpus: {files} files, {bytes_ / 1e6:.0f} MB of JSON, zip {os.path.getsize(archive) / 1e6:.0f} MB")
        print(f"unpacked: {d:.2f} s, {files / d:.0f} files/s, {bytes_ / 1e6 / d:.0f} MB/s")
        print(f"zip:      {z:.2f} s, {files / z:.0f} files/s, {bytes_ / 1e6 / z:.0f} MB/s")
        if args.baseline_bin:
            b = statistics.median(times[loads[2]])
            print(f"zip by {args.baseline_bin}: {b:.2f} s, {files / b:.0f} files/s, {bytes_ / 1e6 / b:.0f} MB/s; "
                  f"ratio to the unpacked folder {d / b:.2f}")
        print(f"ratio zip/unpacked: {d / z:.2f} (goal: at least 0.9)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
