// Instance-level pages: the people (with invitations), the agents, and
// the instance's team settings.
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Banner, Button, type Column, Drawer, ErrorBanner, Field, fmtTime, Loading, Options, RowTable, useAsync, useRun } from "../ui";
import { SignInTable } from "./account";

type Me = Schemas["MeOutputBody"];
type Grant = Schemas["VaultGrantView"];
type User = Schemas["UserView"];
type InstanceRole = Schemas["UpdateUserInputBody"]["role"];
const instanceRoles: InstanceRole[] = ["owner", "member", "no-access"];
const vaultRoles: Grant["role"][] = ["admin", "member", "proxy"];

function grants(list?: Grant[] | null): string {
  const g = list ?? [];
  return g.length === 0 ? "—" : g.map((v) => `${v.vault} (${v.role})`).join(", ");
}

// days turns a number of days typed into a field into seconds; empty or 0
// is 0 (never expires).
const days = (typed: string) => Math.max(0, Math.round(Number(typed) * 86400)) || 0;

// vaultsColumn lists the vault roles of a person, invitation or agent.
const vaultsColumn: Column<{ vaults?: Grant[] | null }> = { head: "Vaults", hideSmall: true, cell: (x) => grants(x.vaults) };

export function UsersPage({ me }: { me: Me }) {
  const owner = me.role === "owner";
  const users = useAsync(() => unwrap(api.GET("/v1/users")), []);
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [link, setLink] = useState<{ email: string; url: string; emailed: boolean; expires: string } | null>(null);
  const [signIns, setSignIns] = useState<User | null>(null);
  const { busy, err, run } = useRun(() => users.reload());
  const rows = (users.data?.users ?? []).filter(
    (u) => (!q || u.email.toLowerCase().includes(q.toLowerCase()) || (u.vaults ?? []).some((v) => v.vault.includes(q.toLowerCase()))) && (!role || u.role === role),
  );
  return (
    <>
      <header class="page-head">
        <h1>People</h1>
        <p class="muted">Everyone who can sign in to this instance. The no-access role disables an account without deleting it.</p>
      </header>
      <section class="card">
        <form class="form-row" aria-label="Filter people" onSubmit={(e) => e.preventDefault()}>
          <Field label="Search">
            <input type="search" name="user-filter" placeholder="Email or vault" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          </Field>
          <Field label="Role" narrow>
            <select name="user-role-filter" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="">any</option>
              <Options values={instanceRoles} />
            </select>
          </Field>
        </form>
        <ErrorBanner error={users.error ?? err} />
        {link ? (
          <Banner kind="ok" testid="reset-link">
            Reset link for {link.email}{link.emailed ? " (also emailed)" : ""}; it works once, until {fmtTime(link.expires)}: <code class="secret-once">{link.url}</code>
          </Banner>
        ) : null}
        <RowTable
          label="People"
          rows={rows}
          loading={users.loading && !users.data}
          empty={(users.data?.users ?? []).length === 0 ? "No people yet." : "Nobody matches the filter."}
          rowKey={(u) => u.id}
          rowAttrs={(u) => ({ "data-user": u.email })}
          columns={[
            {
              head: "Email",
              wide: true,
              cell: (u) => (
                <>
                  {u.email} {u.id === me.id ? <span class="tag tag-muted">you</span> : null}
                </>
              ),
            },
            {
              head: "Role",
              cell: (u) =>
                owner ? (
                  <select
                    aria-label={`Instance role of ${u.email}`}
                    value={u.role}
                    disabled={busy !== null}
                    onChange={(e) => run("r" + u.id, () => unwrap(api.PATCH("/v1/users/{id}", { params: { path: { id: u.id } }, body: { role: e.currentTarget.value as InstanceRole } })))}
                  >
                    <Options values={instanceRoles} label={(r) => (r === "no-access" ? "disabled (no-access)" : r)} />
                  </select>
                ) : (
                  u.role
                ),
            },
            vaultsColumn,
            { head: "Last sign-in", cell: (u) => (u.last_login_at ? fmtTime(u.last_login_at) : "never") },
          ]}
          actions={(u) =>
            owner ? (
              <div class="row wrap">
                <Button aria-label={`Sign-ins of ${u.email}`} onClick={() => setSignIns(u)}>
                  Sign-ins
                </Button>
                {u.id === me.id ? null : (
                  <>
                    <Button
                      busy={busy === "p" + u.id}
                      aria-label={`Reset password of ${u.email}`}
                      onClick={() =>
                        run("p" + u.id, async () => {
                          const r = await unwrap(api.POST("/v1/users/{id}/password-reset", { params: { path: { id: u.id } } }));
                          setLink({ email: u.email, url: r.reset_url, emailed: r.emailed, expires: r.expires_at });
                        })
                      }
                    >
                      Reset password
                    </Button>
                    <Button
                      busy={busy === "s" + u.id}
                      aria-label={`Sign out ${u.email} everywhere`}
                      onClick={() => run("s" + u.id, () => unwrap(api.DELETE("/v1/users/{id}/sessions", { params: { path: { id: u.id } } })))}
                    >
                      Sign out
                    </Button>
                    <Button
                      kind="danger"
                      busy={busy === "d" + u.id}
                      aria-label={`Delete ${u.email}`}
                      onClick={() => confirm(`Delete ${u.email}? Their sessions end and their vault roles go.`) && run("d" + u.id, () => unwrap(api.DELETE("/v1/users/{id}", { params: { path: { id: u.id } } })))}
                    >
                      Delete
                    </Button>
                  </>
                )}
              </div>
            ) : null
          }
        />
      </section>
      {signIns ? <UserSignIns user={signIns} onClose={() => setSignIns(null)} /> : null}
      <Invites me={me} />
    </>
  );
}

