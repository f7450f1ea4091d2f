// Browser test of running the instance as a team: an owner invites a
// colleague, who joins through /invite/<token>; a password is changed; a
// sign-in on another device is revoked, by its user and by an owner; the
// People and Agents pages; a used invite link gets a clear page. Real
// chromium, real binary (started by web/e2e_test.go). Screenshots at 1280
// and 390 px go to $ARTIFACTS.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { api, assert, env, launchChromium } from "./lib.mjs";

const AV = env("AV_URL");
const ARTIFACTS = env("ARTIFACTS");
mkdirSync(ARTIFACTS, { recursive: true });
const OWNER = { email: "owner@example.com", password: "correct horse battery" };
const ALICE = { email: "alice@example.com", password: "alice-password-1" };

const errors = [];
// expected lists console errors a step causes on purpose (the browser
// logs every non-2xx fetch); each is consumed once.
const expected = [];
function watch(page, label) {
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const i = expected.findIndex((re) => re.test(m.text()));
    if (i >= 0) expected.splice(i, 1);
    else errors.push(`[${label}] console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`[${label}] page error: ${e.message}`));
}

async function shots(page, name) {
  for (const [w, h] of [
    [1280, 860],
    [390, 844],
  ]) {
    await page.setViewportSize({ width: w, height: h });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= w, `${name} at ${w}px is ${wide}px wide`);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${w}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 860 });
}

async function step(name, f) {
  const t0 = Date.now();
  process.stdout.write(`- ${name} … `);
  await f();
  if (errors.length) throw new Error(`console errors during "${name}":\n${errors.join("\n")}`);
  console.log(`ok (${Date.now() - t0} ms)`);
}

const { browser, close } = await launchChromium();
let failed = null;
try {
  const reg = await api("", "POST", "/v1/auth/register", OWNER);
  assert(reg.status === 201, "register: " + reg.status);
  const owner = reg.body.token;
  assert((await api(owner, "POST", "/v1/vaults", { name: "shop" })).status === 201, "create vault");
  for (const name of ["crm-agent", "nightly-export"]) {
    const r = await api(owner, "POST", "/v1/agents", { name, vaults: [{ vault: "shop", role: "proxy" }] });
    assert(r.status === 201, "create agent: " + r.status);
  }

  const octx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const op = await octx.newPage();
  op.setDefaultTimeout(15000);
  op.on("dialog", (d) => d.accept());
  watch(op, "owner");
  await op.goto(AV + "/");
  await op.getByLabel("Email").fill(OWNER.email);
  await op.getByLabel("Password").fill(OWNER.password);
  await op.getByRole("button", { name: "Sign in" }).click();
  await op.getByRole("heading", { name: "Vaults" }).waitFor();

  let inviteURL;
  await step("People: invite a colleague with a vault role", async () => {
    await op.getByRole("link", { name: "People" }).click();
    await op.getByRole("heading", { name: "People" }).waitFor();
    const form = op.getByRole("form", { name: "Invite someone" });
    await form.locator('input[name="invite-email"]').fill(ALICE.email);
    await form.locator('select[name="invite-vault"]').selectOption("shop");
    await form.locator('select[name="invite-vault-role"]').selectOption("member");
    await form.getByRole("button", { name: "Invite" }).click();
    const link = op.getByTestId("invite-link");
    await link.waitFor();
    inviteURL = (await link.locator("code").textContent()).trim();
    assert(/\/invite\/av_inv_/.test(inviteURL), "invite link: " + inviteURL);
    await op.getByRole("table", { name: "Pending invitations" }).getByText(ALICE.email).waitFor();
    await shots(op, "people-invite");
  });

  const actx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const ap = await actx.newPage();
  ap.setDefaultTimeout(15000);
  watch(ap, "alice");
  await step("accept the invite through /invite/<token>", async () => {
    await ap.goto(inviteURL);
    const from = ap.getByTestId("invite-from");
    await from.waitFor();
    const text = await from.textContent();
    assert(text.includes(OWNER.email) && text.includes("member"), "who invited, as what: " + text);
    await ap.getByRole("list", { name: "Vaults you will join" }).getByText("shop").waitFor();
    assert((await ap.locator('input[name="email"]').inputValue()) === ALICE.email, "the invite's email is filled in");
    await shots(ap, "invite");
    await ap.locator('input[name="password"]').fill(ALICE.password);
    await ap.getByRole("button", { name: "Join" }).click();
    await ap.getByTestId("whoami").getByText(ALICE.email).waitFor();
    await ap.goto(AV + "/vaults/shop/credentials");
    await ap.getByRole("heading", { name: "shop" }).waitFor();
  });

  await step("a used invite link gets a clear page", async () => {
    const vctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const vp = await vctx.newPage();
    expected.push(/status of 400/);
    watch(vp, "visitor");
    await vp.goto(inviteURL);
    const dead = vp.getByTestId("dead-link");
    await dead.waitFor();
    assert((await dead.textContent()).includes("already used"), "says the link was used: " + (await dead.textContent()));
    await shots(vp, "invite-used");
    await vctx.close();
  });

  // Alice signs in on a second device (her phone) too.
  const phone = await api("", "POST", "/v1/auth/login", ALICE);
  assert(phone.status === 200, "phone login: " + phone.status);

  await step("Account: revoke another session", async () => {
    await ap.getByTestId("whoami").click();
    await ap.getByRole("heading", { name: "Your account", exact: true }).waitFor();
    const table = ap.getByRole("table", { name: "Your sessions" });
    await table.waitFor();
    const revoke = table.getByRole("button", { name: /^Revoke session / });
    assert((await revoke.count()) === 1, "one other session to revoke, got " + (await revoke.count()));
    await shots(ap, "account");
    await revoke.click();
    await ap.waitForFunction(() => document.querySelectorAll('table[aria-label="Your sessions"] tbody tr').length === 1);
    const me = await api(phone.body.token, "GET", "/v1/auth/me");
    assert(me.status === 401, "the phone's session answers " + me.status);
  });

  await step("People: the owner revokes one of a user's sign-ins", async () => {
    // Two more real sign-ins of alice, told apart by their client.
    const login = async (ua) => {
      const r = await fetch(AV + "/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", "User-Agent": ua },
        body: JSON.stringify(ALICE),
      });
      assert(r.status === 200, `login as ${ua}: ${r.status}`);
      return (await r.json()).token;
    };
    const laptop = await login("alice-laptop/1.0");
    const tablet = await login("alice-tablet/1.0");
    await op.reload(); // the People page, from before alice joined
    await op.getByRole("table", { name: "People" }).locator(`tr[data-user="${ALICE.email}"]`).waitFor();
    await op.getByRole("button", { name: `Sign-ins of ${ALICE.email}` }).click();
    const list = op.getByRole("table", { name: `Sign-ins of ${ALICE.email}` });
    await list.getByText("alice-tablet/1.0").waitFor();
    const rows = list.locator("tbody tr");
    assert((await rows.count()) === 3, "alice's browser, laptop and tablet, got " + (await rows.count()));
    assert((await list.getByText("this device").count()) === 0, "none of alice's sign-ins is the owner's device");
    await shots(op, "people-sign-ins");
    await rows.filter({ hasText: "alice-tablet/1.0" }).getByRole("button", { name: /^Revoke session / }).click();
    await op.waitForFunction((sel) => document.querySelectorAll(sel).length === 2, `table[aria-label="Sign-ins of ${ALICE.email}"] tbody tr`);
    assert((await list.getByText("alice-tablet/1.0").count()) === 0, "the tablet's sign-in is gone from the list");
    await list.getByText("alice-laptop/1.0").waitFor();
    assert((await api(tablet, "GET", "/v1/auth/me")).status === 401, "the revoked tablet token answers 401");
    assert((await api(laptop, "GET", "/v1/auth/me")).status === 200, "the laptop token still works");
    await op.keyboard.press("Escape");
    // The owner's own sign-ins mark the one in this browser, which has no Revoke.
    await op.getByRole("button", { name: `Sign-ins of ${OWNER.email}` }).click();
    const mine = op.getByRole("table", { name: `Sign-ins of ${OWNER.email}` });
    const here = mine.locator("tbody tr").filter({ hasText: "this device" });
    await here.waitFor();
    assert((await here.getByRole("button").count()) === 0, "this device's sign-in is not offered for revoking");
    await op.keyboard.press("Escape");
  });

  await step("Account: change password (wrong current first)", async () => {
    const form = ap.getByRole("form", { name: "Change password" });
    await form.locator('input[name="current-password"]').fill("not-my-password");
    await form.locator('input[name="new-password"]').fill("alice-password-2");
    expected.push(/status of 401/);
    await form.getByRole("button", { name: "Change password" }).click();
    await ap.getByText("email or password is wrong").waitFor();
    await form.locator('input[name="current-password"]').fill(ALICE.password);
    await form.getByRole("button", { name: "Change password" }).click();
    await ap.getByTestId("password-changed").waitFor();
    // Still signed in (the new session), and the new password works.
    await ap.reload();
    await ap.getByRole("heading", { name: "Your account", exact: true }).waitFor();
    assert((await api("", "POST", "/v1/auth/login", { ...ALICE, password: "alice-password-2" })).status === 200, "new password signs in");
    assert((await api("", "POST", "/v1/auth/login", ALICE)).status === 401, "old password refused");
  });

  await step("Account: leave a vault", async () => {
    const table = ap.getByRole("table", { name: "Your vaults" });
    await table.getByText("shop").waitFor();
    await ap.getByRole("button", { name: "Leave shop" }).click();
    await ap.getByText("You hold no role in any vault.").waitFor();
    const r = await api(owner, "GET", "/v1/vaults/shop/users");
    assert(!JSON.stringify(r.body).includes(ALICE.email), "alice left shop: " + JSON.stringify(r.body));
    // Back in, for the People page's vault column below.
    assert((await api(owner, "POST", "/v1/vaults/shop/users", { email: ALICE.email, role: "member" })).status === 200, "re-add alice");
  });

  await step("Access: a member sees and revokes the scoped tokens they minted", async () => {
    await ap.goto(AV + "/vaults/shop/access");
    await ap.getByRole("button", { name: "Mint token" }).click();
    const minted = ap.getByTestId("minted-token");
    await minted.waitFor();
    const scoped = (await minted.locator("code").textContent()).trim();
    const table = ap.getByRole("table", { name: "Your scoped tokens" });
    await table.waitFor();
    assert((await table.locator("tbody tr").count()) === 1, "one scoped token listed, got " + (await table.locator("tbody tr").count()));
    assert((await api(scoped, "GET", "/v1/auth/me")).status === 200, "the scoped token works");
    await shots(ap, "access-member");
    await table.getByRole("button", { name: /^Revoke scoped token / }).click();
    await ap.getByText("You have no live scoped tokens for this vault.").waitFor();
    assert((await api(scoped, "GET", "/v1/auth/me")).status === 401, "the revoked scoped token answers 401");
  });

  await step("People: filter, change a role, issue a reset link", async () => {
    await op.reload();
    const table = op.getByRole("table", { name: "People" });
    await table.waitFor();
    const row = table.locator(`tr[data-user="${ALICE.email}"]`);
    assert((await row.textContent()).includes("shop (member)"), "vaults shown: " + (await row.textContent()));
    await op.locator('input[name="user-filter"]').fill("nobody-matches");
    await op.getByText("Nobody matches the filter.").waitFor();
    await shots(op, "people-empty-filter");
    await op.locator('input[name="user-filter"]').fill("alice");
    await op.getByRole("combobox", { name: `Instance role of ${ALICE.email}` }).selectOption("no-access");
    await op.waitForFunction(() => document.querySelector('select[aria-label="Instance role of alice@example.com"]')?.value === "no-access");
    await op.getByRole("combobox", { name: `Instance role of ${ALICE.email}` }).selectOption("member");
    await op.getByRole("button", { name: `Reset password of ${ALICE.email}` }).click();
    const link = op.getByTestId("reset-link");
    await link.waitFor();
    assert((await link.textContent()).includes("/reset-password/av_rst_"), "reset link shown");
    await op.locator('input[name="user-filter"]').fill("");
    await shots(op, "people");
  });

  await step("Agents: create one with roles in two vaults and an expiry", async () => {
    await op.getByRole("link", { name: "Agents" }).click();
    const form = op.getByRole("form", { name: "Create agent" });
    await form.locator('input[name="agent-name"]').fill("deploy-bot");
    await form.locator('select[name="agent-vault"]').selectOption("shop");
    await form.locator('select[name="agent-vault-role"]').selectOption("member");
    await form.getByRole("button", { name: "Another vault" }).click();
    await form.locator('select[name="agent-vault-2"]').selectOption("default");
    await form.locator('select[name="agent-vault-role-2"]').selectOption("proxy");
    await form.locator('input[name="agent-ttl-days"]').fill("7");
    await shots(op, "agents-new");
    await form.getByRole("button", { name: "Create agent" }).click();
    const shown = op.getByTestId("new-agent-token");
    await shown.waitFor();
    const token = (await shown.locator("code").textContent()).trim();
    assert(token.startsWith("av_agt_"), "the new token is shown once");
    await op.getByRole("table", { name: "Agents" }).locator('tr[data-agent="deploy-bot"]').waitFor();
    const got = await api(owner, "GET", "/v1/agents/deploy-bot");
    const days = (Date.parse(got.body.token_expires_at) - Date.now()) / 86400e3;
    assert(days > 6.9 && days <= 7, "expires in 7 days: " + got.body.token_expires_at);
    const roles = got.body.vaults.map((v) => `${v.vault}:${v.role}`).sort();
    assert(JSON.stringify(roles) === JSON.stringify(["default:proxy", "shop:member"]), "vault roles: " + JSON.stringify(got.body.vaults));
    const me = await api(token, "GET", "/v1/auth/me");
    assert(me.status === 200 && me.body.name === "deploy-bot", "the shown token signs the agent in: " + JSON.stringify(me.body));
  });

  await step("Agents: filter, rename, rotate with overlap and expiry, revoke", async () => {
    const table = op.getByRole("table", { name: "Agents" });
    await table.waitFor();
    await shots(op, "agents");
    await op.locator('input[name="agent-filter"]').fill("crm");
    await op.waitForFunction(() => document.querySelectorAll('table[aria-label="Agents"] tbody tr').length === 1);
    await op.getByRole("button", { name: "Rename crm-agent" }).click();
    await op.locator('input[name="agent-new-name"]').fill("crm-bot");
    await op.getByRole("form", { name: "Rename crm-agent" }).getByRole("button", { name: "Save" }).click();
    await table.locator('tr[data-agent="crm-bot"]').waitFor();
    await op.locator('input[name="rotate-ttl-days"]').fill("3");
    await op.getByRole("button", { name: "Rotate token of crm-bot" }).click();
    const tok = op.getByTestId("agent-token");
    await tok.waitFor();
    assert((await tok.textContent()).includes("av_agt_"), "new token shown once");
    const got = await api(owner, "GET", "/v1/agents/crm-bot");
    assert(got.status === 200 && got.body.previous_token_expires_at, "rotation kept an overlap: " + JSON.stringify(got.body));
    const left = (Date.parse(got.body.token_expires_at) - Date.now()) / 86400e3;
    assert(left > 2.9 && left <= 3, "the rotated token expires in 3 days: " + got.body.token_expires_at);
    await op.getByRole("button", { name: "Revoke crm-bot" }).click();
    await table.locator('tr[data-agent="crm-bot"]').getByText("revoked").waitFor();
    await op.locator('select[name="agent-state-filter"]').selectOption("active");
    await op.getByText("No agent matches the filter.").waitFor();
    await op.locator('select[name="agent-state-filter"]').selectOption("");
    await op.locator('input[name="agent-filter"]').fill("");
    await shots(op, "agents-after");
  });

  await step("Settings: the owner sets the idle timeout", async () => {
    await op.getByRole("link", { name: "Settings" }).click();
    const form = op.getByRole("form", { name: "Instance settings" });
    await form.waitFor();
    await form.locator('select[name="invite-policy"]').selectOption("members");
    await form.locator('input[name="idle-timeout-minutes"]').fill("30");
    await form.getByRole("button", { name: "Save settings" }).click();
    await op.getByText("Saved.").waitFor();
    const s = await api(owner, "GET", "/v1/instance/settings");
    assert(s.body.idle_timeout_seconds === 1800 && s.body.invite_policy === "members", "saved: " + JSON.stringify(s.body));
    await shots(op, "instance-settings");
  });
  await step("Credentials: canaries are listed by name, never by value", async () => {
    const c = await api(owner, "POST", "/v1/vaults/shop/canaries", { name: "OPENAI_API_KEY" });
    assert(c.status === 201 && c.body.value, "mint a canary: " + c.status);
    await op.goto(AV + "/vaults/shop/credentials");
    const table = op.getByRole("table", { name: "Canaries" });
    await table.getByText("OPENAI_API_KEY").waitFor();
    assert(!(await op.content()).includes(c.body.value), "the canary's value is not on the page");
    await shots(op, "canaries");
  });
  await actx.close();
  await octx.close();
} catch (e) {
  failed = e;
} finally {
  await close();
}
if (failed) {
  console.log("FAILED");
  console.error(failed.stack ?? String(failed));
  if (errors.length) console.error(errors.join("\n"));
  process.exit(1);
}
console.log(`all steps passed; screenshots in ${ARTIFACTS}`);
