// crossgate CORS playground. No framework: the page is a form, a fetch and a few renderers.
//
// A case ({request, server}, the same JSON the server's /api/runs takes) is the page's whole
// state: the form edits it, the URL fragment carries it (#case=<base64url JSON>), Run registers
// it as a run and fetches the run's URL.
"use strict";

const BROWSERS = ["chromium", "firefox", "webkit"];
const NAMES = { chromium: "Chromium", firefox: "Firefox", webkit: "WebKit" };
const PLACES = ["page", "scheme", "host", "target", "redirect"];

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Which engine runs this page, from its user agent: the prediction to compare with.
function detectBrowser() {
  const ua = navigator.userAgent;
  let m;
  if ((m = ua.match(/Firefox\/([\d.]+)/))) return { id: "firefox", label: `Firefox ${m[1]}` };
  if ((m = ua.match(/(?:Chrome|Chromium)\/([\d.]+)/))) return { id: "chromium", label: `Chromium ${m[1]}` };
  if ((m = ua.match(/AppleWebKit\/([\d.]+)/))) {
    const v = ua.match(/Version\/([\d.]+)/);
    return { id: "webkit", label: v ? `WebKit (Safari ${v[1]})` : `WebKit ${m[1]}` };
  }
  return { id: null, label: "an engine crossgate does not model" };
}
const YOU = detectBrowser();
// `?selftest=TOKEN`: the harness's driver, on only once the server confirms the token (which
// only a harness that started the playground holds), so a link cannot run cases unasked.
let SELFTEST = false;

// The prediction the real fetch is compared with: this browser's engine, unless the user (or
// `?compare=`) picks another, e.g. for a browser crossgate does not recognise.
let compareChoice = BROWSERS.includes(new URLSearchParams(location.search).get("compare"))
  ? new URLSearchParams(location.search).get("compare") : "";
const compareWith = () => compareChoice || YOU.id;

// ---------------------------------------------------------------- the case and the fragment

const DEFAULT_CASE = {
  request: { to: "target", path: "/items/1", method: "GET", headers: [], body: "none", credentials: "same-origin", mode: "cors" },
  server: {
    kind: "scripted",
    preflight: [{ status: 204, headers: [["Access-Control-Allow-Origin", "{origin}"]] }],
    actual: [{ status: 200, headers: [["Access-Control-Allow-Origin", "{origin}"]] }],
  },
};
const DEFAULT_POLICY = { allow_origins: ["{origin}"], allow_methods: ["GET", "PUT", "DELETE"], allow_headers: ["content-type"] };

