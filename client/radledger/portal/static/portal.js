// radledger patient portal: plain JavaScript, no build step, no library.
// The wallet (EIP-1193, window.ethereum) signs EIP-712 messages the site prepares; the site relays them.
"use strict";

const state = { site: null, account: null, overview: null };
const $ = (id) => document.getElementById(id);
const USER_REJECTED = 4001;
const FOREVER = 2 ** 40 - 1;

function short(text) { return text.length > 14 ? `${text.slice(0, 6)}…${text.slice(-4)}` : text; }
function say(text) { $("status").textContent = text; }
function warn(text) { $("alert").textContent = text; }
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("aria-") || key === "type" || key === "for") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

class RelayError extends Error {
  constructor(status, body) { super(body.detail || body.error || `HTTP ${status}`); this.status = status; this.body = body; }
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new RelayError(response.status, data);
  return data;
}

async function walletChainId() {
  return parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);
}

async function checkNetwork() {
  const chainId = await walletChainId();
  if (chainId !== state.site.chainId) {
    warn(`Your wallet is on the wrong network (chain ${chainId}). This site keeps consents on chain ` +
      `${state.site.chainId}. Switch the network in your wallet, then press "Connect wallet" again. Nothing was signed.`);
    return false;
  }
  return true;
}

async function connect() {
  warn(""); say("");
  if (!window.ethereum) {
    warn("No wallet found. Open this page in your wallet app's browser, or use the site's kiosk.");
    return;
  }
  let accounts;
  try {
    accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
  } catch (error) {
    warn(error && error.code === USER_REJECTED ? "You did not connect a wallet. Nothing happened." : `The wallet refused: ${error.message || error}`);
    return;
  }
  if (!(await checkNetwork())) { $("patient").hidden = true; return; }
  state.account = accounts[0];
  $("account-text").textContent = `Connected: ${state.account}`;
  $("connect").textContent = "Reconnect wallet";
  await load();
}

async function load() {
  say("Reading your records…");
  state.overview = await api(`/api/patients/${state.account}`);
  render(state.overview);
  $("patient").hidden = false;
  say(state.overview.isPatientHere ? "" : "This site holds no record of yours, so it cannot send your decisions.");
}

function emptyItem(text) { return el("li", { class: "empty" }, text); }

function render(view) {
  const records = $("records");
  records.replaceChildren(...(view.records.length ? view.records.map((r) =>
    el("li", {}, el("h3", {}, r.kind), el("p", {}, `Registered ${r.registered}` + (r.amendments ? `, updated ${r.amendments} time(s)` : "")))
  ) : [emptyItem("No records of yours at this site.")]));

  const grants = $("grants");
  const byGrantee = new Map();
  for (const g of view.grants) {
    if (!byGrantee.has(g.grantee)) byGrantee.set(g.grantee, []);
    byGrantee.get(g.grantee).push(g);
  }
  grants.replaceChildren(...(byGrantee.size ? [...byGrantee.entries()].map(([grantee, list]) => {
    const name = list[0].granteeName;
    return el("li", {},
      el("h3", {}, name),
      el("ul", {}, ...list.map((g) => el("li", {},
        el("span", {}, g.summary + "."),
        el("button", { type: "button", class: "secondary", "aria-label": `Withdraw access of ${name} to ${g.record.charAt(0).toLowerCase()}${g.record.slice(1)}`,
          onclick: () => act("revoke", { grantee, recordId: g.recordId }, "revoke") }, "Withdraw")))),
      el("button", { type: "button", class: "secondary",
        onclick: () => act("revoke-all", { grantee }, "revoke") }, `Withdraw everything for ${name}`));
  }) : [emptyItem("Nobody has been given access.")]));

  $("guardians").replaceChildren(...(view.guardians.length ? view.guardians.map((g) => el("li", {},
    el("span", {}, g.summary + "."),
    el("button", { type: "button", class: "secondary", "aria-label": `Remove guardian ${g.name}`,
      onclick: () => act("set-guardian", { guardian: g.guardian, validUntil: 0 }, "set-guardian") }, "Remove")))
    : [emptyItem("You have no guardian.")]));

  $("break-glass").replaceChildren(...(view.breakGlass.length ? view.breakGlass.map((b) => el("li", {}, b.summary + "."))
    : [emptyItem("No emergency access so far.")]));
  $("accesses").replaceChildren(...(view.accesses.length ? view.accesses.map((a) => el("li", {}, a.summary + "."))
    : [emptyItem("No recorded access so far.")]));

  const record = $("record");
  const chosen = record.value;
  record.replaceChildren(el("option", { value: "0x" + "00".repeat(32) }, "All my records, also future ones"),
    ...view.records.map((r) => el("option", { value: r.recordId }, r.label)));
  if (chosen) record.value = chosen;
}

