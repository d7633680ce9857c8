"""The in-process test switch (driver `soft`): a `SoftSwitch` behind the same interface as a
real switch, so the controller, the audit and their tests cannot tell the difference, plus a way
to make the switch refuse the next change. It lives in one process's memory: it forgets its
configuration on restart and cannot be shared by several API workers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from passnic.fabric.drivers import SwitchError
from passnic.fabric.frames import SoftSwitch
from passnic.fabric.portconfig import PortConfig


class SoftSwitchDriver:
    """Configures a `SoftSwitch`. Like a Junos commit, `apply` is all or nothing.

    `saved` is the startup configuration: what `save` last persisted.
    """

    def __init__(self, switch: SoftSwitch, name: str = "soft") -> None:
        self.switch = switch
        self.name = name
        self.saved: dict[str, PortConfig] = dict(switch.ports)
        self.applied = 0  # sessions that changed something, for tests of batching
        self.saves = 0
        self._refusal: str | None = None

    def fail_next_apply(self, message: str) -> None:
        """Make the next `apply` fail with `message`, worded as the switch would print it."""
        self._refusal = message

    def apply(
        self, ports: Mapping[str, PortConfig], *, save: bool = False
    ) -> dict[str, PortConfig]:
        refusal, self._refusal = self._refusal, None
        if refusal is not None:
            raise SwitchError(f"switch {self.name} refused the port configuration: {refusal}")
        unknown = sorted(set(ports) - set(self.switch.ports))
        if unknown:
            raise SwitchError(
                f"switch {self.name} refused the port configuration: "
                f"% Invalid interface {unknown[0]}"
            )
        before = self.read(ports)
        changed = {n: c for n, c in ports.items() if before[n] != c}
        for name, config in changed.items():
            self.switch.configure(name, config)
        self.applied += bool(changed)
        if save and changed:
            self.save()
        return before

    def read(self, port_names: Iterable[str]) -> dict[str, PortConfig]:
        ports = self.switch.ports
        return {name: ports[name] for name in port_names if name in ports}

    def save(self) -> None:
        self.saved = dict(self.switch.ports)
        self.saves += 1
