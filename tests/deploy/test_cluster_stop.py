"""`Cluster.stop` leaves nothing of a replica running, even a child its leader left behind when it exited on time.

No PostgreSQL, Redis or HAProxy is started: each replica is a shell that exits on SIGTERM and leaves a child that
ignores it, the shape of a server whose worker outlives its manager (the action server's old Sanic manager did).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from scripts.cluster import Cluster, ClusterConfig
from scripts.stack import Service
from tests.action_server import group_members

#: The leader exits 0 on SIGTERM; its child (an ignored SIGTERM survives exec) does not.
LEAVES_A_CHILD = 'trap "exit 0" TERM; (trap "" TERM; exec sleep 300) & echo started; wait'


def test_stop_kills_what_a_replica_left_behind(tmp_path: Path) -> None:
    cluster = Cluster(ClusterConfig(tmp_path / "cluster"))
    logs = tmp_path / "logs"
    logs.mkdir()
    started = []
    try:
        for replica in cluster.replicas:
            log_path = logs / f"{replica.name}.log"
            log = open(log_path, "wb")  # noqa: SIM115 (closed by Cluster.stop through _logs)
            cluster._logs.append(log)
            process = subprocess.Popen(
                ["sh", "-c", LEAVES_A_CHILD], stdout=subprocess.PIPE, stderr=log, start_new_session=True
            )
            assert process.stdout is not None and process.stdout.readline() == b"started\n"
            replica.service = Service(replica.name, process, log_path, log, "http://127.0.0.1:1/")
            started.append(process.pid)
        deadline = time.monotonic() + 10
        while any(len(group_members(pid)) < 2 for pid in started):  # the sleep has replaced its subshell
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cluster.stop()
        assert all(r.service is not None and r.service.process.returncode == 0 for r in cluster.replicas)
        left = {pid: group_members(pid) for pid in started}
        assert not any(left.values()), left
    finally:
        for replica in cluster.replicas:
            if replica.service is not None and replica.service.process.stdout is not None:
                replica.service.process.stdout.close()
        for pid in started:  # the test's own cleanup, whatever stop() did
            for member in group_members(pid):
                subprocess.run(["kill", "-9", member.split()[0]], check=False)
