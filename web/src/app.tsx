// The shell: first-run registration, login, then the vault pages.
import { useEffect, useState } from "preact/hooks";
import { api, onUnauthorized, session, unwrap, type Schemas } from "./api/client";
import { AccountPage } from "./pages/account";
import { OverviewPage } from "./pages/activity";
import { AuditPage } from "./pages/audit";
import { AuthPage } from "./pages/auth";
import { InvitePage, ResetPasswordPage } from "./pages/links";
import { AgentsPage, InstanceSettingsPage, UsersPage } from "./pages/team";
import { VaultPage } from "./pages/vault";
import { VaultsPage } from "./pages/vaults";
import { linkProps, match, navigate, usePath, type Match } from "./router";
import { Button, ErrorBanner, Loading, NotFound } from "./ui";

type Me = Schemas["MeOutputBody"];

export function App() {
  const path = usePath();
  const [status, setStatus] = useState<Schemas["StatusOutputBody"] | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [expired, setExpired] = useState(false);
  const [n, setN] = useState(0); // bumps to reload after sign-in or sign-out

  useEffect(
    () =>
      onUnauthorized(() => {
        session.clear();
        setMe(null);
        setExpired(true);
      }),
    [],
  );

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const st = await unwrap(api.GET("/v1/status"));
        if (!live) return;
        setStatus(st);
        if (session.get()) {
          const m = await unwrap(api.GET("/v1/auth/me"));
          if (live) setMe(m);
        }
        setError(null);
      } catch (e) {
        if (live) setError(e);
      }
    })();
    return () => {
      live = false;
    };
  }, [n]);

  const signedIn = (token: string) => {
    session.set(token);
    setExpired(false);
    setMe(null);
    setN(n + 1);
    navigate("/", true);
  };
  // Invite and reset links work whoever is signed in (or nobody).
  const route = match(path);
  if (route?.page === "invite") return <InvitePage token={route.params.token} onSignedIn={signedIn} />;
  if (route?.page === "reset-password") return <ResetPasswordPage token={route.params.reset} onSignedIn={signedIn} />;

  if (error && !status) {
    return (
      <main class="center">
        <ErrorBanner error={error} />
        <Button onClick={() => setN(n + 1)}>Retry</Button>
      </main>
    );
  }
  if (!status) return <main class="center"><Loading /></main>;

  if (!session.get() || !me) {
    if (session.get() && !me) return <main class="center"><Loading what="Signing in" /></main>;
    return (
      <AuthPage
        mode={status.needs_first_user ? "register" : "login"}
        notice={expired ? "Your session ended; sign in again." : undefined}
        onSignedIn={(token) => {
          session.set(token);
          setExpired(false);
          setN(n + 1);
          if (path === "/login" || path === "/register") navigate("/", true);
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await unwrap(api.POST("/v1/auth/logout"));
    } catch {
      // The session is dropped locally either way.
    }
    session.clear();
    setMe(null);
    navigate("/", true);
    setN(n + 1);
  };

  return (
    <div class="shell">
      <header class="top">
        <a class="brand" {...linkProps("/")}>
          Agent Vault
        </a>
        <nav class="top-right">
          {me.kind === "user" ? (
            <>
              <a {...linkProps("/users")}>People</a>
              <a {...linkProps("/agents")}>Agents</a>
              {me.role === "owner" ? <a {...linkProps("/settings")}>Settings</a> : null}
              {me.role === "owner" ? <a {...linkProps("/overview")}>Overview</a> : null}
              {me.role === "owner" ? <a {...linkProps("/audit")}>Audit</a> : null}
            </>
          ) : null}
          <a class="muted who" data-testid="whoami" {...linkProps("/account")} title="Your account">
            {me.name}
            {me.role ? ` · ${me.role}` : ""}
          </a>
          <Button onClick={signOut}>Log out</Button>
        </nav>
      </header>
      <main class="content">
        <Page route={route} me={me} onSignedOut={() => (setMe(null), navigate("/", true), setN(n + 1))} />
      </main>
    </div>
  );
}

// Page renders a signed-in route; every page is reached through here.
function Page({ route, me, onSignedOut }: { route: Match | null; me: Me; onSignedOut: () => void }) {
  const signInPage = route?.page === "login" || route?.page === "register";
  useEffect(() => {
    if (signInPage) navigate("/", true); // already signed in
  }, [signInPage]);
  if (!route) return <NotFound what="page" />;
  const { page, params } = route;
  switch (page) {
    case "vaults":
    case "login":
    case "register":
      return <VaultsPage me={me} />;
    case "invite":
    case "reset-password":
      return null; // rendered by App before the sign-in gate
    case "users":
      return <UsersPage me={me} />;
    case "agents":
      return <AgentsPage me={me} />;
    case "account":
      return <AccountPage me={me} onSignedOut={onSignedOut} />;
    case "instance-settings":
      return <InstanceSettingsPage me={me} />;
    case "vault-proposal":
      return <VaultPage key={params.vault} name={params.vault} tab="proposals" sub={params.proposal} me={me} />;
    case "vault-credentials":
    case "vault-services":
    case "vault-proposals":
    case "vault-access":
    case "vault-logs":
    case "vault-settings":
    case "vault-activity":
      return <VaultPage key={params.vault} name={params.vault} tab={page.slice("vault-".length)} me={me} />;
    case "audit":
      return <AuditPage me={me} />;
    case "overview":
      return <OverviewPage me={me} />;
    default: {
      // A route in router.ts without a page here fails the type check.
      const missing: never = page;
      return missing;
    }
  }
}
