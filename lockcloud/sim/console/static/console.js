// The simulator console's page: renders the server's snapshots (server-sent events) and posts the person's actions.
// Everything shown comes from outside (lock names, push bodies), so it is set as text only: textContent and
// element creation, never innerHTML.
"use strict";

(function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const cards = new Map();
  let latest = null;

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function say(text, bad) {
    const outcome = document.getElementById("outcome");
    outcome.textContent = text;
    outcome.classList.toggle("bad", Boolean(bad));
  }

  async function act(fields) {
    try {
      const response = await fetch("api/actions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-console-token": token },
        body: JSON.stringify(fields),
      });
      let answer = { ok: false, message: "the console answered HTTP " + response.status };
      try {
        answer = await response.json();
      } catch (ignored) {
        // not JSON: keep the status line
      }
      say(answer.message, !answer.ok);
    } catch (error) {
      say("the console is not reachable: " + error, true);
    }
  }

  function button(label, fields, extra) {
    const name = typeof fields === "function" ? fields().do : fields.do;
    const node = el("button", Object.assign({ type: "button", "data-action": name }, extra || {}), label);
    node.addEventListener("click", function () {
      act(typeof fields === "function" ? fields() : fields);
    });
    return node;
  }

  // -- one card per lock, built once and updated in place (focus and typed input survive updates) ---------------

  function buildCard(lock) {
    const id = lock.device_id;
    const card = el("article", { class: "lock", "data-device-id": id, "aria-labelledby": "name-" + id });
    const head = el("header");
    const name = el("h3", { id: "name-" + id });
    head.append(name, el("span", { class: "id" }, id));
    const facts = el("dl", { class: "facts" });
    const values = {};
    for (const [key, label] of [["model", "Model"], ["radio", "Radio"], ["online", "Online"],
      ["battery", "Battery"], ["door", "Door"], ["bolt", "Bolt"], ["request", "Visitor"]]) {
      values[key] = el("dd", { "data-field": key });
      facts.append(el("dt", {}, label), values[key]);
    }

    const enrolling = el("div", { class: "enrolling", "data-field": "enrollment", hidden: "" });
    const enrollText = el("p", { class: "enroll-text" });
    const press = button("Press", { do: "press", device_id: id }, { class: "primary" });
    const auto = button("Let it run by itself", { do: "auto_press", device_id: id, interval: 0.5 });
    const enrollButtons = el("div", { class: "actions" });
    enrollButtons.append(press, auto);
    enrolling.append(enrollText, enrollButtons);

    const membersTitle = el("h4", {}, "Keys by member");
    const members = el("ul", { class: "members", "data-field": "members" });
    const panels = el("div", { class: "panels" });

    const pinForm = el("form", { class: "pin-form", "aria-label": "Keypad of " + id });
    const pinInput = el("input", {
      name: "pin", inputmode: "numeric", autocomplete: "off", "aria-label": "PIN or code",
      placeholder: "PIN", maxlength: "12", "data-field": "pin",
    });
    pinForm.append(pinInput, el("button", { type: "submit", "data-action": "type_pin" }, "Type PIN"));
    pinForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const pin = pinInput.value;
      pinInput.value = "";
      act({ do: "type_pin", device_id: id, pin: pin });
    });

    const wrongMethod = el("select", { "aria-label": "Wrong attempt with", "data-field": "wrong-method" });
    for (const method of ["fingerprint", "password", "card", "face"]) {
      wrongMethod.append(el("option", { value: method }, method));
    }
    const doorButton = button("Open door", function () {
      return { do: "door", device_id: id, open: !(latestLock(id) || {}).door_open };
    });
    const onlineButton = button("Take offline", function () {
      return { do: "online", device_id: id, online: !(latestLock(id) || { online: true }).online };
    });
    const actions = el("div", { class: "actions" });
    actions.append(
      pinForm,
      button("Ring doorbell", { do: "ring_doorbell", device_id: id }),
      wrongMethod,
      button("Wrong attempt", function () {
        return { do: "wrong_attempt", device_id: id, method: wrongMethod.value };
      }),
      button("Duress unlock", { do: "duress_unlock", device_id: id }),
      doorButton,
      button("Drain battery", function () {
        const level = (latestLock(id) || { battery: 100 }).battery;
        return { do: "battery", device_id: id, level: Math.max(0, level - 25) };
      }),
      onlineButton,
    );
    card.append(head, facts, enrolling, membersTitle, members, panels, actions);
    return { card, name, values, enrolling, enrollText, press, members, panels, doorButton, onlineButton };
  }

  function latestLock(id) {
    if (!latest) {
      return null;
    }
    const lock = latest.locks.find(function (item) { return item.device_id === id; });
    return lock ? Object.assign({ door_open: lock.door === "open" }, lock) : null;
  }

  function setValue(node, text, tone) {
    node.textContent = text;
    node.className = tone ? "state-" + tone : "";
  }

  function updateCard(parts, lock) {
    parts.name.textContent = lock.name;
    const v = parts.values;
    setValue(v.model, lock.model + " (" + lock.product_key + ")");
    setValue(v.radio, lock.radio);
    setValue(v.online, lock.online ? "online" : "offline", lock.online ? "" : "bad");
    setValue(v.battery, lock.battery + "%", lock.battery <= 10 ? "bad" : (lock.battery <= 25 ? "warn" : ""));
    setValue(v.door, lock.door, lock.door === "open" ? "warn" : "");
    setValue(v.bolt, lock.bolt);
    setValue(v.request, lock.pending_remote_request ? "waiting to be let in" : "none");
    parts.doorButton.textContent = lock.door === "open" ? "Close door" : "Open door";
    parts.onlineButton.textContent = lock.online ? "Take offline" : "Bring online";
    const enrollment = lock.enrollment;
    if (enrollment) {
      parts.enrolling.hidden = false;
      const done = enrollment.total - enrollment.remaining;
      parts.enrollText.textContent = "Enrolling " + enrollment.unlock_type + " for " + enrollment.user_id + ": "
        + done + " of " + enrollment.total + " done.";
      parts.press.textContent = enrollment.step;
    } else {
      parts.enrolling.hidden = true;
    }
    clear(parts.members);
    for (const member of lock.members) {
      const who = member.user_id === null ? "unassigned"
        : member.user_id + (member.name ? " (" + member.name + ")" : "")
          + (member.user_type === 2 ? ", non-home user" : "");
      const item = el("li", {}, who);
      const keys = el("ul");
      for (const key of member.keys) {
        let text = "#" + key.unlock_no + " " + key.unlock_type + (key.name ? " \u201c" + key.name + "\u201d" : "");
        if (key.hijack) { text += " \u2022 duress alarm"; }
        if (!key.synced) { text += " \u2022 not synced"; }
        keys.append(el("li", {}, text));
      }
      item.append(keys);
      parts.members.append(item);
    }
    if (lock.members.length === 0) {
      parts.members.append(el("li", {}, "no keys"));
    }
    clear(parts.panels);
    for (const panel of lock.panels || []) {
      const box = el("div", { class: "panel", "data-panel": panel.name });
      box.append(el("h4", {}, panel.title));
      if (panel.rows.length === 0) {
        box.append(el("p", { class: "hint" }, "none"));
      } else {
        const table = el("table");
        const columns = Object.keys(panel.rows[0]);
        const head = el("tr");
        for (const column of columns) { head.append(el("th", { scope: "col" }, column)); }
        table.append(head);
        for (const row of panel.rows) {
          const line = el("tr");
          for (const column of columns) { line.append(el("td", {}, row[column])); }
          table.append(line);
        }
        box.append(table);
      }
      parts.panels.append(box);
    }
  }

  // -- feeds ------------------------------------------------------------------------------------------------------

  function time(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function renderPushes(pushes) {
    const list = document.getElementById("push-list");
    clear(list);
    for (const push of pushes) {
      const item = el("li", { "data-protocol": String(push.protocol) });
      const body = push.body || {};
      const what = push.protocol === 4 ? "status report" : (body.bizCode || "device event");
      item.append(
        el("div", { class: "meta" }, "#" + push.seq + " " + time(push.t / 1000) + " \u2022 " + push.device_id
          + " \u2022 protocol " + push.protocol + " \u2022 " + what),
        el("pre", {}, JSON.stringify(body, null, 1)),
      );
      list.append(item);
    }
    if (pushes.length === 0) {
      list.append(el("li", { class: "hint" }, "no push messages yet"));
    }
  }

  function renderCalls(calls) {
    const list = document.getElementById("call-list");
    clear(list);
    for (const call of calls) {
      const item = el("li", { "data-seq": String(call.seq) });
      let answer = call.code === null ? "ok" : "code " + call.code;
      if (call.http_status !== 200) { answer = "HTTP " + call.http_status; }
      if (call.response_lost) { answer += ", response lost"; }
      const line = el("div");
      line.append(
        el("code", {}, call.method + " " + call.path),
        document.createTextNode(" \u2192 "),
        el("span", { class: call.code === null && call.http_status === 200 ? "" : "code-bad" }, answer),
      );
      item.append(line, el("div", { class: "meta" }, "#" + call.seq + " " + time(call.at)
        + (call.action ? " \u2022 " + call.action : "") + (call.tid ? " \u2022 tid " + call.tid : "")));
      list.append(item);
    }
    if (calls.length === 0) {
      list.append(el("li", { class: "hint" }, "no REST calls yet"));
    }
  }

  function renderFaults(faults, locks) {
    const parts = [];
    for (const [code, rate] of Object.entries(faults.error_rates)) { parts.push("outage " + code + " at " + rate); }
    if (faults.lost_response_rate > 0) { parts.push("lost responses at " + faults.lost_response_rate); }
    if (faults.latency > 0) { parts.push("latency " + faults.latency + " s"); }
    if (faults.clock_offset !== 0) { parts.push("clock " + faults.clock_offset + " s ahead"); }
    for (const one of faults.scripted) {
      const what = one.code !== null ? "code " + one.code : (one.gateway !== null ? "HTTP " + one.gateway : "lost response");
      parts.push(what + " for the next " + (one.times > 1 ? one.times + " " : "") + (one.action || "call"));
    }
    document.getElementById("faults-now").textContent = parts.length ? "Now: " + parts.join("; ") : "No faults.";
    for (const select of document.querySelectorAll(".lock-choice")) {
      if (select.options.length !== locks.length) {
        clear(select);
        for (const lock of locks) { select.append(el("option", { value: lock.device_id }, lock.name)); }
      }
    }
  }

  function render(state) {
    latest = state;
    document.getElementById("project").textContent = state.access_id;
    const list = document.getElementById("lock-list");
    for (const lock of state.locks) {
      let parts = cards.get(lock.device_id);
      if (!parts) {
        parts = buildCard(lock);
        cards.set(lock.device_id, parts);
        list.append(parts.card);
      }
      updateCard(parts, lock);
    }
    renderPushes(state.pushes);
    renderCalls(state.requests);
    renderFaults(state.faults, state.locks);
  }

  // -- faults form ------------------------------------------------------------------------------------------------

  function showFaultFields() {
    const kind = document.getElementById("fault-kind").value;
    for (const label of document.querySelectorAll("#fault-form label[data-for]")) {
      label.hidden = !label.getAttribute("data-for").split(" ").includes(kind);
    }
  }

  function setUpFaults() {
    const form = document.getElementById("fault-form");
    document.getElementById("fault-kind").addEventListener("change", showFaultFields);
    showFaultFields();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const kind = form.elements.kind.value;
      const fields = { do: "fault", kind: kind };
      for (const label of form.querySelectorAll("label[data-for]")) {
        if (!label.hidden) {
          const input = label.querySelector("input, select");
          fields[input.name] = input.value;
        }
      }
      act(fields);
    });
  }

  // -- live updates -----------------------------------------------------------------------------------------------

  function connect() {
    const status = document.getElementById("connection");
    const events = new EventSource("api/events?token=" + encodeURIComponent(token));
    events.addEventListener("state", function (event) {
      status.textContent = "live";
      status.className = "connection live";
      render(JSON.parse(event.data));
    });
    events.addEventListener("error", function () {
      status.textContent = "disconnected, retrying\u2026";
      status.className = "connection lost";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpFaults();
    connect();
  });
})();