let current = structuredClone(DEFAULT_CASE);
// Why the policy text is not JSON, while it is not: Run refuses rather than run an older policy.
let policyError = null;
let starts = [];

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function caseFromFragment() {
  const m = location.hash.match(/(?:^#|&)case=([A-Za-z0-9_-]+)/);
  if (!m) return null;
  try {
    return normalise(JSON.parse(fromBase64Url(m[1])));
  } catch (e) {
    showNote(`The link's case could not be read (${e.message}); showing the default.`);
    return null;
  }
}

function writeFragment() {
  history.replaceState(null, "", `#case=${toBase64Url(JSON.stringify(current))}`);
}

// Fills in what a shared or hand-written case leaves out, and keeps only what has the case's
// shape (a link may carry anything): the server checks the rest when the case runs.
function normalise(c) {
  const object = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
  const lines = (v) => (Array.isArray(v) ? v : [])
    .filter((l) => Array.isArray(l) && l.length === 2)
    .map(([n, v]) => [String(n), String(v)]);
  const answers = (v) => (Array.isArray(v) ? v : []).map(object)
    .map((a) => ({ status: Number.isInteger(a.status) ? a.status : 200, headers: lines(a.headers) }));
  const given = object(object(c).request);
  const r = Object.assign({}, DEFAULT_CASE.request);
  for (const key of Object.keys(r)) if (typeof given[key] === "string") r[key] = given[key];
  r.headers = lines(given.headers);
  const s = object(object(c).server);
  const actual = answers(s.actual);
  const server = s.kind === "policy"
    ? { kind: "policy", policy: object(s.policy) }
    : { kind: "scripted", preflight: answers(s.preflight), actual: actual.length ? actual : [{ status: 200, headers: [] }] };
  return { request: r, server };
}

// ---------------------------------------------------------------- the form

function headerEditor(container, lines, onChange, placeholder) {
  container.replaceChildren();
  lines.forEach((line, i) => {
    const name = el("input", { class: "h-name", value: line[0], "aria-label": "header name", spellcheck: "false",
      oninput: (e) => { line[0] = e.target.value; onChange(); } });
    const value = el("input", { class: "h-value", value: line[1], "aria-label": "header value", spellcheck: "false",
      oninput: (e) => { line[1] = e.target.value; onChange(); } });
    const remove = el("button", { type: "button", class: "small remove", title: "remove this line", "aria-label": "remove header",
      onclick: () => { lines.splice(i, 1); headerEditor(container, lines, onChange, placeholder); onChange(); } }, "×");
    container.append(el("div", { class: "h-line" }, name, value, remove));
  });
  container.append(el("button", { type: "button", class: "small add",
    onclick: () => { lines.push(["", ""]); headerEditor(container, lines, onChange, placeholder); onChange(); } },
  `+ ${placeholder}`));
}

function answerEditor(container, title, answer, onChange, removable) {
  container.replaceChildren();
  const status = el("input", { class: "status", type: "number", min: "200", max: "599", value: answer.status, "aria-label": `${title} status`,
    oninput: (e) => { answer.status = Number(e.target.value); onChange(); } });
  const head = el("div", { class: "answer-head" }, el("b", {}, title), " status ", status);
  if (removable) head.append(el("button", { type: "button", class: "small remove", onclick: removable }, "remove"));
  const lines = el("div", { class: "headers" });
  container.append(head, lines);
  headerEditor(lines, answer.headers, onChange, "response header");
}

function renderServer() {
  const s = current.server;
  const scripted = s.kind === "scripted";
  $("scripted").hidden = !scripted;
  $("policy").hidden = scripted;
  for (const radio of document.querySelectorAll("input[name=kind]")) radio.checked = radio.value === s.kind;
  if (!scripted) {
    $("policy-text").value = JSON.stringify(s.policy, null, 2);
    $("policy-text").classList.remove("bad");
    policyError = null;
    return;
  }
  if (s.preflight.length === 0) {
    $("preflight-answer").replaceChildren(el("div", { class: "answer-head" }, el("b", {}, "Preflight (OPTIONS) answer"),
      " none scripted: a preflight would get 501 ",
      el("button", { type: "button", class: "small", onclick: () => { s.preflight.push({ status: 204, headers: [["Access-Control-Allow-Origin", "{origin}"]] }); renderServer(); changed(); } }, "+ add one")));
  } else {
    answerEditor($("preflight-answer"), "Preflight (OPTIONS) answer", s.preflight[0], changed,
      () => { s.preflight.length = 0; renderServer(); changed(); });
  }
  const hops = $("actual-answers");
  hops.replaceChildren();
  s.actual.forEach((answer, i) => {
    const box = el("div", { class: "answer" });
    const last = i === s.actual.length - 1;
    const title = s.actual.length === 1 ? "Actual answer" : last ? `Actual answer, hop ${i + 1} (final)` : `Actual answer, hop ${i + 1}`;
    answerEditor(box, title, answer, changed, s.actual.length > 1 ? () => { s.actual.splice(i, 1); renderServer(); changed(); } : null);
    hops.append(box);
  });
}

function renderForm() {
  const r = current.request;
  $("to").value = r.to;
  $("path").value = r.path;
  $("method").value = r.method;
  $("body").value = r.body;
  $("credentials").value = r.credentials;
  $("mode").value = r.mode;
  headerEditor($("request-headers"), r.headers, changed, "request header");
  renderServer();
  renderCode();
}

function changed() {
  renderCode();
  writeFragment();
}

function renderCode() {
  const r = current.request;
  const init = [];
  if (r.method !== "GET") init.push(`method: ${JSON.stringify(r.method)}`);
  if (r.headers.length) init.push(`headers: [${r.headers.map(([n, v]) => `[${JSON.stringify(n)}, ${JSON.stringify(v)}]`).join(", ")}]`);
  const bodies = { text: `"hello"`, urlencoded: `new URLSearchParams("a=1")`, multipart: `new FormData()` };
  if (r.body !== "none") init.push(`body: ${bodies[r.body]}`);
  if (r.credentials !== "same-origin") init.push(`credentials: ${JSON.stringify(r.credentials)}`);
  if (r.mode !== "cors") init.push(`mode: ${JSON.stringify(r.mode)}`);
  const url = `${placeLabel(r.to)}${r.path}`;
  $("code").textContent = `fetch(${JSON.stringify(url)}${init.length ? `, {\n  ${init.join(",\n  ")}\n}` : ""})`;
}

function placeLabel(place) {
  // The run's real URLs come from the server when it runs (`Origins` in run.rs).
  const base = { page: location.origin, scheme: `https://${location.host}`, host: "<other host name>", target: "<target>", redirect: "<third origin>" }[place];
  return base + "/c/<run>";
}

function bindForm() {
  const r = () => current.request;
  $("to").addEventListener("change", (e) => { r().to = e.target.value; changed(); });
  $("path").addEventListener("input", (e) => { r().path = e.target.value; changed(); });
  $("method").addEventListener("input", (e) => { r().method = e.target.value; changed(); });
  $("body").addEventListener("change", (e) => { r().body = e.target.value; changed(); });
  $("credentials").addEventListener("change", (e) => { r().credentials = e.target.value; changed(); });
  $("mode").addEventListener("change", (e) => { r().mode = e.target.value; changed(); });
  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.addEventListener("change", () => {
      current.server = radio.value === "policy"
        ? { kind: "policy", policy: structuredClone(DEFAULT_POLICY) }
        : structuredClone(DEFAULT_CASE.server);
      renderServer();
      changed();
    });
  }
  $("policy-text").addEventListener("input", (e) => {
    try {
      current.server.policy = JSON.parse(e.target.value);
      policyError = null;
      e.target.classList.remove("bad");
      changed();
    } catch (err) {
      policyError = err.message;
      e.target.classList.add("bad");
    }
  });
  $("add-hop").addEventListener("click", () => {
    const hops = current.server.actual;
    const previous = hops[hops.length - 1];
    if (!(previous.status >= 300 && previous.status < 400)) previous.status = 302;
    if (!previous.headers.some(([n]) => n.toLowerCase() === "location")) previous.headers.push(["Location", "{redirect}/next"]);
    hops.push({ status: 200, headers: [["Access-Control-Allow-Origin", "{origin}"]] });
    renderServer();
    changed();
  });
  $("run").addEventListener("click", () => run());
  $("compare").value = compareChoice;
  $("compare").addEventListener("change", (e) => {
    compareChoice = e.target.value;
    if (lastRun && $("result").dataset.state === "done") renderResult(lastRun);
  });
  $("share").addEventListener("click", async () => {
    writeFragment();
    try {
      await navigator.clipboard.writeText(location.href);
      showNote("Link copied: it carries the whole case.");
    } catch {
      showNote("The address bar holds the link: it carries the whole case.");
    }
  });
  window.addEventListener("hashchange", loadFragment);
}

function loadFragment() {
  const c = caseFromFragment();
  if (c) {
    current = c;
    renderForm();
  }
}

function showNote(text) {
  $("share-note").textContent = text;
}

function renderStarts() {
  const groups = new Map();
  for (const s of starts) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  const box = $("starts");
  box.replaceChildren();
  for (const [group, list] of groups) {
    box.append(el("div", { class: "start-group" }, el("span", { class: "group" }, group),
      list.map((s) => el("button", { type: "button", class: "start", "data-start": s.id, title: s.lesson,
        onclick: () => chooseStart(s) }, s.title))));
  }
}

function chooseStart(s) {
  current = normalise(structuredClone(s.case));
  renderForm();
  writeFragment();
  for (const b of document.querySelectorAll(".start")) b.classList.toggle("chosen", b.dataset.start === s.id);
  const lesson = $("lesson");
  lesson.hidden = false;
  lesson.textContent = s.lesson;
}

// ---------------------------------------------------------------- running a case

// The init exactly as the code preview writes it. Headers go as a list of pairs, not a Headers
// object: Firefox copies a Headers object's combined values, so two Range lines would become one
// unsafe value and a preflight that the list of pairs does not cause.
function fetchInit(r) {
  const headers = r.headers.map(([name, value]) => [name, value]);
  const init = { method: r.method, headers, credentials: r.credentials, mode: r.mode };
  if (r.body === "text") init.body = "hello";
  if (r.body === "urlencoded") init.body = new URLSearchParams("a=1");
  if (r.body === "multipart") {
    init.body = new FormData();
    init.body.append("a", "1");
  }
  return init;
}

async function postJson(url, value) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
  const text = await response.text();
  return { ok: response.ok, text, json: response.ok ? JSON.parse(text) : null };
}

