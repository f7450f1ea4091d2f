// Helpers the browser tests share: chromium over CDP, the real server's
// API, and requests through its proxy. The URLs come from the environment
// web/e2e_test.go sets.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run this through go test ./web`);
  return v;
};

export function assert(cond, msg) {
  if (!cond) throw new Error("assertion failed: " + msg);
}

// launchChromium starts chromium with exactly our flags and a fresh
// profile, and connects playwright to it over the DevTools protocol.
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "av-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    `--user-data-dir=${profile}`,
    "--remote-debugging-port=0",
    "about:blank",
  ];
  // detached: chromium leads its own process group, so closing it stops
  // its renderer and zygote processes too.
  const proc = spawn(env("CHROMIUM"), args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  const ws = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("chromium did not start:\n" + buf)), 30000);
    proc.stderr.on("data", (d) => {
      buf += d;
      const m = buf.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`chromium exited (${code}):\n${buf}`)));
  });
  // Chromium leads its own process group, so it outlives this process
  // unless stopped: on any exit, and on SIGTERM (what go test sends when
  // the run times out), stop it.
  const stop = () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.on("exit", stop);
  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      console.log(`${sig}: stopping chromium`);
      process.exit(1);
    });
  }
  const browser = await chromium.connectOverCDP(ws);
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => {});
      const exited = new Promise((r) => (proc.exitCode !== null ? r() : proc.on("exit", r)));
      try {
        process.kill(-proc.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await exited;
      process.off("exit", stop); // the group is gone; its id may be reused
      // Best effort: a late child may still be writing to the profile.
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
      } catch (e) {
        console.log("note: profile not removed:", e.code);
      }
    },
  };
}

// upstream is the API the proxied request reaches; it records what the
// proxy injected.
export function startUpstream() {
  const seen = [];
  const srv = http.createServer((req, res) => {
    seen.push({ path: req.url, auth: req.headers.authorization ?? "" });
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ ok: true }));
  });
  return new Promise((r) => srv.listen(0, "127.0.0.1", () => r({ srv, seen, port: srv.address().port })));
}

// viaProxy sends one absolute-form request through the agent-vault proxy.
export function viaProxy(url, token, vault) {
  const [host, port] = env("AV_PROXY").split(":");
  return new Promise((resolve, reject) => {
    const req = http.request({
      host,
      port: Number(port),
      method: "GET",
      path: url,
      headers: { "Proxy-Authorization": "Basic " + Buffer.from(`${token}:${vault}`).toString("base64"), Host: new URL(url).host },
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

// api calls the server's API with a bearer token.
export async function api(token, method, path, body) {
  const r = await fetch(env("AV_URL") + path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}
