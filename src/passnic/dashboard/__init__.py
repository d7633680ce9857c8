"""The web dashboard served at ``/``: server-rendered pages (Jinja2, htmx) and a topology picture
(Cytoscape.js) of hosts, NICs, switch ports, VLANs, networks and servers.

It is a client of Passnic's own APIs, called in-process with the signed-in user's token, so it
sees exactly what that user may see through the APIs, under the same policy table, and never
reads a domain's tables.
"""
