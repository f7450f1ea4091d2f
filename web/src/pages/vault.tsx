// One vault: its tabs and the caller's role in it.
import { useState } from "preact/hooks";
import { api, ApiError, unwrap, type Schemas } from "../api/client";
import { linkProps } from "../router";
import { kindLabel } from "../storePicker";
import { Banner, Button, ErrorBanner, Loading, NotFound, Tag, useAsync } from "../ui";
import { AccessTab } from "./access";
import { ActivityTab } from "./activity";
import { CredentialsTab } from "./credentials";
import { LogsTab } from "./logs";
import { ProposalPage, ProposalsTab } from "./proposals";
import { ServicesTab } from "./services";
import { SettingsTab } from "./settings";

export type Ctx = Schemas["VaultContextOutputBody"];
export type Me = Schemas["MeOutputBody"];

// Perms mirrors host/authz's policy for the UI's buttons; the server
// stays the authority and its 403 is shown when they disagree.
export function perms(ctx: Ctx, me: Me) {
  const r = ctx.role ?? "";
  const owner = me.role === "owner";
  const writer = r === "admin" || r === "member";
  return {
    read: r !== "",
    writeCredentials: writer,
    writeServices: writer,
    sync: writer,
    admin: r === "admin" || owner,
    logs: writer,
    // get-vault-settings: vault admins and members, and the instance owner.
    readSettings: writer || owner,
    // explain-request and list-canaries: vault admins and members.
    explain: writer,
    canaries: writer,
    owner,
  };
}
export type Perms = ReturnType<typeof perms>;

export const needWriter = "Needs the admin or member role in this vault.";
export const needAdmin = "Needs the admin role in this vault (or the instance owner).";

const tabs = [
  ["credentials", "Credentials"],
  ["services", "Services"],
  ["proposals", "Proposals"],
  ["access", "Access"],
  ["logs", "Logs"],
  ["activity", "Activity"],
  ["settings", "Settings"],
] as const;

// sub is the part of the path after the tab (a proposal id).
export function VaultPage({ name, tab, sub, me }: { name: string; tab: string; sub?: string; me: Me }) {
  const ctx = useAsync(() => unwrap(api.GET("/v1/vaults/{name}/context", { params: { path: { name } } })), [name]);
  const [joining, setJoining] = useState(false);
  const [joinErr, setJoinErr] = useState<unknown>(null);
  const base = "/vaults/" + encodeURIComponent(name);
  if (ctx.loading && !ctx.data) return <Loading what="Loading vault" />;
  if (!ctx.data) {
    if (ctx.error instanceof ApiError && ctx.error.status === 404) return <NotFound what="vault" name={name} />;
    return (
      <>
        <p>
          <a {...linkProps("/")}>← Vaults</a>
        </p>
        <ErrorBanner error={ctx.error} />
      </>
    );
  }
  const c = ctx.data;
  const p = perms(c, me);
  const cs = c.credential_store;
  return (
    <section>
      <p class="crumbs">
        <a {...linkProps("/")}>Vaults</a> /
      </p>
      <div class="page-head">
        <h1>{c.vault.name}</h1>
        <div class="row">
          <Tag kind={cs.read_only ? "external" : "builtin"}>{kindLabel(cs.kind)} store</Tag>
          {c.role ? <Tag kind="role">you: {c.role}</Tag> : null}
        </div>
      </div>
      {!p.read && p.owner ? (
        <Banner kind="warn">
          You manage this vault as the instance owner but have not joined it, so its credentials, services and logs are hidden.{" "}
          <Button
            kind="primary"
            busy={joining}
            onClick={async () => {
              setJoining(true);
              try {
                await unwrap(api.POST("/v1/vaults/{name}/join", { params: { path: { name } } }));
                ctx.reload();
              } catch (e) {
                setJoinErr(e);
              }
              setJoining(false);
            }}
          >
            Join as admin
          </Button>
          <ErrorBanner error={joinErr} />
        </Banner>
      ) : null}
      {p.read && !p.writeCredentials ? (
        <Banner kind="info" testid="role-note">
          Your role in this vault is <strong>{c.role}</strong>: you can see its keys and services and use it through the proxy, but not change it.
        </Banner>
      ) : null}
      <nav class="tabs" role="tablist" aria-label="Vault sections">
        {tabs.map(([id, label]) => (
          <a key={id} role="tab" aria-selected={tab === id} class={"tab" + (tab === id ? " tab-on" : "")} {...linkProps(`${base}/${id}`)}>
            {label}
          </a>
        ))}
      </nav>
      <div class="tab-body" role="tabpanel">
        {tab === "credentials" ? (
          <CredentialsTab ctx={c} perms={p} onStoreChanged={ctx.reload} />
        ) : tab === "services" ? (
          <ServicesTab vault={name} perms={p} />
        ) : tab === "proposals" ? (
          sub ? (
            <ProposalPage key={sub} vault={name} id={sub} perms={p} />
          ) : (
            <ProposalsTab vault={name} perms={p} />
          )
        ) : tab === "access" ? (
          <AccessTab vault={name} perms={p} />
        ) : tab === "logs" ? (
          <LogsTab vault={name} perms={p} />
        ) : tab === "activity" ? (
          <ActivityTab vault={name} perms={p} />
        ) : tab === "settings" ? (
          <SettingsTab ctx={c} perms={p} onChanged={ctx.reload} />
        ) : (
          <Banner kind="warn">No such tab.</Banner>
        )}
      </div>
    </section>
  );
}
