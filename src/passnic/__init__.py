"""Passnic: a compact cloud controller for VMs that own a PCI passthrough Ethernet NIC."""

__version__ = "0.1.0"
