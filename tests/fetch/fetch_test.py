#!/usr/bin/env python3
"""`edgarpipe fetch` and `edgarpipe sync` against a stand-in for the SEC on loopback (sec_server.py).

The server holds a snapshot S0 of the samples as the SEC's two bulk archives, and a week of
daily master indexes naming the filers that changed by snapshot S5 (a renamed company with a new
overflow page, a changed companyfacts value, a new filer; Thursday is a holiday without an
index), with the per-company API serving S5. Checked:
- a User-Agent without a contact e-mail, or a --max-rate over 10, is refused before any request;
- every request carries the User-Agent; no second ever sees more requests than --max-rate
  (the server's own timestamps);
- a second fetch downloads nothing (304 by ETag) and says so;
- a connection dropped mid-archive resumes with Range/If-Range into a byte-identical file;
- 429 with Retry-After is honoured (the next request waits), 503 is retried;
- the SEC's 403 block page ends the fetch with a one-line error that says what to do, and the
  archive already there is kept; so does a truncated archive, and no .part is left behind;
- a slow server still ends in a byte-identical file;
- sync --full loads what a load of the same files from disk loads, table by table, and a
  second sync downloads nothing and loads nothing;
- sync --since over the week ends equal to a clean load of S5, and a second sync --since last
  fetches and loads nothing;
- a sync while another holds the folder's lock exits with a message;
- a sync killed with kill -9 takes its run down (SIGTERM: it ends interrupted, none left loading);
- the nightly commands as the docs give them (the README's step 3, the crontab lines and the
  systemd unit's ExecStart in docs/operations.md), read from the docs themselves, run in their
  order against the stand-in and end equal to a clean load of S5.

Usage: fetch_test.py BIN_DIR DATA_DIR
"""
import calendar
import re
import shlex
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sinktest import TABLES, Sqlite, check, verdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UA = "edgarpipe tests ops@example.com"
WEEK = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27"]  # 2026-11-26: Thanksgiving, no index
CHANGED_BY_DAY = {"2026-11-23": [1318605], "2026-11-24": [320193, 1999999], "2026-11-25": [320193],
                  "2026-11-27": [1800903]}


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))


def make_snapshots(data_dir, work):
    s0 = os.path.join(work, "S0")
    shutil.copytree(data_dir, s0, ignore=shutil.ignore_patterns("*.md", "reformatted"))
    s5 = os.path.join(work, "S5")
    shutil.copytree(s0, s5)
    sub, facts = os.path.join(s5, "submissions"), os.path.join(s5, "companyfacts")
    tesla = load_json(os.path.join(sub, "CIK0001318605.json"))
    recent = tesla["filings"]["recent"]
    moved = {k: v[-5:] for k, v in recent.items()}
    for k in recent:
        recent[k] = recent[k][:-5]
    tesla["name"] = "TESLA, INC. (as of S5)"
    tesla["filings"]["files"].append({"name": "CIK0001318605-submissions-002.json", "filingCount": 5,
                                      "filingFrom": min(moved["filingDate"]), "filingTo": max(moved["filingDate"])})
    save_json(os.path.join(sub, "CIK0001318605.json"), tesla)
    save_json(os.path.join(sub, "CIK0001318605-submissions-002.json"), moved)
    apple = load_json(os.path.join(facts, "CIK0000320193.json"))
    gaap = apple["facts"]["us-gaap"]
    first = gaap[sorted(gaap)[0]]
    first["units"][sorted(first["units"])[0]][0]["val"] = 987654321
    save_json(os.path.join(facts, "CIK0000320193.json"), apple)
    newcomer = load_json(os.path.join(sub, "CIK0001911716.json"))
    newcomer["cik"] = "0001999999"
    save_json(os.path.join(sub, "CIK0001999999.json"), newcomer)
    fund = load_json(os.path.join(sub, "CIK0001800903.json"))
    fund["phone"] = "555-0100"
    save_json(os.path.join(sub, "CIK0001800903.json"), fund)
    return s0, s5


def zip_dir(src, dest):
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(os.listdir(src)):
            z.write(os.path.join(src, name), name)


