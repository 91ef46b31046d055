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
  writer is warned about; a run too short to judge gives no ratio advice;
- status --json and rejects --json are JSON; the TSV of rejects escapes tabs, newlines and
  backslashes in names (a zip member may hold them), and the stderr line stays one line;
  cleanup --dry-run removes nothing;
- -q shows only warnings and errors, -v adds debug lines, --log-format json makes every line of
  every process one JSON object (the summary in its "summary" member);
- the progress line, under a real pseudo-terminal, counts files and bytes at commit, shows the
  elapsed time, fits the terminal's width and redraws in place; without a terminal it is a plain
  line per --progress-interval, only with --progress always;
- the index build shows which index is building and stops at once on Ctrl-C (the next run builds
  the rest);
- a /dev/shm smaller than the pools (a container's 64 MiB) stops the run before it touches the
  sink, with the --shm-size to give;
- docs/edgarpipe.1 is what docs/make-manpage.py makes of the --help texts and renders without
  warnings; the bash completion completes commands, options and their values; both install.

Usage: cli_test.py BIN_DIR DATA_DIR
"""
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import termios
import fcntl
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

from sinktest import check, verdict


def edgarpipe(bin_dir, *args):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def run_under_pty(bin_dir, args, columns, env):
    """Runs edgarpipe with a pseudo-terminal of `columns` columns as its stdin/stdout/stderr;
    returns (exit code, everything it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
            os.environ.update(env)
            os.execv(os.path.join(bin_dir, "edgarpipe"), ["edgarpipe", *args])
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


PROGRESS = re.compile(r"^(\d+:\d\d) (\d+)/(\d+) files (\d+)%")


def check_progress_and_logs(bin_dir, data_dir, work):
    slow = {"EDGARPIPE_TEST_FAULT": "slow:writer:150"}  # 29 files: ~4.5 s of progress lines
    code, out = run_under_pty(bin_dir, ["run", data_dir, "--sink", f"sqlite:{os.path.join(work, 'p.db')}"], 64, slow)
    draws = [d for d in out.split("\r\x1b[K") if PROGRESS.match(d)]
    check(code == 0 and len(draws) >= 2, f"progress under a pty: exit {code}, {len(draws)} lines: {out[:600]!r}")
    for d in draws:
        line = d.split("\r")[0].split("\n")[0]
        # No line reaches the last column (a full line wraps and leaves a stale copy behind).
        check(len(line) <= 63 and "\n" not in d.split("\r")[0][:len(line)], f"progress wider than 63: {line!r}")
        m = PROGRESS.match(line)
        files, total = int(m.group(2)), int(m.group(3))
        # Bytes count at commit, like files: none committed is 0 bytes, not all of them read ahead.
        mb = re.search(r"\| ([\d.]+)/([\d.]+) MB", line)
        if mb and files == 0:
            check(float(mb.group(1)) == 0.0, f"bytes before any commit: {line!r}")
        if mb and files == total:
            check(mb.group(1) == mb.group(2), f"bytes when all are committed: {line!r}")
    check(any(int(PROGRESS.match(d).group(2)) > 0 for d in draws), f"progress never moved: {draws}")
    elapsed = [PROGRESS.match(d).group(1) for d in draws]
    check(elapsed == sorted(elapsed) and elapsed[-1] != "0:00", f"elapsed: {elapsed}")
    summary = out.split("\r\x1b[K")[-1]
    check("run 1 completed" in summary, f"after the progress: {summary[:300]!r}")

    # No terminal: nothing unless --progress always, then a plain line per interval.
    def run(*args, env=None):
        r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=300,
                           env={**os.environ, **(env or {})})
        return r.returncode, r.stdout, r.stderr

    code, _, err = run("run", data_dir, "--sink", f"sqlite:{os.path.join(work, 'n.db')}", env=slow)
    check(code == 0 and not PROGRESS.search(err.replace("edgarpipe: ", "")) and "\r" not in err,
          f"progress on a non-terminal by default: {err[:300]!r}")
    code, _, err = run("run", data_dir, "--sink", f"sqlite:{os.path.join(work, 'a2.db')}", "--progress", "always",
                       "--progress-interval", "1", env=slow)
    plain = [line for line in err.splitlines() if PROGRESS.match(line.removeprefix("edgarpipe: "))]
    check(code == 0 and len(plain) >= 2 and "\r" not in err and "\x1b" not in err,
          f"--progress always without a terminal: {err[:400]!r}")

    # -q: a clean run says nothing; a run with a rejected file says that and its summary.
    code, out, err = run("run", data_dir, "--sink", f"sqlite:{os.path.join(work, 'q.db')}", "-q")
    check(code == 0 and err == "" and out == "", f"-q on a clean run: {err[:300]!r}")
    bad = os.path.join(work, "bad-q")
    os.makedirs(bad)
    with open(os.path.join(bad, "CIK0000000009.json"), "w") as f:
        f.write('{"cik": "9", "name": ')
    code, _, err = run("run", bad, "--sink", f"sqlite:{os.path.join(work, 'q.db')}", "--quiet")
    check(code == 3 and "rejected" in err and "run 2 completed" in err and "building" not in err,
          f"-q with a reject: {code} {err[:400]!r}")
    # -v: the stage processes and the pools are named.
    code, _, err = run("run", data_dir, "--sink", f"sqlite:{os.path.join(work, 'v.db')}", "-v")
    check(code == 0 and "started reader 0 as pid" in err and "shared memory for 29 files" in err,
          f"-v: {err[:400]!r}")
    code, _, err = run("run", data_dir, "-q", "-v", "--bogus")
    check(code == 2 and err.count("\n") == 1, f"-q -v --bogus: {err!r}")

    # --log-format json: every line of every process (the writer's rejects too) is one object.
    code, _, err = run("run", data_dir, bad, "--sink", f"sqlite:{os.path.join(work, 'j.db')}", "--log-format=json",
                       "--progress", "always", "--progress-interval", "1", env=slow)
    lines = err.splitlines()
    try:
        objects = [json.loads(line) for line in lines]
    except json.JSONDecodeError as e:
        objects = []
        check(False, f"--log-format json: not JSON ({e}): {err[:500]!r}")
    check(code == 3 and objects and all({"time", "level", "program", "pid", "message"} <= set(o) for o in objects),
          f"--log-format json: exit {code}: {err[:400]!r}")
    rejects = [o for o in objects if o["message"].startswith("rejected ")]
    check(len(rejects) == 1 and rejects[0]["level"] == "warning" and "CIK0000000009.json" in rejects[0]["message"],
          f"json reject line: {rejects}")
    summaries = [o for o in objects if "summary" in o]
    check(len(summaries) == 1 and summaries[0]["summary"]["files_rejected"] == 1 and
          summaries[0]["summary"]["files_loaded"] == 29, f"json summary: {summaries}")
    progress = [o for o in objects if "progress" in o]
    check(len(progress) >= 2 and progress[-1]["progress"]["files_total"] == 30, f"json progress: {progress[-1:]}")
    # A message that quotes bytes that are not UTF-8 (a file name may hold any): still one JSON
    # object per line, valid UTF-8, the bad bytes as U+FFFD.
    odd = os.path.join(os.fsencode(work), b"odd-\xff-name")
    os.makedirs(odd)
    with open(os.path.join(odd, b"CIK0000000009.json"), "w") as f:
        f.write('{"cik": "9", "name": ')
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), "run", odd, "--sink", "null:", "--log-format", "json"],
                       capture_output=True, timeout=300)
    try:
        odd_lines = [json.loads(line.decode("utf-8")) for line in r.stderr.splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        odd_lines = []
        check(False, f"--log-format json with a non-UTF-8 path: not a JSON line ({e}): {r.stderr[:300]!r}")
    check(r.returncode == 3 and any("odd-\ufffd-name" in o["message"] for o in odd_lines),
          f"--log-format json with a non-UTF-8 path: {odd_lines[:3]}")
    code, _, err = run("--log-format", "xml", "status")
    check(code == 2 and "text or json" in err, f"--log-format xml: {err!r}")
    # Malformed values of the new options: one line each, naming the value and what is accepted.
    for args, words in ((["run", data_dir, "--log-format"], "--log-format needs a value"),
                        (["run", data_dir, "--progress-interval", "0"], "from 1 to 3600, not '0'"),
                        (["run", data_dir, "--progress-interval", "soon"], "from 1 to 3600, not 'soon'"),
                        (["run", data_dir, "--progress", "sometimes"], "not 'sometimes'"),
                        (["run", data_dir, "--storage", "columnar"], "row or analytic, not 'columnar'"),
                        (["schema", "--storage", "columnar"], "row or analytic, not 'columnar'"),
                        (["run", data_dir, "--shard", "4/4"], "0 <= I < N <= 100000, e.g. 0/4, not '4/4'"),
                        (["run", data_dir, "--shard", "$(JOB_COMPLETION_INDEX)/8"],
                         "not '$(JOB_COMPLETION_INDEX)/8' (a variable left unexpanded)")):
        code, _, err = run(*args)
        check(code == 2 and words in err and err.count("\n") == 1, f"{args}: exit {code}: {err!r}")


def check_man_page_and_completion(bin_dir, data_dir, work):
    root = os.path.dirname(os.path.dirname(os.path.abspath(data_dir)))
    page = os.path.join(root, "docs", "edgarpipe.1")
    made = subprocess.run([sys.executable, os.path.join(root, "docs", "make-manpage.py"), bin_dir],
                          capture_output=True, text=True)
    with open(page) as f:
        committed = f.read()
    check(made.returncode == 0 and made.stdout == committed,
          "docs/edgarpipe.1 differs from the --help texts: run docs/make-manpage.py build/bin > docs/edgarpipe.1")
    for command in ("run", "fetch", "sync", "status", "rejects", "schema", "tune", "cleanup"):
        check(f".SS {command}" in committed, f"the man page has no section for {command}")
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
        check(r.returncode == 0 and r.stderr == "", f"groff warns about docs/edgarpipe.1: {r.stderr[:300]}")
    else:
        print("note: groff not installed; the man page was not rendered")

    completion = os.path.join(root, "deploy", "bash-completion", "edgarpipe")
    exe = os.path.join(bin_dir, "edgarpipe")
    script = f"""source {completion}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _edgarpipe; echo "${{COMPREPLY[*]}}"; }}
t {exe} r
t {exe} run --si
t {exe} run --progress a
t {exe} -q status --
t {exe} fetch --s
t {exe} run --log-format ''
"""
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    got = r.stdout.splitlines()
    want = ["run rejects", "--sink", "auto always", None, "--since --summary-json", "text json"]
    check(r.returncode == 0 and len(got) == len(want), f"completion: {r.stdout!r} {r.stderr!r}")
    for line, expected in zip(got, want):
        if expected is not None:
            check(line == expected, f"completion: {line!r}, expected {expected!r}")
    if len(got) > 3:
        words = got[3].split()
        check({"--json", "--sink", "--quiet", "--log-format", "--help"} <= set(words) and "--readers" not in words,
              f"completion of status options: {got[3]!r}")

    # cmake --install puts the page and the completion where man and bash-completion look.
    prefix = os.path.join(work, "prefix")
    r = subprocess.run(["cmake", "--install", os.path.dirname(os.path.abspath(bin_dir)), "--prefix", prefix],
                       capture_output=True, text=True)
    check(r.returncode == 0 and os.path.exists(os.path.join(prefix, "share/man/man1/edgarpipe.1")) and
          os.path.exists(os.path.join(prefix, "share/bash-completion/completions/edgarpipe")),
          f"cmake --install: {r.stdout[-300:]}{r.stderr[-300:]}")


def check_small_shared_memory(bin_dir, data_dir, work):
    """A container's default /dev/shm (64 MiB, here a private tmpfs mount): the run stops before
    it touches the sink, saying which --shm-size and emptyDir size to give."""
    db = os.path.join(work, "shm.db")
    script = (f"mount -t tmpfs -o size=64m tmpfs /dev/shm && exec {os.path.join(bin_dir, 'edgarpipe')} run "
              f"{data_dir} --sink sqlite:{db}")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if "mount:" in r.stderr or "unshare:" in r.stderr:
        print(f"note: no private /dev/shm here ({r.stderr.strip()[:120]}); the small-/dev/shm check is skipped")
        return
    check(r.returncode == 1 and "/dev/shm has 64 MiB free but the pools need" in r.stderr and
          "--shm-size=512m" in r.stderr and "sizeLimit 512Mi" in r.stderr and r.stderr.count("\n") == 1,
          f"a 64 MiB /dev/shm: exit {r.returncode}: {r.stderr[-400:]}")
    check(not os.path.exists(db), "a run refused for its /dev/shm created the database")


def check_rejects_tsv_escaping(bin_dir, work):
    """A zip member may be named with a tab, a newline and a backslash: the rejects TSV escapes them
    (one line, five fields, reversible) and the stderr line stays one line."""
    odd = "odd\tname\\x\nCIK0000000003.json"
    archive = os.path.join(work, "odd.zip")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(odd, '{"cik": ')
    db = f"sqlite:{os.path.join(work, 'odd.db')}"
    code, _, err = edgarpipe(bin_dir, "run", archive, "--sink", db, "--dataset", "submissions")
    lines = [line for line in err.splitlines() if "odd.zip:odd" in line]
    check(code == 3 and len(lines) == 1 and "odd\\tname\\x\\nCIK0000000003.json" in lines[0],
          f"the reject of a member named with a tab and a newline is one stderr line: {err[-600:]}")
    code, out, _ = edgarpipe(bin_dir, "rejects", "--sink", db)
    rows = out.splitlines()
    fields = rows[1].split("\t") if len(rows) == 2 else []
    unescape = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}
    name = re.sub(r"\\[tnr\\]", lambda m: unescape[m.group(0)], fields[1]) if len(fields) == 5 else None
    check(code == 0 and len(rows) == 2 and name == odd, f"rejects TSV of an odd member name: {out!r}")


