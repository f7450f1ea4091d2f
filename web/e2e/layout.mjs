// Layout test: every route in src/router.ts, at phone (390 px) and desktop
// (1280 px) width, against the real server filled with realistic data
// (long names, paths and emails). On each page it asserts
//   - no horizontal overflow: the document is no wider than the viewport,
//     and no element sticks out of its card, list, table or banner (or is
//     clipped by an ancestor that hides overflow);
//   - every tab of every tab strip is visible and hit by a click at its
//     centre without scrolling;
//   - form controls side by side share the same top (within 1 px);
// and saves a screenshot of each as $ARTIFACTS/<width>/<nn>-<page>.png.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { api, assert, env, launchChromium, startUpstream, viaProxy } from "./lib.mjs";

const AV = env("AV_URL");
const ARTIFACTS = env("ARTIFACTS");
const OWNER = { email: "owner@example.com", password: "correct horse battery" };
const VAULT = "payments-eu-west-production";
const WIDTHS = [
  { name: "390", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  { name: "1280", viewport: { width: 1280, height: 860 } },
];

// loadRoutes imports the route table the app itself renders from.
async function loadRoutes() {
  const out = await build({
    entryPoints: [new URL("../src/router.ts", import.meta.url).pathname],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    logLevel: "silent",
  });
  const mod = await import("data:text/javascript;base64," + Buffer.from(out.outputFiles[0].text).toString("base64"));
  assert(Array.isArray(mod.routes) && mod.routes.length > 0, "router.ts exports routes");
  return mod.routes;
}

// fixtures fills the server through its API with what a busy vault holds,
// and returns the values route params are filled from.
async function fixtures(upstreamPort) {
  const reg = await api("", "POST", "/v1/auth/register", OWNER);
  assert(reg.status === 200 || reg.status === 201, "register: " + reg.status + " " + JSON.stringify(reg.body));
  const owner = reg.body.token;
  const ok = async (what, r, codes = [200, 201, 204]) => {
    const res = await r;
    assert(codes.includes(res.status), `${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  await ok("create vault", api(owner, "POST", "/v1/vaults", { name: VAULT }));
  await ok("create second vault", api(owner, "POST", "/v1/vaults", { name: "a-vault-whose-name-is-as-long-as-the-rules-allow-it-to-be-x" }));
  await ok(
    "set credentials",
    api(owner, "POST", "/v1/credentials", {
      vault: VAULT,
      credentials: {
        STRIPE_SECRET_KEY: "sk_layout_1",
        GITHUB_TOKEN: "ghp_layout_2",
        CRM_USER: "crm-user",
        CRM_PASSWORD: "crm-pass",
        WAREHOUSE_EXPORT_SERVICE_ACCOUNT_PRIVATE_KEY_FOR_THE_NIGHTLY_JOB: "k",
      },
    }),
  );
  const local = `127.0.0.1:${upstreamPort}`;
  await ok(
    "set services",
    api(owner, "POST", `/v1/vaults/${VAULT}/services`, {
      services: [
        { name: "stripe", host: local, auth: { type: "bearer", token: "STRIPE_SECRET_KEY" } },
        { name: "crm", host: "crm.internal.eu-west-1.example-corporation.com/api/v2/contacts*", auth: { type: "basic", username: "CRM_USER", password: "CRM_PASSWORD" } },
        { name: "github-enterprise-mirror", host: "*.github-enterprise.example.com", auth: { type: "api-key", header: "X-Api-Key", key: "GITHUB_TOKEN" }, enabled: false },
      ],
    }),
  );
  for (const email of ["pat.longname-with-a-suffix@subdomain.example-corporation.com", "sam@example.com"]) {
    const inv = await ok("invite", api(owner, "POST", "/v1/users/invites", { email, role: "member" }));
    await ok("accept", api("", "POST", `/v1/users/invites/${encodeURIComponent(inv.token)}/accept`, { email, password: "layout-password-1" }));
    await ok("add user", api(owner, "POST", `/v1/vaults/${VAULT}/users`, { email, role: "member" }));
  }
  const agent = await ok("create agent", api(owner, "POST", "/v1/agents", { name: "crm-agent", vaults: [{ vault: VAULT, role: "proxy" }] }));
  await ok("create agent", api(owner, "POST", "/v1/agents", { name: "nightly-warehouse-export-agent-with-a-long-name", vaults: [{ vault: VAULT, role: "member" }] }));
  await ok("mint token", api(owner, "POST", "/v1/sessions", { vault: VAULT, ttl_seconds: 3600 }));
  const prop = await ok(
    "create proposal",
    api(agent.token, "POST", "/v1/proposals", {
      vault: VAULT,
      services: [{ action: "set", name: "billing", host: "billing.internal.eu-west-1.example-corporation.com", auth: { type: "bearer", token: "BILLING_TOKEN" } }],
      credentials: [{ action: "set", key: "BILLING_TOKEN", description: "Read-only billing token", obtain: "https://billing.internal.eu-west-1.example-corporation.com/settings/api-tokens/new?scope=read" }],
      message: "I need the billing API to reconcile last month's invoices against the CRM contacts.",
      user_message: "Reconcile the October invoices",
    }),
  );
  // Request log rows with long paths, through the real proxy.
  const paths = [
    "/v1/customers/cus_9s6XKzkNRiz8i3/payment_methods/pm_1N4WQ2LkdIwHu7ixWQ2/verify?expand[]=customer&expand[]=invoice_settings.default_payment_method",
    "/v1/charges?limit=3",
    "/v1/refunds/re_3MtwBwLkdIwHu7ix28a3tqPa",
  ];
  for (const p of paths) {
    const r = await viaProxy(`http://${local}${p}`, agent.token, VAULT);
    assert(r.status === 200, `proxied ${p}: ${r.status} ${r.body}`);
  }
  const inv = await ok("invite", api(owner, "POST", "/v1/users/invites", { role: "member" }));
  const sam = (await ok("list users", api(owner, "GET", "/v1/users"))).users.find((u) => u.email === "sam@example.com");
  const reset = await ok("password reset", api(owner, "POST", `/v1/users/${sam.id}/password-reset`));
  return {
    owner,
    params: { vault: VAULT, proposal: prop.id, token: inv.token, reset: reset.token, agent: "crm-agent", user: "sam@example.com" },
  };
}

function fill(path, params) {
  return path.replace(/:([a-z_]+)/gi, (_, k) => {
    assert(k in params, `route ${path} has the param :${k}; give it a fixture in web/e2e/layout.mjs (fixtures().params)`);
    return encodeURIComponent(params[k]);
  });
}

// settle waits until the page's API requests are answered and no loading
// state is shown.
async function settle(page, inflight) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const quiet = await page.evaluate(
      () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(document.readyState === "complete" && !document.querySelector(".loading") && !!document.querySelector("main"))))),
    );
    if (quiet && inflight.size === 0) return;
    assert(Date.now() < deadline, `page did not settle (${inflight.size} requests in flight: ${[...inflight].join(", ")})`);
  }
}

