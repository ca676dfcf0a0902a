// ledcast web UI: small vanilla script, no build step. Every state change is
// a fetch to the JSON API carrying the session's CSRF token; every text that
// came from a user or an agent is put into the page with textContent.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const messages = (() => {
    try { return JSON.parse($("#i18n").textContent); } catch (e) { return {}; }
  })();
  function msg(key, vars) {
    let text = messages["js_" + key] || key;
    Object.entries(vars || {}).forEach(([k, v]) => { text = text.split("{" + k + "}").join(String(v)); });
    return text;
  }
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, url, body, headers) {
    const init = { method, headers: Object.assign({ "X-CSRF-Token": csrf(), "Accept": "application/json" }, headers || {}), credentials: "same-origin" };
    if (body instanceof Blob || body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    let response;
    try { response = await fetch(url, init); } catch (e) { return { ok: false, status: 0, data: { error: "network" } }; }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.startsWith("application/json")) { try { data = await response.json(); } catch (e) { data = null; } }
    return { ok: response.ok, status: response.status, data };
  }
  // A plain-language sentence for an API error: the server's own sentence
  // when it sends one (a catalogue key with figures), else the error code's
  // sentence with the API's detail after it.
  function errorText(result) {
    const data = result.data || {};
    const said = data.message;
    if (said && said.key && messages["js_" + said.key]) return msg(said.key, said.params);
    const code = data.error || (result.status === 0 ? "network" : "unknown");
    const plain = messages["js_err_" + code] || msg("err_unknown");
    return data.detail ? plain + " (" + data.detail + ")" : plain;
  }
  function flash(text, kind) {
    const box = $("#flash");
    if (!box) return;
    box.textContent = text;
    box.className = "flash " + (kind || "info");
    box.hidden = false;
    window.scrollTo({ top: 0 });
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  // --- login / logout / language ------------------------------------------
  const login = $("#login-form");
  if (login) {
    login.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("#login-error");
      error.hidden = true;
      const result = await api("POST", "/api/v1/login", { username: $("#username").value.trim(), password: $("#password").value });
      if (result.ok) { location.assign(login.dataset.next || "/ui"); return; }
      const code = (result.data || {}).error;
      error.textContent = code === "account_disabled" ? msg("login_disabled")
        : result.status === 401 ? msg("login_failed") : errorText(result);
      error.hidden = false;
    });
  }
  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => { await api("POST", "/api/v1/logout", {}); location.assign("/login"); });
  }

  // --- after a change: follow the recompiler until the screens have it -----
  // Approvals and alerts answer before the screens' loops are compiled; the
  // answer names a ticket, and the next page says when it is on the loops.
  function rememberRecompile(result) {
    const pending = result && result.data && result.data.recompile;
    if (pending && pending.ticket) sessionStorage.setItem("ledcast-recompile", String(pending.ticket));
  }
  (function followRecompile() {
    const ticket = Number(sessionStorage.getItem("ledcast-recompile") || 0);
    if (!ticket) return;
    flash(msg("recompile_waiting"), "info");
    const poll = async () => {
      const result = await api("GET", "/api/v1/recompile");
      if (!result.ok || !result.data) { sessionStorage.removeItem("ledcast-recompile"); return; }
      const progress = result.data;
      if (progress.done < ticket) { setTimeout(poll, 500); return; }
      sessionStorage.removeItem("ledcast-recompile");
      const last = progress.last || {};
      if (last.error) flash(msg("recompile_failed", { error: last.error }), "error");
      else if (last.stored) flash(msg("recompile_done", { stored: last.stored }), "ok");
      else flash(msg("recompile_same"), "ok");
    };
    poll();
  })();

  // --- approve / reject / retire / end: POST then reload -------------------
  $$(".js-decide").forEach((button) => {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      const result = await api("POST", button.dataset.url, {});
      if (result.ok) { rememberRecompile(result); location.reload(); return; }
      button.disabled = false;
      flash(errorText(result), "error");
    });
  });
  $$(".js-command").forEach((button) => {
    button.addEventListener("click", async () => {
      const result = await api("POST", "/api/v1/screens/" + encodeURIComponent(button.dataset.screen) + "/commands", { action: button.dataset.action });
      flash(result.ok ? msg("command_sent") : errorText(result), result.ok ? "ok" : "error");
    });
  });
  const enroll = $("#enroll");
  if (enroll) {
    enroll.addEventListener("click", async () => {
      const result = await api("POST", "/api/v1/screens/" + encodeURIComponent(enroll.dataset.screen) + "/enrollment", {});
      if (!result.ok) { flash(errorText(result), "error"); return; }
      const box = $("#enroll-code");
      box.textContent = msg("enroll_code", { code: result.data.code, until: new Date(result.data.expires_at).toLocaleTimeString() }) + "\n" + result.data.command;
      box.hidden = false;
    });
  }
  // The screen page follows what plays: reload while nobody is typing.
  const live = $("#now-playing[data-refresh]");
  if (live) {
    setInterval(() => { const code = $("#enroll-code"); if (!document.hidden && (!code || code.hidden)) location.reload(); }, Number(live.dataset.refresh) * 1000);
  }

  // --- materials: drag-and-drop upload with per-file progress --------------
  function dateToRfc3339(value, endOfDay) {
    if (!value) return "";
    return value + (endOfDay ? "T23:59:59+08:00" : "T00:00:00+08:00");
  }
  function uploadOne(file, title, allowDuplicate) {
    const list = $("#uploads");
    const bar = el("progress", { max: "100", value: "0" });
    const status = el("span", { class: "upload-status", text: msg("upload_waiting") });
    const item = el("li", { class: "upload" }, el("span", { class: "upload-name", text: file.name }), bar, status);
    list.prepend(item);
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("title", title || file.name.replace(/\.[^.]+$/, ""));
    const tags = $("#upload-tags").value.trim();
    if (tags) form.append("tags", tags);
    const from = dateToRfc3339($("#upload-valid-from").value, false);
    const until = dateToRfc3339($("#upload-valid-until").value, true);
    if (from) form.append("valid_from", from);
    if (until) form.append("valid_until", until);
    form.append("warning", $("#upload-warning").checked ? "true" : "false");
    if (allowDuplicate) form.append("allow_duplicate", "true");
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/materials");
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) { bar.value = Math.round((100 * e.loaded) / e.total); status.textContent = msg("upload_sending", { pct: bar.value }); }
      });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          item.classList.add("done");
          status.textContent = msg("upload_done", { title: data.material.title });
          const link = el("a", { href: "/ui/materials/" + encodeURIComponent(data.material.id), text: data.material.title });
          item.append(" ", link);
        } else if (data && data.error === "duplicate" && data.existing) {
          // Already in the library: point at it; a second copy only on purpose.
          item.classList.add("duplicate");
          status.textContent = msg("upload_duplicate", { title: data.existing.title });
          const again = el("button", { type: "button", class: "secondary small", text: msg("upload_duplicate_anyway") });
          again.addEventListener("click", () => { item.remove(); uploadOne(file, title, true); });
          item.append(" ", el("a", { class: "duplicate-link", href: data.existing.url, text: msg("upload_duplicate_open") }), " ", again);
        } else {
          item.classList.add("failed");
          status.textContent = errorText({ status: xhr.status, data });
        }
        resolve();
      });
      xhr.addEventListener("error", () => { item.classList.add("failed"); status.textContent = msg("err_network"); resolve(); });
      xhr.send(form);
    });
  }
  async function uploadAll(files) {
    for (const file of files) await uploadOne(file);
    flash(msg("upload_finished"), "ok");
  }
  const drop = $("#dropzone");
  if (drop) {
    ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
    drop.addEventListener("drop", (e) => uploadAll(Array.from(e.dataTransfer.files)));
    $("#file-input").addEventListener("change", (e) => { uploadAll(Array.from(e.target.files)); e.target.value = ""; });
  }
  const textUpload = $("#text-upload");
  if (textUpload) {
    textUpload.addEventListener("click", async () => {
      const body = $("#text-body").value.trim();
      const title = $("#text-title").value.trim();
      if (!body) { flash(msg("text_empty"), "error"); return; }
      const file = new File([body], (title || "text") + ".txt", { type: "text/plain" });
      await uploadOne(file, title);
    });
  }
  function filterList(input, items) {
    const q = input.value.trim().toLowerCase();
    items.forEach((node) => { node.hidden = q !== "" && !(node.dataset.text || "").toLowerCase().includes(q); });
  }
  const libraryFilter = $("#library-filter");
  if (libraryFilter) {
    const apply = () => {
      filterList(libraryFilter, $$("#library .material"));
      const st = $("#library-state").value;
      $$("#library .material").forEach((n) => { if (st && n.dataset.state !== st) n.hidden = true; });
    };
    libraryFilter.addEventListener("input", apply);
    $("#library-state").addEventListener("change", apply);
  }

  // --- playlist builder: TOML in, compiler diagnostics inline --------------
  const pickOrder = [];
  $$(".pick-material").forEach((box) => {
    box.addEventListener("change", () => {
      const i = pickOrder.indexOf(box.value);
      if (box.checked && i < 0) pickOrder.push(box.value);
      if (!box.checked && i >= 0) pickOrder.splice(i, 1);
      $("#pick-order").textContent = pickOrder.join(" → ");
    });
  });
  const pickFilter = $("#pick-filter");
  if (pickFilter) pickFilter.addEventListener("input", () => filterList(pickFilter, $$("#pick-list .pick")));
  const q = (s) => JSON.stringify(s); // a JSON string is a valid TOML basic string
  const list = (a) => "[" + a.map(q).join(", ") + "]";
  function builderToml() {
    const id = $("#pl-id").value.trim();
    const lines = ["# made in the web UI", "", "[[playlists]]", "id = " + q(id), "name = " + q($("#pl-name").value.trim() || id), "items = ["];
    pickOrder.forEach((m) => lines.push("  { material = " + q(m) + " },"));
    lines.push("]", "", "[[schedules]]", "id = " + q(id + "-schedule"), "playlist = " + q(id));
    const sites = $$(".tg-site:checked").map((b) => b.value);
    const tags = $$(".tg-tag:checked").map((b) => b.value);
    const screens = Array.from($("#tg-screens").selectedOptions).map((o) => o.value);
    if (sites.length) lines.push("sites = " + list(sites));
    if (tags.length) lines.push("tags = " + list(tags));
    if (screens.length) lines.push("screens = " + list(screens));
    lines.push("days = " + q($("#sc-days").value));
    const hours = $("#sc-hours").value.trim();
    if (hours) lines.push("hours = " + q(hours));
    const dates = $("#sc-dates").value.split(",").map((d) => d.trim()).filter(Boolean);
    if (dates.length) lines.push("dates = " + list(dates));
    lines.push("priority = " + (parseInt($("#sc-priority").value, 10) || 0), "");
    return { id, text: lines.join("\n") };
  }
  // The server says each diagnostic in the page's language (text, hint_text)
  // and lists the builder's own file first; the others fold away.
  function diagnosticItem(d) {
    return el("li", { class: "diag " + (d.severity || "") },
      el("b", { text: msg("severity_" + d.severity) }), " ", d.text || d.message || "",
      (d.hint_text || d.hint) ? el("span", { class: "muted", text: " — " + (d.hint_text || d.hint) }) : "",
      d.where ? el("span", { class: "muted small mono diag-where", text: " (" + msg("diag_where") + " " + d.where + ")" }) : "");
  }
  function showDiagnostics(result, applied) {
    const box = $("#diagnostics");
    const othersBox = $("#other-diagnostics");
    box.replaceChildren();
    othersBox.replaceChildren();
    const data = result.data || {};
    const diagnostics = data.diagnostics || [];
    const own = diagnostics.filter((d) => d.own);
    const others = diagnostics.filter((d) => !d.own);
    own.forEach((d) => box.append(diagnosticItem(d)));
    if (others.length) {
      const list = el("ul", { class: "diagnostics" });
      others.forEach((d) => list.append(diagnosticItem(d)));
      const details = el("details", { class: "other-diagnostics" }, el("summary", { text: msg("diag_others", { n: others.length }) }), list);
      // Errors elsewhere also block saving: then the list starts open.
      details.open = others.some((d) => d.severity === "error");
      othersBox.append(details);
    }
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    if (!result.ok) { flash(errors ? msg("check_errors", { n: errors }) : errorText(result), "error"); return; }
    if (applied) flash(msg("apply_done"), "ok");
    else if (!diagnostics.length) flash(msg("check_clean"), "ok");
    else if (!own.length) flash(msg("check_own_clean", { n: others.length }), "ok");
    else flash(msg("check_with_notes", { n: own.length }), "ok");
  }
  // What approving the builder's schedule would change (the server compiles
  // it as if approved): where it beats every other schedule, which screens
  // change, what it replaces, and materials still waiting for approval.
  function showImpact(result) {
    const box = $("#impact");
    box.replaceChildren();
    const impacts = (result.data || {}).impact || [];
    if (!impacts.length) return;
    // Screens by site: "site: a, b; other site: c".
    const names = (screens) => {
      const sites = new Map();
      screens.forEach((s) => sites.set(s.site_name, (sites.get(s.site_name) || []).concat([s.name])));
      return Array.from(sites, ([site, list]) => msg("impact_site_screens", { site, screens: list.join(msg("list_separator")) })).join(msg("impact_sites_separator"));
    };
    const list = el("ul", { class: "diagnostics impact" });
    impacts.forEach((i) => {
      if (i.outranks) list.append(el("li", { class: "diag warning impact-outranks", text: msg("impact_outranks", { priority: i.priority, highest: i.outranks.highest, screens: names(i.outranks.screens) }) }));
      if (i.screens_changed.length) {
        list.append(el("li", { class: "diag info impact-changes", text: msg("impact_changes", { targeted: i.screens_targeted, changed: i.screens_changed.length, screens: names(i.screens_changed) }) }));
      } else {
        list.append(el("li", { class: "diag warning impact-no-change", text: msg("impact_no_change", { targeted: i.screens_targeted, priority: i.priority }) }));
      }
      i.replaces.forEach((r) => {
        const what = msg("impact_source_" + r.kind, { name: r.playlist_name, priority: r.priority });
        list.append(el("li", { class: "diag info impact-replaces", text: msg("impact_replaces", { what, screens: names(r.screens) }) }));
      });
      if (i.pending_materials.length) list.append(el("li", { class: "diag info", text: msg("impact_pending", { n: i.pending_materials.length }) }));
    });
    box.append(el("h3", { text: msg("impact_title") }), list);
  }
  async function submitBuilder(dryRun) {
    const built = builderToml();
    if (!/^[a-z0-9._-]+$/.test(built.id)) { flash(msg("builder_bad_id"), "error"); return; }
    if (!pickOrder.length) { flash(msg("builder_no_items"), "error"); return; }
    const exported = await api("GET", "/api/v1/export");
    if (!exported.ok) { flash(errorText(exported), "error"); return; }
    const name = "ui-" + built.id + ".toml";
    const files = exported.data.files.filter((f) => f.name !== name && f.name !== "materials.toml");
    files.push({ name, text: built.text });
    const result = await api("POST", "/api/v1/apply", { files, dry_run: dryRun, own_file: name });
    showDiagnostics(result, !dryRun);
    showImpact(result);
    if (result.ok && !dryRun) setTimeout(() => location.reload(), 1200);
  }
  const check = $("#pl-check");
  if (check) {
    check.addEventListener("click", () => submitBuilder(true));
    $("#pl-apply").addEventListener("click", () => submitBuilder(false));
  }

  // --- urgent alert ---------------------------------------------------------
  const alertSubmit = $("#alert-submit");
  if (alertSubmit) {
    const untilInput = $("#alert-until");
    // Two hours from now by the server's clock (the page says when that is).
    const defaultUntil = Number(untilInput.dataset.defaultUntil) || Date.now() + 2 * 3600 * 1000;
    const inTwoHours = new Date(defaultUntil - new Date(defaultUntil).getTimezoneOffset() * 60000);
    untilInput.value = inTwoHours.toISOString().slice(0, 16);
    alertSubmit.addEventListener("click", async () => {
      const until = new Date(untilInput.value).getTime();
      const targets = { sites: $$(".al-site:checked").map((b) => b.value), tags: $$(".al-tag:checked").map((b) => b.value), screens: [] };
      if (!targets.sites.length && !targets.tags.length) { flash(msg("alert_no_targets"), "error"); return; }
      let material = $("#alert-material").value;
      if ($('input[name="alert-kind"]:checked').value === "text") {
        const text = $("#alert-text").value.trim();
        if (!text) { flash(msg("text_empty"), "error"); return; }
        const form = new FormData();
        form.append("file", new File([text], "alert.txt", { type: "text/plain" }), "alert.txt");
        form.append("title", text.slice(0, 40));
        form.append("tags", "alert");
        // An alert's text is its own material even if the words were used before.
        form.append("allow_duplicate", "true");
        const up = await api("POST", "/api/v1/materials", form);
        if (!up.ok) { flash(errorText(up), "error"); return; }
        material = up.data.material.id;
      }
      const result = await api("POST", "/api/v1/alerts", { material_id: material, targets, until });
      if (result.ok) { rememberRecompile(result); flash(msg("alert_started"), "ok"); setTimeout(() => location.reload(), 800); }
      else flash(errorText(result), "error");
    });
  }

  // --- editions: list, diff, approve -----------------------------------------
  const editions = $("#editions");
  if (editions) {
    (async () => {
      const result = await api("GET", "/api/v1/editions");
      editions.replaceChildren();
      if (!result.ok) { editions.append(el("p", { class: "muted", text: result.status === 404 ? msg("editions_unavailable") : errorText(result) })); return; }
      const rows = result.data.editions || [];
      if (!rows.length) { editions.append(el("p", { class: "muted", text: msg("editions_none") })); return; }
      const lang = document.documentElement.lang;
      for (const ed of rows) {
        const counts = ed.counts || {};
        const box = el("article", { class: "edition", "data-id": ed.id },
          el("h3", { text: ed.id + " · " + (ed.publisher || "") + " · " + (ed.issued || "") }),
          el("p", { class: "small", text: msg("state") + ": " + (messages["js_edition_" + ed.state] || ed.state) + " · " + msg("edition_materials", { n: counts.total || 0 }) }));
        if (ed.state === "pending") {
          const diff = await api("GET", "/api/v1/editions/" + encodeURIComponent(ed.id) + "/diff");
          if (diff.ok && diff.data) {
            const summary = (diff.data.summary || {})[lang] || (diff.data.summary || {})["en"] || "";
            box.append(el("p", { class: "diff-summary", text: summary }));
            const changes = el("ul", { class: "plain small" });
            (diff.data.screens || []).forEach((c) => {
              const names = (a) => a.map((m) => m.title || m.id).join(", ");
              const line = el("li", {}, el("b", { text: c.screen_name || c.screen, title: c.screen }));
              if (c.out.length) line.append(" −" + c.out.length + " (" + names(c.out) + ")");
              if (c.in.length) line.append(" +" + c.in.length + " (" + names(c.in) + ")");
              changes.append(line);
            });
            box.append(changes);
          } else if (!diff.ok) box.append(el("p", { class: "error", text: errorText(diff) }));
        }
        if (editions.dataset.canApprove === "yes" && ed.state === "pending") {
          const button = el("button", { type: "button", text: msg("approve") });
          button.addEventListener("click", async () => {
            button.disabled = true;
            const r = await api("POST", "/api/v1/editions/" + encodeURIComponent(ed.id) + "/approve", {});
            if (r.ok) { rememberRecompile(r); location.reload(); } else { button.disabled = false; flash(errorText(r), "error"); }
          });
          box.append(button);
        }
        editions.append(box);
      }
    })();
  }

  const packUpload = $("#pack-upload");
  if (packUpload) {
    packUpload.addEventListener("click", async () => {
      const file = $("#pack-file").files[0];
      if (!file) { flash(msg("pack_choose"), "error"); return; }
      packUpload.disabled = true;
      flash(msg("pack_uploading"), "info");
      const result = await api("POST", "/api/v1/packs", file, { "Content-Type": "application/zip" });
      packUpload.disabled = false;
      if (!result.ok) { flash(errorText(result), "error"); return; }
      flash(msg("pack_imported"), "ok");
      setTimeout(() => location.reload(), 800);
    });
  }

  // --- branch: compliance table, confirmations ------------------------------
  async function loadCompliance(box) {
    const site = box.dataset.site;
    const section = box.closest(".branch-site");
    const url = "/api/v1/compliance?site=" + encodeURIComponent(site) + "&from=" + section.dataset.from + "&to=" + section.dataset.to;
    const result = await api("GET", url);
    box.replaceChildren();
    if (!result.ok) { box.append(el("p", { class: "muted", text: result.status === 404 ? msg("compliance_unavailable") : errorText(result) })); return; }
    const rows = Array.isArray(result.data) ? result.data : (result.data.days || result.data.rows || []);
    if (!rows.length) { box.append(el("p", { class: "muted", text: msg("compliance_none") })); return; }
    // One row per screen, one cell per day: the verdict, with its figures.
    const days = Array.from(new Set(rows.map((r) => r.date || r.day))).sort();
    const screens = Array.from(new Set(rows.map((r) => r.screen_id)));
    const names = {};
    $$(".branch-screen", section).forEach((a) => { names[a.dataset.screen] = $(".screen-name", a).textContent; });
    const head = el("tr", {}, el("th", { text: msg("c_screen") }), ...days.map((d) => el("th", { text: d.slice(5) })));
    const body = el("tbody");
    const symbol = { compliant: "✓", non_compliant: "✗", unknown: "?" };
    const detail = el("p", { class: "small c-detail" });
    screens.forEach((screen) => {
      const tr = el("tr", { "data-screen": screen }, el("td", { text: names[screen] || screen }));
      days.forEach((d) => {
        const r = rows.find((x) => x.screen_id === screen && (x.date || x.day) === d);
        if (!r) { tr.append(el("td", { text: "" })); return; }
        const facts = [
          msg("c_" + r.status),
          msg("c_gap") + " " + duration(r.longest_gap_seconds),
          msg("c_share") + " " + (typeof r.warning_share === "number" ? Math.round(r.warning_share * 100) + "%" : "—"),
          msg("c_online") + " " + duration(r.online_seconds),
          msg("c_records") + " " + (r.records ?? "—"),
        ].join("\n");
        const cell = el("td", { class: "c-cell", title: facts }, el("span", { class: "pill " + r.status, text: symbol[r.status] || "?" }));
        cell.addEventListener("click", () => { detail.textContent = (names[screen] || screen) + " " + d + "\n" + facts; });
        tr.append(cell);
      });
      body.append(tr);
    });
    const legend = el("p", { class: "small muted" }, ["compliant", "non_compliant", "unknown"].map((k) => symbol[k] + " " + msg("c_" + k)).join(" · ") + " · " + msg("c_hover"));
    box.append(el("table", { class: "compliance-table" }, el("thead", {}, head), body), legend, detail);
  }
  function duration(seconds) {
    if (typeof seconds !== "number") return "—";
    if (seconds >= 3600) return (seconds / 3600).toFixed(1) + " h";
    if (seconds >= 60) return Math.round(seconds / 60) + " min";
    return Math.round(seconds) + " s";
  }
  // The list is rendered by the server (names, dates in the site's zone and
  // the user's language); after a confirmation, take the fresh one from it.
  async function reloadConfirmations(screen) {
    const selector = '.confirmations[data-screen="' + CSS.escape(screen) + '"]';
    let response;
    try { response = await fetch(location.pathname + location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } }); } catch (e) { return; }
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = $(selector, page);
    const list = $(selector);
    if (fresh && list) list.replaceWith(document.importNode(fresh, true));
  }
  $$(".compliance[data-site]").forEach(loadCompliance);
  $$(".confirm-form").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = $(".confirm-status", form);
      const screen = form.dataset.screen;
      const verdict = $('input[type="radio"]:checked', form).value;
      const note = form.elements.note.value.trim();
      if (verdict === "problem" && !note) { status.textContent = msg("confirm_need_note"); return; }
      const body = { screen_id: screen, week: form.dataset.week, verdict, note };
      const photo = form.elements.photo.files[0];
      if (photo) {
        status.textContent = msg("photo_uploading");
        const form = new FormData();
        form.append("file", photo, photo.name);
        const up = await api("POST", "/api/v1/confirmations/photos", form);
        if (!up.ok) { status.textContent = errorText(up); return; }
        body.photo_sha256 = up.data.sha256;
      }
      const result = await api("POST", "/api/v1/confirmations", body);
      status.textContent = result.ok ? msg("confirm_saved") : errorText(result);
      if (result.ok) { form.reset(); reloadConfirmations(screen); }
    });
  });

  // --- users (admins): passwords are shown once --------------------------
  // The table is the server's own rendering, fetched again after a change,
  // so a new or changed account shows at once without a reload.
  async function reloadUsers() {
    let html;
    try {
      const response = await fetch("/ui/users", { headers: { "Accept": "text/html" }, credentials: "same-origin" });
      if (!response.ok) return;
      html = await response.text();
    } catch (e) { return; }
    const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#users-table tbody");
    const current = $("#users-table tbody");
    if (fresh && current) current.replaceWith(document.importNode(fresh, true));
  }
  function showOnce(box, text, password) {
    box.textContent = text;
    box.dataset.password = password;
    box.hidden = false;
  }
  const createUser = $("#create-user");
  if (createUser) {
    createUser.addEventListener("click", async () => {
      const role = $("#new-role").value;
      const sites = role === "branch" ? $$(".new-site:checked").map((b) => b.value) : [];
      const result = await api("POST", "/api/v1/users", { username: $("#new-username").value.trim(), role, sites });
      if (!result.ok) { flash(errorText(result), "error"); return; }
      showOnce($("#new-password"), msg("user_created", { user: result.data.username, password: result.data.password }), result.data.password);
      $("#new-username").value = "";
      await reloadUsers();
    });
  }

  const usersTable = $("#users-table");
  if (usersTable) {
    usersTable.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button || !button.dataset.user) return;
      const user = button.dataset.name;
      const url = "/api/v1/users/" + encodeURIComponent(button.dataset.user);
      if (button.classList.contains("unlock-user")) {
        // An admin lifts a login lock; the row says so at once.
        button.disabled = true;
        const result = await api("POST", url + "/unlock");
        if (!result.ok) { button.disabled = false; flash(errorText(result), "error"); return; }
        button.closest(".login-state").replaceChildren(el("span", { class: "pill online", text: msg("user_unlocked") }));
        flash(msg("user_unlocked_flash", { user }), "info");
      } else if (button.classList.contains("disable-user") || button.classList.contains("enable-user")) {
        const disable = button.classList.contains("disable-user");
        if (disable && !window.confirm(msg("user_disable_confirm", { user }))) return;
        button.disabled = true;
        const result = await api("POST", url + (disable ? "/disable" : "/enable"));
        if (!result.ok) {
          button.disabled = false;
          const code = (result.data || {}).error;
          flash(code === "own_account" ? msg("user_own_account") : errorText(result), "error");
          return;
        }
        flash(msg(disable ? "user_disabled_flash" : "user_enabled_flash", { user }), "info");
        await reloadUsers();
      } else if (button.classList.contains("reset-password")) {
        if (!window.confirm(msg("user_reset_confirm", { user }))) return;
        button.disabled = true;
        const result = await api("POST", url + "/password");
        button.disabled = false;
        if (!result.ok) { flash(errorText(result), "error"); return; }
        const box = $("#reset-password");
        showOnce(box, msg("user_password_reset", { user: result.data.username, password: result.data.password }), result.data.password);
        box.scrollIntoView({ block: "center" });
        await reloadUsers();
      }
    });
  }

  // --- reports: the date range goes into every link --------------------------
  const reportFrom = $("#report-from");
  if (reportFrom) {
    const update = () => $$(".report-link").forEach((a) => { a.href = a.dataset.base + "&from=" + reportFrom.value + "&to=" + $("#report-to").value; });
    reportFrom.addEventListener("change", update);
    $("#report-to").addEventListener("change", update);
  }
})();
