"""The lab: a real data plane on one Linux machine (network namespaces, veth pairs, a userspace
802.1Q switch with an IOS-like SSH CLI) so Passnic drives and audits it as it would real gear."""