def serve(root, snapshot, work, tag):
    """Lays out the server's files for `snapshot`: its archives, the week's indexes, the API."""
    bulk = os.path.join(root, "Archives", "edgar", "daily-index")
    os.makedirs(os.path.join(bulk, "bulkdata"), exist_ok=True)
    os.makedirs(os.path.join(bulk, "xbrl"), exist_ok=True)
    zip_dir(os.path.join(snapshot, "submissions"), os.path.join(bulk, "bulkdata", "submissions.zip"))
    zip_dir(os.path.join(snapshot, "companyfacts"), os.path.join(bulk, "xbrl", "companyfacts.zip"))
    shutil.copy(os.path.join(bulk, "bulkdata", "submissions.zip"), os.path.join(work, f"{tag}-submissions.zip"))
    shutil.copy(os.path.join(bulk, "xbrl", "companyfacts.zip"), os.path.join(work, f"{tag}-companyfacts.zip"))


def serve_week(root, s5):
    for day in WEEK:
        y, m, d = day.split("-")
        folder = os.path.join(root, "Archives", "edgar", "daily-index", y, f"QTR{(int(m) - 1) // 3 + 1}")
        os.makedirs(folder, exist_ok=True)
        lines = ["Description:           Daily Index of EDGAR Dissemination Feed by Company Name",
                 f"Last Data Received:    {day}", "", "CIK|Company Name|Form Type|Date Filed|File Name",
                 "-" * 80]
        for cik in CHANGED_BY_DAY[day]:
            lines.append(f"{cik}|A FILER|8-K|{y}{m}{d}|edgar/data/{cik}/0000000000-26-000001.txt")
        # Lines that name no filer: a fetch must pass over them, not request anything for them.
        lines += ["", "no bars on this line", "CIK12|NOT A NUMBER|8-K|x|y", "123456789012|ELEVEN DIGITS|8-K|x|y",
                  "|EMPTY CIK|8-K|x|y"]
        with open(os.path.join(folder, f"master.{y}{m}{d}.idx"), "w") as f:
            f.write("\n".join(lines) + "\n")
    api_sub = os.path.join(root, "submissions")
    api_facts = os.path.join(root, "api", "xbrl", "companyfacts")
    shutil.rmtree(api_sub, ignore_errors=True)
    shutil.copytree(os.path.join(s5, "submissions"), api_sub)
    shutil.rmtree(api_facts, ignore_errors=True)
    shutil.copytree(os.path.join(s5, "companyfacts"), api_facts)


