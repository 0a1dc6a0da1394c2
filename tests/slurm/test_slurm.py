"""`run --scheduler slurm` against a real Slurm cluster: the private one-host cluster of
``cluster.py`` (slurmctld + slurmd on loopback, munge). Every SC node is a Slurm job; the cluster's
own job log (jobcomp/filetxt) and squeue are the witnesses, not our record alone."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from orchestrator import history
from tests.conftest import FIXTURES, as_foreground_job, write_project
from tests.slurm.cluster import Cluster, _alive, missing_programs, which
from tests.test_cli import error_lines, history_files, run_cli
from tests.test_sweeps import toy_config

# The smallest halut configurations: two designs, a few seconds of synthesis each.
SMALL = "{C: 4, K: 4, M: 1, DU: 1, dtype: int8, mem_style: latch}"


def halut_project(tmp_path: Path, data_root: Path, extra: str = "", designs: str | None = None) -> Path:
    designs = designs or (f"  - {{name: halut_encoder, parameters: {SMALL}}}\n"
                          f"  - {{name: halut_decoder, parameters: {SMALL}}}\n")
    return write_project(tmp_path, f"pdk_data_root: {data_root}\npdks: [nangate45]\ndesigns:\n{designs}{extra}")


def slurm_steps(record) -> list:
    return [s for s in record.steps if s.status in ("success", "error")]


def by_design(records) -> dict:
    return {r.design + (f"-{r.parameters['label']}" if "label" in r.parameters else ""): r for r in records}


# ------------------------------------------------------------------ the cluster itself


def test_private_cluster_runs_jobs_and_listens_on_loopback_only(slurm_cluster):
    proc = subprocess.run([which("srun"), "--partition", slurm_cluster.partition, "--job-name", "probe",
                           "sh", "-c", "echo $SLURM_JOB_ID $SLURMD_NODENAME"],
                          env=slurm_cluster.client_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    job_id, node = proc.stdout.split()
    assert node == slurm_cluster.node
    assert any(j["JobId"] == job_id and j["Name"] == "probe" and j["JobState"] == "COMPLETED"
               for j in slurm_cluster.completed_jobs())
    for name in ("slurmctld", "slurmd"):
        listening = [c.laddr.ip for c in psutil.Process(slurm_cluster.pids[name]).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening and set(listening) == {"127.0.0.1"}, (name, listening)


def test_stop_ends_every_daemon_it_started(tmp_path):
    if missing_programs():
        pytest.skip(f"no private Slurm cluster: {', '.join(missing_programs())} not installed "
                    "(Debian packages: slurm-wlm munge)")
    cluster = Cluster(root=tmp_path / "c").start()
    pids = dict(cluster.pids)
    assert set(pids) == {"munged", "slurmctld", "slurmd"}
    # The command line a CI script uses finds the cluster by its directory.
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("cluster.py")), "stop", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):  # reaps them too
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids.values())
    cluster.pids.clear()


# ------------------------------------------------------------------ runs through the cluster


@pytest.mark.slow
def test_slurm_run_runs_every_node_as_a_job_and_matches_a_local_run(slurm_env, slurm_cluster, tmp_path, pdk_data_root):
    config = halut_project(tmp_path, pdk_data_root)
    proc = run_cli(config, "run", "--scheduler", "slurm", "--jobs", "2", env=slurm_env)
    assert proc.returncode == 0, proc.stderr
    on_cluster = by_design(history.load_records(config.parent / "reports" / "history"))
    assert set(on_cluster) == {"halut_encoder", "halut_decoder"}

    completed = {j["Name"]: j for j in slurm_cluster.completed_jobs()}
    for record in on_cluster.values():
        ran = slurm_steps(record)
        assert [s.step for s in ran][:2] == ["elaborate", "synthesis"]
        if shutil.which("sta"):
            assert "synthesis.timing" in [s.step for s in ran]
        for step in ran:
            where = step.ran_on
            assert where["scheduler"] == "slurm" and where["node"] == slurm_cluster.node
            assert where["partition"] == slurm_cluster.partition
            # The cluster's own log knows the job by the id the record gives.
            job = completed[where["job_name"]]
            assert job["JobId"] == where["job_id"] and job["JobState"] == "COMPLETED"
            assert where["job_name"].endswith(f"_{step.step}_0")

    # The same inputs on this machine give the same netlist figures.
    proc = run_cli(config, "run", "--scheduler", "local", "--force", env=slurm_env)
    assert proc.returncode == 0, proc.stderr
    newest = by_design(r for r in history.load_records(config.parent / "reports" / "history")
                       if r.run_id not in {c.run_id for c in on_cluster.values()})
    for name, record in on_cluster.items():
        local = newest[name]
        assert all("scheduler" not in s.ran_on and s.ran_on["host"] == socket.gethostname()
                   for s in slurm_steps(local))
        assert record.metrics.area_um2 == pytest.approx(local.metrics.area_um2, rel=1e-9)
        assert record.metrics.stdcell_count == local.metrics.stdcell_count
        assert record.metrics.register_count == local.metrics.register_count
        assert record.metrics.tns_ns == local.metrics.tns_ns  # both None without sta

    # Unchanged inputs: the cache answers, and nothing is submitted to the cluster.
    jobs_before = len(slurm_cluster.completed_jobs())
    proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    assert proc.returncode == 0, proc.stderr
    assert "0 ran, 2 cached" in proc.stderr
    assert len(slurm_cluster.completed_jobs()) == jobs_before


@pytest.mark.slow
def test_more_jobs_than_cores_queue_on_the_cluster(slurm_env, slurm_cluster, tmp_path, pdk_data_root):
    # Three job processes at once (above this machine's and the cluster's two CPUs); each node
    # asks for both CPUs, so the cluster has to queue them and run one at a time.
    config = toy_config(tmp_path, "flow: {scheduler_options: ['--cpus-per-task=2']}\n", pdks="[nangate45]",
                        data_root=pdk_data_root)
    config.write_text(config.read_text().replace(
        "designs:\n  - {name: counter, generator: toygen, parameters: {WIDTH: 8}}\n",
        "designs:\n" + "".join(f"  - {{name: counter, generator: toygen, label: w{w}, parameters: {{WIDTH: {w}}}}}\n"
                               for w in (4, 8, 12))))
    before = {j["JobId"] for j in slurm_cluster.completed_jobs()}
    proc = run_cli(config, "run", "--scheduler", "slurm", "--jobs", "3", env=slurm_env)
    assert proc.returncode == 0, proc.stderr
    records = history.load_records(config.parent / "reports" / "history")
    assert len(records) == 3 and all(r.status in ("pass", "partial") for r in records)

    # The progress display: all three started before any finished, and each showed its steps.
    lines = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    first_done = next(i for i, line in enumerate(lines) if ": partial" in line or ": pass" in line)
    assert sum(": starting" in line for line in lines[:first_done]) == 3
    for label in ("w4", "w8", "w12"):
        assert any(f"counter-{label}-nangate45: synthesis" in line for line in lines)

    jobs = [j for j in slurm_cluster.completed_jobs() if j["JobId"] not in before]
    # One Slurm job per SC node that ran: elaborate + synthesis per job (+ synthesis.timing where sta is installed).
    nodes = sum(len(slurm_steps(r)) for r in records)
    assert nodes >= 6 and len(jobs) == nodes and all(j["JobState"] == "COMPLETED" for j in jobs)
    intervals = sorted((datetime.fromisoformat(j["StartTime"]), datetime.fromisoformat(j["EndTime"])) for j in jobs)
    assert all(later[0] >= earlier[1] for earlier, later in zip(intervals, intervals[1:], strict=False)), intervals
    assert {s.ran_on["job_id"] for r in records for s in slurm_steps(r)} == {j["JobId"] for j in jobs}


@pytest.mark.slow
def test_node_failing_on_the_cluster_gives_a_fail_record_with_its_log(slurm_env, slurm_cluster, tmp_path,
                                                                      pdk_data_root):
    config = toy_config(tmp_path, pdks="[nangate45]", data_root=pdk_data_root)
    config.write_text(config.read_text().replace("name: counter", "name: broken_counter"))
    before = {j["JobId"] for j in slurm_cluster.completed_jobs()}
    proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    assert proc.returncode == 1
    (record,) = history.load_records(config.parent / "reports" / "history")
    assert record.status == "fail" and record.reason.startswith("step elaborate failed (log: ")
    assert Path(record.logs["elaborate"]).is_file()
    (elaborate,) = [s for s in record.steps if s.step == "elaborate"]
    assert elaborate.status == "error" and elaborate.ran_on["scheduler"] == "slurm"
    # What the node said on the compute node, as srun collected it.
    assert "slang/elaborate reported 1 errors" in Path(elaborate.ran_on["log"]).read_text(errors="replace")
    (job,) = [j for j in slurm_cluster.completed_jobs() if j["JobId"] not in before]
    assert job["JobId"] == elaborate.ran_on["job_id"] and job["JobState"] == "FAILED"


@pytest.mark.slow
def test_node_that_cannot_start_on_the_compute_node_names_its_slurm_log(slurm_env, slurm_cluster, tmp_path,
                                                                        pdk_data_root):
    # --export=NONE: the compute node gets none of this environment (PATH, PYTHONPATH), as on a
    # cluster whose nodes lack the Python environment; SC's run_node cannot even start there.
    config = toy_config(tmp_path, "flow: {scheduler_options: ['--export=NONE']}\n", pdks="[nangate45]",
                        data_root=pdk_data_root)
    proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    assert proc.returncode == 1
    (record,) = history.load_records(config.parent / "reports" / "history")
    assert record.status == "fail"
    slurm_log = Path(record.logs["elaborate"])
    assert slurm_log.parent.name == "sc_configs" and slurm_log.name.endswith("_elaborate_0.log")
    assert f"(log: {slurm_log})" in record.reason
    said = slurm_log.read_text(errors="replace")  # "No module named 'siliconcompiler'" or "python3: not found"
    assert "No module named 'siliconcompiler'" in said or "python3: command not found" in said, said
    (elaborate,) = [s for s in record.steps if s.step == "elaborate"]
    assert elaborate.ran_on["node"] == slurm_cluster.node


@pytest.mark.slow
def test_ctrl_c_cancels_the_cluster_jobs(slurm_cluster, tmp_path, pdk_data_root):
    # Three long syntheses with --jobs 3 on two cluster CPUs: two run, one waits in the queue.
    designs = "".join(f"  - {{name: halut_encoder, label: c{c}, parameters: {{C: {c}, K: 16, M: 1, DU: 1}}}}\n"
                      for c in (32, 36, 40))
    config = halut_project(tmp_path, pdk_data_root, designs=designs)
    env = {**os.environ, **slurm_cluster.env,
           "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "--config", str(config), "run",
                             "--scheduler", "slurm", "--jobs", "3"], cwd=config.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_foreground_job)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            queue = slurm_cluster.jobs()
            running = [j for j in queue if j["name"].endswith("_synthesis_0") and j["state"] == "RUNNING"]
            if len(running) == 2 and any(j["state"] == "PENDING" for j in queue):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        else:
            pytest.fail(f"never saw two synthesis jobs running and one pending: {slurm_cluster.jobs()}")
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the orchestrator
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "3 stopped" in stderr
    # The progress knew the running jobs were in synthesis, although SC logs a Slurm node only once
    # it has ended: the orchestrator logs the submission.
    assert stderr.count("(in synthesis, ") >= 2, stderr
    assert slurm_cluster.jobs() == []
    cancelled = [j for j in slurm_cluster.completed_jobs() if j["JobState"] == "CANCELLED"]
    assert len([j for j in cancelled if j["Name"].endswith("_synthesis_0")]) >= 2
    assert history_files(config) == []
    # Nothing of these jobs is still running anywhere (the node tasks, their tools, srun).
    time.sleep(1.0)
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if any(str(tmp_path) in part for part in (p.info["cmdline"] or []))]
    assert leftovers == []


# ------------------------------------------------------------------ a cluster that cannot take the run


def _conf_with_port(cluster_conf: Path | None, port: int, out: Path) -> Path:
    lines = [f"SlurmctldPort={port}" if line.startswith("SlurmctldPort=") else line
             for line in (cluster_conf.read_text().splitlines() if cluster_conf else [])]
    if not cluster_conf:
        lines = ["ClusterName=nowhere", "SlurmctldHost=localhost(127.0.0.1)", f"SlurmctldPort={port}",
                 "NodeName=n1 CPUs=1 State=UNKNOWN", "PartitionName=p Nodes=n1 Default=YES"]
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture
def no_controller_conf(tmp_path) -> Path:
    if shutil.which("sinfo") is None:
        pytest.skip("sinfo not installed (Debian package slurm-client, part of slurm-wlm)")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return _conf_with_port(None, port, tmp_path / "slurm.conf")


def test_unreachable_controller_is_one_line_not_a_hang(tmp_path, no_controller_conf):
    config = toy_config(tmp_path / "p", pdks="[nangate45]")
    began = time.monotonic()
    proc = run_cli(config, "run", "--scheduler", "slurm", env={"SLURM_CONF": str(no_controller_conf)}, timeout=120)
    elapsed = time.monotonic() - began
    assert proc.returncode == 2
    assert error_lines(proc) == [(
        f"error: slurm controller not reachable (SLURM_CONF={no_controller_conf}): "
        "slurm_load_partitions: Unable to contact slurm controller (connect failure)")]
    assert proc.stderr.count("\n") == 1 and elapsed < 45
    assert history_files(config) == [] and not (config.parent / "build").exists()


def test_controller_that_never_answers_is_cut_off_by_the_timeout(tmp_path, no_controller_conf):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        conf = _conf_with_port(None, silent.getsockname()[1], tmp_path / "silent.conf")
        config = toy_config(tmp_path / "p", pdks="[nangate45]")
        began = time.monotonic()
        proc = run_cli(config, "run", "--scheduler", "slurm",
                       env={"SLURM_CONF": str(conf), "HALUT_SLURM_TIMEOUT_S": "2"}, timeout=60)
        elapsed = time.monotonic() - began
    assert proc.returncode == 2
    assert error_lines(proc) == [f"error: slurm controller did not answer within 2 s (sinfo, SLURM_CONF={conf})"]
    assert elapsed < 15 and history_files(config) == []


def test_unknown_partition_is_one_line(slurm_env, slurm_cluster, tmp_path):
    config = toy_config(tmp_path, "flow: {scheduler_queue: nosuch}\n", pdks="[nangate45]")
    proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    assert proc.returncode == 2
    assert error_lines(proc) == [f"error: slurm partition 'nosuch' not found (partitions: {slurm_cluster.partition})"]
    assert history_files(config) == []


def test_partition_without_a_usable_node_is_one_line(slurm_env, slurm_cluster, tmp_path):
    config = toy_config(tmp_path, pdks="[nangate45]")
    scontrol = ["scontrol", "update", f"NodeName={slurm_cluster.node}"]
    env = slurm_cluster.client_env()
    subprocess.run([*scontrol, "State=DRAIN", "Reason=test"], env=env, check=True, timeout=30)
    try:
        proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    finally:
        subprocess.run([*scontrol, "State=RESUME"], env=env, check=True, timeout=30)
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert line.startswith(f"error: slurm partition '{slurm_cluster.partition}' has no node that can take jobs "
                           "(node states: drain")
    assert history_files(config) == []


def test_partition_that_is_down_is_one_line(slurm_env, slurm_cluster, tmp_path):
    config = toy_config(tmp_path, pdks="[nangate45]")
    scontrol = ["scontrol", "update", f"PartitionName={slurm_cluster.partition}"]
    env = slurm_cluster.client_env()
    subprocess.run([*scontrol, "State=DOWN"], env=env, check=True, timeout=30)
    try:
        proc = run_cli(config, "run", "--scheduler", "slurm", env=slurm_env)
    finally:
        subprocess.run([*scontrol, "State=UP"], env=env, check=True, timeout=30)
    assert proc.returncode == 2
    assert error_lines(proc) == [f"error: slurm partition '{slurm_cluster.partition}' is not up (availability: down)"]
    assert history_files(config) == []
