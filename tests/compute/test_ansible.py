"""Ansible's openstack.cloud collection, unmodified, against a running Passnic: the playbook
tests/compute/ansible/passthrough.yml runs twice; the second run must report no change.

The collection comes with the ``ansible`` package of the test extras (Ansible Galaxy is not
needed). Its modules run with the openstacksdk the Makefile puts in ``.venv/ansible-openstacksdk``
(below 4.15: the collection reads ``openstack.version``, which later releases do not import).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.compute.test_openstack_cli import Inventory, inventory
from tests.compute.test_server_extras import PUBLIC_KEY
from tests.conftest import BIN, LiveCloud

pytestmark = pytest.mark.osc

__all__ = ["inventory"]  # the module fixture, shared with the CLI test

PLAYBOOK = Path(__file__).parent / "ansible" / "passthrough.yml"
SIDE_SDK = BIN.parent / "ansible-openstacksdk"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def play(live: LiveCloud, tmp: Path, skip: tuple[str, ...] = ()) -> tuple[int, int, str]:
    """(changed, failed, output) of one run of the playbook."""
    playbook = BIN / "ansible-playbook"
    if not playbook.exists() or not SIDE_SDK.is_dir():
        pytest.fail(f"ansible-playbook or {SIDE_SDK} is missing: make test installs them")
    env = live.env()
    env.update(
        {
            "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PYTHONPATH": str(SIDE_SDK),
        }
    )
    argv = [
        str(playbook), "-i", "localhost,", "-c", "local",
        "-e", f"public_key='{PUBLIC_KEY}'", str(PLAYBOOK),
    ]  # fmt: skip
    if skip:
        argv[1:1] = ["--skip-tags", ",".join(skip)]
    import subprocess

    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    recap = [m for line in proc.stdout.splitlines() if (m := RECAP.match(line))]
    assert recap, output
    _ok, changed, unreachable, failed = (int(g) for g in recap[-1].groups())
    assert unreachable == 0, output
    return changed, failed, output


def test_playbook_twice(live: LiveCloud, inventory: Inventory, tmp_path: Path) -> None:
    for host in ("compute-0", "compute-1"):
        inventory.passthrough(host, "enp0s3", "group0-data0")
    # openstack.cloud.quota also reads Neutron's quotas: its task runs where Neutron has them
    project = inventory.http.get("/identity/v3/projects?name=project1").json()["projects"][0]
    neutron = inventory.http.get(f"/networking/v2.0/quotas/{project['id']}")
    skip = () if neutron.status_code == 200 else ("quota",)
    changed, failed, output = play(live, tmp_path, skip)
    assert failed == 0, output
    assert changed >= 7, output  # everything was made on the first run
    server = live.openstack_json("passnic-user1", "server", "show", "avm")
    assert server["status"] == "ACTIVE" and server["key_name"] == "akey"
    assert server["properties"] == {"role": "web"}
    changed, failed, output = play(live, tmp_path, skip)
    assert (changed, failed) == (0, 0), output
    shutil.rmtree(tmp_path / "ansible-tmp", ignore_errors=True)
