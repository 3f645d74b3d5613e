// Self Service: the page a person at the Mac opens with `agent self-service open`.
//
// Plain JavaScript, no framework and no build step; the agent embeds this file
// and serves it from 127.0.0.1 with a strict Content-Security-Policy (no inline
// script or style, nothing from elsewhere), so everything here works offline.
//
// What it does:
// - GET /api/updates: the work waiting on this Mac (an OS update, an app to
//   replace). Only when there is some, the Updates section above the catalog
//   shows a card per item (what will happen, its deadline in the person's local
//   time, where it stands) with an Update Now button; POST /api/update
//   {"item": ID} runs it now, streamed like an install.
// - GET /api/catalog: the offered items, Recommended first. They are shown grouped
//   by category (categories in the order their first item comes, so those holding
//   a recommended item lead), each item a card with an Install button (Reinstall
//   when installed, Retry when its last run failed).
// - The search box filters the cards by name, description and category as one
//   types, and says how many match in a polite live region.
// - POST /api/install {"item": ID}, POST /api/update and POST /api/sync answer with a stream of JSON
//   lines (application/x-ndjson), the daemon's replies: `progress` events
//   (waiting, joined, run_started, item_started, item_phase, item_finished,
//   run_finished),
//   then one last `finished` (the run record), `failed`, `busy` or `refused`.
//   Each step is written into the card's (or Device Info's) status line, a live
//   region; the button stays disabled until the stream ends.
// - GET /api/device fills the Device Info panel; Sync refreshes it, the updates
//   and the catalog when its check-in is done.
// - Errors: 401 means the page's cookie is no longer valid (the server was
//   restarted or stopped), 503 that the agent's service is not running; both are
//   shown in the banner (role="alert") at the top.
// - GET /api/ping every minute keeps the server alive while the page is open;
//   POST /api/closed (a beacon on pagehide) lets it stop when the page goes.
//
// Text from the server is never parsed as HTML: every node is built with
// createElement and textContent.

"use strict";

/** How often the page tells the server it is still open. */
const PING_EVERY_MS = 60 * 1000;
/** How long the search waits after the last key before announcing the count. */
const ANNOUNCE_AFTER_MS = 400;

const EXPIRED = "This page has expired. Open Self Service again.";
const NOT_RUNNING =
  "The agent's service is not running on this Mac, so Self Service cannot run anything. Ask your IT admin to start it.";
const STOPPED = "Self Service has stopped. Open Self Service again.";

/** Item types in words. */
const TYPE_WORDS = {
  custom_script: "Script",
  custom_app: "App",
  auto_app: "App",
  custom_printer: "Printer",
  managed_os: "macOS update",
};

/** An item's state in words. */
const STATE_WORDS = { installed: "Installed", failed: "Failed", not_installed: "Not installed" };

/** How a check-in ended, in words. */
const OUTCOME_WORDS = {
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  interrupted: "Interrupted",
};

/** What an item is doing, by the phase the agent names. */
const PHASE_WORDS = {
  audit: "Checking",
  remediation: "Installing",
  "audit after remediation": "Checking the result",
  download: "Downloading",
  install: "Installing",
  verify: "Verifying",
  "set default": "Setting as default",
};

/** The cards on the page by item id: { item, card, parts }. */
const cards = new Map();
/** The item ids whose install is streaming now. */
const running = new Set();
/** The update cards on the page by item id: { update, card, parts, running, ran }. */
const updateCards = new Map();
/** How many update cards were built, for their element ids. */
let updatesBuilt = 0;

// ---------------------------------------------------------------- small helpers

