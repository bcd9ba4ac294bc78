// vigie dashboard: live updates from the event stream and the operators' actions, with the
// session's CSRF token. Pages work without it; it only saves a reload.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var body = document.body;

  function refresh() {
    var parts = document.querySelectorAll("[data-partial]");
    Array.prototype.forEach.call(parts, function (el) {
      fetch(el.getAttribute("data-partial"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } });
    });
  }

  function setTile(id, status, maintenance) {
    var tiles = document.querySelectorAll('[data-equipment]');
    Array.prototype.forEach.call(tiles, function (tile) {
      if (tile.getAttribute("data-equipment") !== id) { return; }
      var shown = maintenance ? "maintenance" : status;
      tile.className = "tile st-" + shown;
      tile.setAttribute("data-status", shown);
      var word = tile.querySelector(".word");
      if (word) { word.textContent = body.getAttribute("data-word-" + shown) || shown; }
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var action = form.getAttribute("data-action");
    if (!action) { return; }
    ev.preventDefault();
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.value !== "") { data[el.name] = el.value; }
    });
    var error = form.querySelector(".error");
    fetch(action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(data)
    }).then(function (r) {
      if (form.getAttribute("data-then") === "login") { window.location.href = "/login"; return null; }
      if (r.ok && form.getAttribute("data-then") === "reload") { window.location.reload(); return null; }
      if (r.ok) { if (error) { error.textContent = ""; } refresh(); return null; }
      return r.json().then(function (e) { if (error) { error.textContent = e.error || r.statusText; } });
    });
  });

  if (body.getAttribute("data-live") === "true" && window.EventSource) {
    var stream = new EventSource("/api/v1/stream");
    stream.addEventListener("transition", function (ev) {
      var e = JSON.parse(ev.data);
      setTile(e.equipment, e.to, !!e.maintenance);
    });
    ["alert", "ticket", "maintenance"].forEach(function (kind) {
      stream.addEventListener(kind, refresh);
    });
    stream.addEventListener("open", function () { body.setAttribute("data-stream", "open"); });
    // An alert's page shows its timeline and notifications as they land.
    if (document.querySelector("[data-alert-page]")) {
      ["alert", "notification", "ticket"].forEach(function (kind) {
        stream.addEventListener(kind, function () { window.location.reload(); });
      });
    }
  }
})();
