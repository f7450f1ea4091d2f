// Browser test of the UI: Debian's chromium driven by playwright-core over
// CDP, against the real agent-vault binary and the Infisical emulator (both
// started by web/e2e_test.go, which passes their URLs in the environment).
// Any console error or page error fails the run; every page is
// screenshotted into $ARTIFACTS.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { api, assert, env, launchChromium, startUpstream, viaProxy } from "./lib.mjs";

const AV = env("AV_URL");
const INFISICAL = env("INFISICAL_URL");
const ARTIFACTS = env("ARTIFACTS");
mkdirSync(ARTIFACTS, { recursive: true });

const OWNER = { email: "owner@example.com", password: "correct horse battery" };
const SECRET = "sk_live_ui_e2e_value"; // typed into a password field; must never be displayed
const PROJECT = "7a1c0e2b-0000-4000-8000-00000000e2e0";

const consoleErrors = [];
// allowed lists console errors a step expects (the browser logs every
// non-2xx fetch); each entry is consumed once.
const allowed = [];
function watch(page, label) {
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text() + (m.location()?.url ? ` (${m.location().url})` : "");
    const i = allowed.findIndex((re) => re.test(text));
    if (i >= 0) allowed.splice(i, 1);
    else consoleErrors.push(`[${label}] console: ${text}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(`[${label}] page error: ${e.message}`));
}

let shot = 0;
let currentPage = null;
async function screenshot(page, name) {
  shot++;
  await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function step(name, f) {
  const t0 = Date.now();
  process.stdout.write(`- ${name} … `);
  try {
    await f();
  } catch (e) {
    if (currentPage) await screenshot(currentPage, "FAILED").catch(() => {});
    throw e;
  }
  if (consoleErrors.length) throw new Error(`console errors during "${name}":\n${consoleErrors.join("\n")}`);
  console.log(`ok (${Date.now() - t0} ms)`);
}

async function emulator(method, path, body) {
  const r = await fetch(INFISICAL + path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert(r.ok, `emulator ${method} ${path}: ${r.status} ${await r.text()}`);
}

const { browser, close } = await launchChromium();
const upstream = await startUpstream();
let failed = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  watch(page, "desktop");
  currentPage = page;
  page.on("dialog", (d) => d.accept());
  const tab = (name) => page.getByRole("tab", { name });
  const fillStore = async (prefix) => {
    await page.locator(`select[name="${prefix}-kind"]`).selectOption("infisical");
    await page.locator(`input[name="${prefix}-project_id"]`).fill(PROJECT);
    await page.locator(`input[name="${prefix}-environment"]`).fill("dev");
    await page.locator(`input[name="${prefix}-secret_path"]`).fill("/");
  };

  await step("first run shows owner registration", async () => {
    await page.goto(AV + "/");
    await page.getByRole("heading", { name: "Create the owner account" }).waitFor();
    await screenshot(page, "register");
    await page.getByLabel("Email").fill(OWNER.email);
    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Create owner" }).click();
    await page.getByRole("heading", { name: "Vaults" }).waitFor();
    // Registration gives the owner a "default" vault.
    await page.locator(".list-row", { hasText: "default" }).waitFor();
    assert((await page.getByTestId("whoami").textContent()).includes(OWNER.email), "header names the owner");
    await screenshot(page, "vaults-first-run");
  });

  await step("the store picker offers Infisical and OpenBao (INFISICAL_URL and OPENBAO_ADDR are set)", async () => {
    await page.getByRole("button", { name: "New vault" }).click();
    // The kinds arrive from the API after the form opens (Built-in is there
    // from the start): wait for the list, then judge it exactly.
    await page
      .waitForFunction(() => document.querySelectorAll('select[name="create-kind"] option').length >= 3, null, { timeout: 15000 })
      .catch(() => {});
    const opts = await page.locator('select[name="create-kind"] option').allTextContents();
    assert(JSON.stringify(opts) === JSON.stringify(["Built-in", "Infisical", "OpenBao"]), "options: " + JSON.stringify(opts));
  });

  await step("create a built-in vault", async () => {
    await page.locator('input[name="vault-name"]').fill("payments");
    await screenshot(page, "vault-create");
    await page.getByRole("button", { name: "Create vault" }).click();
    await page.waitForURL("**/vaults/payments");
    await page.getByRole("heading", { name: "payments" }).waitFor();
    await page.getByText("No credentials yet").waitFor();
  });

  await step("add a credential; the value is never shown", async () => {
    await page.getByRole("button", { name: "Add credential" }).click();
    await page.locator('input[name="credential-key"]').fill("STRIPE_KEY");
    const value = page.locator('input[name="credential-value"]');
    assert((await value.getAttribute("type")) === "password", "value is a password field");
    await value.fill(SECRET);
    await page.getByRole("button", { name: "Save" }).click();
    const row = page.locator('tr[data-key="STRIPE_KEY"]');
    await row.waitFor();
    assert((await row.locator(".tag").first().textContent()) === "static", "STRIPE_KEY is tagged static");
    assert(!(await page.content()).includes(SECRET), "the value is not in the page");
    await screenshot(page, "credentials-builtin");
  });

  await step("edit the credential, then a bad key gets the API's message", async () => {
    await page.getByRole("button", { name: "Edit STRIPE_KEY" }).click();
    await page.locator('input[name="credential-value"]').fill(SECRET + "2");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("button", { name: "Edit STRIPE_KEY" }).waitFor();
    await page.getByRole("button", { name: "Add credential" }).click();
    await page.locator('input[name="credential-key"]').fill("bad-key");
    await page.locator('input[name="credential-value"]').fill("x");
    allowed.push(/status of 4\d\d/);
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").waitFor();
    await screenshot(page, "credentials-error");
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  await step("add a service (bearer) and toggle it", async () => {
    await tab("Services").click();
    await page.getByText("No services yet").waitFor();
    await page.getByRole("button", { name: "Add service" }).click();
    await page.locator('input[name="service-name"]').fill("upstream");
    await page.locator('input[name="service-host"]').fill(`127.0.0.1:${upstream.port}`);
    await page.locator('select[name="service-auth"]').selectOption("bearer");
    await page.locator('input[name="auth-token"]').fill("STRIPE_KEY");
    await page.locator('input[name="service-name"]').fill("Bad Name");
    allowed.push(/status of 4\d\d/);
    await page.getByRole("button", { name: "Save service" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert(/name/i.test(await alert.textContent()), "the API's validation message names the field");
    await screenshot(page, "service-form-error");
    await page.locator('input[name="service-name"]').fill("upstream");
    await page.getByRole("button", { name: "Save service" }).click();
    const row = page.locator('li[data-service="upstream"]');
    await row.waitFor();
    await row.getByRole("button", { name: "Disable" }).click();
    await row.getByText("disabled").waitFor();
    await row.getByRole("button", { name: "Enable" }).click();
    await row.getByText("enabled").waitFor();
    await screenshot(page, "services");
  });

  await step("Services: check a request names the service and its key, never the value", async () => {
    const form = page.getByRole("form", { name: "Check a request" });
    await form.locator('input[name="explain-url"]').fill(`http://127.0.0.1:${upstream.port}/v1/charges`);
    await form.getByRole("button", { name: "Check" }).click();
    const x = page.getByTestId("explanation");
    await x.waitFor();
    const text = await x.textContent();
    assert(text.includes("inject") && text.includes("upstream (bearer)") && text.includes("STRIPE_KEY"), "explained: " + text);
    assert(!text.includes(SECRET), "no credential value in the explanation");
    await screenshot(page, "services-explain");
    await form.locator('input[name="explain-url"]').fill("https://nothing.example.com/");
    await form.getByRole("button", { name: "Check" }).click();
    await x.getByText("unmatched hosts: passthrough").waitFor();
  });

  let scoped;
  await step("Access: mint a scoped token", async () => {
    await tab("Access").click();
    await page.getByRole("heading", { name: "People" }).waitFor();
    await page.getByRole("button", { name: "Mint token" }).click();
    const minted = page.getByTestId("minted-token");
    await minted.waitFor();
    scoped = (await minted.locator("code").textContent()).trim();
    assert(scoped.length > 10, "a token is shown once");
    await page.getByRole("button", { name: "Revoke" }).first().waitFor();
    await screenshot(page, "access");
  });

  await step("a proxied request shows in Logs, and the live tail adds the next", async () => {
    const r = await viaProxy(`http://127.0.0.1:${upstream.port}/v1/charges?limit=3`, scoped, "payments");
    assert(r.status === 200, `proxied request: ${r.status} ${r.body}`);
    assert(upstream.seen.at(-1).auth === "Bearer " + SECRET + "2", "the proxy injected the edited credential");
    await tab("Logs").click();
    const row = page.locator("tr[data-log-id]").filter({ hasText: "/v1/charges" });
    await row.waitFor();
    assert((await row.textContent()).includes("200"), "status 200 is shown");
    // Live tail: a request made while the tab is open appears on top.
    const r2 = await viaProxy(`http://127.0.0.1:${upstream.port}/v1/refunds`, scoped, "payments");
    assert(r2.status === 200, `second proxied request: ${r2.status}`);
    await page.locator("tr[data-log-id]").first().filter({ hasText: "/v1/refunds" }).waitFor();
    await screenshot(page, "logs");
    await page.locator('select[name="status-filter"]').selectOption("5xx");
    await page.getByText("No proxied requests match these filters").waitFor();
    await page.locator('select[name="status-filter"]').selectOption("");
    await row.waitFor();
  });

  await step("add a service from the catalog; the credential field picks one of the vault's keys", async () => {
    await tab("Services").click();
    await page.getByRole("button", { name: "Add service" }).click();
    const catalog = page.getByRole("region", { name: "Service catalog" });
    await catalog.locator("button[data-catalog]").first().waitFor();
    assert((await catalog.locator("button[data-catalog]").count()) >= 25, "the catalog lists at least 25 APIs");
    await catalog.getByRole("searchbox", { name: "Search the catalog" }).fill("linear");
    await page.waitForFunction(() => document.querySelectorAll("button[data-catalog]").length === 1);
    await catalog.locator('button[data-catalog="linear"]').click();
    assert((await page.locator('input[name="service-name"]').inputValue()) === "linear", "the name comes from the catalog");
    assert((await page.locator('input[name="service-host"]').inputValue()) === "api.linear.app", "the host comes from the catalog");
    assert((await page.locator('select[name="service-auth"]').inputValue()) === "api-key", "the auth type comes from the catalog");
    assert((await page.locator('input[name="auth-header"]').inputValue()) === "Authorization", "the header comes from the catalog");
    assert((await page.locator('input[name="auth-key"]').inputValue()) === "LINEAR_API_KEY", "the suggested key is filled in");
    await page.getByText("Not in this vault yet").waitFor();
    const picks = await page.locator('select[name="auth-key-pick"] option').allTextContents();
    assert(picks.includes("STRIPE_KEY"), "the picker offers the vault's keys: " + JSON.stringify(picks));
    await page.locator('select[name="auth-key-pick"]').selectOption("STRIPE_KEY");
    assert((await page.locator('input[name="auth-key"]').inputValue()) === "STRIPE_KEY", "picking a key fills the field");
    await screenshot(page, "service-from-catalog");
    await page.getByRole("button", { name: "Save service" }).click();
    const row = page.locator('li[data-service="linear"]');
    await row.waitFor();
    assert((await row.textContent()).includes("api.linear.app"), "the saved service has the catalog's host");
  });

  await step("a host reached without a service is listed; Create service fills the form from the catalog", async () => {
    const r = await viaProxy(`http://api.github.com:${upstream.port}/user/repos`, scoped, "payments");
    assert(r.status === 200, `request to a host without a service: ${r.status} ${r.body}`);
    const hostRow = page.locator('li[data-host="api.github.com:' + upstream.port + '"]');
    // The proxy writes discovered hosts in batches: reload until it shows.
    for (let deadline = Date.now() + 20000; ; ) {
      await page.reload();
      await page.getByRole("heading", { name: "Hosts without a service" }).waitFor();
      if ((await hostRow.count()) > 0) break;
      assert(Date.now() < deadline, "the discovered host did not appear");
      await page.waitForTimeout(300);
    }
    // The row can render before the catalog it is matched against has loaded.
    await hostRow.filter({ hasText: "GitHub" }).waitFor({ timeout: 10000 }).catch(() => {});
    assert((await hostRow.textContent()).includes("GitHub"), "the host is matched to the catalog's GitHub entry");
    await screenshot(page, "discovered-hosts");
    await hostRow.getByRole("button", { name: "Create service" }).click();
    assert((await page.locator('input[name="service-name"]').inputValue()) === "github", "name from the catalog");
    assert((await page.locator('input[name="service-host"]').inputValue()) === "api.github.com", "host from the catalog");
    assert((await page.locator('input[name="auth-token"]').inputValue()) === "GITHUB_TOKEN", "the catalog's key is suggested");
    await page.locator('select[name="auth-token-pick"]').selectOption("STRIPE_KEY");
    await page.getByRole("button", { name: "Save service" }).click();
    await page.locator('li[data-service="github"]').waitFor();
    await page.getByText("No requests to hosts without a service").waitFor();
    assert((await hostRow.count()) === 0, "a host a service covers leaves the list");
    const token = await page.evaluate(() => sessionStorage.getItem("agent-vault.session"));
    const saved = await api(token, "GET", "/v1/vaults/payments/services");
    const gh = saved.body.services.find((x) => x.name === "github");
    assert(gh && gh.host === "api.github.com" && gh.auth.type === "bearer" && gh.auth.token === "STRIPE_KEY", "saved: " + JSON.stringify(gh));
    await screenshot(page, "services-after-discovered");
  });

  await step("services with the catalog and discovered hosts at phone width", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p = await phone.newPage();
    watch(p, "phone-services");
    await p.goto(AV + "/");
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill(OWNER.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Vaults" }).waitFor();
    await p.goto(AV + "/vaults/payments/services");
    await p.getByRole("button", { name: "Add service" }).click();
    await p.locator('button[data-catalog="github"]').click();
    await p.locator('select[name="auth-token-pick"]').waitFor();
    const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 0, `services: no horizontal scroll at 390 px (overflow ${over}px)`);
    await p.screenshot({ path: join(ARTIFACTS, "phone-services-catalog.png"), fullPage: true });
    // A host no service covers and no catalog entry names.
    const r = await viaProxy(`http://localhost:${upstream.port}/status`, scoped, "payments");
    assert(r.status === 200, `request to localhost: ${r.status} ${r.body}`);
    const hostRow = p.locator(`li[data-host="localhost:${upstream.port}"]`);
    for (let deadline = Date.now() + 20000; ; ) {
      await p.reload();
      await p.getByRole("heading", { name: "Hosts without a service" }).waitFor();
      if ((await hostRow.count()) > 0) break;
      assert(Date.now() < deadline, "the discovered host did not appear");
      await p.waitForTimeout(300);
    }
    const over2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over2 <= 0, `discovered hosts: no horizontal scroll at 390 px (overflow ${over2}px)`);
    await hostRow.getByRole("button", { name: "Create service" }).click();
    assert((await p.locator('input[name="service-host"]').inputValue()) === `localhost:${upstream.port}`, "a host outside the catalog is pre-filled as seen");
    assert((await p.locator('input[name="service-name"]').inputValue()) === "localhost", "its name is drafted from the host");
    await p.screenshot({ path: join(ARTIFACTS, "phone-services-discovered.png"), fullPage: true });
    await phone.close();
  });

  await step("Settings: connect to Infisical with the typed confirmation", async () => {
    await tab("Settings").click();
    assert((await page.getByTestId("store-kind").textContent()) === "Built-in", "starts built-in");
    await page.getByRole("button", { name: "Edit settings" }).click();
    const drawer = page.getByRole("dialog", { name: "Edit settings" });
    await drawer.waitFor();
    await fillStore("settings");
    await drawer.getByRole("button", { name: "Save" }).click();
    await drawer.getByText("overwrites its built-in credentials").waitFor();
    const go = drawer.getByRole("button", { name: "Connect and save" });
    assert(await go.isDisabled(), "disabled until the name is typed");
    await drawer.getByLabel("Confirm vault name").fill("payment");
    assert(await go.isDisabled(), "a wrong name keeps it disabled");
    await screenshot(page, "settings-connect-confirm");
    await drawer.getByLabel("Confirm vault name").fill("payments");
    await go.click();
    await drawer.waitFor({ state: "detached" });
    await page.getByTestId("store-kind").getByText("Infisical").waitFor();
    await screenshot(page, "settings-infisical");
  });

  await step("Infisical vault: read-only banner, synced keys, dynamic rows tagged", async () => {
    await tab("Credentials").click();
    await page.getByTestId("read-only-banner").waitFor();
    await page.locator('tr[data-key="DB_URL"]').waitFor();
    assert((await page.locator('tr[data-key="STRIPE_KEY"]').count()) === 0, "connect replaced the built-in credentials");
    assert((await page.getByRole("button", { name: "Add credential" }).count()) === 0, "no add on a read-only vault");
    const dyn = page.locator("tr[data-key]").filter({ has: page.locator(".tag-dynamic") });
    assert((await dyn.count()) > 0, "at least one dynamic row is tagged");
    assert((await page.getByTestId("sync-status").textContent()).includes("ok"), "last sync ok");
    await screenshot(page, "credentials-infisical");
  });

  await step("Manual sync picks up a new upstream secret", async () => {
    await emulator("PUT", "/_emulator/secrets", { project_id: PROJECT, environment: "dev", path: "/", values: { DB_URL: "postgres://emulated/app", API_KEY: "emulated-api-key", NEW_KEY: "n" } });
    const before = await page.getByTestId("sync-time").textContent();
    await page.getByRole("button", { name: "Manual sync" }).click();
    await page.getByTestId("sync-result").getByText(/^Synced \d+ credentials?\.$/).waitFor();
    await page.locator('tr[data-key="NEW_KEY"]').waitFor();
    const after = await page.getByTestId("sync-time").textContent();
    assert(after !== "—", `sync time shown (${before} → ${after})`);
    await screenshot(page, "manual-sync");
  });

  await step("Manual sync while one is in flight shows the 409", async () => {
    const login = await api("", "POST", "/v1/auth/login", OWNER);
    const token = login.body.token;
    // The next secrets listing waits 6 s, so the first of two syncs stays
    // in flight; the second answers 409 at once, and so does the UI's.
    await emulator("POST", "/_emulator/faults", { route: "GET /api/v3/secrets/raw", kind: "delay", delay_ms: 6000, times: 1 });
    const syncs = [api(token, "POST", "/v1/vaults/payments/sync"), api(token, "POST", "/v1/vaults/payments/sync")];
    const first = await Promise.race(syncs.map((p, i) => p.then((r) => ({ r, i }))));
    assert(first.r.status === 409, "the first answer of two concurrent syncs is 409, got " + first.r.status);
    const inflight = syncs[1 - first.i];
    allowed.push(/status of 409/);
    await page.getByRole("button", { name: "Manual sync" }).click();
    await page.getByTestId("sync-result").getByText("already in flight").waitFor();
    await screenshot(page, "manual-sync-409");
    assert((await inflight).status === 200, "the sync in flight completes");
  });

  await step("Settings: disconnect back to built-in keeps the synced secrets", async () => {
    await tab("Settings").click();
    await page.getByRole("button", { name: "Edit settings" }).click();
    const drawer = page.getByRole("dialog", { name: "Edit settings" });
    await drawer.locator('select[name="settings-kind"]').selectOption("builtin");
    await drawer.getByRole("button", { name: "Save" }).click();
    await drawer.getByText("keeps the synced secrets as built-in credentials").waitFor();
    await drawer.getByLabel("Confirm vault name").fill("payments");
    await screenshot(page, "settings-disconnect-confirm");
    await drawer.getByRole("button", { name: "Disconnect and save" }).click();
    await drawer.waitFor({ state: "detached" });
    await page.getByTestId("store-kind").getByText("Built-in").waitFor();
    await tab("Credentials").click();
    await page.locator('tr[data-key="NEW_KEY"]').waitFor();
    assert((await page.getByTestId("read-only-banner").count()) === 0, "no read-only banner after disconnect");
    await page.getByRole("button", { name: "Add credential" }).waitFor();
    await screenshot(page, "credentials-after-disconnect");
  });

  await step("unmatched-host policy through the drawer", async () => {
    await tab("Settings").click();
    await page.getByRole("button", { name: "Edit settings" }).click();
    const drawer = page.getByRole("dialog", { name: "Edit settings" });
    await drawer.locator('select[name="unmatched-host-policy"]').selectOption("deny");
    await drawer.getByRole("button", { name: "Save" }).click();
    await drawer.waitFor({ state: "detached" });
    await page.getByTestId("unmatched-policy").getByText("Refused (deny)").waitFor();
    await screenshot(page, "settings");
  });

  await step("create an Infisical-backed vault from the list", async () => {
    await page.getByRole("link", { name: "Agent Vault" }).click();
    await page.getByRole("button", { name: "New vault" }).click();
    await page.locator('input[name="vault-name"]').fill("team-secrets");
    await fillStore("create");
    await screenshot(page, "vault-create-infisical");
    await page.getByRole("button", { name: "Create vault" }).click();
    await page.waitForURL("**/vaults/team-secrets");
    await page.getByTestId("read-only-banner").waitFor();
    await page.locator('tr[data-key="API_KEY"]').waitFor();
    await screenshot(page, "credentials-infisical-created");
  });

  await step("rename and delete with typed confirmation", async () => {
    await tab("Settings").click();
    await page.getByRole("button", { name: "Rename vault" }).click();
    await page.locator('input[name="new-vault-name"]').fill("team-secrets-2");
    await page.getByLabel("Confirm vault name").fill("team-secrets");
    await page.getByRole("button", { name: "Rename vault" }).click();
    await page.waitForURL("**/vaults/team-secrets-2/settings");
    await page.getByRole("button", { name: "Delete vault" }).click();
    await page.getByLabel("Confirm vault name").fill("team-secrets-2");
    await screenshot(page, "delete-confirm");
    await page.getByRole("button", { name: "Delete vault" }).click();
    await page.getByRole("heading", { name: "Vaults" }).waitFor();
    await page.locator(".list-row", { hasText: "payments" }).waitFor();
    assert((await page.locator(".list-row", { hasText: "team-secrets" }).count()) === 0, "deleted vault is gone");
    await screenshot(page, "vaults");
  });

  await step("a reload on a client route lands on the same page", async () => {
    await page.goto(AV + "/vaults/payments/services");
    await page.locator('li[data-service="upstream"]').waitFor();
  });

  await step("create an OpenBao-backed vault from its schema form", async () => {
    await page.goto(AV + "/");
    await page.getByRole("button", { name: "New vault" }).click();
    await page.locator('input[name="vault-name"]').fill("bao-secrets");
    await page.locator('select[name="create-kind"]').selectOption("openbao");
    assert((await page.locator('input[name="create-mount"]').inputValue()) === "secret", "mount defaults to secret");
    await page.locator('input[name="create-path"]').fill("app");
    await page.locator('input[name="create-recursive"]').check();
    await page.locator('input[name="create-dynamic_roles"]').fill("pgrole=database/creds/readonly");
    await page.locator('input[name="create-dynamic_roles"]').blur();
    await screenshot(page, "vault-create-openbao");
    await page.getByRole("button", { name: "Create vault" }).click();
    await page.waitForURL("**/vaults/bao-secrets");
    await page.getByTestId("read-only-banner").waitFor();
    await page.locator('tr[data-key="API_KEY"]').waitFor();
    await page.locator('tr[data-key="BILLING_KEY"]').waitFor();
    await screenshot(page, "credentials-openbao-created");
    await tab("Settings").click();
    await page.getByRole("button", { name: "Edit settings" }).click();
    await page.getByRole("dialog", { name: "Edit settings" }).waitFor();
    await screenshot(page, "settings-openbao");
    await page.keyboard.press("Escape");
  });

  await step("role-aware: a proxy-role member sees actions disabled with the reason", async () => {
    const owner = (await api("", "POST", "/v1/auth/login", OWNER)).body.token;
    const inv = await api(owner, "POST", "/v1/users/invites", { email: "pat@example.com", role: "member" });
    assert(inv.status === 201, "invite: " + inv.status);
    const acc = await api("", "POST", `/v1/users/invites/${encodeURIComponent(inv.body.token)}/accept`, { email: "pat@example.com", password: "pat-password-1" });
    assert(acc.status === 201, "accept: " + acc.status + " " + JSON.stringify(acc.body));
    await page.goto(AV + "/vaults/payments/access");
    const people = page.getByRole("form", { name: "Add person" });
    await people.locator('input[name="users-principal"]').fill("pat@example.com");
    await people.locator('select[name="users-role"]').selectOption("proxy");
    await people.getByRole("button", { name: "Add" }).click();
    await page.getByRole("combobox", { name: "Role of pat@example.com" }).waitFor();

    const pctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await pctx.newPage();
    watch(p, "proxy-member");
    await p.goto(AV + "/");
    await p.getByLabel("Email").fill("pat@example.com");
    await p.getByLabel("Password").fill("pat-password-1");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Vaults" }).waitFor();
    assert((await p.getByRole("button", { name: "New vault" }).isEnabled()) === true, "members may create vaults");
    await p.goto(AV + "/vaults/payments/credentials");
    const add = p.getByRole("button", { name: "Add credential" });
    await add.waitFor();
    assert(await add.isDisabled(), "Add credential is disabled for the proxy role");
    assert((await add.getAttribute("title")).includes("admin or member"), "the reason is given");
    assert((await p.getByTestId("role-note").textContent()).includes("proxy"), "the role note explains the limits");
    assert(await p.getByRole("button", { name: "Delete NEW_KEY" }).isDisabled(), "Delete is disabled");
    await p.screenshot({ path: join(ARTIFACTS, "role-proxy-credentials.png"), fullPage: true });
    await p.getByRole("tab", { name: "Logs" }).click();
    await p.getByText("hidden from proxy-only members").waitFor();
    await p.getByRole("tab", { name: "Settings" }).click();
    assert(await p.getByRole("button", { name: "Edit settings" }).isDisabled(), "Edit settings is disabled");
    assert(await p.getByRole("button", { name: "Delete vault" }).isDisabled(), "Delete vault is disabled");
    await p.screenshot({ path: join(ARTIFACTS, "role-proxy-settings.png"), fullPage: true });
    await pctx.close();
  });

  // The agent loop: an agent proposes what it needs on a deny-policy
  // vault, a human approves it at the approval_url, the proxy then
  // injects the approved credential.
  const APPROVED = "crm_human_approved_value"; // typed by the human; never displayed
  const upCRM = await startUpstream();
  const crmURL = `http://127.0.0.1:${upCRM.port}/v1/contacts`;
  let agent, approvalPath, secondPath;
  const propose = async (name, key) =>
    api(agent, "POST", "/v1/proposals", {
      vault: "payments",
      services: [{ action: "set", name, host: `127.0.0.1:${upCRM.port}`, auth: { type: "basic", username: "CRM_USER", password: key } }],
      credentials: [
        { action: "set", key, description: "CRM API token <b>read contacts</b>", obtain: "https://crm.example.com/settings/tokens" },
        { action: "set", key: "CRM_USER", description: "The CRM account", value: "ada-bot" },
      ],
      message: "I need the CRM to look up contacts.\n<img src=x onerror=alert(1)>",
      user_message: "Find Ada's phone number",
    });

  await step("an agent proposes a service and a credential slot on a deny-policy vault", async () => {
    const owner = (await api("", "POST", "/v1/auth/login", OWNER)).body.token;
    const ag = await api(owner, "POST", "/v1/agents", { name: "crm-agent", vaults: [{ vault: "payments", role: "proxy" }] });
    assert(ag.status === 201, "create agent: " + ag.status + " " + JSON.stringify(ag.body));
    agent = ag.body.token;
    const refused = await viaProxy(crmURL, agent, "payments");
    assert(refused.status !== 200 && upCRM.seen.length === 0, `deny policy refuses the unmatched host (got ${refused.status})`);
    const prop = await propose("crm", "CRM_TOKEN");
    assert(prop.status === 201, "create proposal: " + prop.status + " " + JSON.stringify(prop.body));
    approvalPath = new URL(prop.body.approval_url).pathname;
    assert(approvalPath === `/vaults/payments/proposals/${prop.body.id}`, "approval_url: " + prop.body.approval_url);
    const second = await propose("crm2", "CRM2_TOKEN");
    assert(second.status === 201, "second proposal: " + second.status);
    secondPath = new URL(second.body.approval_url).pathname;

    await page.goto(AV + "/vaults/payments/proposals");
    const row = page.locator(`li[data-proposal="${prop.body.id}"]`);
    await row.waitFor();
    const msg = await row.getByTestId("proposal-message").textContent();
    assert(msg.includes("<img src=x onerror=alert(1)>"), "the agent's message is shown as text: " + msg);
    assert((await row.locator("img").count()) === 0, "no HTML from the agent is rendered");
    assert((await row.locator('tr[data-proposed-service="crm"]').textContent()).includes("CRM_TOKEN"), "the service lists the keys it uses");
    assert((await row.locator('tr[data-proposed-key="CRM_USER"]').textContent()).includes("agent supplied a value"), "an agent value is announced");
    assert(!(await page.content()).includes("ada-bot"), "the agent's value is never shown");
    await screenshot(page, "proposals");
    await page.locator('select[name="proposal-status"]').selectOption("approved");
    await page.getByText("No approved proposals.").waitFor();
  });

  await step("the approval page asks to sign in, comes back, and approval lets the proxy inject the human's value", async () => {
    const actx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await actx.newPage();
    watch(p, "approver");
    currentPage = p;
    await p.goto(AV + approvalPath);
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill(OWNER.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Proposal from crm-agent" }).waitFor();
    assert(new URL(p.url()).pathname === approvalPath, "back on the approval page after sign-in");
    const approve = p.getByRole("button", { name: "Approve" });
    assert(await approve.isDisabled(), "Approve waits for the missing value");
    assert((await approve.getAttribute("title")).includes("CRM_TOKEN"), "the reason names the missing slot");
    const user = p.locator('input[name="value-CRM_USER"]');
    assert((await user.getAttribute("placeholder")) === "agent supplied a value" && (await user.inputValue()) === "", "the agent's value is announced, not shown");
    const value = p.locator('input[name="value-CRM_TOKEN"]');
    assert((await value.getAttribute("type")) === "password", "values go in password fields");
    await value.fill(APPROVED);
    await screenshot(p, "proposal-approve");
    await approve.click();
    await p.getByTestId("proposal-outcome").getByText("Approved").waitFor();
    assert(!(await p.content()).includes(APPROVED), "the approved value is not in the page");
    await screenshot(p, "proposal-approved");
    await actx.close();
    currentPage = page;

    const r = await viaProxy(crmURL, agent, "payments");
    assert(r.status === 200, `proxied request after approval: ${r.status} ${r.body}`);
    assert(upCRM.seen.at(-1).auth === "Basic " + Buffer.from("ada-bot:" + APPROVED).toString("base64"), "the proxy injected the agent's user name and the human's token");
  });

  await step("approval page: read-only for the proxy role; a proposal decided elsewhere shows 409", async () => {
    const pctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const pp = await pctx.newPage();
    watch(pp, "proxy-member");
    await pp.goto(AV + secondPath);
    await pp.getByLabel("Email").fill("pat@example.com");
    await pp.getByLabel("Password").fill("pat-password-1");
    await pp.getByRole("button", { name: "Sign in" }).click();
    await pp.getByTestId("decide-readonly").waitFor();
    const ap = pp.getByRole("button", { name: "Approve" });
    assert(await ap.isDisabled(), "Approve is disabled for the proxy role");
    assert((await ap.getAttribute("title")).includes("admin or member"), "the reason is given");
    await pp.screenshot({ path: join(ARTIFACTS, "role-proxy-proposal.png"), fullPage: true });
    await pctx.close();

    await page.goto(AV + secondPath);
    await page.locator('input[name="value-CRM2_TOKEN"]').fill("x");
    // CRM_USER exists since the first approval: the agent's value would overwrite it.
    await page.locator('input[name="confirm-credential:CRM_USER"]').check();
    const owner = (await api("", "POST", "/v1/auth/login", OWNER)).body.token;
    const id = secondPath.split("/").pop();
    const rej = await api(owner, "POST", `/v1/admin/proposals/${id}/reject`, { vault: "payments", reason: "decided elsewhere" });
    assert(rej.status === 200, "reject: " + rej.status);
    allowed.push(/status of 409/);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByTestId("not-pending").waitFor();
    await screenshot(page, "proposal-409");
    await page.getByTestId("not-pending").getByRole("button", { name: "Reload" }).click();
    await page.getByTestId("proposal-outcome").getByText("decided elsewhere").waitFor();
  });

  await step("reject in the browser with a reason; the rejected filter lists it", async () => {
    const third = await propose("crm3", "CRM3_TOKEN");
    assert(third.status === 201, "third proposal: " + third.status);
    await page.goto(AV + new URL(third.body.approval_url).pathname);
    await page.getByRole("button", { name: "Reject…" }).click();
    await page.locator('input[name="reject-reason"]').fill("use the existing CRM service");
    await page.getByRole("button", { name: "Reject proposal" }).click();
    await page.getByTestId("proposal-outcome").getByText("use the existing CRM service").waitFor();
    await page.getByRole("link", { name: "← All proposals" }).click();
    await page.getByText("No pending proposals.").waitFor();
    await page.locator('select[name="proposal-status"]').selectOption("rejected");
    const row = page.locator(`li[data-proposal="${third.body.id}"]`);
    await row.getByTestId("proposal-reason").getByText("use the existing CRM service").waitFor();
    assert((await page.locator("li[data-proposal]").count()) === 2, "both rejected proposals are listed");
    await screenshot(page, "proposals-rejected");
    upCRM.srv.close();
  });

  await step("a proposal that replaces a service's host and a stored value says so; approving needs each confirmed", async () => {
    const hijack = await api(agent, "POST", "/v1/proposals", {
      vault: "payments",
      services: [{ action: "set", name: "crm", host: "evil.example.com", auth: { type: "basic", username: "CRM_USER", password: "CRM_TOKEN" } }],
      credentials: [{ action: "set", key: "CRM_TOKEN", value: "agent-chosen-token" }],
      message: "Routine update\u001b[8m of the CRM service\u202e",
    });
    assert(hijack.status === 201, "replacing proposal: " + hijack.status + " " + JSON.stringify(hijack.body));
    await page.goto(AV + new URL(hijack.body.approval_url).pathname);
    const changes = page.getByTestId("proposal-changes");
    await changes.waitFor();
    const host = await changes.locator('li[data-change="service:crm"] tr[data-field="host"]').textContent();
    assert(host.includes(`127.0.0.1:${upCRM.port}`) && host.includes("evil.example.com"), "the host change is shown before and after: " + host);
    assert((await changes.locator('li[data-change="credential:CRM_TOKEN"]').textContent()).includes("overwrite"), "the overwrite is announced");
    assert((await page.locator('tr[data-proposed-service="crm"]').textContent()).includes("replace"), "the service is marked replace, not add");
    const msg = await page.getByTestId("proposal-message").textContent();
    assert(msg.includes("\\x1b[8m") && msg.includes("\\u202e") && !msg.includes("\u001b") && !msg.includes("\u202e"), "control and bidi characters are shown escaped: " + JSON.stringify(msg));
    const approve = page.getByRole("button", { name: "Approve" });
    assert(await approve.isDisabled(), "Approve waits for the confirmations");
    assert((await approve.getAttribute("title")).includes("Confirm each replacement"), "the reason asks for confirmation");
    await page.locator('input[name="confirm-service:crm"]').check();
    assert(await approve.isDisabled(), "one confirmation is not enough");
    await page.locator('input[name="confirm-credential:CRM_TOKEN"]').check();
    await screenshot(page, "proposal-replaces");
    await approve.click();
    await page.getByTestId("proposal-outcome").getByText("Approved").waitFor();
    assert(!(await page.content()).includes("agent-chosen-token"), "the agent's value is never shown");
  });

  await step("Audit: the trail names keys, never values, and the chain verifies", async () => {
    await page.getByRole("link", { name: "Audit" }).click();
    await page.waitForURL("**/audit");
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    const setCred = page.locator("tr[data-audit-seq]", { hasText: "credentials STRIPE_KEY" }).first();
    await setCred.waitFor();
    assert((await setCred.textContent()).includes("set-credentials"), "the entry names the operation");
    assert((await page.locator("tr[data-audit-seq]", { hasText: "register" }).count()) === 1, "registration is recorded");
    assert(!(await page.content()).includes(SECRET), "no credential value on the audit page");
    await page.locator('input[name="audit-operation"]').fill("rename-vault");
    await page.locator("tr[data-audit-seq]", { hasText: "rename-vault" }).first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll("tr[data-audit-seq]")].every((r) => r.textContent.includes("rename-vault")));
    // The summary says what changed, before and after.
    const renamed = page.locator("tr[data-audit-seq]", { hasText: "rename-vault" }).first().locator(".audit-summary");
    assert((await renamed.textContent()).includes("name team-secrets → team-secrets-2"), "rename summary: " + (await renamed.textContent()));
    // A time filter the server accepts: the rename happened within the hour.
    await page.locator('select[name="audit-since"]').selectOption("1");
    await page.locator("tr[data-audit-seq]", { hasText: "rename-vault" }).first().waitFor();
    assert((await page.locator(".banner-error").count()) === 0, "the since filter is accepted");
    await page.getByRole("button", { name: "Verify chain" }).click();
    const verdict = page.getByTestId("audit-verify");
    await verdict.waitFor();
    assert((await verdict.textContent()).includes("The chain is whole"), "verify: " + (await verdict.textContent()));
    await screenshot(page, "audit");
  });

  await step("Overview and Activity: charts of the proxied traffic", async () => {
    // inked counts the canvas pixels drawn in a series' colour: the line
    // of real data, not just axes and grid.
    const inked = (chart, rgb) =>
      chart.locator("canvas").evaluate((c, [r, g, b]) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) < 40 && Math.abs(d[i + 1] - g) < 40 && Math.abs(d[i + 2] - b) < 40 && d[i + 3] > 128) n++;
        return n;
      }, rgb);
    const checkCharts = async (p, what) => {
      const chart = p.getByTestId("chart-outcomes");
      await chart.locator("canvas").waitFor();
      const total = Number(await chart.getAttribute("data-total"));
      const tile = Number(await p.getByTestId("tile-requests").locator(".tile-value").textContent());
      assert(total > 0 && total === tile, `${what}: the chart and the tile count the same requests (${total}, ${tile})`);
      assert((await chart.locator(".u-legend").textContent()).includes("Injected"), `${what}: the legend names the injected requests`);
      const px = await inked(chart, [0x1f, 0x9d, 0x55]);
      assert(px > 20, `${what}: the injected series is drawn (${px} px)`);
      await p.getByTestId("chart-errors").locator("canvas").waitFor();
      await p.getByTestId("top-services").locator('tr[data-service="upstream"]').waitFor();
      assert(!(await p.content()).includes(SECRET), `${what}: no credential value`);
      return total;
    };
    await page.getByRole("link", { name: "Overview" }).click();
    await page.waitForURL("**/overview");
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    const total = await checkCharts(page, "overview");
    await screenshot(page, "overview");
    await page.getByRole("button", { name: "Last day" }).click();
    await page.waitForFunction((n) => document.querySelector('[data-testid="chart-outcomes"]')?.getAttribute("data-total") === String(n), total);
    await page.goto(AV + "/vaults/payments/activity");
    await page.getByRole("heading", { name: "Activity" }).waitFor();
    await checkCharts(page, "vault activity");
    await screenshot(page, "vault-activity");

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p = await phone.newPage();
    watch(p, "phone-overview");
    await p.goto(AV + "/");
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill(OWNER.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Vaults" }).waitFor();
    for (const [path, name] of [["/overview", "phone-overview"], ["/vaults/payments/activity", "phone-vault-activity"]]) {
      await p.goto(AV + path);
      await checkCharts(p, name);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `${name}: no horizontal scroll at 390 px (overflow ${overflow}px)`);
      await p.screenshot({ path: join(ARTIFACTS, name + ".png"), fullPage: true });
    }
    await phone.close();
  });

  await step("phone width", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p = await phone.newPage();
    watch(p, "phone");
    await p.goto(AV + "/");
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill(OWNER.password);
    await p.screenshot({ path: join(ARTIFACTS, "phone-login.png") });
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Vaults" }).waitFor();
    await p.goto(AV + "/vaults/payments/credentials");
    await p.locator('tr[data-key="NEW_KEY"]').waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `no horizontal scroll at 390 px (overflow ${overflow}px)`);
    await p.screenshot({ path: join(ARTIFACTS, "phone-credentials.png"), fullPage: true });
    await p.goto(AV + "/vaults/payments/logs");
    await p.locator("tr[data-log-id]").first().waitFor();
    await p.screenshot({ path: join(ARTIFACTS, "phone-logs.png"), fullPage: true });
    await p.goto(AV + approvalPath);
    await p.getByTestId("proposal-outcome").waitFor();
    const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 0, `approval page: no horizontal scroll at 390 px (overflow ${over}px)`);
    await p.screenshot({ path: join(ARTIFACTS, "phone-proposal.png"), fullPage: true });
    await phone.close();
  });

  await step("keyboard: the login form submits with Enter; logout", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Sign in to Agent Vault" }).waitFor();
    await screenshot(page, "login");
    await page.getByLabel("Email").focus();
    await page.keyboard.type(OWNER.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(OWNER.password);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Vaults" }).waitFor();
  });
} catch (e) {
  failed = e;
} finally {
  upstream.srv.close();
  await close();
}
if (failed) {
  console.log("FAILED");
  console.error(failed.stack ?? String(failed));
  if (consoleErrors.length) console.error(consoleErrors.join("\n"));
  process.exit(1);
}
console.log(`all steps passed; screenshots in ${ARTIFACTS}`);
