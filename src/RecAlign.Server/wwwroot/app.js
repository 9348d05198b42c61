// RecAlign's web page: plain JavaScript against the JSON API, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { models: [], history: [] };

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value || localStorage.getItem("recalign-api-key") || "";
  if (key) h["X-API-Key"] = key;
  return h;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? { headers: headers() } : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || data.title || `HTTP ${res.status}`);
  return data;
}

function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }

function model() { return state.models.find((m) => m.name === $("model").value); }

async function loadModels() {
  try {
    state.models = await api("/v1/models");
    $("model").replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.kind})`, m.name)));
    describeModel();
    showError(null);
  } catch (e) { showError(e); }
}

function describeModel() {
  const m = model();
  if (!m) return;
  $("model-info").textContent = `${m.parameters.toLocaleString()} parameters · ` +
    (m.catalog_size ? `catalog of ${m.catalog_size.toLocaleString()} items` : "no catalog") + (m.run ? ` · run ${m.run}` : "");
  search();
}

let searchTimer = null;
async function search() {
  const m = model();
  if (!m) return;
  try {
    const q = encodeURIComponent($("search").value);
    const items = await api(`/v1/models/${encodeURIComponent(m.name)}/items?q=${q}&limit=15`);
    $("search-results").replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item.title;
      li.dataset.id = item.id;
      const add = document.createElement("button");
      add.textContent = "add";
      add.className = "add";
      add.onclick = () => { state.history.push(item); renderHistory(); };
      li.append(add);
      return li;
    }));
  } catch (e) { showError(e); }
}

function renderHistory() {
  $("history").replaceChildren(...state.history.map((item, i) => {
    const li = document.createElement("li");
    li.textContent = item.title;
    li.dataset.id = item.id;
    const remove = document.createElement("button");
    remove.textContent = "remove";
    remove.onclick = () => { state.history.splice(i, 1); renderHistory(); };
    li.append(remove);
    return li;
  }));
}

async function recommend() {
  showError(null);
  const m = model();
  if (!m) return;
  if (state.history.length === 0) { showError("add at least one item to the history"); return; }
  try {
    const k = Math.max(1, Math.min(100, parseInt($("k").value, 10) || 10));
    const res = await api("/v1/recommend", { model: m.name, history: state.history.map((item) => ({ id: item.id })), k });
    $("recommendations").tBodies[0].replaceChildren(...res.items.map((item) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of [[item.rank, "rank"], [item.title, "title"], [item.id ?? "", "id"], [item.score === null ? "" : item.score.toFixed(4), "score"]]) {
        const td = document.createElement("td");
        td.textContent = text;
        td.className = cls;
        tr.append(td);
      }
      const td = document.createElement("td");
      const add = document.createElement("button");
      add.textContent = "add to history";
      add.onclick = () => { state.history.push({ id: item.id, title: item.title }); renderHistory(); };
      td.append(add);
      tr.append(td);
      return tr;
    }));
    $("took").textContent = `${res.items.length} items in ${res.took_ms} ms`;
  } catch (e) { showError(e); }
}

$("model").addEventListener("change", describeModel);
$("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
$("recommend").addEventListener("click", recommend);
$("clear").addEventListener("click", () => { state.history = []; renderHistory(); });
$("api-key").value = localStorage.getItem("recalign-api-key") || "";
$("api-key").addEventListener("change", () => { localStorage.setItem("recalign-api-key", $("api-key").value); loadModels(); });
loadModels();