// What script saw of the real fetch.
async function realFetch(url, r) {
  const init = fetchInit(r);
  // The harness attributes console lines that name no URL (WebKit's) by this marker.
  if (SELFTEST) console.log(`crossgate-fetch ${url}`);
  try {
    const response = await fetch(url, init);
    const headers = [...new Set([...response.headers.keys()].map((n) => n.toLowerCase()))].sort();
    let body = "";
    try { body = await response.text(); } catch { /* an opaque body reads as empty */ }
    return { allowed: true, status: response.status, type: response.type, headers, bodyLength: body.length };
  } catch (e) {
    return { allowed: false, error: `${e.name}: ${e.message}` };
  }
}

let lastRun = null;

async function run() {
  const result = $("result");
  if (current.server.kind === "policy" && policyError) {
    result.dataset.state = "invalid";
    result.replaceChildren(el("h2", {}, "This case cannot run"), el("pre", { class: "problems" }, `The policy is not JSON: ${policyError}`));
    return;
  }
  result.dataset.state = "running";
  result.replaceChildren(el("p", { class: "placeholder" }, "Running…"));
  $("run").disabled = true;
  // The case as it is now: edits made while it runs belong to the next run.
  const ran = structuredClone(current);
  try {
    const reg = await postJson("/api/runs", { page: location.origin, case: ran });
    if (!reg.ok) {
      result.dataset.state = "invalid";
      result.replaceChildren(el("h2", {}, "This case cannot run"), el("pre", { class: "problems" }, reg.text));
      return;
    }
    const run = reg.json;
    const predictions = Promise.all(BROWSERS.map(async (b) => {
      const answer = await postJson(`/api/simulate?browser=${b}`, run.simulate[b]);
      return [b, answer.ok ? answer.json : { inputError: answer.text.trim() }];
    }));
    const real = await realFetch(run.url, ran.request);
    const predicted = Object.fromEntries(await predictions);
    const seen = (await (await fetch(`/api/runs/${run.id}`)).json()).seen;
    lastRun = { run, real, predicted, seen, case: ran };
    renderResult(lastRun);
    result.dataset.state = "done";
  } catch (e) {
    result.dataset.state = "error";
    result.replaceChildren(el("h2", {}, "The playground did not answer"), el("pre", { class: "problems" }, String(e)));
  } finally {
    $("run").disabled = false;
  }
}