/** An element with a class and text (both optional). */
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** A time the server sent (RFC 3339) in the person's own format; `missing` if none. */
function when(value, missing) {
  if (!value) return missing;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** A <time> element for a time the server sent, or plain text `missing` if none. */
function timeNode(value, missing) {
  if (!value) return document.createTextNode(missing);
  const node = element("time", "", when(value, missing));
  node.dateTime = String(value);
  return node;
}

/** `value` in words from `table`, else as it came with spaces for underscores. */
function words(table, value) {
  if (value === null || value === undefined) return "Unknown";
  return table[value] || String(value).replace(/_/g, " ");
}

/** `text` with a capital first letter (a state the server words as a clause). */
function capital(text) {
  const trimmed = String(text || "").trim();
  return trimmed ? trimmed[0].toUpperCase() + trimmed.slice(1) : trimmed;
}

/** Shows `message` in the alert banner; an empty message hides it (once a request succeeds again). */
function alertBanner(message) {
  document.getElementById("alert").textContent = message || "";
}

/** `text` with a capital first letter and a full stop: the server's messages are clauses. */
function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The message for a refused request: fixed ones for 401 and 503, else the server's. */
async function refusal(response) {
  if (response.status === 401) return EXPIRED;
  let message = "";
  try {
    const body = await response.json();
    message = body && body.error ? String(body.error) : "";
  } catch (_) {
    // Not JSON: the status line says enough.
  }
  if (response.status === 503) return message ? sentence(message) : NOT_RUNNING;
  return message ? sentence(message) : `The request failed (HTTP ${response.status}).`;
}

/** An error that has already been shown in the banner. */
class Shown extends Error {}

/**
 * Fetches `path` from the page's server. A failure (the server gone, or a
 * refusal) is shown in the banner and thrown as `Shown`; an answer clears it.
 */
async function send(path, options) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", credentials: "same-origin", ...options });
  } catch (_) {
    alertBanner(STOPPED);
    throw new Shown(STOPPED);
  }
  if (!response.ok) {
    const message = await refusal(response);
    alertBanner(message);
    throw new Shown(message);
  }
  alertBanner("");
  return response;
}

/** GET `path` as JSON; see `send` for failures. */
async function getJson(path) {
  return (await send(path)).json();
}

// ------------------------------------------------------------------ the stream

/**
 * POSTs `body` to `path` and hands each JSON line of the answer to `onLine`.
 * Resolves with the last line; a refusal or a broken stream is shown in the banner
 * and resolves with `{reply: "failed", message}`.
 */