// UserSignIns shows an owner where a person is signed in, and ends one
// sign-in at a time.
function UserSignIns({ user, onClose }: { user: User; onClose: () => void }) {
  const path = { id: user.id };
  const list = useAsync(() => unwrap(api.GET("/v1/users/{id}/sessions", { params: { path } })), [user.id]);
  const { busy, err, run } = useRun(() => list.reload());
  return (
    <Drawer title={`Sign-ins of ${user.email}`} onClose={onClose} wide>
      <p class="muted">Revoking a sign-in ends it at once: that browser or client has to sign in again.</p>
      <ErrorBanner error={list.error ?? err} />
      <SignInTable
        label={`Sign-ins of ${user.email}`}
        rows={list.data?.sessions ?? []}
        loading={list.loading && !list.data}
        empty={`${user.email} is not signed in anywhere.`}
        busy={busy}
        onRevoke={(id) => run(id, () => unwrap(api.DELETE("/v1/users/{id}/sessions/{session}", { params: { path: { ...path, session: id } } })))}
      />
    </Drawer>
  );
}

// GrantFields picks vaults the caller may grant roles in (ones they
// administer; any, for an owner) and the role to grant in each. The first
// pair is always there; "Another vault" adds more.
function GrantFields({ name, me, grants, onChange }: { name: string; me: Me; grants: Grant[]; onChange: (g: Grant[]) => void }) {
  const vaults = useAsync(() => unwrap(api.GET("/v1/vaults")), []);
  const admin = (vaults.data?.vaults ?? []).filter((v) => v.role === "admin" || me.role === "owner");
  const set = (i: number, g: Grant) => onChange(grants.map((x, j) => (j === i ? g : x)));
  return (
    <>
      {grants.map((g, i) => {
        const n = i === 0 ? "" : `-${i + 1}`;
        return (
          <Fragment key={i}>
            <Field label="Vault" narrow>
              <select name={`${name}-vault${n}`} value={g.vault} onChange={(e) => set(i, { ...g, vault: e.currentTarget.value })}>
                <option value="">none</option>
                {admin
                  .filter((v) => v.name === g.vault || !grants.some((x) => x.vault === v.name))
                  .map((v) => (
                    <option key={v.name} value={v.name}>
                      {v.name}
                    </option>
                  ))}
              </select>
            </Field>
            <Field label="Vault role" narrow>
              <select name={`${name}-vault-role${n}`} value={g.role} onChange={(e) => set(i, { ...g, role: e.currentTarget.value as Grant["role"] })}>
                <Options values={vaultRoles} />
              </select>
            </Field>
            {i === 0 ? null : (
              <Button aria-label={`Remove vault ${i + 1}`} onClick={() => onChange(grants.filter((_, j) => j !== i))}>
                Remove
              </Button>
            )}
          </Fragment>
        );
      })}
      {admin.length > grants.length ? <Button onClick={() => onChange([...grants, { vault: "", role: grants[grants.length - 1].role }])}>Another vault</Button> : null}
      <ErrorBanner error={vaults.error} />
    </>
  );
}

// chosen is the vault roles a GrantFields has picked.
const chosen = (grants: Grant[]) => grants.filter((g) => g.vault !== "");

