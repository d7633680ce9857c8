"""The README's runnable blocks work as written: every ```sh block after a ``<!-- runnable -->``
line is run, in order, in one bash (``set -euo pipefail``) against a fresh `passnic up`
(the ``live`` fixture).

Nothing in the blocks is rewritten. The environment makes them true as written: ``HOME`` is a
directory whose ``.local/share/passnic`` is the live cloud's home (so ``~/.local/share/passnic/
clouds.yaml`` is its clouds.yaml), and the working directory has ``.venv/bin`` pointing at this
interpreter's scripts (so ``$PWD/.venv/bin`` holds ``passnic`` and ``openstack``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, LiveCloud

pytestmark = pytest.mark.osc
README = Path(__file__).resolve().parents[2] / "README.md"
RUNNABLE = re.compile(r"^<!-- runnable -->\n```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def runnable_blocks(text: str) -> list[str]:
    return [m.group(1) for m in RUNNABLE.finditer(text)]


def test_blocks_are_found_only_after_the_marker() -> None:
    text = "```sh\nnot me\n```\n<!-- runnable -->\n```sh\necho a\necho b\n```\n"
    assert runnable_blocks(text) == ["echo a\necho b\n"]


def test_the_readme_procedure_runs_as_written(live: LiveCloud, tmp_path: Path) -> None:
    blocks = runnable_blocks(README.read_text())
    assert len(blocks) >= 5, "the README lost its runnable markers"
    assert blocks[0].startswith("export OS_CLIENT_CONFIG_FILE=~/.local/share/passnic/clouds.yaml")
    home = tmp_path / "home"
    (home / ".local" / "share").mkdir(parents=True)
    (home / ".local" / "share" / "passnic").symlink_to(live.home)
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / ".venv").symlink_to(BIN.parent)
    script = ["set -euo pipefail"]
    for n, block in enumerate(blocks, 1):
        script += [f"echo '### README block {n}' >&2", "set -x", block, "set +x"]
    env = {**live.env(), "HOME": str(home)}
    del env["OS_CLIENT_CONFIG_FILE"]  # the first block sets it, as a reader does
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}"
    assert f"### README block {len(blocks)}" in proc.stderr
    # what the blocks claim in their comments
    assert "Deleted host compute-4" in proc.stdout
    servers = live.openstack_json("passnic-admin", "server", "list", "--all-projects", "--long")
    hosts = {s["Name"]: (s["Status"], s["Host"]) for s in servers}
    assert hosts == {"vm1": ("ACTIVE", "compute-1"), "vm2": ("ACTIVE", "compute-2")}
    vlans = {
        n["name"]: n["provider:segmentation_id"]
        for n in (
            live.openstack_json("passnic-admin", "network", "show", name)
            for name in ("net0", "net9", "net11", "net145")
        )
    }
    assert vlans == {"net0": 10, "net9": 1000, "net11": 11, "net145": 145}
