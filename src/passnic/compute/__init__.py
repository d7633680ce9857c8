"""Compute: Nova v2.1 subset (flavors, PCI aliases, servers, cold migration) for VMs that own a
PCI passthrough NIC."""
