// End-to-end test of the real Gatehouse window: tauri-driver + WebKitWebDriver, driven by
// WebdriverIO. Run through scripts/app-e2e.sh (Xvfb + a private D-Bus session).
//
// Starts the app, clicks "Try the demo network", sees the demo connect, sees the VPC map with
// reachable hosts and a blocked one, opens a web service and reads its page, imports a broken
// .conf and reads its line error, disconnects through the tray's handler, and checks every
// state change (card and tray). Saves a screenshot of every view to tests/artifacts/app/ and
// measures (cold start, PSS of the app's processes, map render time for 1,000 and 5,000 hosts).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { remote } from "webdriverio";

const root = resolve(import.meta.dirname, "../..");
const app = process.env.GATEHOUSE_APP_BIN ?? resolve(process.env.CARGO_TARGET_DIR ?? resolve(root, "target"), "debug/gatehouse-app");
const shots = resolve(root, "tests/artifacts/app");
const measureOut = process.env.GATEHOUSE_MEASURE_OUT;
mkdirSync(shots, { recursive: true });

const figures = {};
let failures = 0;
let step = 0;
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error(`FAIL: ${what}`);
    throw new Error(what);
  }
  log(`ok: ${what}`);
}

/** Sum of PSS (kB) of `pid` and all its descendants, with their names. */
function pssTree(pid) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      const pss = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      const name = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      out.push({ pid: p, name, pss_kb: pss });
    } catch {}
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function findAppPid() {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")[0] === app) return Number(d);
    } catch {}
  }
  return null;
}

const driver = spawn("tauri-driver", ["--port", "4444"], { stdio: ["ignore", "inherit", "inherit"] });
await new Promise((r) => setTimeout(r, 800));

let browser;
async function shot(name) {
  const file = resolve(shots, `${String(++step).padStart(2, "0")}-${name}.png`);
  await browser.saveScreenshot(file);
  log(`screenshot ${file}`);
}
const cmd = (name, ...args) =>
  browser.executeAsync(
    (name, args, done) => {
      globalThis.__gatehouse.commands[name](...args).then(done, (e) => done({ status: "error", error: { message: String(e) } }));
    },
    name,
    args,
  );
async function cardState(name) {
  const card = await browser.$(`[data-connection="${name}"]`);
  return (await card.isExisting()) ? card.getAttribute("data-state") : null;
}
async function waitState(name, want, timeout = 30000) {
  await browser.waitUntil(async () => (await cardState(name)) === want, { timeout, interval: 100, timeoutMsg: `${name} never became ${want}` });
}

