// The shell: first-run registration, login, then the vault pages.
import { useEffect, useState } from "preact/hooks";
import { api, onUnauthorized, session, unwrap, type Schemas } from "./api/client";
import { AuthPage } from "./pages/auth";
import { VaultPage } from "./pages/vault";
import { VaultsPage } from "./pages/vaults";
import { linkProps, navigate, usePath } from "./router";
import { Banner, Button, ErrorBanner, Loading } from "./ui";

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

  // /vaults/{name}[/{tab}[/{id}]]; /vaults/{vault}/proposals/{id} is a
  // proposal's approval_url.
  const m = path.match(/^\/vaults\/([^/]+)(?:\/([a-z]+)(?:\/([^/]+))?)?\/?$/);
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" {...linkProps("/")}>
          Agent Vault
        </a>
        <nav class="top-right">
          <span class="muted who" data-testid="whoami">
            {me.name}
            {me.role ? ` · ${me.role}` : ""}
          </span>
          <Button onClick={signOut}>Log out</Button>
        </nav>
      </header>
      <main class="content">
        {m ? (
          <VaultPage key={m[1]} name={decodeURIComponent(m[1])} tab={m[2] ?? "credentials"} sub={m[3] ? decodeURIComponent(m[3]) : undefined} me={me} />
        ) : path === "/" || path === "/vaults" ? (
          <VaultsPage me={me} />
        ) : (
          <Banner kind="warn">
            Nothing here. <a {...linkProps("/")}>Back to vaults</a>
          </Banner>
        )}
      </main>
    </div>
  );
}