function preflightsOf(p) {
  if (Array.isArray(p.preflights)) return p.preflights.filter((x) => x.sent).length;
  return p.preflight && p.preflight.sent ? 1 : 0;
}

function originOf(headers) {
  const line = headers.find(([n]) => n.toLowerCase() === "origin");
  return line ? line[1] : null;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Where the real browser and a prediction differ, a line each (empty: they agree).
function disagreements(real, seen, p) {
  if (p.inputError) return [`crossgate could not predict: ${p.inputError}`];
  const out = [];
  const verdict = (yes) => (yes ? "allowed" : "blocked");
  if (real.allowed !== p.allowed) out.push(`verdict: your browser ${verdict(real.allowed)} it, crossgate predicts ${verdict(p.allowed)}`);
  const sent = seen.filter((s) => s.kind === "preflight").length;
  if (sent !== preflightsOf(p)) out.push(`preflights: the server saw ${sent}, crossgate predicts ${preflightsOf(p)}`);
  const origins = seen.filter((s) => s.kind === "actual").map((s) => originOf(s.headers));
  if (!same(origins, p.origin_sent)) out.push(`Origin sent, per request: the server saw ${JSON.stringify(origins)}, crossgate predicts ${JSON.stringify(p.origin_sent)}`);
  if (real.allowed && p.allowed && !same(real.headers, p.exposed_headers)) {
    out.push(`headers script can read: your browser ${JSON.stringify(real.headers)}, crossgate predicts ${JSON.stringify(p.exposed_headers)}`);
  }
  return out;
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function scenarioFor(runInfo, browser) {
  return JSON.stringify(runInfo.simulate[browser || "chromium"], null, 2) + "\n";
}

function downloadButton(runInfo, browser, label) {
  const name = `playground-${runInfo.id}.json`;
  return el("button", { type: "button", class: "download", onclick: () => download(name, scenarioFor(runInfo, browser)) }, label);
}

function renderResult({ run, real, predicted, seen, case: ran }) {
  const result = $("result");
  const against = compareWith();
  // Over https, a fetch that reached nothing was refused by the browser's certificate check,
  // which is not CORS: nothing to compare.
  const last = seen[seen.length - 1];
  const redirect = last && last.response_headers.find(([n]) => n.toLowerCase() === "location");
  const toScheme = seen.length === 0
    ? ran.request.to === "scheme"
    : Boolean(redirect) && redirect[1].startsWith(run.origins.scheme) && last.at !== "scheme";
  const refusedCertificate = !real.allowed && toScheme;
  const mine = against && !refusedCertificate ? predicted[against] : null;
  const diffs = mine ? disagreements(real, seen, mine) : [];
  const realCard = el("div", { id: "real", class: `card ${real.allowed ? "ok" : "bad"}`, "data-verdict": real.allowed ? "allowed" : "blocked" },
    el("div", { class: "card-head" }, el("span", { class: "who" }, `Your browser · ${YOU.label}`),
      el("span", { class: `badge ${real.allowed ? "ok" : "bad"}` }, real.allowed ? "allowed" : "blocked")),
    el("p", {}, real.allowed
      ? `fetch() resolved: status ${real.status}, response type ${real.type}, ${real.bodyLength} characters of body.`
      : `fetch() rejected: ${real.error}`),
    real.allowed ? el("p", {}, "script can read: ", headerList(real.headers)) : null,
    el("p", {}, `the servers saw ${seen.filter((s) => s.kind === "preflight").length} preflight(s) and ${seen.filter((s) => s.kind === "actual").length} request(s).`),
    real.allowed ? null : el("p", { class: "hint" }, "Script is never told why; the browser's console has the reason. crossgate's prediction below quotes it."),
    refusedCertificate
      ? el("p", { class: "hint warn" }, "Nothing reached the https origin: your browser most likely refused the playground's certificate (it is made when the playground starts). Open ",
        el("a", { href: `${run.origins.scheme}/`, target: "_blank", rel: "noopener" }, run.origins.scheme), ", accept the warning, then Run again.")
      : null);

  let agreement;
  if (refusedCertificate) {
    agreement = el("div", { id: "agreement", "data-agree": "unknown", class: "agreement unknown" },
      "Not compared: the request never reached the https origin (see above).");
  } else if (!mine) {
    agreement = el("div", { id: "agreement", "data-agree": "unknown", class: "agreement unknown" },
      "crossgate has no model of this browser: compare with the three engines below.");
  } else if (diffs.length === 0) {
    agreement = el("div", { id: "agreement", "data-agree": "yes", class: "agreement yes" },
      `✓ crossgate's ${NAMES[against]} prediction agrees with your browser: verdict, preflight, the Origin sent and what script can read.`);
  } else {
    agreement = el("div", { id: "agreement", "data-agree": "no", class: "agreement no", role: "alert" },
      el("b", {}, `✗ Your browser and crossgate's ${NAMES[against]} prediction disagree`),
      el("ul", {}, diffs.map((d) => el("li", {}, d))),
      el("p", {}, "That is a bug in crossgate's model, or a browser version it has not been checked against. The case as a scenario reproduces it: ",
        downloadButton(run, against, "Download the case as a simulate scenario")));
  }

  const rows = BROWSERS.map((b) => {
    const p = predicted[b];
    if (p.inputError) {
      return el("tr", { "data-browser": b, "data-verdict": "error", class: b === against ? "you" : null },
        el("th", {}, NAMES[b]), el("td", { colspan: "4" }, p.inputError));
    }
    const message = p.error && p.error.messages ? p.error.messages[b] : null;
    return el("tr", { "data-browser": b, "data-verdict": p.allowed ? "allowed" : "blocked", "data-code": p.error ? p.error.code : null,
      "data-preflights": String(preflightsOf(p)), class: b === against ? "you" : null },
      el("th", {}, NAMES[b], b === YOU.id ? el("span", { class: "tag" }, "you") : null,
        b === against && b !== YOU.id ? el("span", { class: "tag" }, "compared") : null),
      el("td", { "data-label": "verdict" }, el("span", { class: `badge ${p.allowed ? "ok" : "bad"}` }, p.allowed ? "allowed" : "blocked"),
        p.error ? el("div", { class: "code-name" }, p.error.code) : null),
      el("td", { "data-label": "preflight" }, preflightsOf(p) ? `sent (${preflightsOf(p)})` : "none"),
      el("td", { "data-label": "script can read" }, p.allowed ? headerList(p.exposed_headers) : "—"),
      el("td", { class: "message", "data-label": "console message" }, message || (p.allowed ? "" : "(no console message)")));
  });
  const table = el("table", { class: "predictions" },
    el("colgroup", {}, ["engine", "verdict", "preflight", "readable", "message"].map((c) => el("col", { class: c }))),
    el("thead", {}, el("tr", {}, el("th", {}, "crossgate predicts"), el("th", {}, "verdict"), el("th", {}, "preflight"), el("th", {}, "script can read"), el("th", {}, "console message"))),
    el("tbody", {}, rows));

  const browser = against || "chromium";
  const input = el("details", { class: "input" },
    el("summary", {}, "The case as a simulate scenario"),
    el("p", {}, "The same answer on the command line: ", el("code", {}, `crossgate simulate --json --browser ${browser} playground-${run.id}.json`), " ",
      downloadButton(run, browser, "Download")),
    el("pre", { class: "code" }, scenarioFor(run, browser)));

  result.replaceChildren(
    el("h2", {}, "What happened"),
    realCard, agreement,
    el("div", { class: "table-wrap" }, table),
    el("h2", {}, "What the servers saw"),
    sequence(run, seen, real),
    input);
}

function headerList(names) {
  if (!names || names.length === 0) return el("span", { class: "none" }, "no headers");
  return el("span", {}, names.map((n, i) => [i ? ", " : "", el("code", {}, n)]));
}

// ---------------------------------------------------------------- the sequence diagram

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const REQUEST_SHOWN = /^(origin|access-control-request-.*|authorization|cookie|content-type)$/i;
const RESPONSE_SHOWN = /^(access-control-.*|location|vary|www-authenticate)$/i;

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Lifelines: the browser, then each origin that saw a request; an arrow pair per exchange.
function sequence(run, seen, real) {
  if (seen.length === 0) {
    return el("p", { class: "diagram-empty" },
      "Nothing reached the servers: the browser refused before sending (no preflight either), or could not connect.");
  }
  const places = PLACES.filter((p) => seen.some((s) => s.at === p));
  const colW = 400, left = 110, line = 15, top = 58, charW = 6.9;
  const x = (place) => left + (places.indexOf(place) + 1) * colW;
  const width = left + places.length * colW + 200;
  const rows = seen.map((s) => {
    const asked = [`${s.method} ${s.path}`, ...s.headers.filter(([n]) => REQUEST_SHOWN.test(n)).map(([n, v]) => `${n}: ${v}`)];
    const answered = [`${s.status}`, ...s.response_headers.filter(([n]) => RESPONSE_SHOWN.test(n)).map(([n, v]) => `${n}: ${v}`)];
    return { s, asked, answered };
  });
  let height = top + 10;
  for (const r of rows) height += (r.asked.length + r.answered.length) * line + 34;
  height += 40;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "sequence",
    "aria-label": "the exchanges the servers saw" });
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
  const defs = svg("defs", {});
  defs.append(marker);
  root.append(defs);
  const lifeline = (cx, title, sub) => {
    root.append(svg("line", { x1: cx, y1: top - 8, x2: cx, y2: height - 8, class: "lifeline" }));
    root.append(svg("text", { x: cx, y: 18, class: "life-title", "text-anchor": "middle" }, title));
    root.append(svg("text", { x: cx, y: 34, class: "life-sub", "text-anchor": "middle" }, sub));
  };
  lifeline(left, "browser", `page ${run.origins.page}`);
  for (const p of places) lifeline(x(p), p, run.origins[p]);
  let y = top + 10;
  // A request's lines may run on to the diagram's right edge, an answer's back to the
  // browser's lifeline: a header is cut only where the diagram ends.
  const askedChars = Math.floor((width - left - 20) / charW);
  for (const { s, asked, answered } of rows) {
    const to = x(s.at);
    const answeredChars = Math.floor((to - left - 20) / charW);
    asked.forEach((text, i) => {
      root.append(svg("text", { x: left + 10, y: y + i * line, class: i ? "hdr" : `req ${s.kind}` }, clip(text, askedChars)));
    });
    y += (asked.length - 1) * line + 8;
    root.append(svg("line", { x1: left, y1: y, x2: to, y2: y, class: `msg ${s.kind}`, "marker-end": "url(#arrow)" }));
    y += 20;
    answered.forEach((text, i) => {
      root.append(svg("text", { x: to - 10, y: y + i * line, "text-anchor": "end", class: i ? "hdr" : "status" }, clip(text, answeredChars)));
    });
    y += (answered.length - 1) * line + 8;
    root.append(svg("line", { x1: to, y1: y, x2: left, y2: y, class: "msg back", "marker-end": "url(#arrow)" }));
    y += 26;
  }
  const end = real.allowed ? `script: resolved, ${real.status} (${real.type})` : `script: ${real.error}`;
  root.append(svg("text", { x: left - 100, y: y + 4, class: real.allowed ? "end ok" : "end bad" }, clip(end, 90)));
  return el("div", { class: "diagram" }, root);
}

