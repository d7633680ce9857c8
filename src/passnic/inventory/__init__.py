"""Host inventory: hosts, their PCI Ethernet ports and interfaces, data networks, and the
StarlingX sysinv rules that decide how a NIC may be used (a pci-passthrough NIC above all)."""