// check runs in the page and returns the layout problems it finds.
// width is the viewport's: a phone browser widens its layout viewport to
// fit a page that overflows, so innerWidth alone would hide the overflow.
function check(width) {
  const problems = [];
  // From the top, as a visitor arrives (pressing a button may have scrolled).
  window.scrollTo(0, 0);
  const vw = window.innerWidth;
  const de = document.documentElement;
  if (vw !== width) problems.push(`the layout viewport is ${vw}px wide, not ${width}px: the page overflows`);
  if (de.scrollWidth > vw) problems.push(`page is ${de.scrollWidth}px wide in a ${vw}px viewport`);

  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].join(".");
    const label = el.getAttribute("aria-label") || el.getAttribute("name") || (el.textContent || "").trim().slice(0, 30);
    return label ? `${s} "${label}"` : s;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.display !== "none" && !el.closest(".sr-only");
  };
  const boxes = ".card, .list, .table, .banner, .empty, .drawer, .tabs";
  // Every element stays inside its nearest card-like box, or inside the
  // viewport when it has none; an ancestor that scrolls sideways on
  // purpose (overflow-x auto) contains its content.
  for (const el of document.body.querySelectorAll("*")) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    let box = null;
    let scrolls = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === "auto" || ox === "scroll") {
        scrolls = true;
        break;
      }
      if (ox === "hidden" || ox === "clip" || a.matches(boxes)) {
        box = a;
        break;
      }
    }
    if (scrolls) continue;
    const b = box ? box.getBoundingClientRect() : { left: 0, right: vw };
    if (r.left < b.left - 0.5 || r.right > b.right + 0.5) {
      problems.push(`${describe(el)} spans ${Math.round(r.left)}–${Math.round(r.right)}px, outside ${box ? describe(box) : "the viewport"} (${Math.round(b.left)}–${Math.round(b.right)}px)`);
    }
  }

  // Every tab is on screen and is what a click at its centre hits (inside
  // an open modal dialog, when there is one: the rest of the page is
  // covered on purpose).
  const scope = document.querySelector('[aria-modal="true"]') ?? document;
  for (const tab of scope.querySelectorAll('[role="tab"]')) {
    const r = tab.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const hit = r.width > 0 && x >= 0 && x <= vw && y >= 0 && y <= window.innerHeight ? document.elementFromPoint(x, y) : null;
    if (!hit || !tab.contains(hit)) problems.push(`tab ${describe(tab)} is not reachable without scrolling (centre at ${Math.round(x)},${Math.round(y)})`);
  }

  // Controls side by side in one form, filter bar or table row share the
  // same top.
  const controls = 'input:not([type="checkbox"]):not([type="radio"]):not([type="hidden"]), select, button, .btn';
  for (const group of document.querySelectorAll("form, tr, .form-row")) {
    const cs = [...group.querySelectorAll(controls)].filter((c) => visible(c) && c.closest("form, tr, .form-row") === group);
    for (let i = 0; i < cs.length; i++) {
      for (let j = i + 1; j < cs.length; j++) {
        const a = cs[i].getBoundingClientRect();
        const b = cs[j].getBoundingClientRect();
        const sideBySide = a.top < b.bottom && b.top < a.bottom && (a.right <= b.left || b.right <= a.left);
        if (sideBySide && Math.abs(a.top - b.top) > 1) {
          problems.push(`${describe(cs[i])} (top ${a.top.toFixed(1)}) and ${describe(cs[j])} (top ${b.top.toFixed(1)}) sit side by side at different heights`);
        }
      }
    }
  }
  return problems;
}