function Invites({ me }: { me: Me }) {
  const invites = useAsync(() => unwrap(api.GET("/v1/invites")), []);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<InstanceRole>("member");
  const [grants, setGrants] = useState<Grant[]>([{ vault: "", role: "member" }]);
  const [made, setMade] = useState<Schemas["CreateInviteOutputBody"] | null>(null);
  const { busy, err, run } = useRun(() => invites.reload());
  return (
    <section class="card">
      <h2>Invitations</h2>
      <form
        class="form-row"
        aria-label="Invite someone"
        onSubmit={(e) => {
          e.preventDefault();
          run("invite", async () => {
            const body: Schemas["CreateInviteInputBody"] = { role, vaults: chosen(grants) };
            if (email) body.email = email;
            setMade(await unwrap(api.POST("/v1/users/invites", { body })));
            setEmail("");
          });
        }}
      >
        <Field label="Email">
          <input type="email" name="invite-email" placeholder="optional" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Role" narrow>
          <select name="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value as InstanceRole)}>
            <Options values={instanceRoles} />
          </select>
        </Field>
        <GrantFields name="invite" me={me} grants={grants} onChange={setGrants} />
        <Button type="submit" kind="primary" busy={busy === "invite"}>
          Invite
        </Button>
      </form>
      {made ? (
        <Banner kind="ok" testid="invite-link">
          Send this link{made.emailed ? " (also emailed)" : ""}; it works once, until {fmtTime(made.expires_at)}: <code class="secret-once">{made.invite_url}</code>
        </Banner>
      ) : null}
      <ErrorBanner error={invites.error ?? err} />
      <RowTable
        label="Pending invitations"
        rows={invites.data?.invites ?? []}
        loading={invites.loading && !invites.data}
        empty="No pending invitations."
        rowKey={(i) => i.id}
        columns={[
          { head: "For", wide: true, cell: (i) => i.email || "anyone with the link" },
          { head: "Role", cell: (i) => i.role },
          vaultsColumn,
          { head: "Expires", cell: (i) => (i.expired ? <span class="tag tag-warn">expired</span> : fmtTime(i.expires_at)) },
        ]}
        actions={(i) => (
          <div class="row wrap">
            <Button busy={busy === "s" + i.id} aria-label={`Re-send invite for ${i.email || i.id}`} onClick={() => run("s" + i.id, async () => setMade(await unwrap(api.POST("/v1/invites/{id}/resend", { params: { path: { id: i.id } } }))))}>
              Re-send
            </Button>
            <Button kind="danger" busy={busy === "r" + i.id} aria-label={`Revoke invite for ${i.email || i.id}`} onClick={() => run("r" + i.id, () => unwrap(api.DELETE("/v1/invites/{id}", { params: { path: { id: i.id } } })))}>
              Revoke
            </Button>
          </div>
        )}
      />
    </section>
  );
}

