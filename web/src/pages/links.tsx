// Pages a visitor opens from a link, signed in or not: an invite
// (/invite/<token>) and an owner-issued password reset
// (/reset-password/<token>).
import { useState } from "preact/hooks";
import { ApiError, api, unwrap } from "../api/client";
import { linkProps } from "../router";
import { Banner, Button, ErrorBanner, Field, fmtTime, Loading, useAsync } from "../ui";

// DeadLink is the clear page for a link that cannot be used: it says why
// (expired, used, revoked, unknown) and what to do.
function DeadLink({ title, error }: { title: string; error: unknown }) {
  const detail = error instanceof ApiError ? error.detail : "The link could not be checked.";
  return (
    <main class="center">
      <section class="card auth" data-testid="dead-link">
        <h1>{title}</h1>
        <Banner kind="warn">{detail}</Banner>
        <p class="muted">Ask whoever sent it for a new link. If you already have an account, sign in instead.</p>
        <p>
          <a {...linkProps("/")}>Go to sign-in</a>
        </p>
      </section>
    </main>
  );
}

export function InvitePage({ token, onSignedIn }: { token: string; onSignedIn: (token: string) => void }) {
  const inv = useAsync(() => unwrap(api.GET("/v1/invites/{token}", { params: { path: { token } } })), [token]);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  if (inv.loading && !inv.data) return <main class="center"><Loading what="Checking the invite" /></main>;
  if (inv.error || !inv.data) return <DeadLink title="This invite cannot be used" error={inv.error} />;
  const d = inv.data;
  const vaults = d.vaults ?? [];
  return (
    <main class="center">
      <form
        class="card auth"
        aria-label="Accept invite"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr(null);
          try {
            const r = await unwrap(api.POST("/v1/users/invites/{token}/accept", { params: { path: { token } }, body: { email: d.email || email, password } }));
            onSignedIn(r.token);
          } catch (x) {
            setErr(x);
            setBusy(false);
          }
        }}
      >
        <h1>Join Agent Vault</h1>
        <p data-testid="invite-from">
          <strong>{d.invited_by || "An owner"}</strong> invited you to join as <strong>{d.role}</strong>.
        </p>
        {vaults.length > 0 ? (
          <div>
            <p class="muted">You will have access to:</p>
            <ul class="list" aria-label="Vaults you will join">
              {vaults.map((v) => (
                <li key={v.vault} class="list-row">
                  <span class="list-main">{v.vault}</span>
                  <span class="tag tag-muted">{v.role}</span>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        <p class="muted small">This link works once, until {fmtTime(d.expires_at)}.</p>
        <Field label="Email" hint={d.email ? "This invite is for this address." : undefined}>
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            readOnly={!!d.email}
            value={d.email || email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field label="Choose a password" hint="At least 8 characters.">
          <input type="password" name="password" autoComplete="new-password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorBanner error={err} />
        <Button type="submit" kind="primary" busy={busy}>
          Join
        </Button>
      </form>
    </main>
  );
}

export function ResetPasswordPage({ token, onSignedIn }: { token: string; onSignedIn: (token: string) => void }) {
  const info = useAsync(() => unwrap(api.GET("/v1/password-resets/{token}", { params: { path: { token } } })), [token]);
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  if (info.loading && !info.data) return <main class="center"><Loading what="Checking the link" /></main>;
  if (info.error || !info.data) return <DeadLink title="This reset link cannot be used" error={info.error} />;
  return (
    <main class="center">
      <form
        class="card auth"
        aria-label="Set a new password"
        onSubmit={async (e) => {
          e.preventDefault();
          if (password !== again) {
            setErr(new Error("The two passwords differ."));
            return;
          }
          setBusy(true);
          setErr(null);
          try {
            const r = await unwrap(api.POST("/v1/password-resets/{token}", { params: { path: { token } }, body: { password } }));
            onSignedIn(r.token);
          } catch (x) {
            setErr(x);
            setBusy(false);
          }
        }}
      >
        <h1>Set a new password</h1>
        <p>
          For <strong>{info.data.email}</strong>. Every other session of this account ends.
        </p>
        <Field label="New password" hint="At least 8 characters.">
          <input type="password" name="new-password" autoComplete="new-password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <Field label="Repeat it">
          <input type="password" name="repeat-password" autoComplete="new-password" required minLength={8} value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
        </Field>
        <ErrorBanner error={err} />
        <Button type="submit" kind="primary" busy={busy}>
          Set password and sign in
        </Button>
      </form>
    </main>
  );
}