def check_index_build_progress_and_interrupt(bin_dir, data_dir, work):
    """The index build, under a pseudo-terminal: its progress line names the index building and
    how many there are; Ctrl-C stops it at once (exit 130), the built indexes stay, and the next
    run builds the rest. A 1.5 s pause before each index (slow:index) makes the timing certain."""
    db = os.path.join(work, "idx.db")
    env = {"EDGARPIPE_TEST_FAULT": "slow:index:1500"}
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
            os.environ.update(env)
            os.execv(os.path.join(bin_dir, "edgarpipe"), ["edgarpipe", "run", data_dir, "--sink", f"sqlite:{db}"])
        finally:
            os._exit(127)
    out, interrupted_at = b"", None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        if interrupted_at is None and b"building secondary index 2 of 5" in out:
            os.kill(pid, signal.SIGINT)
            interrupted_at = time.monotonic()
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode("utf-8", "replace")
    took = time.monotonic() - interrupted_at if interrupted_at else None
    check(interrupted_at is not None, f"no progress line named the index building: {text[-600:]!r}")
    check(os.waitstatus_to_exitcode(status) == 130 and "index build stopped" in text,
          f"Ctrl-C in the index build: exit {os.waitstatus_to_exitcode(status)}: {text[-600:]!r}")
    check(took is not None and took < 10, f"Ctrl-C in the index build took {took} s to stop the run")
    con = sqlite3.connect(db)
    built = con.execute("SELECT count(*) FROM edgarpipe_indexes").fetchone()[0]
    con.close()
    check(built == 1, f"the index built before Ctrl-C is recorded: {built}")
    code, _, err = edgarpipe(bin_dir, "run", data_dir, "--sink", f"sqlite:{db}")
    check(code == 0 and "built 4 secondary indexes" in err and "index build: 4 secondary indexes" in err,
          f"the next run builds the other 4: exit {code}: {err[-600:]}")


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
            check(code == 2 and len(lines) == 1 and "--help" in lines[0], f"{args}: exit {code}: {err[:300]}")

        code, _, err = edgarpipe(bin_dir, "run", fund, f"--sink=sqlite:{db}", "--progress=never",
                                 "--max-restarts=0")
        check(code == 0 and os.path.exists(db), f"--opt=value: exit {code}: {err[-300:]}")
        code, _, err = edgarpipe(bin_dir, "run", fund, "--sink", "null:")
        check(code == 0 and "indexes" not in err, f"null: has no indexes to build or wait for: {err[-300:]}")
        # A one-file run is too short to judge stage ratios: it names a bottleneck, no advice.
        check("bottleneck" in err and "(try" not in err and "is the limit" not in err,
              f"advice from a one-file run: {err[-300:]}")

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
        for bad in ("0", "12x", "-5"):
            code, _, err = edgarpipe(bin_dir, "run", fund, "--index-memory", bad)
            check(code == 2 and "--index-memory needs a number" in err, f"--index-memory {bad}: {err[:200]}")
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
        # Counts are numbers, not strings.
        run_row = status.get("runs", [{}])[0]
        check(isinstance(run_row.get("run"), int) and run_row.get("rejected") == 1 and
              all(isinstance(f.get("files"), int) for f in status.get("files", [])), f"status --json types: {out[:400]}")
        code, out, _ = edgarpipe(bin_dir, "rejects", "--sink", run_db, "--json")
        rows = [json.loads(line) for line in out.splitlines()]
        check(code == 0 and len(rows) == 1 and rows[0]["source_file"] == "CIK0000000001.json" and
              "(at byte" in rows[0]["error"] and isinstance(rows[0]["run_id"], int), f"rejects --json: {out[:300]}")

        check_rejects_tsv_escaping(bin_dir, work)
        check_small_shared_memory(bin_dir, data_dir, work)
        check_index_build_progress_and_interrupt(bin_dir, data_dir, work)
        check_progress_and_logs(bin_dir, data_dir, work)
        check_man_page_and_completion(bin_dir, data_dir, work)

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
