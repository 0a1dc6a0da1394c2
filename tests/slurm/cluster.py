"""A private one-host Slurm cluster: munged, slurmctld and slurmd on loopback, all state in one directory.

The tests start it from a fixture (``tests/slurm/conftest.py``); by hand or from a CI script:

    python tests/slurm/cluster.py start DIR     # prints SLURM_CONF=DIR/etc/slurm.conf
    SLURM_CONF=DIR/etc/slurm.conf sinfo
    python tests/slurm/cluster.py stop DIR

Nothing outside DIR is read or written: its own ``slurm.conf``, munge key and munged socket, free
ports on 127.0.0.1 (``NoCtldInAddrAny``/``NoInAddrAny``: the daemons bind loopback only), one node
with two CPUs in one partition. The settings need no systemd and no cgroup privileges
(``proctrack/linuxproc``, ``task/none``, no accounting daemon) and no root: the daemons run as
the calling user (``SlurmUser``/``SlurmdUser``), and so do the jobs. Completed jobs are logged by
``jobcomp/filetxt`` so a test can see which jobs ran. Debian packages: ``slurm-wlm`` and ``munge``.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = "slurm-wlm munge"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("mungekey", "srun", "sinfo", "squeue", "scancel", "scontrol")
# Daemons live in /usr/sbin, which a non-root PATH often lacks.
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")

PARTITION = "halut"
NODE = "halutnode"
CPUS = 2


def which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))


def missing_programs() -> list[str]:
    return [name for name in (*DAEMONS, *CLIENTS) if which(name) is None]


def unavailable_reason() -> str | None:
    """Why no cluster can be started here (None: it can)."""
    missing = missing_programs()
    if missing:
        return f"{', '.join(missing)} not installed (Debian packages: {PACKAGES})"
    return None


def slurm_version() -> tuple[int, int]:
    """(major, minor) of the installed slurmd, e.g. (22, 5) from "slurm-wlm 22.05.8"."""
    out = subprocess.run([which("slurmd"), "-V"], check=False, capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"cannot read the Slurm version from 'slurmd -V': {out.strip()!r}")
    return int(match.group(1)), int(match.group(2))


def _free_ports(count: int) -> list[int]:
    """``count`` ports free on 127.0.0.1 now (the daemons bind them a moment later)."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _free_port_range(width: int) -> tuple[int, int]:
    """``width`` consecutive free ports (srun's listening ports, ``SrunPortRange``)."""
    for start in range(47000, 60000, width):
        taken = False
        for port in range(start, start + width):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return start, start + width - 1
    raise RuntimeError("no free port range for srun")


