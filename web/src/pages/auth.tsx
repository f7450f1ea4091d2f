// First-run registration of the owner, and login.
import { useState } from "preact/hooks";
import { api, unwrap } from "../api/client";
import { Banner, Button, ErrorBanner, Field } from "../ui";

export function AuthPage({ mode, notice, onSignedIn }: { mode: "register" | "login"; notice?: string; onSignedIn: (token: string) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const register = mode === "register";
  return (
    <main class="center">
      <form
        class="card auth"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr(null);
          try {
            const body = { email, password };
            const r = register ? await unwrap(api.POST("/v1/auth/register", { body })) : await unwrap(api.POST("/v1/auth/login", { body }));
            onSignedIn(r.token);
          } catch (x) {
            setErr(x);
            setBusy(false);
          }
        }}
      >
        <h1>{register ? "Create the owner account" : "Sign in to Agent Vault"}</h1>
        {register ? <p class="muted">This instance has no users yet. The first account becomes its owner.</p> : null}
        {notice ? <Banner kind="warn">{notice}</Banner> : null}
        <Field label="Email">
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Password" hint={register ? "At least 8 characters." : undefined}>
          <input
            type="password"
            name="password"
            autoComplete={register ? "new-password" : "current-password"}
            required
            minLength={register ? 8 : undefined}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <ErrorBanner error={err} />
        <Button type="submit" kind="primary" busy={busy}>
          {register ? "Create owner" : "Sign in"}
        </Button>
      </form>
    </main>
  );
}
