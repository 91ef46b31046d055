#!/usr/bin/env python3
"""deploy/slurm/edgarpipe-array.sbatch on a real one-node Slurm (Debian's slurm-wlm and munge)
started on loopback by this test, into PostgreSQL:

- a 3-task array over a generated corpus, one shard per task, with task 1 requeued (killed)
  mid-load: the tables equal a single run's load, and the killed attempt is marked interrupted;
- `scontrol requeue` of a finished task reruns it and loads nothing twice;
- the array submitted again loads nothing;
- an array that is not 0-(N-1) is refused with a message.

The Slurm is private to the test: its own munged socket and key, its own ports, state and spool
under a temp dir, SLURM_CONF for every client command; SlurmUser=root (so it runs as root, like
the CI), proctrack/linuxproc and task/none (no cgroups), sched_interval=1 so a requeued task
reruns in seconds. Every daemon it starts is stopped by pid, after its jobs are cancelled.
Skips (exit 77) without slurm-wlm or munge, when not root, or without EDGARPIPE_TEST_PG.

Usage: slurm_test.py REPO_ROOT BIN_DIR
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sinktest import TABLES, Postgres, check, failures, verdict  # noqa: E402

TASKS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slurm:
    """munged, slurmctld and slurmd for one node called localhost, all under `work`."""

    def __init__(self, work):
        self.work, self.daemons = work, []
        for d in ("state", "spool", "log"):
            os.makedirs(os.path.join(work, d))
        self.conf = os.path.join(work, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        munge_socket = os.path.join(work, "munge.socket")
        key = os.path.join(work, "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(1024))
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=edgarpipe-test
SlurmctldHost=localhost
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket},cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=5
StateSaveLocation={work}/state
SlurmdSpoolDir={work}/spool
SlurmctldPidFile={work}/slurmctld.pid
SlurmdPidFile={work}/slurmd.pid
SlurmctldLogFile={work}/log/slurmctld.log
SlurmdLogFile={work}/log/slurmd.log
NodeName=localhost CPUs={os.cpu_count()} RealMemory=4096 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        # --force: the key lies under /tmp, which munged would refuse as world-writable.
        self.start("munged", "--foreground", "--force", f"--socket={munge_socket}", f"--key-file={key}",
                   f"--pid-file={work}/munged.pid", f"--log-file={work}/log/munged.log",
                   f"--seed-file={work}/munge.seed")
        self.wait_for(lambda: os.path.exists(munge_socket), "munged's socket")
        self.start("slurmctld", "-D", "-c")
        self.start("slurmd", "-D", "-N", "localhost")
        self.wait_for(lambda: self.run("sinfo", "-h", "-o", "%T").stdout.strip() == "idle", "an idle node")

    def start(self, *argv):
        log = open(os.path.join(self.work, "log", argv[0] + ".out"), "w")
        self.daemons.append(subprocess.Popen(list(argv), env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def wait_for(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not condition():
            for d in self.daemons:
                if d.poll() is not None:
                    raise RuntimeError(f"{d.args[0]} exited with {d.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} after {timeout} s")
            time.sleep(0.2)

    def run(self, *argv, timeout=600, env=None):
        return subprocess.run(list(argv), env=env or self.env, capture_output=True, text=True, timeout=timeout)

    def job(self, job_id):
        """scontrol's fields of one job (or array task, `A_I`)."""
        out = self.run("scontrol", "-o", "show", "job", job_id).stdout
        return dict(f.split("=", 1) for f in out.split() if "=" in f)

    def logs(self):
        text = []
        for name in sorted(os.listdir(os.path.join(self.work, "log"))):
            with open(os.path.join(self.work, "log", name), errors="replace") as f:
                text.append(f"--- {name}\n" + f.read()[-1500:])
        return "\n".join(text)

    def stop(self):
        # Jobs first: a slurmd stopped under a running job leaves its slurmstepd behind.
        if self.daemons and self.daemons[-1].poll() is None:
            self.run("scancel", "--full", "--user=root", timeout=60)
            try:
                self.wait_for(lambda: self.run("squeue", "-h").stdout.strip() == "", "empty queue", 30)
            except RuntimeError:
                pass
        for d in reversed(self.daemons):
            if d.poll() is None:
                d.send_signal(signal.SIGTERM)
                try:
                    d.wait(15)
                except subprocess.TimeoutExpired:
                    d.kill()
                    d.wait()