// ---------------------------------------------------------------- self-test and start

// `?selftest=1`: the conformance harness's driver. It runs each case through the page's own
// controls (a starting point's button, or the shareable fragment), clicks Run, reads what the
// page then shows, and writes it to the console, hex-encoded so that no engine's console
// quoting can change it.
function hex(text) {
  return Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function until(test, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (test()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

function shown() {
  const real = $("real");
  const agreement = $("agreement");
  const rows = Object.fromEntries([...document.querySelectorAll(".predictions tbody tr")].map((row) =>
    [row.dataset.browser, { verdict: row.dataset.verdict, code: row.dataset.code || null, preflights: Number(row.dataset.preflights || 0),
      message: row.querySelector(".message") ? row.querySelector(".message").textContent : null }]));
  return {
    state: $("result").dataset.state,
    real: real ? real.dataset.verdict : null,
    agree: agreement ? agreement.dataset.agree : null,
    disagreements: agreement ? [...agreement.querySelectorAll("li")].map((li) => li.textContent) : [],
    predictions: rows,
    exchanges: document.querySelectorAll(".sequence line.msg").length,
    you: YOU.id,
    compared: compareWith(),
    download: Boolean(document.querySelector("#agreement button.download")),
    scenario: lastRun && compareWith() ? scenarioFor(lastRun.run, compareWith()) : null,
    run: lastRun ? lastRun.run.id : null,
    url: lastRun ? lastRun.run.url : null,
  };
}

async function selfTest() {
  const m = location.hash.match(/suite=([A-Za-z0-9_-]+)/);
  const suite = m ? JSON.parse(fromBase64Url(m[1])) : starts.map((s) => ({ id: s.id, start: s.id }));
  for (const item of suite) {
    if (item.start) {
      document.querySelector(`[data-start="${item.start}"]`).click();
      // Then the form's own inputs, as a person edits them: clicks (`+ request header`, ...)
      // and values typed into fields, each announced with the event the page listens for.
      for (const step of item.edits || []) {
        const nodes = document.querySelectorAll(step.select);
        const node = nodes[step.nth === undefined ? nodes.length - 1 : step.nth];
        if (step.click) {
          node.click();
        } else {
          node.value = step.value;
          node.dispatchEvent(new Event(node.tagName === "SELECT" ? "change" : "input"));
        }
      }
    } else {
      // The shareable link is the control: the page loads a case when its fragment changes.
      const fragment = `case=${toBase64Url(JSON.stringify(item.case))}`;
      const changed = new Promise((resolve) => {
        window.addEventListener("hashchange", resolve, { once: true });
        setTimeout(resolve, 2000);
      });
      location.hash = fragment;
      await changed;
      if (JSON.stringify(current) !== JSON.stringify(normalise(item.case))) loadFragment();
    }
    // The page's own control for the prediction compared with.
    $("compare").value = item.compare || "";
    $("compare").dispatchEvent(new Event("change"));
    $("result").dataset.state = "idle";
    lastRun = null;
    $("run").click();
    await until(() => $("result").dataset.state !== "running" && $("result").dataset.state !== "idle", 20000);
    console.log(`crossgate-playground-result ${hex(JSON.stringify({ id: item.id, ...shown() }))}`);
  }
  console.log(`crossgate-playground-done ${suite.length}`);
}

async function start() {
  $("you").textContent = YOU.label;
  $("page-origin").textContent = location.origin;
  starts = await (await fetch("/starts.json")).json();
  renderStarts();
  const fromLink = caseFromFragment();
  if (fromLink) current = fromLink;
  bindForm();
  renderForm();
  const params = new URLSearchParams(location.search);
  const chosen = starts.find((s) => s.id === params.get("start"));
  if (chosen) document.querySelector(`[data-start="${chosen.id}"]`).click();
  const token = params.get("selftest");
  if (token && (await fetch(`/api/selftest/${encodeURIComponent(token)}`)).ok) {
    SELFTEST = true;
    selfTest();
  } else if (params.has("run") && chosen) {
    // Only a starting point runs on load: a shared case waits for its reader's click.
    run();
  }
}

start();
