"""The contract between the controller and a compute host's agent, sent as JSON over HTTP.

The agent connects out to the controller (``POST /agent/v1/hosts/{hostname}/sync``): it says
what its hypervisor actually runs (``ActualGuest``) and gets back what it should run
(``DesiredGuest``). It is level-triggered: every answer lists EVERY guest the host should
know, so an agent (or a controller) that restarted only compares and repairs; nothing is
replayed. ``generation`` changes whenever the desired list of a host changes; an agent that
already has the newest generation and nothing new to say waits (long-poll) for the next one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

#: desired power of a guest on one host
#: running / stopped: defined with its devices, started or not;
#: parked: kept defined (disk and all) but stopped and holding NO device, the source side of a
#: cold migration until it is confirmed (absent) or reverted (running/stopped again);
#: absent: not on this host at all.
Power = Literal["running", "stopped", "parked", "absent"]
#: what the agent saw: one of the powers, or error (the last attempt failed, see ``error``)
State = Literal["running", "stopped", "parked", "absent", "error"]

Id = Annotated[str, Field(min_length=1, max_length=64)]
Short = Annotated[str, Field(max_length=255)]
MAX_CONSOLE = 64 * 1024


class GuestDevice(BaseModel):
    """A whole PCI function handed to the guest (libvirt ``<hostdev mode='subsystem'>``)."""

    pci_address: Short
    vendor_id: Short
    product_id: Short
    mac: Short


class GuestImage(BaseModel):
    """A Glance image as the host fetches it: ``GET {image API}/v2/images/{id}/file`` with the
    agent's token, kept only when it matches ``os_hash_value`` (else the MD5 ``checksum``).
    A machine image booted directly (UEC) names its ``kernel_id`` and ``ramdisk_id``."""

    id: Id
    disk_format: Short | None = None
    checksum: Short | None = None
    os_hash_algo: Short | None = None
    os_hash_value: Short | None = None
    kernel_id: Short | None = None
    ramdisk_id: Short | None = None
    #: the kernel command line of a direct kernel boot (Glance's ``os_command_line``)
    os_command_line: Annotated[str, Field(max_length=4096)] | None = None


class GuestSpec(BaseModel):
    """Everything a host needs to define a guest."""

    server_id: Id
    name: Short
    vcpus: int = Field(ge=1)
    ram_mb: int = Field(ge=1)
    disk_gb: int = Field(ge=0)
    image_id: str | None = None
    #: the boot image's record, and for a UEC image its kernel's and ramdisk's (by their ids)
    images: tuple[GuestImage, ...] = ()
    devices: tuple[GuestDevice, ...] = ()
    #: OpenStack's network_data.json for the guest (what cloud-init reads from a config drive)
    network_data: dict[str, Any] | None = None
    #: the ``user_data`` given at boot, base64 as the Nova API takes it (config drive
    #: ``openstack/latest/user_data``)
    user_data: Annotated[str, Field(max_length=65535)] | None = None
    #: the boot key pair, name -> public key (meta_data.json ``public_keys``)
    public_keys: dict[str, str] = Field(default_factory=dict)
    #: set while a cold migration brings the guest here: the host that has its disk
    migrated_from: str | None = None

    def image(self, image_id: str | None) -> GuestImage | None:
        """The record of ``image_id`` among ``images`` (None when not sent)."""
        return next((i for i in self.images if i.id == image_id), None)


class DesiredGuest(BaseModel):
    power: Power
    #: echoed back in ``ActualGuest.version`` once the agent acted on this wish
    version: int = Field(ge=0)
    #: how many reboots have been asked for: the agent reboots when it has done fewer
    reboots: int = Field(default=0, ge=0)
    spec: GuestSpec


class ActualGuest(BaseModel):
    server_id: Id
    state: State
    #: the ``DesiredGuest.version`` this state answers
    version: int = Field(default=0, ge=0)
    #: the reboots done so far (compared with ``DesiredGuest.reboots``)
    reboots: int = Field(default=0, ge=0)
    #: the driver's words when ``state`` is error
    error: Annotated[str, Field(max_length=4096)] | None = None
    #: the console's last ``MAX_CONSOLE`` characters, sent only when it changed
    console: Annotated[str, Field(max_length=MAX_CONSOLE)] | None = None


class SyncRequest(BaseModel):
    """One heartbeat of an agent: what runs, and the generation it already has."""

    generation: int | None = None
    guests: list[ActualGuest] = Field(default_factory=list, max_length=10_000)
    #: how long the controller may hold the answer when nothing changed (long-poll)
    wait: float = Field(default=0.0, ge=0.0, le=60.0)


class SyncAnswer(BaseModel):
    generation: int
    guests: list[DesiredGuest]
    #: the agent should come back sooner than this, or its host is declared offline
    heartbeat_timeout: float


class AgentCredential(BaseModel):
    """What the admin hands to a host's agent (its config file holds it)."""

    hostname: str
    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