class Server:
    def __init__(self, root, log):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sec_server.py"), "--root", root,
                                      "--log", log], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def faults(self, faults):
        req = urllib.request.Request(self.url + "/__faults", data=json.dumps(faults).encode(), method="PUT")
        urllib.request.urlopen(req).read()

    def requests(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def documented_nightly_commands():
    """The sync commands of the README's quick start and of docs/operations.md's nightly schedule
    (crontab lines and the systemd unit), as (where, arguments after `edgarpipe`, environment), in
    the order a user runs them: each list starts with a full sync."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = [shlex.split(m.group(1)) for m in re.finditer(r"^build/bin/edgarpipe (sync .*)$", f.read(), re.M)]
    with open(os.path.join(REPO, "docs", "operations.md"), encoding="utf-8") as f:
        ops = f.read()
    cron = [shlex.split(m.group(1)) for m in re.finditer(r"^\s+\d+ \d+ \* \* \S+\s+edgarpipe (sync .*)$", ops, re.M)]
    cron.sort(key=lambda args: "--full" not in args)  # Sunday's full snapshot comes first
    unit_env = dict(re.findall(r'^\s+Environment=(\w+)="([^"]*)"$', ops, re.M))
    units = [shlex.split(m.group(1)) for m in re.finditer(r"^\s+ExecStart=\S*edgarpipe (sync .*)$", ops, re.M)]
    return [("README.md", readme, {}), ("docs/operations.md crontab, then its systemd unit", cron + units, unit_env)]


def edgarpipe(bin_dir, *args, env=None):
    r = subprocess.run([os.path.join(bin_dir, "edgarpipe"), *args], capture_output=True, text=True, timeout=600,
                       env=env)
    return r.returncode, r.stdout, r.stderr


def fetch(bin_dir, server, out, *extra):
    return edgarpipe(bin_dir, "fetch", "--user-agent", UA, "--out", out, "--base-url", server.url + "/Archives/edgar",
                     "--api-url", server.url, "--retry-wait", "0.2", "--timeout", "5", "--progress", "never", *extra)


def same_bytes(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def max_per_second(times):
    """The most requests that started within any one second."""
    times = sorted(times)
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def same_tables(sink, got, want, what):
    for table in TABLES:
        a, b = sink.dump(got, table), sink.dump(want, table)
        check(a == b, f"{what}: {table} differs ({len(a)} rows vs {len(b)})")


def main():
    bin_dir, data_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="edgarpipe-fetch-")
    server = None
    try:
        s0, s5 = make_snapshots(data_dir, work)
        root = os.path.join(work, "www")
        serve(root, s0, work, "S0")
        serve_week(root, s5)
        server = Server(root, os.path.join(work, "requests.jsonl"))
        out = os.path.join(work, "out")

        # Refused before any request.
        for args, words in ((["--user-agent", "edgarpipe tests"], "no contact e-mail"),
                            (["--user-agent", UA, "--max-rate", "11"], "over the SEC's limit")):
            code, _, err = edgarpipe(bin_dir, "fetch", *args, "--out", out, "--base-url", server.url)
            check(code == 2 and words in err, f"fetch {args}: exit {code}: {err}")
        env = {k: v for k, v in os.environ.items() if k != "EDGARPIPE_USER_AGENT"}
        code, _, err = edgarpipe(bin_dir, "fetch", "--out", out, "--base-url", server.url, env=env)
        check(code == 2 and "--user-agent" in err, f"fetch without a User-Agent: exit {code}: {err}")
        check(not server.requests(), "a refused fetch sent requests")

        # A state file that is not JSON (a disk that filled up mid-write): a clear error naming it.
        broken = os.path.join(work, "broken")
        os.makedirs(broken)
        with open(os.path.join(broken, ".edgarpipe-fetch.json"), "w") as f:
            f.write('{"files": {"submissions.zip": {"etag": ')
        code, _, err = fetch(bin_dir, server, broken)
        check(code == 1 and ".edgarpipe-fetch.json is not valid JSON" in err and "remove it" in err and
              len(err.strip().splitlines()) == 1, f"a broken state file: exit {code}: {err}")

        # A full fetch, then one that downloads nothing.
        code, _, err = fetch(bin_dir, server, out, "--summary-json", os.path.join(work, "f1.json"))
        check(code == 0, f"full fetch: exit {code}: {err}")
        for name in ("submissions", "companyfacts"):
            check(same_bytes(os.path.join(out, f"{name}.zip"), os.path.join(work, f"S0-{name}.zip")),
                  f"{name}.zip differs from the server's")
        summary = load_json(os.path.join(work, "f1.json"))
        check([f["status"] for f in summary["files"]] == ["downloaded", "downloaded"], f"summary {summary}")
        mtime = os.path.getmtime(os.path.join(out, "submissions.zip"))
        before = len(server.requests())
        code, _, err = fetch(bin_dir, server, out)
        again = server.requests()[before:]
        check(code == 0 and err.count("unchanged since") == 2, f"second fetch: exit {code}: {err}")
        check([r["status"] for r in again] == [304, 304] and all(r["if_none_match"] for r in again),
              f"second fetch requests: {again}")
        check(os.path.getmtime(os.path.join(out, "submissions.zip")) == mtime, "an unchanged archive was rewritten")

        # The archives change (S5): a dropped connection resumes, a 429 and a 503 are waited out.
        serve(root, s5, work, "S5")
        sub_path = "/Archives/edgar/daily-index/bulkdata/submissions.zip"
        facts_path = "/Archives/edgar/daily-index/xbrl/companyfacts.zip"
        server.faults({sub_path: ["drop:300000"], facts_path: ["429:1", "503"]})
        before = len(server.requests())
        code, _, err = fetch(bin_dir, server, out)
        log = server.requests()[before:]
        check(code == 0, f"fetch with faults: exit {code}: {err}")
        for name in ("submissions", "companyfacts"):
            check(same_bytes(os.path.join(out, f"{name}.zip"), os.path.join(work, f"S5-{name}.zip")),
                  f"{name}.zip after faults differs from the server's")
        resumed = [r for r in log if r["path"] == sub_path and r["status"] == 206]
        check(len(resumed) == 1 and resumed[0]["range"] == "bytes=300000-" and resumed[0]["if_range"],
              f"the dropped download did not resume with Range/If-Range: {log}")
        facts_log = [r for r in log if r["path"] == facts_path]
        check([r["status"] for r in facts_log] == [429, 503, 200], f"429/503 retries: {facts_log}")
        if len(facts_log) >= 2:
            check(facts_log[1]["t"] - facts_log[0]["t"] >= 0.95,
                  f"Retry-After: 1 not honoured ({facts_log[1]['t'] - facts_log[0]['t']:.2f} s)")
        check(not os.path.exists(os.path.join(out, "submissions.zip.part")), "a .part file was left")

        # A download cut off and given up (--retries 1) leaves NAME.part; when the archive has
        # changed by the next fetch, If-Range gets the whole new file, which must not be appended.
        serve(root, s0, work, "S0")
        server.faults({sub_path: ["drop:200000"]})
        code, _, err = fetch(bin_dir, server, out, "submissions", "--retries", "1")
        check(code == 1 and os.path.exists(os.path.join(out, "submissions.zip.part")),
              f"a download given up: exit {code}: {err}")
        serve(root, s5, work, "S5")
        before = len(server.requests())
        code, _, err = fetch(bin_dir, server, out, "submissions")
        log = server.requests()[before:]
        check(code == 0 and same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S5-submissions.zip")),
              f"resuming a changed archive: exit {code}: {err}")
        check([(r["range"], r["status"]) for r in log] == [("bytes=200000-", 200)],
              f"resuming a changed archive: {log}")

        # The SEC's block page; then a truncated archive: both fail clearly and keep the copy.
        serve(root, s0, work, "S0")
        server.faults({sub_path: ["403"]})
        code, _, err = fetch(bin_dir, server, out, "submissions")
        lines = [line for line in err.splitlines() if line.strip()]
        check(code == 1 and len(lines) == 1 and "HTTP 403" in lines[0] and "Request Rate Threshold Exceeded" in lines[0]
              and "--max-rate" in lines[0], f"a 403 block page: exit {code}: {err}")
        check(same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S5-submissions.zip")),
              "the archive was replaced after a 403")
        half = os.path.getsize(os.path.join(work, "S0-submissions.zip")) // 2
        server.faults({sub_path: [f"truncate:{half}"]})
        code, _, err = fetch(bin_dir, server, out, "submissions")
        check(code == 1 and "is not complete" in err, f"a truncated archive: exit {code}: {err}")
        check(same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S5-submissions.zip")),
              "the archive was replaced by a truncated one")
        check(not os.path.exists(os.path.join(out, "submissions.zip.part")), "a truncated .part was left")
        server.faults({sub_path: ["slow:0.1"]})
        started = time.monotonic()
        code, _, err = fetch(bin_dir, server, out, "submissions")
        check(code == 0 and same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S0-submissions.zip"))
              and "downloaded" in err, f"a slow server: exit {code}: {err}")
        check(time.monotonic() - started > 0.2, "the slow fault did not slow the transfer")

        # A server that sends no validators: the download is kept whole (nothing to resume by,
        # so a retry starts over), and the next fetch asks unconditionally.
        serve(root, s5, work, "S5")
        server.faults({sub_path: ["plain"]})
        code, _, err = fetch(bin_dir, server, out, "submissions")
        check(code == 0 and same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S5-submissions.zip")),
              f"an archive without validators: exit {code}: {err}")
        server.faults({sub_path: ["plain+drop:150000", "plain"]})
        serve(root, s0, work, "S0")
        before = len(server.requests())
        code, _, err = fetch(bin_dir, server, out, "submissions")
        log = server.requests()[before:]
        check([(r["range"], r["status"]) for r in log] == [(None, 200), (None, 200)],
              f"a dropped download without validators must start over, not resume: {log}")
        check(code == 0 and same_bytes(os.path.join(out, "submissions.zip"), os.path.join(work, "S0-submissions.zip")),
              f"a dropped download without validators, started over: exit {code}: {err}")

        # The rate limit, measured by the server, on increments of every filer at --max-rate 4.
        every = os.path.join(work, "every")
        before = len(server.requests())
        code, _, err = fetch(bin_dir, server, every, "--since", "2026-11-23", "--until", "2026-11-27",
                             "--max-rate", "4")
        log = server.requests()[before:]
        check(code == 0, f"increments at --max-rate 4: exit {code}: {err}")
        check(max_per_second([r["t"] for r in log]) <= 4, f"more than 4 requests in a second: "
                                                          f"{max_per_second([r['t'] for r in log])}")
        check(all(r["user_agent"] == UA for r in server.requests()), "a request without the User-Agent")

        # sync: the archives, then the week's increments, each equal to a clean load. The archives
        # were built on 2026-11-23: they hold what was filed up to 2026-11-22, so the documented
        # nightly line (--since last) continues from 2026-11-23.
        built = calendar.timegm((2026, 11, 23, 6, 0, 0))
        for archive in ("bulkdata/submissions.zip", "xbrl/companyfacts.zip"):
            os.utime(os.path.join(root, "Archives", "edgar", "daily-index", archive), (built, built))
        sink = Sqlite(work)
        db, clean0, clean5 = sink.fresh(), sink.fresh(), sink.fresh()
        edgarpipe(bin_dir, "run", s0, "--sink", clean0, "--progress", "never")
        edgarpipe(bin_dir, "run", s5, "--sink", clean5, "--progress", "never")
        synced = os.path.join(work, "synced")
        common = ["--user-agent", UA, "--out", synced, "--base-url", server.url + "/Archives/edgar", "--api-url",
                  server.url, "--retry-wait", "0.2", "--progress", "never", "--sink", db]
        code, _, err = edgarpipe(bin_dir, "sync", "--full", *common, "--summary-json", os.path.join(work, "s1.json"))
        check(code == 0, f"sync --full: exit {code}: {err[-800:]}")
        same_tables(sink, db, clean0, "sync --full")
        covered = load_json(os.path.join(synced, ".edgarpipe-fetch.json")).get("daily", {}).get("last_day")
        check(covered == "2026-11-22", f"a full sync records the last day its archives cover: {covered}")
        runs = sink.query(db, "SELECT count(*) FROM ingest_runs")[0][0]
        before = len(server.requests())
        code, _, err = edgarpipe(bin_dir, "sync", "--full", *common)
        check(code == 0 and "nothing to load" in err and sink.query(db, "SELECT count(*) FROM ingest_runs")[0][0] == runs,
              f"a second sync --full loaded: exit {code}: {err[-600:]}")
        check({r["status"] for r in server.requests()[before:]} == {304}, "a second sync --full downloaded")

        before = len(server.requests())
        started = time.monotonic()
        code, _, err = edgarpipe(bin_dir, "sync", "--since", "last", "--until", "2026-11-27", *common,
                                 "--summary-json", os.path.join(work, "s2.json"))
        seconds = time.monotonic() - started
        log = server.requests()[before:]
        check(code == 0, f"sync --since: exit {code}: {err[-800:]}")
        check(load_json(os.path.join(work, "s2.json"))["fetch"]["filers"] == 4,
              f"sync --since: filers {load_json(os.path.join(work, 's2.json'))['fetch']}")
        check(not any("123456789012" in r["path"] or "CIK12" in r["path"] for r in log),
              "a malformed index line was fetched")
        same_tables(sink, db, clean5, "sync --since over the week")
        check("no daily index for 2026-11-26" in err, f"the holiday was not reported: {err[-600:]}")
        rate = max_per_second([r["t"] for r in log])
        check(rate <= 10, f"sync --since: {rate} requests in one second")
        runs = sink.query(db, "SELECT count(*) FROM ingest_runs")[0][0]
        before = len(server.requests())
        code, _, err = edgarpipe(bin_dir, "sync", "--since", "last", "--until", "2026-11-27", *common)
        check(code == 0 and "nothing to load" in err and not server.requests()[before:] and
              sink.query(db, "SELECT count(*) FROM ingest_runs")[0][0] == runs,
              f"a second sync --since last fetched or loaded: exit {code}: {err[-600:]}")
        print(f"fixture sync --since: {seconds:.2f} s, {len(log)} requests, at most {rate} in one second",
              file=sys.stderr)

        # Days with no daily index at all, into a fresh folder: reported, nothing to load.
        fresh = [a if a not in (synced, db) else (os.path.join(work, "holiday") if a == synced else sink.fresh())
                 for a in common]
        code, _, err = edgarpipe(bin_dir, "sync", "--since", "2026-11-26", "--until", "2026-11-26", *fresh)
        check(code == 0 and "no daily index for 2026-11-26" in err and "nothing" in err and "exception" not in err,
              f"a sync over days with no index: exit {code}: {err[-600:]}")

        # A later full snapshot (S5's archives) loads over the increments and clears them: they
        # are older than it.
        serve(root, s5, work, "S5")
        code, _, err = edgarpipe(bin_dir, "sync", "--full", *common)
        check(code == 0 and not os.path.exists(os.path.join(synced, "daily")),
              f"sync --full after increments: exit {code}: {err[-600:]}")
        same_tables(sink, db, clean5, "sync --full of S5 after the week's increments")

        # Two syncs never overlap.
        with open(os.path.join(synced, ".edgarpipe-sync.lock"), "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            code, _, err = edgarpipe(bin_dir, "sync", "--full", *common)
            check(code == 1 and "another sync is running" in err, f"a second sync at once: exit {code}: {err}")

        # The nightly commands as documented, on archives built on 2026-11-23 (the increments
        # after them are the week's): only the sink, the folder and the stand-in's address differ.
        for archive in ("bulkdata/submissions.zip", "xbrl/companyfacts.zip"):
            os.utime(os.path.join(root, "Archives", "edgar", "daily-index", archive), (built, built))
        groups = documented_nightly_commands()
        check([len(commands) for _, commands, _ in groups] == [2, 3],
              f"the docs' nightly commands were not all found: {groups}")
        for n, (where, commands, unit_env) in enumerate(groups):
            doc_db, doc_out = sink.fresh(), os.path.join(work, f"documented{n}")
            for args in commands:
                args = list(args)
                for flag, value in (("--sink", doc_db), ("--out", doc_out)):
                    args[args.index(flag) + 1] = value
                args += ["--base-url", server.url + "/Archives/edgar", "--api-url", server.url, "--retry-wait", "0.2"]
                if "--since" in args:
                    args += ["--until", "2026-11-27"]
                code, _, err = edgarpipe(bin_dir, *args, env=dict(os.environ, **unit_env))
                check(code == 0, f"{where}: {' '.join(args)}: exit {code}: {err[-600:]}")
            same_tables(sink, doc_db, clean5, f"{where}: the documented nightly commands")

        # A sync killed with kill -9 takes its run down with it: the run stops as on Ctrl-C and
        # is recorded interrupted; none is left loading.
        killed_db = sink.fresh()
        killed = [os.path.join(work, "killed") if a == synced else killed_db if a == db else a for a in common]
        proc = subprocess.Popen([os.path.join(bin_dir, "edgarpipe"), "sync", "--full", *killed],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, EDGARPIPE_TEST_FAULT="slow:reader:300"))
        run_pid = None
        deadline = time.monotonic() + 60
        while run_pid is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    children = [int(p) for p in f.read().split()]
            except OSError:
                children = []
            for child in children:
                try:
                    with open(f"/proc/{child}/cmdline", "rb") as f:
                        if f.read().split(b"\0")[1:2] == [b"run"]:
                            run_pid = child
                except OSError:
                    pass
        check(run_pid is not None, "sync never started its run")
        if run_pid is not None:
            time.sleep(1)  # the run is loading
            proc.kill()
            proc.wait()

            def alive(pid):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
                except OSError:
                    return False

            deadline = time.monotonic() + 30
            while alive(run_pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            check(not alive(run_pid), "the run of a sync killed with kill -9 is still running")
            statuses = [r[0] for r in sink.query(killed_db, "SELECT status FROM ingest_runs")]
            check(statuses == ["interrupted"], f"the run of a killed sync is recorded as {statuses}")
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return verdict("fetch and sync")


if __name__ == "__main__":
    sys.exit(main())
