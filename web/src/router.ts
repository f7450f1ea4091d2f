// A tiny history-API router: the path is the state, links push it.
//
// routes lists every page of the UI. The app renders a page only through
// match(), and the layout browser test (web/e2e/layout.mjs) visits every
// entry at phone and desktop width, so a page added here is tested without
// more work. The test fills each :param from its fixtures; a route with a
// new param needs a fixture there. Paths that show the same page share its
// name and are visited once.
import { useEffect, useState } from "preact/hooks";

export type Route = {
  // page names the component app.tsx renders.
  page: string;
  // path is matched segment by segment; ":name" matches one segment.
  path: string;
  // signedOut routes are pages a visitor sees before signing in.
  signedOut?: boolean;
};

export const routes = [
  { page: "vaults", path: "/" },
  { page: "vaults", path: "/vaults" },
  { page: "login", path: "/login", signedOut: true },
  { page: "register", path: "/register", signedOut: true },
  // Links handed out by the server: they work signed in or not.
  { page: "invite", path: "/invite/:token", signedOut: true },
  { page: "reset-password", path: "/reset-password/:reset", signedOut: true },
  { page: "users", path: "/users" },
  { page: "agents", path: "/agents" },
  { page: "account", path: "/account" },
  { page: "instance-settings", path: "/settings" },
  { page: "vault-credentials", path: "/vaults/:vault/credentials" },
  { page: "vault-credentials", path: "/vaults/:vault" },
  { page: "vault-services", path: "/vaults/:vault/services" },
  { page: "vault-proposals", path: "/vaults/:vault/proposals" },
  { page: "vault-proposal", path: "/vaults/:vault/proposals/:proposal" },
  { page: "vault-access", path: "/vaults/:vault/access" },
  { page: "vault-logs", path: "/vaults/:vault/logs" },
  { page: "vault-settings", path: "/vaults/:vault/settings" },
  { page: "vault-activity", path: "/vaults/:vault/activity" },
  { page: "audit", path: "/audit" },
  { page: "overview", path: "/overview" },
] as const satisfies readonly Route[];

export type Page = (typeof routes)[number]["page"];

export type Match = { page: Page; params: Record<string, string> };

// match finds the route for a path; null means no such page.
export function match(path: string): Match | null {
  const segs = split(path);
  for (const r of routes) {
    const want = split(r.path);
    if (want.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i].startsWith(":")) {
        try {
          params[want[i].slice(1)] = decodeURIComponent(segs[i]);
        } catch {
          ok = false; // a malformed escape matches nothing
        }
      } else ok = want[i] === segs[i];
    }
    if (ok) return { page: r.page, params };
  }
  return null;
}

function split(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

const listeners = new Set<() => void>();
let listening = false;

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((f) => f());
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    // Wired on first use, so the route table can be imported outside a browser.
    if (!listening) {
      listening = true;
      window.addEventListener("popstate", () => listeners.forEach((f) => f()));
    }
    const f = () => setPath(location.pathname);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  return path;
}

// linkProps makes an <a> navigate in-app on a plain click and behave
// normally with modifier keys (new tab).
export function linkProps(href: string) {
  return {
    href,
    onClick: (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    },
  };
}