@dataclass
class Cluster:
    """One cluster, all of it under ``root``. ``start()`` returns when a job can run."""

    root: Path
    partition: str = PARTITION
    node: str = NODE
    cpus: int = CPUS
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def jobcomp_log(self) -> Path:
        return self.root / "log" / "jobcomp.log"

    @property
    def env(self) -> dict[str, str]:
        """What a Slurm client (srun, sinfo, SiliconCompiler's scheduler) needs to find this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def client_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # ------------------------------------------------------------------ set-up

    def _write_files(self) -> None:
        for sub in ("etc", "munge", "log", "spool/ctld", "spool/d", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses a key or socket directory others can write to.
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            subprocess.run([which("mungekey"), "--create", "--keyfile", str(key)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.chmod(key, 0o600)
        (self.root / "etc" / "plugstack.conf").write_text("", encoding="utf-8")
        ctld_port, slurmd_port = _free_ports(2)
        srun_low, srun_high = _free_port_range(16)
        user = getpass.getuser()
        r = self.root
        lines = [
            "# Written by tests/slurm/cluster.py: a private one-host cluster on loopback.",
            "ClusterName=halut-test",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            f"SrunPortRange={srun_low}-{srun_high}",
            "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={r / 'munge' / 'munge.socket'}",
            f"SlurmUser={user}",
            f"SlurmdUser={user}",
            f"StateSaveLocation={r / 'spool' / 'ctld'}",
            f"SlurmdSpoolDir={r / 'spool' / 'd'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            f"PlugStackConfig={r / 'etc' / 'plugstack.conf'}",
            "MailProg=/bin/true",
            # No systemd, no cgroup: processes tracked by parent pid, tasks not confined.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={self.jobcomp_log}",
            "MpiDefault=none",
            "SwitchType=switch/none",
            # Jobs share the node by CPU (select/linear would give each job the whole node).
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/builtin",
            # The node has the CPUs written here, whatever the machine has.
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "KillWait=5",
            "InactiveLimit=0",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            (f"NodeName={self.node} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs={self.cpus} "
             "RealMemory=2048 State=UNKNOWN"),
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # Read from beside slurm.conf. Slurm >= 23 sets up a cgroup (or a systemd scope) for every
        # job step on its own, whatever the plugins above; "disabled" turns that off, so no systemd
        # and no writable /sys/fs/cgroup are needed. 22.05 does neither, and rejects the value.
        cgroup_conf = self.root / "etc" / "cgroup.conf"
        if slurm_version() >= (23, 0):
            cgroup_conf.write_text("CgroupPlugin=disabled\n", encoding="utf-8")
        else:
            cgroup_conf.unlink(missing_ok=True)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **self.env}, cwd=str(self.root), start_new_session=True)
        log.close()
        self.pids[name] = proc.pid
        self._save_pids()

    def _save_pids(self) -> None:
        (self.root / "run" / "pids.json").write_text(json.dumps(self.pids), encoding="utf-8")

    def _wait(self, what: str, test, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return
            for name, pid in self.pids.items():
                if not _alive(pid):
                    raise RuntimeError(f"{name} exited while waiting for {what}; see {self.root / 'log'}")
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}; see {self.root / 'log'}")

    def _run(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run([which(argv[0]), *argv[1:]], check=False, capture_output=True, text=True,
                              env=self.client_env(), timeout=timeout)

    def start(self, timeout: float = 60) -> Cluster:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.root = Path(self.root).resolve()
        self._write_files()
        socket_path = self.root / "munge" / "munge.socket"
        try:
            self._spawn("munged", [which("munged"), "--foreground", "--force",
                                   f"--socket={socket_path}",
                                   f"--key-file={self.root / 'munge' / 'munge.key'}",
                                   f"--pid-file={self.root / 'munge' / 'munged.pid'}",
                                   f"--log-file={self.root / 'log' / 'munged.log'}",
                                   f"--seed-file={self.root / 'munge' / 'munged.seed'}"])
            self._wait("munged's socket", socket_path.exists, timeout)
            self._spawn("slurmctld", [which("slurmctld"), "-D", "-c", "-i", "-f", str(self.conf)])
            self._wait("slurmctld", lambda: self._run("scontrol", "ping").returncode == 0
                       and "UP" in self._run("scontrol", "ping").stdout, timeout)
            self._spawn("slurmd", [which("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
            self._wait(f"node {self.node} to be idle", self._node_idle, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        try:
            out = self._run("sinfo", "--noheader", "--nodes", self.node, "--format", "%t").stdout
        except subprocess.TimeoutExpired:
            return False
        return out.strip() in ("idle", "mix", "alloc")

    # ------------------------------------------------------------------ use

    def jobs(self) -> list[dict[str, str]]:
        """The cluster's queue now (pending and running jobs): id, name, state."""
        out = self._run("squeue", "--noheader", "--format", "%i|%j|%T").stdout
        return [dict(zip(("id", "name", "state"), line.split("|", 2), strict=False))
                for line in out.splitlines() if line]

    def completed_jobs(self) -> list[dict[str, str]]:
        """Every job that ended, from jobcomp/filetxt: its fields (JobId, Name, JobState, NodeList, ...)."""
        try:
            text = self.jobcomp_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        jobs = []
        for line in text.splitlines():
            fields = {}
            for item in line.split():
                key, sep, value = item.partition("=")
                if sep:
                    fields[key] = value
            if fields:
                jobs.append(fields)
        return jobs

    # ------------------------------------------------------------------ tear-down

    def stop(self, timeout: float = 15) -> None:
        """End the jobs, then the daemons this cluster started (slurmd, slurmctld, munged)."""
        if self.pids.get("slurmctld") and _alive(self.pids["slurmctld"]):
            try:
                self._run("scancel", "--full", f"--partition={self.partition}", timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.get(name)
            if pid is None:
                continue
            _terminate(pid, timeout)
        # Job steps outlive slurmd (slurmstepd daemonises): end any task still running for this cluster.
        for pid in _job_tasks(self.conf):
            _terminate(pid, 2)
        self.pids.clear()
        pid_file = self.root / "run" / "pids.json"
        if pid_file.exists():
            pid_file.unlink()

    @classmethod
    def attach(cls, root: Path) -> Cluster:
        """The cluster started earlier in ``root`` (by ``start`` in another process)."""
        root = Path(root).resolve()
        pids = json.loads((root / "run" / "pids.json").read_text(encoding="utf-8"))
        return cls(root=root, pids={k: int(v) for k, v in pids.items()})


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child (started by another process): ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _terminate(pid: int, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _job_tasks(conf: Path) -> list[int]:
    """Processes started as tasks of this cluster's jobs: a job id and this cluster's SLURM_CONF in
    their environment (never this process or its ancestors)."""
    wanted = f"SLURM_CONF={conf}".encode()
    skip = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and any(item.startswith(b"SLURM_JOB_ID=") for item in environ):
            found.append(int(entry.name))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "check"):
        print("usage: cluster.py {start,stop,check} DIR", file=sys.stderr)
        return 2
    command, root = argv[0], Path(argv[1])
    if command == "check":
        reason = unavailable_reason()
        print(reason or "ok")
        return 1 if reason else 0
    if command == "start":
        try:
            cluster = Cluster(root=root).start()
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"SLURM_CONF={cluster.conf}")
        return 0
    try:
        Cluster.attach(root).stop()
    except FileNotFoundError:
        print(f"error: no cluster started in {root}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
