// The signed-in person's own account: password, sign-ins, deletion.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, session, unwrap, type Schemas } from "../api/client";
import { Banner, Button, ErrorBanner, Field, fmtTime, RowTable, useAsync, useRun, type Column } from "../ui";

type Me = Schemas["MeOutputBody"];
type LoginSession = Schemas["LoginSessionView"];

export function AccountPage({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  return (
    <>
      <header class="page-head">
        <h1>Your account</h1>
        <p class="muted">{me.name}</p>
      </header>
      <ChangePassword />
      <Sessions />
      <MyVaults />
      <DeleteAccount me={me} onSignedOut={onSignedOut} />
    </>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  return (
    <section class="card">
      <h2>Password</h2>
      <p class="muted">Changing it ends every other sign-in of yours; this one continues.</p>
      {done ? (
        <Banner kind="ok" testid="password-changed">
          Password changed. Your other sessions have ended.
        </Banner>
      ) : null}
      <form
        class="form-row"
        aria-label="Change password"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr(null);
          setDone(false);
          try {
            const r = await unwrap(api.POST("/v1/auth/password", { body: { current_password: current, new_password: next } }));
            session.set(r.token);
            setCurrent("");
            setNext("");
            setDone(true);
          } catch (x) {
            setErr(x);
          }
          setBusy(false);
        }}
      >
        <Field label="Current password">
          <input type="password" name="current-password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </Field>
        <Field label="New password">
          <input type="password" name="new-password" autoComplete="new-password" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        </Field>
        <Button type="submit" kind="primary" busy={busy}>
          Change password
        </Button>
      </form>
      <ErrorBanner error={err} />
    </section>
  );
}

function Sessions() {
  const list = useAsync(() => unwrap(api.GET("/v1/auth/sessions")), []);
  const { busy, err, run } = useRun(() => list.reload());
  const rows = list.data?.sessions ?? [];
  return (
    <section class="card">
      <h2>Where you are signed in</h2>
      <ErrorBanner error={list.error ?? err} />
      <SignInTable
        label="Your sessions"
        rows={rows}
        loading={list.loading && !list.data}
        empty="No sign-ins."
        busy={busy}
        onRevoke={(id) => run(id, () => unwrap(api.DELETE("/v1/auth/sessions/{id}", { params: { path: { id } } })))}
      />
      {rows.length > 1 ? (
        <div class="row">
          <Button busy={busy === "others"} onClick={() => run("others", () => unwrap(api.POST("/v1/auth/sessions/revoke-others")))}>
            Sign out everywhere else
          </Button>
        </div>
      ) : null}
    </section>
  );
}

const signInColumns: Column<LoginSession>[] = [
  {
    head: "Client",
    wide: true,
    cell: (s) => (
      <>
        {s.user_agent || "unknown client"} {s.current ? <span class="tag tag-ok">this device</span> : null}
      </>
    ),
  },
  { head: "Address", cell: (s) => s.client_address || "—" },
  { head: "Signed in", class: "small nowrap", cell: (s) => fmtTime(s.created_at) },
  { head: "Last used", class: "small nowrap", cell: (s) => fmtTime(s.last_used_at) },
];

// SignInTable lists sign-ins (the caller's own, or any user's for an
// owner); each but the one making the request can be revoked, which ends
// it at once.
export function SignInTable({
  onRevoke,
  busy,
  ...list
}: {
  label: string;
  rows: LoginSession[];
  loading: boolean;
  empty: ComponentChildren;
  busy: string | null;
  onRevoke: (id: string) => void;
}) {
  return (
    <RowTable
      {...list}
      columns={signInColumns}
      rowKey={(s) => s.id}
      rowAttrs={(s) => ({ "data-session-id": s.id })}
      actions={(s) =>
        s.current ? null : (
          <Button kind="danger" busy={busy === s.id} aria-label={`Revoke session ${s.id}`} onClick={() => onRevoke(s.id)}>
            Revoke
          </Button>
        )
      }
    />
  );
}

// MyVaults lists the caller's vault roles, each of which they may give up
// (a vault's last admin cannot).
function MyVaults() {
  const list = useAsync(() => unwrap(api.GET("/v1/vaults")), []);
  const { busy, err, run } = useRun(() => list.reload());
  return (
    <section class="card">
      <h2>Your vaults</h2>
      <ErrorBanner error={list.error ?? err} />
      <RowTable
        label="Your vaults"
        rows={(list.data?.vaults ?? []).filter((v) => v.role)}
        loading={list.loading && !list.data}
        empty="You hold no role in any vault."
        columns={[
          { head: "Vault", wide: true, cell: (v) => v.name },
          { head: "Role", cell: (v) => v.role },
        ]}
        rowKey={(v) => v.id}
        actions={(v) => (
          <Button busy={busy === v.name} aria-label={`Leave ${v.name}`} onClick={() => run(v.name, () => unwrap(api.POST("/v1/vaults/{name}/leave", { params: { path: { name: v.name } } })))}>
            Leave
          </Button>
        )}
      />
    </section>
  );
}

function DeleteAccount({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  return (
    <section class="card danger-zone">
      <h2>Delete your account</h2>
      <p class="muted">Your sign-ins end and your vault roles go. The last owner of the instance cannot leave.</p>
      {open ? (
        <form
          class="form-row"
          aria-label="Delete account"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setErr(null);
            try {
              await unwrap(api.DELETE("/v1/auth/me", { body: { password } }));
              session.clear();
              onSignedOut();
            } catch (x) {
              setErr(x);
              setBusy(false);
            }
          }}
        >
          <Field label={`Password of ${me.name}`}>
            <input type="password" name="delete-password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          <Button type="submit" kind="danger" busy={busy}>
            Delete my account
          </Button>
          <Button onClick={() => setOpen(false)}>Cancel</Button>
        </form>
      ) : (
        <div class="row">
          <Button kind="danger" onClick={() => setOpen(true)}>
            Delete account…
          </Button>
        </div>
      )}
      <ErrorBanner error={err} />
    </section>
  );
}
