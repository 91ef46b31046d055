#!/usr/bin/env python3
"""Peak memory against the number of input files: the bookkeeping of a run must stay small per file.

For each count N (default 10k, 100k and 1M submissions filers, ~6% more files with the overflow
pages), it generates a corpus of tiny files with real SEC names (`edgarpipe-gen --tiny`: one filing
row a file), runs `edgarpipe run CORPUS --sink null:` and samples the memory of the whole process
tree (private memory of the supervisor and its stages plus the /dev/shm bytes in use, the way
pipeline_bench.py counts it) every 20 ms. The pools are the same whatever N, so the growth of the
peak from the smallest corpus to each larger one, divided by the files added, is what one more
input file costs: the manifest, the control segment's entry and names, the supervisor's lists.

  benchmarks/pipeline/memory_bench.py [--filers 10000 100000 1000000] [--max-bytes-per-file 200] [--zip]

--zip writes each corpus as one zip archive (`edgarpipe-gen --zip`) instead of a folder: the
archive's central directory is then listed by the supervisor and read by every reader.

Exits 1, naming the figure, when a count's bytes per file exceed --max-bytes-per-file (0: no
bound). Corpora are kept in --workdir when given (generating 1M files takes about a minute).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_bench import BIN, run_sampled  # noqa: E402


def make_corpus(where, filers, as_zip):
    """Returns the corpus's path: the folder `where`, or the archive `where`.zip."""
    corpus = where + ".zip" if as_zip else where
    if os.path.exists(corpus + ".expected.tsv" if as_zip else os.path.join(where, "expected.tsv")):
        return corpus
    shutil.rmtree(where, ignore_errors=True)
    subprocess.run([os.path.join(BIN, "edgarpipe-gen"), "--tiny", "--seed", "23", "--submissions", str(filers),
                    "--companyfacts", "0", "--zip" if as_zip else "--out", corpus], check=True,
                   stderr=subprocess.DEVNULL)
    return corpus


def peak_memory(corpus, tmp, readers, parsers):
    summary = os.path.join(tmp, "summary.json")
    cmd = [os.path.join(BIN, "edgarpipe"), "run", corpus, "--sink", "null:", "--readers", str(readers),
           "--parsers", str(parsers), "--writers", "1", "--progress", "never", "--summary-json", summary]
    code, err, peak, seconds = run_sampled(cmd)
    if code != 0:
        sys.exit(f"edgarpipe run {corpus} failed ({code}): {err}")
    with open(summary) as f:
        s = json.load(f)
    return s["files_seen"], s["files_loaded"], peak, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filers", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--parsers", type=int, default=2)
    ap.add_argument("--max-bytes-per-file", type=float, default=0)
    ap.add_argument("--workdir", help="where to keep the corpora (default: a temporary directory)")
    ap.add_argument("--zip", action="store_true", help="each corpus as one zip archive, not a folder")
    args = ap.parse_args()

    tmp = args.workdir or tempfile.mkdtemp(prefix="edgarpipe-membench-")
    try:
        rows = []
        for filers in sorted(args.filers):
            corpus = make_corpus(os.path.join(tmp, f"tiny{filers}"), filers, args.zip)
            files, loaded, peak, seconds = peak_memory(corpus, tmp, args.readers, args.parsers)
            if loaded != files:
                sys.exit(f"{corpus}: {loaded} of {files} files loaded; the corpus should load whole")
            rows.append((files, peak))
            line = f"{files:9d} files: peak {peak / 2**20:7.1f} MiB, run {seconds:6.1f} s"
            if len(rows) > 1:
                per_file = (peak - rows[0][1]) / (files - rows[0][0])
                line += f", {per_file:6.1f} bytes per file added over the {rows[0][0]}-file corpus"
            print(line, flush=True)
        failed = False
        for files, peak in rows[1:]:
            per_file = (peak - rows[0][1]) / (files - rows[0][0])
            if args.max_bytes_per_file and per_file > args.max_bytes_per_file:
                print(f"FAIL: at {files} files a run takes {per_file:.0f} bytes of memory per input file, over the "
                      f"bound of {args.max_bytes_per_file:.0f} (peak {peak / 2**20:.1f} MiB against "
                      f"{rows[0][1] / 2**20:.1f} MiB at {rows[0][0]} files)", file=sys.stderr)
                failed = True
        sys.exit(1 if failed else 0)
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