export function AgentsPage({ me }: { me: Me }) {
  const owner = me.role === "owner";
  const agents = useAsync(() => unwrap(api.GET("/v1/agents")), []);
  const [q, setQ] = useState("");
  const [state, setState] = useState("");
  const [token, setToken] = useState<{ name: string; token: string } | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [newName, setNewName] = useState("");
  const [overlap, setOverlap] = useState(600);
  const [rotateDays, setRotateDays] = useState("");
  const { busy, err, run } = useRun(() => agents.reload());
  const all = agents.data?.agents ?? [];
  const rows = all.filter(
    (a) =>
      (!q || a.name.includes(q.toLowerCase()) || (a.vaults ?? []).some((v) => v.vault.includes(q.toLowerCase()))) &&
      (!state || (state === "revoked" ? a.revoked : state === "disabled" ? a.role === "no-access" : !a.revoked && a.role !== "no-access")),
  );
  return (
    <>
      <header class="page-head">
        <h1>Agents</h1>
        <p class="muted">The identities AI agents use. A token is shown once, when it is made.</p>
      </header>
      <section class="card">
        <form class="form-row" aria-label="Filter agents" onSubmit={(e) => e.preventDefault()}>
          <Field label="Search">
            <input type="search" name="agent-filter" placeholder="Name or vault" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          </Field>
          <Field label="State" narrow>
            <select name="agent-state-filter" value={state} onChange={(e) => setState(e.currentTarget.value)}>
              <option value="">any</option>
              <option value="active">active</option>
              <option value="disabled">disabled</option>
              <option value="revoked">revoked</option>
            </select>
          </Field>
          {owner ? (
            <>
              <Field label="Rotation overlap (s)" narrow>
                <input type="number" min={0} max={604800} name="rotate-overlap" value={overlap} onInput={(e) => setOverlap(Number(e.currentTarget.value))} />
              </Field>
              <Field label="Rotated token expires (days)" narrow>
                <input type="number" min={0} max={365} step="any" name="rotate-ttl-days" placeholder="as now" title="Empty: the token's current lifetime; 0: never expires" value={rotateDays} onInput={(e) => setRotateDays(e.currentTarget.value)} />
              </Field>
            </>
          ) : null}
        </form>
        <ErrorBanner error={agents.error ?? err} />
        {token ? (
          <Banner kind="ok" testid="agent-token">
            New token of {token.name} (shown once): <code class="secret-once">{token.token}</code>
          </Banner>
        ) : null}
        <RowTable
          label="Agents"
          rows={rows}
          loading={agents.loading && !agents.data}
          empty={all.length === 0 ? "No agents yet. Create one below or with 'agent-vault agent create NAME'." : "No agent matches the filter."}
          rowKey={(a) => a.id}
          rowAttrs={(a) => ({ "data-agent": a.name })}
          columns={[
            {
              head: "Name",
              wide: true,
              cell: (a) =>
                renaming === a.name ? (
                  <form
                    class="form-row"
                    aria-label={`Rename ${a.name}`}
                    onSubmit={(e) => {
                      e.preventDefault();
                      run("n" + a.id, async () => {
                        await unwrap(api.PATCH("/v1/agents/{name}", { params: { path: { name: a.name } }, body: { name: newName } }));
                        setRenaming(null);
                      });
                    }}
                  >
                    <input aria-label="New name" name="agent-new-name" required value={newName} onInput={(e) => setNewName(e.currentTarget.value)} />
                    <Button type="submit" busy={busy === "n" + a.id}>
                      Save
                    </Button>
                    <Button onClick={() => setRenaming(null)}>Cancel</Button>
                  </form>
                ) : (
                  <>
                    {a.name} {a.revoked ? <span class="tag tag-error">revoked</span> : null}
                  </>
                ),
            },
            {
              head: "Role",
              cell: (a) =>
                owner ? (
                  <select
                    aria-label={`Instance role of ${a.name}`}
                    value={a.role}
                    disabled={busy !== null}
                    onChange={(e) => run("r" + a.id, () => unwrap(api.PATCH("/v1/agents/{name}", { params: { path: { name: a.name } }, body: { role: e.currentTarget.value as "member" | "no-access" } })))}
                  >
                    <option value="member">member</option>
                    <option value="no-access">disabled (no-access)</option>
                  </select>
                ) : (
                  a.role
                ),
            },
            vaultsColumn,
            { head: "Last used", cell: (a) => (a.last_used_at ? fmtTime(a.last_used_at) : "never") },
            { head: "Token expires", hideSmall: true, cell: (a) => (a.token_expires_at ? fmtTime(a.token_expires_at) : "never") },
          ]}
          actions={(a) =>
            owner ? (
              <div class="row wrap">
                <Button aria-label={`Rename ${a.name}`} onClick={() => (setRenaming(a.name), setNewName(a.name))}>
                  Rename
                </Button>
                <Button
                  busy={busy === "t" + a.id}
                  aria-label={`Rotate token of ${a.name}`}
                  onClick={() =>
                    run("t" + a.id, async () => {
                      const r = await unwrap(api.POST("/v1/agents/{name}/rotate", { params: { path: { name: a.name } }, body: { overlap_seconds: overlap, ttl_seconds: rotateDays === "" ? undefined : days(rotateDays) } }));
                      setToken({ name: a.name, token: r.token });
                    })
                  }
                >
                  Rotate
                </Button>
                {a.revoked ? null : (
                  <Button busy={busy === "v" + a.id} aria-label={`Revoke ${a.name}`} onClick={() => run("v" + a.id, () => unwrap(api.POST("/v1/agents/{name}/revoke", { params: { path: { name: a.name } } })))}>
                    Revoke
                  </Button>
                )}
                <Button
                  kind="danger"
                  busy={busy === "d" + a.id}
                  aria-label={`Delete ${a.name}`}
                  onClick={() => confirm(`Delete agent ${a.name}? Its tokens and sessions stop working.`) && run("d" + a.id, () => unwrap(api.DELETE("/v1/agents/{name}", { params: { path: { name: a.name } } })))}
                >
                  Delete
                </Button>
              </div>
            ) : null
          }
        />
      </section>
      {me.role === "no-access" ? null : <NewAgent me={me} onCreated={() => agents.reload()} />}
    </>
  );
}