try {
  const start = Date.now();
  browser = await remote({
    hostname: "127.0.0.1",
    port: 4444,
    logLevel: "warn",
    capabilities: { "tauri:options": { application: app }, "wdio:enforceWebDriverClassic": true },
  });
  const demoButton = await browser.$("#try-demo");
  await demoButton.waitForClickable({ timeout: 30000 });
  figures.cold_start_to_interactive_ms = Date.now() - start;
  log(`window interactive after ${figures.cold_start_to_interactive_ms} ms (WebDriver session included)`);
  await shot("connections-first-run");

  const appPid = findAppPid();
  check(appPid !== null, "the app process is found");
  await new Promise((r) => setTimeout(r, 3000));
  const idle = pssTree(appPid);
  figures.pss_idle_kb = idle.reduce((a, p) => a + p.pss_kb, 0);
  figures.pss_idle_processes = idle;
  log(`PSS idle: ${(figures.pss_idle_kb / 1024).toFixed(0)} MB over ${idle.length} processes`);

  let tray = await cmd("trayStatus");
  check(tray.status === "ok" && tray.data.state === "disconnected", `tray starts disconnected (${JSON.stringify(tray)})`);

  // Try the demo network: connects by itself.
  const clickedAt = Date.now();
  await demoButton.click();
  await waitState("demo", "connected");
  figures.demo_click_to_connected_ms = Date.now() - clickedAt;
  const seen = (await browser.execute(() => globalThis.__gatehouse.app.transitions.filter((t) => t.name === "demo").map((t) => t.state)));
  check(seen[0] === "connecting" && seen.includes("connected"), `demo went connecting → connected (${seen.join(" → ")})`);
  const toggle = await browser.$('[data-connection="demo"] [role="switch"]');
  check((await toggle.getAttribute("aria-checked")) === "true", "the demo toggle is on");
  const stateText = await browser.$('[data-connection="demo"] [data-testid="state"]').getText();
  check(stateText.includes("Connected"), `the card says "${stateText}"`);
  tray = await cmd("trayStatus");
  check(tray.data.state === "connected" && /demo: connected, handshake \d+ s ago/.test(tray.data.tooltip), `tray shows connected: "${tray.data.tooltip}"`);
  await shot("connections-demo-connected");

  // The map: reachable hosts, and the replica blocked with its sentence.
  await browser.$("#tab-map").click();
  await browser.$('[data-host="web-1"]').waitForExist({ timeout: 15000 });
  const reachable = await browser.$$('[data-verdict="reachable"]').length;
  const blocked = await browser.$$('[data-verdict="blocked"]').length;
  check(reachable >= 5, `the map shows ${reachable} reachable hosts`);
  check(blocked >= 1, `the map shows ${blocked} blocked host(s)`);
  // WebKitWebDriver refuses pointer clicks on SVG groups: reach the host the keyboard way
  // (Tab focus + Enter), which the map supports for every host.
  await browser.execute(() => document.querySelector('[data-host="db-replica"]').focus());
  await browser.keys("Enter");
  const sentence = await browser.$("#verdict-sentence").getText();
  check(/Blocked: security group sg-replica/.test(sentence), `the host panel explains: "${sentence}"`);
  await shot("map-demo");

  // Services: open the web server and read its page through the tunnel.
  await browser.$("#tab-services").click();
  const open = await browser.$('button[aria-label="Open web-1 port 80"]');
  await open.waitForClickable({ timeout: 15000 });
  await open.click();
  const preview = await browser.$("#service-preview");
  await preview.waitForExist({ timeout: 20000 });
  const page = await preview.getText();
  check(page.includes("web-1 - Gatehouse demo shop"), `web-1's page came through the tunnel (${page.length} chars)`);
  await browser.execute(() => document.getElementById("service-preview").scrollIntoView({ block: "center" }));
  await shot("services-web-1-opened");

  // Import a broken .conf: the line error shows inline.
  await browser.$("#tab-connections").click();
  await browser.$("summary").click();
  await browser.$("#paste-name").setValue("broken");
  await browser.execute(() => {
    const ta = document.getElementById("paste-text");
    ta.value = "[Interface]\nAddress = 10.0.0.2/32\nListenPort = not-a-port\n";
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await browser.$("#paste-import").click();
  const problem = await browser.$(".problem");
  await problem.waitForExist({ timeout: 10000 });
  const problemText = await problem.getText();
  check(/line 3, column \d+/.test(problemText) && problemText.includes("ListenPort"), `the import error points at the line: "${problemText.replace(/\n/g, " | ")}"`);
  await browser.execute(() => document.querySelector(".problem").scrollIntoView({ block: "center" }));
  await shot("connections-import-error");

  // Disconnect through the tray's own handler.
  const r = await cmd("trayAction", "disconnect:demo");
  check(r.status === "ok", `tray action disconnect:demo (${JSON.stringify(r)})`);
  await waitState("demo", "disconnected", 10000);
  const after = await browser.execute(() => globalThis.__gatehouse.app.transitions.filter((t) => t.name === "demo").map((t) => t.state));
  check(after.at(-1) === "disconnected", `demo states: ${after.join(" → ")}`);
  check((await toggle.getAttribute("aria-checked")) === "false", "the demo toggle is off");
  tray = await cmd("trayStatus");
  check(tray.data.state === "disconnected", `tray back to disconnected: "${tray.data.tooltip}"`);
  await shot("connections-demo-disconnected");

  // Reconnect by the card's toggle (a click), then the remaining views.
  await toggle.click();
  await waitState("demo", "connected");
  log("reconnected by the toggle");
  await browser.$("#tab-logs").click();
  const logText = await browser.$("#log-lines").getText();
  check(logText.includes("disconnected") && logText.includes("connecting"), "the log lists the connection's events");
  await shot("logs");
  await browser.$("#tab-settings").click();
  await browser.$("#settings-title").waitForExist();
  await shot("settings");

  // Measurements: map render time and memory with big maps.
  await browser.$("#tab-map").click();
  await browser.$('[data-host="web-1"]').waitForExist({ timeout: 15000 });
  for (const n of [1000, 5000]) {
    const times = [];
    for (let i = 0; i < 3; i++) {
      await browser.executeAsync((n, done) => globalThis.__gatehouseLoadSynthetic(n).then(() => done()), n);
      const summary = await browser.$("#map-summary").getText();
      check(summary.includes(`${n} hosts`), `synthetic map: "${summary}"`);
      times.push(Number(await browser.$("#map-render-ms").getText()));
    }
    figures[`map_render_ms_${n}`] = times;
    log(`map of ${n} hosts drawn in ${times.join(", ")} ms`);
    if (n === 5000) {
      await shot("map-5000-hosts");
      const zoomIn = await browser.$('button[aria-label="Zoom in"]');
      const panStart = Date.now();
      for (let i = 0; i < 10; i++) await zoomIn.click();
      figures.map_5000_ten_zoom_steps_ms = Date.now() - panStart;
      const big = pssTree(appPid);
      figures.pss_map_5000_kb = big.reduce((a, p) => a + p.pss_kb, 0);
      log(`PSS with the 5,000-host map: ${(figures.pss_map_5000_kb / 1024).toFixed(0)} MB`);
    }
  }
} catch (e) {
  if (!failures) failures++;
  console.error(e);
  if (browser) await shot("failure").catch(() => {});
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  driver.kill();
}

console.log(`screenshots: ${shots}`);
console.log(`figures: ${JSON.stringify({ ...figures, pss_idle_processes: undefined })}`);
if (measureOut) writeFileSync(measureOut, JSON.stringify(figures, null, 2));
if (failures) {
  console.error(`app e2e: FAILED`);
  process.exit(1);
}
console.log(`app e2e: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