// opens are states of a page worth checking too: a button to press first.
const opens = {
  vaults: ["New vault"],
  "vault-credentials": ["Add credential", "Edit GITHUB_TOKEN"],
  "vault-services": ["Add service", "Edit crm"],
  "vault-proposal": ["Reject…"],
  "vault-settings": ["Edit settings", "Rename vault", "Delete vault"],
};

// shows lists what must be visible on a page at every width (what a
// narrow layout might otherwise hide).
const shows = {
  "vault-logs": ['tr[data-log-id] td[data-label="Service"]', 'tr[data-log-id] td[data-label="Actor"]', "tr[data-log-id] td.req"],
  "vault-access": ['button[aria-label^="Remove "]'],
};

const t0 = Date.now();
const routes = await loadRoutes();
rmSync(ARTIFACTS, { recursive: true, force: true });
const { browser, close } = await launchChromium();
const lap = (what) => console.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
lap("chromium up");
const upstream = await startUpstream();
const problems = [];
const consoleErrors = [];
let visited = 0;
try {
  // Routes that render the same page ("/" and "/vaults") are visited once.
  const pages = routes.filter((r, i) => routes.findIndex((o) => o.page === r.page) === i);
  const signedOut = pages.filter((r) => r.signedOut);
  const signedIn = pages.filter((r) => !r.signedOut);
  assert(signedOut.some((r) => r.page === "register"), "router.ts lists the register page");

  const contexts = [];
  for (const w of WIDTHS) {
    mkdirSync(join(ARTIFACTS, w.name), { recursive: true });
    const ctx = await browser.newContext({ viewport: w.viewport, isMobile: w.isMobile, hasTouch: w.hasTouch });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    const inflight = new Set();
    // The Logs tab's live tail (after=) is a long poll that stays open by
    // design; every other API request must be answered.
    page.on("request", (r) => r.url().includes("/v1/") && !/[?&]after=/.test(r.url()) && inflight.add(r.url()));
    const done = (r) => inflight.delete(r.url());
    page.on("requestfinished", done);
    page.on("requestfailed", done);
    page.on("pageerror", (e) => consoleErrors.push(`[${w.name}] page error: ${e.message}`));
    let expect404 = false;
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (expect404 && /status of 404/.test(m.text())) return;
      consoleErrors.push(`[${w.name}] console: ${m.text()}`);
    });
    let n = 0;
    const visit = async (name, path, { notFound = false, open } = {}) => {
      expect404 = notFound;
      await page.goto(AV + path);
      await settle(page, inflight);
      if (open) {
        await page.getByRole("button", { name: open, exact: true }).first().click();
        await settle(page, inflight);
      }
      if (notFound) {
        await page.getByTestId("not-found").waitFor();
        assert((await page.locator(".banner-error").count()) === 0, `${path}: a missing page shows no raw API error`);
      }
      const found = await page.evaluate(check, w.viewport.width);
      const shot = `${String(++n).padStart(2, "0")}-${name}${open ? "-" + open.toLowerCase().replace(/\W+/g, "-") : ""}.png`;
      await page.screenshot({ path: join(ARTIFACTS, w.name, shot), fullPage: true });
      for (const sel of shows[name] ?? []) {
        const el = page.locator(sel).first();
        assert((await el.count()) === 1 && (await el.isVisible()), `${w.name}px ${path}: ${sel} is shown`);
      }
      if (name === "vaults" && !open) {
        const row = page.locator(`li[data-vault="${VAULT}"]`);
        const text = await row.textContent();
        assert(text.includes("Built-in") && text.includes("5 credentials · 3 services"), "the vault list shows the store kind and counts: " + text);
      }
      for (const p of found) problems.push(`${w.name}px ${path}${open ? ` (${open})` : ""}: ${p}`);
      if (consoleErrors.length) throw new Error(`console errors on ${path}:\n${consoleErrors.join("\n")}`);
      expect404 = false;
      visited++;
    };
    contexts.push({ w, ctx, page, visit, inflight });
  }

  // The register page exists only until the first user does.
  await Promise.all(contexts.map((c) => c.visit("register", fill(signedOut.find((r) => r.page === "register").path, {}))));
  lap("register page");
  const fx = await fixtures(upstream.port);
  lap("fixtures");
  // The widths are walked side by side, each in its own browser context.
  const walk = async (c) => {
    for (const r of signedOut.filter((r) => r.page !== "register")) await c.visit(r.page, fill(r.path, fx.params));
    // Signed in: the session token the app keeps in sessionStorage.
    await c.ctx.addInitScript((t) => sessionStorage.setItem("agent-vault.session", t), fx.owner);
    for (const r of signedIn) {
      await c.visit(r.page, fill(r.path, fx.params));
      if (opens[r.page]) for (const o of opens[r.page]) await c.visit(r.page, fill(r.path, fx.params), { open: o });
    }
    await c.visit("missing-vault", "/vaults/no-such-vault", { notFound: true });
    await c.visit("missing-vault-tab", "/vaults/no-such-vault/logs", { notFound: true });
    await c.visit("missing-page", "/no/such/page", { notFound: true });

    // Every vault tab is reached by a plain click where it sits.
    await c.page.goto(AV + fill("/vaults/:vault/credentials", fx.params));
    await settle(c.page, c.inflight);
    const tabs = c.page.getByRole("tab");
    const count = await tabs.count();
    assert(count >= 6, `${c.w.name}px: the vault tab strip has ${count} tabs`);
    for (let i = 0; i < count; i++) {
      const box = await tabs.nth(i).boundingBox();
      const href = await tabs.nth(i).getAttribute("href");
      await c.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      await c.page.waitForFunction((i) => document.querySelectorAll('[role="tab"]')[i]?.getAttribute("aria-selected") === "true", i);
      assert(new URL(c.page.url()).pathname === new URL(href, AV).pathname, `${c.w.name}px: clicking the tab ${href} opens it (at ${c.page.url()})`);
    }
    await c.ctx.close();
  };
  await Promise.all(contexts.map(walk));
} catch (e) {
  problems.push(e.stack ?? String(e));
} finally {
  upstream.srv.close();
  await close();
}
if (problems.length) {
  console.log(`FAILED: ${problems.length} layout problems (screenshots in ${ARTIFACTS})`);
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`${visited} page visits in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${WIDTHS.map((w) => w.name + "px").join(" and ")} passed; screenshots in ${ARTIFACTS}`);
