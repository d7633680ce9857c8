"""The fabric: the access-switch ports that passthrough NICs are cabled to.

The switch port decides which project network a passthrough NIC joins (MISSION.md, "The access
switch decides the network"), so Passnic configures it and audits it. This package holds the
server-independent parts: the port model and its drift (`portconfig`), the 802.1Q rules over real
frame bytes shared by the lab switch and `trace` (`frames`), and the switch drivers (`drivers`).
"""
