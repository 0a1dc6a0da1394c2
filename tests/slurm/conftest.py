"""The private Slurm cluster as a fixture: started once per test session (per xdist worker), in
its own temporary directory, and stopped with everything it started when the session ends."""

from __future__ import annotations

import pytest

from tests.slurm.cluster import Cluster, unavailable_reason


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Cluster:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no private Slurm cluster: {reason}")
    cluster = Cluster(root=tmp_path_factory.mktemp("slurm"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm_env(slurm_cluster, hide_tools) -> dict[str, str]:
    """The cluster's client environment for an orchestrator run, with OpenROAD and KLayout off PATH:
    these runs go through synthesis (and OpenSTA's timing where it is installed), not the whole
    P&R flow, which CI machines would otherwise run through the cluster node by node."""
    return {**slurm_cluster.env, **hide_tools("openroad", "klayout")}
