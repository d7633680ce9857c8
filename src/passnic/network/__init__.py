"""Networking: Neutron v2.0 subset (networks, segments, segment ranges, subnets, IPAM, ports)."""