async function stream(path, body, onLine) {
  let response;
  try {
    const headers = { "Content-Type": "application/json" };
    response = await send(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  } catch (error) {
    return { reply: "failed", message: error.message };
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let last = null;
  const take = (line) => {
    if (!line.trim()) return;
    try {
      last = JSON.parse(line);
    } catch (_) {
      return;
    }
    onLine(last);
  };
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (_) {
      break;
    }
    if (chunk.done) break;
    pending += decoder.decode(chunk.value, { stream: true });
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      take(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  }
  take(pending + decoder.decode());
  if (!last || last.reply === "progress") {
    return { reply: "failed", message: "the connection to the agent ended before the run did" };
  }
  return last;
}

/** A progress line in words, or null for events that change nothing shown. */
function progressWords(line) {
  switch (line.event) {
    case "waiting":
      return "Waiting for the check-in in progress to finish…";
    case "joined":
      return line.requested_by
        ? `A sync asked for by ${line.requested_by} is already under way; following it…`
        : "A sync is already under way; following it…";
    case "run_started":
      return "Starting…";
    case "item_started":
      return `${line.name}: starting…`;
    case "item_phase":
      return `${words(PHASE_WORDS, line.phase)}…`;
    case "item_finished":
      return line.record ? `${line.record.name}: ${words(OUTCOME_WORDS, line.record.status)}` : null;
    case "run_finished":
      return "Finishing…";
    default:
      return null;
  }
}

/** Why a finished run did not succeed: its first failed item's message, else its outcome. */
function failureOf(run) {
  const items = (run && run.items) || [];
  const failed = items.find((item) => item.status !== "succeeded" && item.status !== "skipped");
  if (failed && failed.message) return failed.message;
  if (run && run.message) return run.message;
  return words(OUTCOME_WORDS, run && run.outcome).toLowerCase();
}

/** The last line of a stream in words, and whether it is a success. */
function endWords(last, succeeded) {
  switch (last.reply) {
    case "finished":
      return last.run && last.run.outcome === "succeeded"
        ? { ok: true, text: succeeded }
        : { ok: false, text: `Failed: ${failureOf(last.run)}` };
    case "busy":
      return { ok: false, text: "Failed: another check-in is running; try again in a moment." };
    case "refused":
      return { ok: false, text: `Failed: ${last.reason || "refused"}` };
    default:
      return { ok: false, text: `Failed: ${last.message || "the agent could not run it"}` };
  }
}

/** Writes `text` into a status line, marked as success, failure or neither. */
function say(line, text, ok) {
  line.textContent = text;
  line.classList.toggle("is-ok", ok === true);
  line.classList.toggle("is-failed", ok === false);
}

/** Writes each progress line of a stream into the status line `progress`. */
function follow(progress) {
  return (line) => {
    if (line.reply !== "progress") return;
    const text = progressWords(line);
    if (text) say(progress, text);
  };
}

// ----------------------------------------------------------------- the updates

/** Writes an update's action, deadline and state into its card. */
function fillUpdate(entry, update) {
  entry.update = update;
  const { parts } = entry;
  parts.action.textContent = sentence(update.action);
  parts.deadline.replaceChildren(timeNode(update.deadline, "None"));
  parts.state.textContent = capital(update.state);
  parts.button.hidden = false;
  parts.button.disabled = entry.running;
}

/** One pending item's card; `index` makes its element ids unique. */
function buildUpdate(update, index) {
  const card = element("article", "card update");
  const nameId = `update-${index}-name`;
  card.setAttribute("aria-labelledby", nameId);
  card.dataset.itemId = update.id;
  const name = element("h3", "card-name", update.name);
  name.id = nameId;
  const action = element("p", "description action");
  const facts = element("dl", "facts card-facts");
  const fact = (label, className) => {
    const dd = element("dd", className);
    facts.append(element("dt", "", label), dd);
    return dd;
  };
  const deadline = fact("Deadline", "deadline");
  const state = fact("State", "state");
  const button = element("button", "button update-now", "Update Now");
  button.type = "button";
  button.setAttribute("aria-label", `Update Now: ${update.name}`);
  const progress = element("p", "progress");
  progress.setAttribute("role", "status");
  progress.setAttribute("aria-live", "polite");
  card.append(name, action, facts, button, progress);
  const entry = { update, card, parts: { action, deadline, state, button, progress }, running: false, ran: false };
  button.addEventListener("click", () => updateNow(entry));
  fillUpdate(entry, update);
  return entry;
}

/**
 * Loads the updates. Cards are updated in place so status lines and focus stay;
 * one that is no longer waiting goes, unless it was just run here: it stays with
 * its outcome, its button gone. The section shows only while it holds a card.
 */
async function loadUpdates() {
  const list = document.getElementById("updates");
  let body;
  try {
    body = await getJson("/api/updates");
  } catch (_) {
    list.setAttribute("aria-busy", "false");
    return;
  }
  const updates = Array.isArray(body.updates) ? body.updates : [];
  const waiting = new Set(updates.map((update) => update.id));
  for (const [id, entry] of updateCards) {
    if (waiting.has(id) || entry.running) continue;
    if (entry.ran) {
      entry.parts.button.hidden = true;
      entry.parts.state.textContent = "Nothing waits any more";
    } else {
      entry.card.remove();
      updateCards.delete(id);
    }
  }
  for (const update of updates) {
    const entry = updateCards.get(update.id);
    if (entry) {
      fillUpdate(entry, update);
      continue;
    }
    const built = buildUpdate(update, updatesBuilt++);
    updateCards.set(update.id, built);
    list.append(built.card);
  }
  document.getElementById("updates-panel").hidden = updateCards.size === 0;
  list.setAttribute("aria-busy", "false");
}

/** How an update's run ended, in words: its item's own status says more than the run's. */
function updateEnd(last, id) {
  const items = (last.run && last.run.items) || [];
  const item = items.find((record) => record.id === id);
  if (last.reply !== "finished" || !item || last.run.outcome !== "succeeded") return endWords(last, "Updated");
  const said = item.message ? sentence(item.message) : "";
  switch (item.status) {
    case "waiting_for_user":
      return { ok: true, text: said || "It is yours to finish now." };
    case "deferred":
      return { ok: false, text: `Not yet: ${said || "it waits"}` };
    default:
      return { ok: true, text: "Updated" };
  }
}

/** "Update Now": runs one item's waiting work, streaming its progress into its card. */
async function updateNow(entry) {
  const { parts } = entry;
  const { id } = entry.update;
  if (entry.running) return;
  entry.running = true;
  parts.button.disabled = true;
  entry.card.classList.add("is-running");
  say(parts.progress, "Asking the agent…");
  const last = await stream("/api/update", { item: id }, follow(parts.progress));
  const end = updateEnd(last, id);
  say(parts.progress, end.text, end.ok);
  entry.running = false;
  entry.ran = true;
  entry.card.classList.remove("is-running");
  parts.button.disabled = false;
  await Promise.all([loadUpdates(), loadCatalog(), loadDevice()]);
}

// ----------------------------------------------------------------- the catalog

/** What an item's button says for its state. */
function verb(item) {
  if (item.state === "installed") return "Reinstall";
  if (item.state === "failed") return "Retry";
  return "Install";
}

/** Writes an item's state, last run and button label into its card. */
function fillCard(entry, item) {
  entry.item = item;
  const { parts } = entry;
  parts.state.textContent = words(STATE_WORDS, item.state);
  parts.state.className = `state state-${item.state}`;
  parts.lastRun.replaceChildren(timeNode(item.last_run, "Never"));
  parts.button.textContent = verb(item);
  parts.button.setAttribute("aria-label", `${verb(item)} ${item.name}`);
  parts.button.disabled = running.has(item.id);
}

/** One item's card; `index` makes its element ids unique. */
function buildCard(item, index) {
  const card = element("article", "card");
  const nameId = `item-${index}-name`;
  card.setAttribute("aria-labelledby", nameId);
  card.dataset.itemId = item.id;

  const title = element("div", "card-title");
  const name = element("h4", "card-name", item.name);
  name.id = nameId;
  title.append(name);
  if (item.recommended) title.append(element("span", "badge", "Recommended"));
  card.append(title);
  if (item.description) card.append(element("p", "description", item.description));

  const facts = element("dl", "facts card-facts");
  const fact = (label, value) => {
    const dd = element("dd", "", value);
    facts.append(element("dt", "", label), dd);
    return dd;
  };
  fact("Type", words(TYPE_WORDS, item.type));
  const state = fact("State", "");
  const lastRun = fact("Last run", "");
  card.append(facts);

  const button = element("button", "button install", "");
  button.type = "button";
  const progress = element("p", "progress");
  progress.setAttribute("role", "status");
  progress.setAttribute("aria-live", "polite");
  card.append(button, progress);

  const entry = { item, card, parts: { state, lastRun, button, progress } };
  button.addEventListener("click", () => install(entry));
  fillCard(entry, item);
  return entry;
}

/** The items grouped by category, in the order each category first appears. */
function byCategory(items) {
  const groups = new Map();
  for (const item of items) {
    const category = item.category || "Other";
    if (!groups.has(category)) groups.set(category, []);
    groups.get(category).push(item);
  }
  return groups;
}

/** Builds the catalog from scratch (the first load). */
function renderCatalog(items) {
  const catalog = document.getElementById("catalog");
  catalog.replaceChildren();
  cards.clear();
  if (items.length === 0) {
    catalog.append(element("p", "muted", "Nothing is offered on this Mac yet."));
  }
  let index = 0;
  let group = 0;
  for (const [category, members] of byCategory(items)) {
    const section = element("section", "category");
    const headingId = `category-${group++}`;
    section.setAttribute("aria-labelledby", headingId);
    const heading = element("h3", "", category);
    heading.id = headingId;
    const list = element("div", "cards");
    for (const item of members) {
      const entry = buildCard(item, index++);
      cards.set(item.id, entry);
      list.append(entry.card);
    }
    section.append(heading, list);
    catalog.append(section);
  }
  catalog.setAttribute("aria-busy", "false");
  applySearch(false);
}

/**
 * Loads the catalog. The first time it builds the cards; later (after an
 * install or a sync) it updates them in place, so status lines and focus stay,
 * unless the offer itself changed.
 */
async function loadCatalog() {
  let body;
  try {
    body = await getJson("/api/catalog");
  } catch (error) {
    if (cards.size === 0) {
      const catalog = document.getElementById("catalog");
      catalog.replaceChildren(element("p", "muted", "The catalog could not be loaded."));
      catalog.setAttribute("aria-busy", "false");
    }
    return;
  }
  const items = Array.isArray(body.items) ? body.items : [];
  const same = items.length === cards.size && items.every((item) => cards.has(item.id));
  if (!same) {
    renderCatalog(items);
    return;
  }
  for (const item of items) fillCard(cards.get(item.id), item);
}

/** Runs one item, streaming its progress into its card. */
async function install(entry) {
  const { item, parts } = entry;
  if (running.has(item.id)) return;
  running.add(item.id);
  parts.button.disabled = true;
  entry.card.classList.add("is-running");
  say(parts.progress, "Asking the agent…");
  const last = await stream("/api/install", { item: item.id }, follow(parts.progress));
  const end = endWords(last, "Installed");
  say(parts.progress, end.text, end.ok);
  running.delete(item.id);
  entry.card.classList.remove("is-running");
  parts.button.disabled = false;
  await Promise.all([loadCatalog(), loadUpdates()]);
}

// ------------------------------------------------------------------ the search

let announceTimer = null;

/** Hides the cards that do not match the search, and (if `announce`) says how many do. */
function applySearch(announce) {
  const query = document.getElementById("search").value.trim().toLowerCase();
  let shown = 0;
  for (const { item, card } of cards.values()) {
    const text = `${item.name} ${item.description} ${item.category}`.toLowerCase();
    const match = query === "" || text.includes(query);
    card.hidden = !match;
    if (match) shown += 1;
  }
  for (const section of document.querySelectorAll("#catalog .category")) {
    section.hidden = !section.querySelector(".card:not([hidden])");
  }
  const count = document.getElementById("search-count");
  const message =
    query === ""
      ? `${shown} ${shown === 1 ? "item" : "items"} offered.`
      : shown === 0
        ? "No items match your search."
        : `${shown} ${shown === 1 ? "item matches" : "items match"} your search.`;
  clearTimeout(announceTimer);
  if (announce) {
    announceTimer = setTimeout(() => {
      count.textContent = message;
    }, ANNOUNCE_AFTER_MS);
  } else {
    count.textContent = message;
  }
}

// ----------------------------------------------------------------- Device Info

/** Fills the Device Info list. */
async function loadDevice() {
  let device;
  try {
    device = await getJson("/api/device");
  } catch (_) {
    return;
  }
  for (const dd of document.querySelectorAll("#device-facts dd")) {
    const key = dd.dataset.fact;
    const value = device[key];
    if (key === "last_checkin") dd.replaceChildren(timeNode(value, "Never"));
    else if (key === "last_outcome") dd.textContent = value ? words(OUTCOME_WORDS, value) : "None yet";
    else dd.textContent = value === null || value === undefined || value === "" ? "Unknown" : String(value);
  }
}

/** Sync: the daily check-in now, its progress in Device Info, then a refresh. */
async function sync() {
  const button = document.getElementById("sync");
  const status = document.getElementById("sync-status");
  if (button.disabled) return;
  button.disabled = true;
  say(status, "Asking the agent…");
  const last = await stream("/api/sync", {}, follow(status));
  const end = endWords(last, "Sync finished: everything is in order.");
  if (last.reply === "finished" && !end.ok) {
    end.text = `Sync finished: ${words(OUTCOME_WORDS, last.run && last.run.outcome).toLowerCase()}. ${sentence(failureOf(last.run))}`;
  } else if (last.reply === "failed") {
    // Not run at all, e.g. asked again within the sync interval: the daemon says when.
    end.text = `Not synced: ${last.message || "the agent could not sync"}`;
  }
  say(status, end.text, end.ok);
  button.disabled = false;
  await Promise.all([loadDevice(), loadCatalog(), loadUpdates()]);
}

// -------------------------------------------------------------------- start up

function start() {
  const search = document.getElementById("search");
  search.addEventListener("input", () => applySearch(true));
  document.getElementById("sync").addEventListener("click", sync);
  setInterval(() => {
    fetch("/api/ping", { cache: "no-store", credentials: "same-origin" }).catch(() => {});
  }, PING_EVERY_MS);
  window.addEventListener("pagehide", () => {
    navigator.sendBeacon("/api/closed");
  });
  loadUpdates();
  loadCatalog();
  loadDevice();
}

start();
