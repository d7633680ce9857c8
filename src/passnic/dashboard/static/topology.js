// The topology picture (Cytoscape.js, fixed column positions from the server) and the same
// paths as a table, refreshed every few seconds; a selected element shows its details and, for a
// NIC, switch port or server, the frame trace the server chose for it (data.trace).
(function () {
  "use strict";
  const POLL_MS = 4000;
  const box = document.getElementById("cy");
  const details = document.getElementById("details");
  const jump = document.getElementById("jump");
  let last = "";
  let selected = null;

  const cy = cytoscape({
    container: box,
    layout: { name: "preset" },
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: {
        "label": "data(label)", "text-valign": "center", "text-halign": "center",
        "shape": "round-rectangle", "width": 200, "height": 40, "text-wrap": "wrap",
        "text-max-width": 194, "font-size": 10, "background-color": "#e8eef5", "border-width": 1,
        "border-color": "#8aa1b8", "color": "#1b2733" } },
      { selector: ":parent", style: {
        "text-valign": "top", "text-halign": "center", "font-weight": "bold",
        "background-color": "#f7f9fb", "border-color": "#b7c4d1", "padding": 10 } },
      { selector: "node.nic.claimed", style: { "background-color": "#d7ecd9", "border-color": "#3a7d44" } },
      { selector: "node.nic.pci-passthrough", style: { "border-width": 2 } },
      { selector: "node.swport.bound", style: { "background-color": "#d7ecd9", "border-color": "#3a7d44" } },
      { selector: "node.swport.quarantined", style: { "background-color": "#e4e4e4", "border-color": "#9e9e9e", "color": "#555" } },
      { selector: "node.swport.trunk", style: { "background-color": "#fff3cd", "border-color": "#e0a800", "border-width": 3 } },
      { selector: "node.swport.drift", style: { "background-color": "#fde2e1", "border-color": "#c62828", "border-width": 3, "color": "#8e0000" } },
      { selector: "node.vlan", style: { "shape": "ellipse", "width": 110, "background-color": "#e3f2fd", "border-color": "#1565c0" } },
      { selector: "node.vlan.extra", style: { "background-color": "#fff3cd", "border-color": "#e0a800", "border-width": 3 } },
      { selector: "node.network", style: { "background-color": "#ede7f6", "border-color": "#5e35b1" } },
      { selector: "node.server", style: { "shape": "round-rectangle", "background-color": "#fff", "border-color": "#1f4e79", "border-width": 2 } },
      { selector: "node.server.error", style: { "border-color": "#c62828", "background-color": "#fde2e1" } },
      { selector: "node:selected", style: { "border-color": "#000", "border-width": 4 } },
      { selector: "edge", style: {
        "width": 2, "line-color": "#90a4ae", "curve-style": "bezier",
        "target-arrow-shape": "none" } },
      { selector: "edge.cable", style: { "line-color": "#3a7d44" } },
      { selector: "edge.holds", style: { "line-style": "dashed", "line-color": "#1f4e79" } },
      { selector: "edge.extra", style: { "line-color": "#e0a800", "width": 3 } },
      { selector: "edge.drift", style: { "line-color": "#c62828", "width": 3 } },
    ],
  });
  window.passnicTopology = cy;  // for the browser tests and the curious

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function loadTrace(url) {
    const holder = document.createElement("div");
    holder.id = "trace";
    holder.textContent = "Tracing…";
    details.appendChild(holder);
    fetch(url, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((html) => {
        holder.outerHTML = html;
        if (window.htmx) window.htmx.process(document.getElementById("trace"));
      });
  }

  function show(node) {
    selected = node.id();
    const data = node.data();
    details.replaceChildren(text("h2", data.label));
    const dl = document.createElement("dl");
    for (const [k, v] of data.details) {
      dl.appendChild(text("dt", k));
      dl.appendChild(text("dd", v));
    }
    details.appendChild(dl);
    if (data.trace) {
      loadTrace(data.trace);
    } else if (data.kind === "swport" || data.kind === "nic") {
      details.appendChild(text("p", "Not cabled: no frame to trace.", "muted"));
    }
    if (data.kind === "server") {
      const a = text("a", "Open the server");
      a.href = "/ui/servers/" + encodeURIComponent(data.server);
      details.appendChild(a);
    }
    details.focus({ preventScroll: true });
  }

  function select(id) {
    const node = cy.getElementById(id);
    if (node.nonempty()) {
      cy.$(":selected").unselect();
      node.select();
      show(node);
    }
  }

  cy.on("tap", "node", (evt) => show(evt.target));
  jump.addEventListener("change", () => { if (jump.value) select(jump.value); });

  function renderPaths(paths) {
    const body = document.getElementById("paths");
    body.replaceChildren();
    if (!paths.length) {
      const tr = document.createElement("tr");
      const td = text("td", "No servers yet.", "muted");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const p of paths) {
      const tr = document.createElement("tr");
      tr.dataset.server = p.server;
      if (p.drift) tr.className = "drift";
      tr.appendChild(text("td", p.server));
      tr.appendChild(text("td", p.host ? p.host + " " + p.nic : "—"));
      tr.appendChild(text("td", p.switch ? p.switch + " " + p.port + " (" + p.actual + ")" : "—", "port"));
      tr.appendChild(text("td", p.vlan == null ? "—" : "VLAN " + p.vlan, "vlan"));
      tr.appendChild(text("td", (p.networks || []).join(", ") || "—"));
      const td = document.createElement("td");
      const b = text("button", "Details");
      b.type = "button";
      b.addEventListener("click", () => select(p.host ? "nic:" + p.host + ":" + p.nic : "server:" + p.server_id));
      td.appendChild(b);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function renderJump(elements) {
    const keep = jump.value;
    jump.replaceChildren(text("option", "—"));
    jump.firstChild.value = "";
    for (const el of elements) {
      if (el.data.source || !el.data.kind || el.data.kind === "host" || el.data.kind === "switch") continue;
      const o = text("option", el.data.kind + ": " + el.data.label);
      o.value = el.data.id;
      jump.appendChild(o);
    }
    jump.value = keep;
  }

  function refresh() {
    fetch("/ui/topology.json", { credentials: "same-origin" })
      .then((r) => {
        if (r.redirected || r.status === 401) { window.location = "/ui/login"; return null; }
        return r.json();
      })
      .then((data) => {
        if (!data) return;
        const now = JSON.stringify(data);
        document.getElementById("topology-updated").textContent = "updated " + new Date().toLocaleTimeString();
        if (now === last) return;
        const first = last === "";
        last = now;
        cy.elements().remove();
        cy.add(data.elements);
        if (first) cy.fit(undefined, 20);
        box.dataset.ready = "true";
        renderPaths(data.paths);
        renderJump(data.elements);
        if (selected && cy.getElementById(selected).nonempty()) {
          cy.getElementById(selected).select();
        }
      })
      .catch(() => {
        document.getElementById("topology-updated").textContent = "not reachable; retrying";
      });
  }
  refresh();
  // A hidden tab asks nothing: the picture costs the controller a dozen API calls.
  setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