def main():
    root, bin_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pg = os.environ.get("EDGARPIPE_TEST_PG")
    missing = [t for t in ("munged", "slurmctld", "slurmd", "sbatch") if not shutil.which(t)]
    why = (f"missing {', '.join(missing)} (deploy/install-deps.sh installs slurm-wlm and munge)" if missing
           else "not root (the test's Slurm has SlurmUser=root)" if os.geteuid() != 0
           else "EDGARPIPE_TEST_PG unset" if not pg else None)
    if why:
        print(f"slurm test skipped: {why}")
        return 77
    script = os.path.join(root, "deploy", "slurm", "edgarpipe-array.sbatch")
    edgarpipe = os.path.join(bin_dir, "edgarpipe")
    work = tempfile.mkdtemp(prefix="edgarpipe-slurm-")
    pg_sink = Postgres(pg, "edgarpipe_slurm")
    slurm = None
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([os.path.join(bin_dir, "edgarpipe-gen"), "--out", corpus, "--seed", "19",
                        "--submissions", "300", "--companyfacts", "9", "--malformed", "2"],
                       check=True, stdout=subprocess.DEVNULL)
        reference, url = pg_sink.fresh(), pg_sink.fresh()
        r = subprocess.run([edgarpipe, "run", corpus, "--sink", reference, "--progress", "never"],
                           capture_output=True, text=True, timeout=600)
        check(r.returncode == 3, f"the single-run load: exit {r.returncode}: {r.stderr[-500:]}")

        slurm = Slurm(work)
        # The script's #SBATCH asks 4 CPUs and 3G a task; this node has what the machine has.
        sbatch = ["sbatch", "--parsable", "--cpus-per-task=1", "--mem=500M", f"--chdir={work}",
                  f"--output={work}/task-%a.log"]
        env = dict(slurm.env, EDGARPIPE=edgarpipe)

        def same_as_reference(when):
            for table in TABLES:
                a, b = pg_sink.dump(url, table), pg_sink.dump(reference, table)
                if a == b and a:
                    continue
                only_array = sorted(set(a) - set(b))[:3]
                only_single = sorted(set(b) - set(a))[:3]
                errors = pg_sink.query(url, "SELECT source_file, run_id, error FROM ingest_files"
                                            " WHERE status = 'rejected' ORDER BY source_file")
                check(False, f"{when}: {table} differs from a single run's load ({len(a)} vs {len(b)} rows); "
                             f"only in the array's: {only_array}; only in the single run's: {only_single}; "
                             f"the array's rejects: {errors[:5]}")

        def runs():
            return pg_sink.query(url, "SELECT run_id, status, files_loaded, rows_written FROM ingest_runs"
                                      " ORDER BY run_id")

        def task_logs():
            return slurm.run("sh", "-c", f"tail -n 5 {work}/task-*.log").stdout

        # 1. The array, with task 1 requeued while it loads: Slurm's SIGTERM stops it mid-load and
        # the requeued attempt finishes the shard. A slow writer (200 ms a file, ~20 s a shard)
        # keeps task 1 loading well past the first 20 files committed, also on a loaded machine
        # (at 40 ms a file a busy CI once saw task 1 finish before the requeue reached it).
        started = time.monotonic()
        array = subprocess.Popen(sbatch + ["--wait", f"--array=0-{TASKS - 1}", script, corpus, "--sink", url],
                                 env=dict(env, EDGARPIPE_TEST_FAULT="slow:writer:200"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        job_id = array.stdout.readline().strip()
        slurm.wait_for(lambda: slurm.job(f"{job_id}_1").get("JobState") == "RUNNING", "task 1 running")
        slurm.wait_for(lambda: int(pg_sink.query(url, "SELECT count(*) FROM pg_tables WHERE tablename ="
                                                      " 'ingest_files'")[0][0]) == 1
                       and int(pg_sink.query(url, "SELECT count(*) FROM ingest_files")[0][0]) >= 20,
                       "files committed")
        r = slurm.run("scontrol", "requeue", f"{job_id}_1")
        check(r.returncode == 0, f"scontrol requeue of a running task: {r.stderr}")
        out, err = array.communicate(timeout=600)
        print(f"array of {TASKS} with a requeue mid-load: {time.monotonic() - started:.1f} s")
        check(array.returncode == 0, f"sbatch --wait: exit {array.returncode}: {out}{err}\n{task_logs()}")
        task1 = slurm.job(f"{job_id}_1")
        check(task1.get("JobState") == "COMPLETED" and task1.get("Restarts") == "1",
              f"task 1 after its requeue: {task1.get('JobState')}, restarts {task1.get('Restarts')}")
        statuses = [status for _, status, _, _ in runs()]
        check(sorted(statuses) == ["completed"] * TASKS + ["interrupted"],
              f"the runs of the array: {statuses} (the requeued attempt must be interrupted, not completed)")
        same_as_reference("the array with a task requeued mid-load")

        # 2. A finished task requeued: it runs again and loads nothing.
        before = len(runs())
        r = slurm.run("scontrol", "requeue", f"{job_id}_0")
        check(r.returncode == 0, f"scontrol requeue of a finished task: {r.stderr}")
        slurm.wait_for(lambda: slurm.job(f"{job_id}_0").get("Restarts") == "1"
                       and slurm.job(f"{job_id}_0").get("JobState") == "COMPLETED", "task 0 rerun", 120)
        rerun = runs()[before:]
        check([(s, f, w) for _, s, f, w in rerun] == [("completed", "0", "0")],
              f"the requeued finished task: runs {rerun}\n{task_logs()}")
        same_as_reference("a finished task requeued")

        # 3. The whole array again: every task skips what is loaded.
        before = len(runs())
        r = slurm.run(*sbatch, "--wait", f"--array=0-{TASKS - 1}", script, corpus, "--sink", url, env=env)
        check(r.returncode == 0, f"the array submitted again: exit {r.returncode}: {r.stderr}\n{task_logs()}")
        again = runs()[before:]
        check([(s, f, w) for _, s, f, w in again] == [("completed", "0", "0")] * TASKS,
              f"the array submitted again: runs {again}")
        same_as_reference("the array submitted again")

        # 4. An array that is not one task per shard is refused, before touching the database.
        before = len(runs())
        r = slurm.run(*sbatch, "--wait", "--array=1-2", f"--output={work}/wrong-%a.log", script, corpus,
                      "--sink", url, env=env)
        with open(os.path.join(work, "wrong-1.log")) as f:
            wrong = f.read()
        check(r.returncode == 2 and "the array must be 0-1" in wrong,
              f"--array=1-2: exit {r.returncode}: {wrong[-300:]}")
        check(len(runs()) == before, "a refused array task touched the database")
    except Exception as e:  # a daemon that would not start, a timeout: one failure with the logs
        check(False, f"{type(e).__name__}: {e}")
    finally:
        if slurm:
            if failures:
                print(slurm.logs(), file=sys.stderr)
            slurm.stop()
        pg_sink.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    return verdict("slurm")


if __name__ == "__main__":
    sys.exit(main())
