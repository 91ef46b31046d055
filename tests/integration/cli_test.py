#!/usr/bin/env python3
"""The command line behaves like the tools data engineers trust (each check is a reproduction
that failed before):
- every command has --help: exit 0, its own usage and an example; a usage error is one line
  and a pointer to --help, never 40 lines of usage;
- --opt=value works; unknown arguments are errors everywhere, cleanup included;
- no input found is an error naming the paths (an empty folder, a folder of .txt files); a zip
  inside a folder is read;
- output files are checked before any work (--metrics-file, --summary-json into a missing
  folder); --summary-json - writes to standard output;
- status and rejects never create a database; --max-restarts 0 is accepted and its message
  says 0 to 100; an error in an --options file names the file and line; more than one SQLite
  writer is warned about;
- status --json and rejects --json are JSON; cleanup --dry-run removes nothing.

Usage: cli_test.py BIN_DIR DATA_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from sinktest import check, verdict


def edgarpipe(bin_dir, *args):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-cli-")
    try:
        for command in ("run", "status", "rejects", "schema", "cleanup", "tune", "fetch", "sync"):
            code, out, err = edgarpipe(bin_dir, command, "--help")
            check(code == 0 and out.startswith(f"usage: edgarpipe {command}") and "example:" in out,
                  f"{command} --help: exit {code}: {out[:200]}{err[:200]}")
        code, out, _ = edgarpipe(bin_dir, "--help")
        check(code == 0 and "COMMAND --help" in out, f"--help: {out[:200]}")

        fund = os.path.join(data_dir, "submissions", "CIK0001800903.json")
        db = os.path.join(work, "a.db")
        for args in (["run", fund, "--bogus"], ["status", "--bogus"], ["rejects", "--bogus"], ["schema", "--bogus"],
                     ["cleanup", "--bogus"], ["frobnicate"]):
            code, _, err = edgarpipe(bin_dir, *args)
            lines = err.strip().splitlines()
            check(code == 2 and len(lines) == 2 and "--help" in lines[1], f"{args}: exit {code}: {err[:300]}")

        code, _, err = edgarpipe(bin_dir, "run", fund, f"--sink=sqlite:{db}", "--progress=never",
                                 "--max-restarts=0")
        check(code == 0 and os.path.exists(db), f"--opt=value: exit {code}: {err[-300:]}")

        empty, texts = os.path.join(work, "empty"), os.path.join(work, "texts")
        os.makedirs(empty)
        os.makedirs(texts)
        with open(os.path.join(texts, "notes.txt"), "w") as f:
            f.write("not EDGAR\n")
        for folder in (empty, texts):
            code, _, err = edgarpipe(bin_dir, "run", folder, "--sink", f"sqlite:{os.path.join(work, 'none.db')}")
            check(code == 2 and "no input found in " + folder in err, f"run {folder}: exit {code}: {err[:300]}")
        check(not os.path.exists(os.path.join(work, "none.db")), "a run with no input created a database")

        nested = os.path.join(work, "nested", "deeper")
        os.makedirs(nested)
        with zipfile.ZipFile(os.path.join(nested, "some.zip"), "w") as z:
            z.write(fund, "CIK0001800903.json")
        summary = os.path.join(work, "nested.json")
        code, _, err = edgarpipe(bin_dir, "run", os.path.join(work, "nested"), "--sink",
                                 f"sqlite:{os.path.join(work, 'n.db')}", "--summary-json", summary)
        check(code == 0 and json.load(open(summary))["files_loaded"] == 1, f"a zip inside a folder: {err[-300:]}")

        for flag in ("--metrics-file", "--summary-json"):
            code, _, err = edgarpipe(bin_dir, "run", fund, "--sink", f"sqlite:{os.path.join(work, 'o.db')}", flag,
                                     "/nonexistent/out.file")
            check(code == 2 and "cannot write there" in err and "run " not in err.split("\n")[0][:4],
                  f"{flag} into a missing folder: exit {code}: {err[:300]}")
        check(not os.path.exists(os.path.join(work, "o.db")), "a run with a bad output file loaded")
        code, out, err = edgarpipe(bin_dir, "run", fund, "--sink", f"sqlite:{os.path.join(work, 's.db')}",
                                   "--summary-json", "-")
        check(code == 0 and json.loads(out)["files_loaded"] == 1 and not os.path.exists("-"),
              f"--summary-json -: exit {code}: {out[:200]}")

        missing = os.path.join(work, "missing.db")
        for command in ("status", "rejects"):
            code, _, err = edgarpipe(bin_dir, command, "--sink", f"sqlite:{missing}")
            check(code == 1 and "no database at" in err and not os.path.exists(missing),
                  f"{command} on a missing database: exit {code}: {err[:300]}")

        code, _, err = edgarpipe(bin_dir, "run", fund, "--max-restarts", "101")
        check(code == 2 and "from 0 to 100" in err, f"--max-restarts 101: {err[:200]}")
        options = os.path.join(work, "ratio.opts")
        with open(options, "w") as f:
            f.write("# from tune\n--readers 1\n--parsers zero\n")
        code, _, err = edgarpipe(bin_dir, "run", fund, "--options", options)
        check(code == 2 and f"{options} line 3" in err, f"an error in an --options file: {err[:300]}")
        code, _, err = edgarpipe(bin_dir, "run", fund, "--sink", f"sqlite:{os.path.join(work, 'w.db')}", "--writers",
                                 "2", "--max-restarts", "0")
        check(code == 0 and "warning: --writers 2: SQLite" in err, f"two SQLite writers: {err[:300]}")

        bad = os.path.join(work, "bad", "submissions")
        os.makedirs(bad)
        with open(os.path.join(bad, "CIK0000000001.json"), "w") as f:
            f.write('{"cik": "1", "name": ')
        run_db = f"sqlite:{os.path.join(work, 'r.db')}"
        edgarpipe(bin_dir, "run", os.path.dirname(bad), "--sink", run_db)
        code, out, _ = edgarpipe(bin_dir, "status", "--sink", run_db, "--json", os.path.dirname(bad))
        status = json.loads(out) if code == 0 else {}
        check(status.get("inputs", {}).get("submissions", {}).get("rejected") == 1 and status.get("runs"),
              f"status --json: {out[:400]}")
        code, out, _ = edgarpipe(bin_dir, "rejects", "--sink", run_db, "--json")
        rows = [json.loads(line) for line in out.splitlines()]
        check(code == 0 and len(rows) == 1 and rows[0]["source_file"] == "CIK0000000001.json" and
              "(at byte" in rows[0]["error"], f"rejects --json: {out[:300]}")

        stale = "/dev/shm/edgarpipe-999999999-clitest-control"
        with open(stale, "wb") as f:
            f.write(b"\0" * 16)
        code, out, _ = edgarpipe(bin_dir, "cleanup", "--dry-run")
        check(code == 0 and "would remove /dev/shm/edgarpipe-999999999-clitest-control" in out and os.path.exists(stale),
              f"cleanup --dry-run: {out}")
        code, out, _ = edgarpipe(bin_dir, "cleanup")
        check(code == 0 and not os.path.exists(stale), f"cleanup: {out}")
    finally:
        if os.path.exists("/dev/shm/edgarpipe-999999999-clitest-control"):
            os.remove("/dev/shm/edgarpipe-999999999-clitest-control")
        shutil.rmtree(work, ignore_errors=True)
    return verdict("command line")


if __name__ == "__main__":
    sys.exit(main())