function renderSite(site) {
  for (const node of document.querySelectorAll(".site-name")) node.textContent = site.siteName;
  document.title = `Your imaging records at ${site.siteName}`;
  $("grantee").replaceChildren(el("option", { value: "" }, "Choose…"),
    ...site.directory.map((d) => el("option", { value: d.address }, `${d.name} (${d.kind})`)));
  $("scopes").replaceChildren(el("legend", {}, "What they may see"), ...site.scopes.map((s) => el("label", {},
    el("input", { type: "checkbox", name: "scope", value: s.name, checked: s.name === "images" }), s.text)));
  $("purposes").replaceChildren(el("legend", {}, "What for"), ...site.purposes.map((p) => el("label", {},
    el("input", { type: "checkbox", name: "purpose", value: p.name, checked: p.name === "TREAT" }), p.text)));
}

function endOfDay(value) { return value ? Math.floor(Date.parse(`${value}T23:59:59Z`) / 1000) : null; }

function busy(on) { for (const b of document.querySelectorAll("button")) b.disabled = on; }

async function act(action, fields, relayAction) {
  warn(""); say("");
  $("receipt-box").hidden = true;
  busy(true);
  try {
    if (!(await checkNetwork())) return;
    say("Preparing your decision…");
    const { typedData } = await api(`/api/prepare/${action}`, { patient: state.account, signer: state.account, ...fields });
    const signed = [];
    for (const [i, document_] of typedData.entries()) {
      say(typedData.length > 1 ? `Please check and sign in your wallet (${i + 1} of ${typedData.length}).` : "Please check and sign in your wallet.");
      let signature;
      try {
        signature = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [state.account, JSON.stringify(document_)] });
      } catch (error) {
        say("");
        if (error && error.code === USER_REJECTED) warn("You cancelled the signature. Nothing was sent and nothing changed.");
        else warn(`Your wallet could not sign: ${error.message || error}. Nothing was sent and nothing changed.`);
        return;
      }
      signed.push({ typedData: document_, signature });
    }
    say("Sending your signed decision…");
    const submissions = signed.length === 1
      ? [await api(`/relay/${relayAction}`, signed[0])]
      : (await api("/relay/batch", { items: signed.map((s) => ({ action: relayAction, ...s })) })).submissions;
    say(`Sent (transaction ${short(submissions[0].txHash)}). Waiting for the network to record it…`);
    const links = [];
    let block = 0;
    for (const submission of submissions) {
      const outcome = await waitFor(submission.txHash);
      if (outcome.status !== "confirmed") { warn(`The network did not record it: ${outcome.error || outcome.status}.`); return; }
      block = Math.max(block, outcome.blockNumber);
      links.push(...outcome.receipts);
    }
    $("receipt-links").replaceChildren(...links.map((href, i) => el("li", {},
      el("a", { href, download: `consent-receipt-${i + 1}.json` }, links.length > 1 ? `Download receipt ${i + 1} (JSON and FHIR)` : "Download receipt (JSON and FHIR)"))));
    $("receipt-box").hidden = false;
    await load();
    say(`Done: recorded in block ${block}.`);
  } catch (error) {
    say("");
    if (error instanceof RelayError) warn(`The site did not send this: ${error.message} Nothing was recorded and no fee was paid.`);
    else warn(`Something went wrong: ${error.message || error}`);
  } finally {
    busy(false);
  }
}

async function waitFor(txHash) {
  for (let i = 0; i < 240; i++) {
    const outcome = await api(`/relay/tx/${txHash}`);
    if (outcome.status !== "pending") return outcome;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { status: "still pending after two minutes" };
}

function checkedValues(name) { return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value); }

async function start() {
  state.site = await api("/api/site");
  renderSite(state.site);
  $("connect").addEventListener("click", connect);
  $("grant-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const grantee = $("grantee").value;
    const scopes = checkedValues("scope"), purposes = checkedValues("purpose");
    if (!grantee) { warn("Choose who may see your records."); $("grantee").focus(); return; }
    if (!scopes.length) { warn("Choose at least one thing they may see."); return; }
    if (!purposes.length) { warn("Choose at least one purpose."); return; }
    const until = endOfDay($("until").value);
    act("grant", { grantee, recordId: $("record").value, scopes, purposes, validUntil: until ?? FOREVER }, "grant");
  });
  $("guardian-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const guardian = $("guardian-address").value.trim(), until = endOfDay($("guardian-until").value);
    if (!/^0x[0-9a-fA-F]{40}$/.test(guardian)) { warn("Enter the guardian's wallet address (0x followed by 40 characters)."); $("guardian-address").focus(); return; }
    if (!until) { warn("Choose until when the guardian may act for you."); $("guardian-until").focus(); return; }
    act("set-guardian", { guardian, validUntil: until }, "set-guardian");
  });
  $("invalidate").addEventListener("click", () => act("invalidate-signatures", {}, "invalidate-signatures"));
  if (window.ethereum && window.ethereum.on) {
    window.ethereum.on("chainChanged", () => { if (state.account) connect(); });
    window.ethereum.on("accountsChanged", () => { if (state.account) connect(); });
  }
}

start().catch((error) => warn(`The page could not start: ${error.message || error}`));
