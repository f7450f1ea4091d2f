// The Access tab: users and agents with their vault roles, and scoped
// tokens (sessions) fixed to this vault.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Banner, Button, ErrorBanner, Field, fmtTime, Options, RowTable, useAsync, useRun } from "../ui";
import { needAdmin, needWriter, type Perms } from "./vault";

type Role = Schemas["SetVaultUserInputBody"]["role"];
const roles: Role[] = ["admin", "member", "proxy"];

export function AccessTab({ vault, perms }: { vault: string; perms: Perms }) {
  if (!perms.admin) {
    return (
      <>
        <Banner kind="info">{needAdmin} Members are managed by vault admins.</Banner>
        <Tokens vault={vault} perms={perms} />
      </>
    );
  }
  return (
    <>
      <Members vault={vault} kind="users" />
      <Members vault={vault} kind="agents" />
      <Tokens vault={vault} perms={perms} />
    </>
  );
}

function Members({ vault, kind }: { vault: string; kind: "users" | "agents" }) {
  const path = { name: vault };
  const list = useAsync(
    () => unwrap(kind === "users" ? api.GET("/v1/vaults/{name}/users", { params: { path } }) : api.GET("/v1/vaults/{name}/agents", { params: { path } })),
    [vault, kind],
  );
  const [who, setWho] = useState("");
  const [role, setRole] = useState<Role>("member");
  const { busy, err, run } = useRun(() => list.reload());
  const set = async (principal: string, r: Role) => {
    if (kind === "users") await unwrap(api.POST("/v1/vaults/{name}/users", { params: { path }, body: { email: principal, role: r } }));
    else await unwrap(api.POST("/v1/vaults/{name}/agents", { params: { path }, body: { agent: principal, role: r } }));
  };
  const title = kind === "users" ? "People" : "Agents";
  return (
    <section class="card">
      <h2>{title}</h2>
      <ErrorBanner error={list.error ?? err} />
      <RowTable
        label={title}
        rows={list.data?.members ?? []}
        loading={list.loading && !list.data}
        empty={`No ${kind} in this vault yet.`}
        rowKey={(m) => m.id}
        columns={[
          { head: kind === "users" ? "Email" : "Agent", wide: true, bare: true, cell: (m) => m.name },
          {
            head: "Role",
            bare: true,
            cell: (m) => (
              <select aria-label={`Role of ${m.name}`} value={m.role} disabled={busy !== null} onChange={(e) => run("r" + m.id, () => set(m.name, e.currentTarget.value as Role))}>
                <Options values={roles} />
              </select>
            ),
          },
        ]}
        actions={(m) => (
          <Button
            kind="danger"
            busy={busy === "d" + m.id}
            aria-label={`Remove ${m.name}`}
            onClick={() =>
              run("d" + m.id, async () => {
                const p = { params: { path: { name: vault, principal: m.name } } };
                await unwrap(kind === "users" ? api.DELETE("/v1/vaults/{name}/users/{principal}", p) : api.DELETE("/v1/vaults/{name}/agents/{principal}", p));
              })
            }
          >
            Remove
          </Button>
        )}
      />
      <form
        class="form-row"
        aria-label={`Add ${kind === "users" ? "person" : "agent"}`}
        onSubmit={(e) => {
          e.preventDefault();
          run("add", async () => {
            await set(who, role);
            setWho("");
          });
        }}
      >
        <Field label={kind === "users" ? "Email" : "Agent name"}>
          <input name={kind + "-principal"} required value={who} autoComplete="off" onInput={(e) => setWho(e.currentTarget.value)} />
        </Field>
        <Field label="Role" narrow>
          <select name={kind + "-role"} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            <Options values={roles} />
          </select>
        </Field>
        <Button type="submit" busy={busy === "add"}>
          Add
        </Button>
      </form>
    </section>
  );
}

// Tokens mints scoped session tokens for this vault and lists live ones.
// A minted token is shown once, right after minting, for copying.
function Tokens({ vault, perms }: { vault: string; perms: Perms }) {
  const list = useAsync(
    () => (perms.admin ? unwrap(api.GET("/v1/vaults/{name}/sessions", { params: { path: { name: vault } } })) : Promise.resolve(null)),
    [vault, perms.admin],
  );
  // Someone who does not administer the vault sees the tokens they minted.
  const mine = useAsync(() => (perms.admin ? Promise.resolve(null) : unwrap(api.GET("/v1/sessions"))), [vault, perms.admin]);
  const [ttl, setTtl] = useState(3600);
  const [minted, setMinted] = useState<Schemas["CreateSessionOutputBody"] | null>(null);
  const { busy, err, run } = useRun(() => (list.reload(), mine.reload()));
  return (
    <section class="card">
      <h2>Scoped tokens</h2>
      <p class="muted">A scoped token lets one process use this vault through the proxy, and nothing else.</p>
      <ErrorBanner error={list.error ?? mine.error ?? err} />
      {minted ? (
        <Banner kind="ok" testid="minted-token">
          New token (shown once, expires {fmtTime(minted.expires_at)}): <code class="secret-once">{minted.token}</code>
        </Banner>
      ) : null}
      <form
        class="form-row"
        aria-label="Mint scoped token"
        onSubmit={(e) => {
          e.preventDefault();
          run("mint", async () => setMinted(await unwrap(api.POST("/v1/sessions", { body: { vault, ttl_seconds: ttl } }))));
        }}
      >
        <Field label="Lifetime (seconds)">
          <input type="number" min={60} name="token-ttl" value={ttl} onInput={(e) => setTtl(Number(e.currentTarget.value))} />
        </Field>
        <Button type="submit" busy={busy === "mint"} reason={perms.read ? undefined : needWriter}>
          Mint token
        </Button>
      </form>
      {perms.admin ? (
        <RowTable
          label="Scoped tokens"
          rows={list.data?.sessions ?? []}
          loading={list.loading && !list.data}
          empty="No live scoped tokens."
          rowKey={(s) => s.id}
          columns={[
            { head: "Created by", wide: true, bare: true, cell: (s) => s.creator },
            { head: "Created", hideSmall: true, cell: (s) => fmtTime(s.created_at) },
            { head: "Expires", cell: (s) => fmtTime(s.expires_at) },
          ]}
          actions={(s) => (
            <Button kind="danger" busy={busy === s.id} onClick={() => run(s.id, () => unwrap(api.DELETE("/v1/vaults/{name}/sessions/{id}", { params: { path: { name: vault, id: s.id } } })))}>
              Revoke
            </Button>
          )}
        />
      ) : (
        <RowTable
          label="Your scoped tokens"
          rows={(mine.data?.sessions ?? []).filter((s) => s.vault === vault)}
          loading={mine.loading && !mine.data}
          empty="You have no live scoped tokens for this vault."
          rowKey={(s) => s.id}
          columns={[
            { head: "Created", wide: true, cell: (s) => fmtTime(s.created_at) },
            { head: "Expires", cell: (s) => fmtTime(s.expires_at) },
          ]}
          actions={(s) => (
            <Button kind="danger" busy={busy === s.id} aria-label={`Revoke scoped token ${s.id}`} onClick={() => run(s.id, () => unwrap(api.DELETE("/v1/sessions/{id}", { params: { path: { id: s.id } } })))}>
              Revoke
            </Button>
          )}
        />
      )}
    </section>
  );
}