// NewAgent creates an agent with an optional vault role and token expiry,
// and shows its token once.
function NewAgent({ me, onCreated }: { me: Me; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [grants, setGrants] = useState<Grant[]>([{ vault: "", role: "proxy" }]);
  const [ttlDays, setTtlDays] = useState("");
  const [made, setMade] = useState<Schemas["AgentTokenOutputBody"] | null>(null);
  const { busy, err, run } = useRun(onCreated);
  return (
    <section class="card">
      <h2>New agent</h2>
      <form
        class="form-row"
        aria-label="Create agent"
        onSubmit={(e) => {
          e.preventDefault();
          run("create", async () => {
            const body: Schemas["CreateAgentInputBody"] = { name, role: "member", vaults: chosen(grants) };
            if (days(ttlDays)) body.ttl_seconds = days(ttlDays);
            setMade(await unwrap(api.POST("/v1/agents", { body })));
            setName("");
          });
        }}
      >
        <Field label="Name">
          <input name="agent-name" required pattern="[a-z0-9][a-z0-9_\-]{0,63}" placeholder="e.g. ci-bot" autoComplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <GrantFields name="agent" me={me} grants={grants} onChange={setGrants} />
        <Field label="Expires in (days)" narrow>
          <input type="number" min={0} max={365} step="any" name="agent-ttl-days" placeholder="never" value={ttlDays} onInput={(e) => setTtlDays(e.currentTarget.value)} />
        </Field>
        <Button type="submit" kind="primary" busy={busy === "create"}>
          Create agent
        </Button>
      </form>
      {made ? (
        <Banner kind="ok" testid="new-agent-token">
          Token of {made.agent.name} (shown once{made.agent.token_expires_at ? `, expires ${fmtTime(made.agent.token_expires_at)}` : ""}): <code class="secret-once">{made.token}</code>
        </Banner>
      ) : null}
      <ErrorBanner error={err} />
    </section>
  );
}

export function InstanceSettingsPage({ me }: { me: Me }) {
  const settings = useAsync(() => (me.role === "owner" ? unwrap(api.GET("/v1/instance/settings")) : Promise.resolve(null)), [me.role]);
  const [form, setForm] = useState<{ policy: string; domains: string; ttl: number; idle: number } | null>(null);
  const [saved, setSaved] = useState(false);
  const { busy, err, run } = useRun(() => settings.reload());
  if (me.role !== "owner") return <Banner kind="info">Only instance owners change instance settings.</Banner>;
  if (settings.loading && !settings.data) return <Loading />;
  const s = settings.data;
  const f = form ?? (s ? { policy: s.invite_policy, domains: (s.allowed_email_domains ?? []).join(", "), ttl: s.session_ttl_seconds / 3600, idle: s.idle_timeout_seconds / 60 } : null);
  return (
    <>
      <header class="page-head">
        <h1>Instance settings</h1>
        <p class="muted">Who may invite people, whom they may invite, and how long sign-ins last.</p>
      </header>
      <section class="card">
        <ErrorBanner error={settings.error ?? err} />
        {saved ? <Banner kind="ok">Saved.</Banner> : null}
        {f ? (
          <form
            class="grid2"
            aria-label="Instance settings"
            onSubmit={(e) => {
              e.preventDefault();
              setSaved(false);
              run("save", async () => {
                await unwrap(
                  api.PATCH("/v1/instance/settings", {
                    body: {
                      invite_policy: f.policy as "owners" | "members",
                      allowed_email_domains: f.domains.split(/[\s,]+/).filter((d) => d !== ""),
                      session_ttl_seconds: Math.round(f.ttl * 3600),
                      idle_timeout_seconds: Math.round(f.idle * 60),
                    },
                  }),
                );
                setForm(null);
                setSaved(true);
              });
            }}
          >
            <Field label="Who may invite">
              <select name="invite-policy" value={f.policy} onChange={(e) => setForm({ ...f, policy: e.currentTarget.value })}>
                <option value="owners">owners only</option>
                <option value="members">members too</option>
              </select>
            </Field>
            <Field label="Allowed email domains" hint="Comma-separated; empty allows any.">
              <input name="allowed-email-domains" value={f.domains} onInput={(e) => setForm({ ...f, domains: e.currentTarget.value })} />
            </Field>
            <Field label="Sign-in lifetime (hours)">
              <input type="number" min={0.1} step="any" name="session-ttl-hours" value={f.ttl} onInput={(e) => setForm({ ...f, ttl: Number(e.currentTarget.value) })} />
            </Field>
            <Field label="Idle timeout (minutes)" hint="0 turns it off; otherwise at least 5.">
              <input type="number" min={0} step="any" name="idle-timeout-minutes" value={f.idle} onInput={(e) => setForm({ ...f, idle: Number(e.currentTarget.value) })} />
            </Field>
            <div class="row">
              <Button type="submit" kind="primary" busy={busy === "save"}>
                Save settings
              </Button>
            </div>
          </form>
        ) : null}
      </section>
    </>
  );
}
