// The Proposals tab and the approval page: what agents asked for, and the
// human's decision. Agent-written text is rendered as text (JSX escapes
// it), never as HTML; no credential value is ever shown.
import { useState } from "preact/hooks";
import { ApiError, api, unwrap, type Schemas } from "../api/client";
import { linkProps } from "../router";
import { Banner, Button, Empty, ErrorBanner, Field, fmtTime, Loading, Options, Tag, useAsync } from "../ui";
import { needWriter, type Perms } from "./vault";
import { Untrusted, visible } from "../untrusted";

type Proposal = Schemas["ProposalView"];
type Status = Proposal["status"];
type ProposedService = Schemas["ProposedService"];
type Change = Schemas["ProposalChange"];

const statuses: Status[] = ["pending", "approved", "rejected", "expired"];
const statusTag: Record<Status, string> = { pending: "warn", approved: "ok", rejected: "error", expired: "muted" };

// serviceKeys lists the credential keys a proposed service refers to: the
// auth fields, {{ KEY }} references in custom headers, and substitutions.
export function serviceKeys(s: ProposedService): string[] {
  const keys = new Set<string>();
  const a = s.auth;
  if (a) {
    for (const k of [a.token, a.username, a.password, a.key]) if (k) keys.add(k);
    for (const v of Object.values(a.headers ?? {})) for (const m of v.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)) keys.add(m[1]);
  }
  for (const sub of s.substitutions ?? []) keys.add(sub.key);
  return [...keys];
}

function proposalPath(vault: string, id: string) {
  return `/vaults/${encodeURIComponent(vault)}/proposals/${encodeURIComponent(id)}`;
}

export function ProposalsTab({ vault, perms }: { vault: string; perms: Perms }) {
  const [status, setStatus] = useState<Status>("pending");
  const list = useAsync(
    () => (perms.read ? unwrap(api.GET("/v1/proposals", { params: { query: { vault, status } } })) : Promise.resolve(null)),
    [vault, status],
  );
  if (!perms.read) return <Empty>Join the vault to see its proposals.</Empty>;
  const items = list.data?.proposals ?? [];
  return (
    <>
      <div class="page-head">
        <h2>Proposals</h2>
        <label class="row">
          <span class="muted">Show</span>
          <select name="proposal-status" aria-label="Proposal status" value={status} onChange={(e) => setStatus(e.currentTarget.value as Status)}>
            <Options values={statuses} label={(s) => s[0].toUpperCase() + s.slice(1)} />
          </select>
        </label>
      </div>
      <p class="muted">Agents propose the services and credentials they need; a vault admin or member approves or rejects each proposal.</p>
      <ErrorBanner error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="Loading proposals" />
      ) : items.length === 0 && !list.error ? (
        <Empty>No {status} proposals.</Empty>
      ) : (
        <ul class="list" aria-label="Proposals">
          {items.map((p) => (
            <li key={p.id} class="list-row list-col" data-proposal={p.id}>
              <div class="item">
                <div class="item-main">
                  <Tag kind={statusTag[p.status]}>{p.status}</Tag>
                  <span class="muted">
                    from {p.created_by.kind} <strong><Untrusted text={p.created_by.name} /></strong> · {fmtTime(p.created_at)}
                  </span>
                </div>
                <div class="item-side">
                  <a class="btn btn-plain" {...linkProps(proposalPath(vault, p.id))}>
                    {p.status === "pending" && perms.writeCredentials ? "Review" : "Open"}
                  </a>
                </div>
              </div>
              <ProposalSummary p={p} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

// changeOf finds what a proposed service or credential would replace.
function changeOf(p: Proposal, target: Change["target"], name: string): Change | undefined {
  return (p.changes ?? []).find((c) => c.target === target && c.name === name);
}

// Changes warns, before anything else, that the proposal replaces or
// deletes what the vault holds, with every field before and after.
function Changes({ p }: { p: Proposal }) {
  const changes = p.changes ?? [];
  if (!changes.length) return null;
  return (
    <Banner kind="warn" testid="proposal-changes">
      <strong>This proposal changes what the vault already holds.</strong> Approving it replaces the existing settings below
      {changes.some((c) => c.confirm) ? "; you must confirm each replacement." : "."}
      <ul class="changes">
        {changes.map((c) => (
          <li key={c.target + ":" + c.name} data-change={c.target + ":" + c.name}>
            <Tag kind="error">{c.action}</Tag> {c.target} <strong><Untrusted text={c.name} /></strong>
            {(c.fields ?? []).length ? (
              <table class="table compact" aria-label={"Changes to " + c.name}>
                <tbody>
                  {(c.fields ?? []).map((f) => (
                    <tr key={f.field} data-field={f.field}>
                      <td>
                        <code>{f.field}</code>
                      </td>
                      <td>
                        <code class="before"><Untrusted text={f.before} fallback="(none)" /></code>
                      </td>
                      <td aria-hidden="true">→</td>
                      <td>
                        <code class="after"><Untrusted text={f.after} fallback="(none)" /></code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </li>
        ))}
      </ul>
    </Banner>
  );
}

// ProposalSummary shows the agent's message and what the proposal changes.
function ProposalSummary({ p }: { p: Proposal }) {
  const svcs = p.services ?? [];
  const creds = p.credentials ?? [];
  return (
    <div class="proposal">
      <Changes p={p} />
      <p class="agent-text" data-testid="proposal-message">
        <Untrusted text={p.message} />
      </p>
      {p.status === "rejected" && p.reason ? (
        <p class="muted" data-testid="proposal-reason">
          Rejected by <Untrusted text={p.decided_by} fallback="a reviewer" />: <span class="agent-text"><Untrusted text={p.reason} /></span>
        </p>
      ) : null}
      {p.user_message ? (
        <blockquote class="agent-text muted" data-testid="proposal-user-message">
          User asked: <Untrusted text={p.user_message} />
        </blockquote>
      ) : null}
      {svcs.length ? (
        <div class="table-scroll">
        <table class="table compact stack" aria-label="Proposed services">
          <thead>
            <tr>
              <th>Service</th>
              <th>Host</th>
              <th>Auth</th>
              <th>Uses</th>
            </tr>
          </thead>
          <tbody>
            {svcs.map((s) => (
              <tr key={s.name} data-proposed-service={s.name}>
                <td class="wide">
                  {s.action === "delete" ? (
                    <Tag kind="error">remove</Tag>
                  ) : changeOf(p, "service", s.name) ? (
                    <Tag kind="error">replace</Tag>
                  ) : (
                    <Tag kind="ok">add</Tag>
                  )} <strong><Untrusted text={s.name} /></strong>
                </td>
                <td class="wide" data-label="Host">
                  <code><Untrusted text={s.host} /></code>
                </td>
                <td data-label="Auth">{s.auth ? <Tag kind="auth">{s.auth.type}</Tag> : "—"}</td>
                <td data-label="Uses">
                  {serviceKeys(s).map((k) => (
                    <code key={k} class="key">
                      {k}
                    </code>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
      {creds.length ? (
        <div class="table-scroll">
        <table class="table compact stack" aria-label="Proposed credentials">
          <thead>
            <tr>
              <th>Credential</th>
              <th>What for</th>
              <th>How to obtain</th>
            </tr>
          </thead>
          <tbody>
            {creds.map((c) => (
              <tr key={c.key} data-proposed-key={c.key}>
                <td class="wide">
                  {c.action === "delete" ? (
                    <Tag kind="error">remove</Tag>
                  ) : changeOf(p, "credential", c.key) ? (
                    <Tag kind="error">overwrite</Tag>
                  ) : (
                    <Tag kind="ok">set</Tag>
                  )} <code>{c.key}</code>
                  {c.has_value ? <span class="muted"> · agent supplied a value</span> : null}
                </td>
                <td class="agent-text wide" data-label="What for">
                  <Untrusted text={c.description} />
                </td>
                <td class="agent-text wide" data-label="How to obtain">
                  <Obtain text={c.obtain} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
    </div>
  );
}

// Obtain links an http(s) URL (opened without a referrer) and shows any
// other text as text.
function Obtain({ text }: { text?: string }) {
  if (!text) return <>—</>;
  if (/^https?:\/\/\S+$/.test(text)) {
    return (
      <a href={text} target="_blank" rel="noopener noreferrer">
        <Untrusted text={text} />
      </a>
    );
  }
  return <Untrusted text={text} />;
}

// ProposalPage is the approval page (a proposal's approval_url).
export function ProposalPage({ vault, id, perms }: { vault: string; id: string; perms: Perms }) {
  const prop = useAsync(() => unwrap(api.GET("/v1/proposals/{id}", { params: { path: { id }, query: { vault } } })), [vault, id]);
  const back = (
    <p>
      <a {...linkProps(`/vaults/${encodeURIComponent(vault)}/proposals`)}>← All proposals</a>
    </p>
  );
  if (prop.loading && !prop.data) return <Loading what="Loading proposal" />;
  if (!prop.data) {
    return (
      <>
        {back}
        <ErrorBanner error={prop.error} />
      </>
    );
  }
  const p = prop.data;
  return (
    <>
      {back}
      <div class="page-head">
        <h2>Proposal from <Untrusted text={p.created_by.name} /></h2>
        <Tag kind={statusTag[p.status]}>{p.status}</Tag>
      </div>
      <p class="muted">
        {p.created_by.kind} · proposed {fmtTime(p.created_at)} · {p.status === "pending" ? "expires " + fmtTime(p.expires_at) : "decided " + fmtTime(p.decided_at)}
        {p.decided_by ? <> by <Untrusted text={p.decided_by} /></> : ""}
      </p>
      <ProposalSummary p={p} />
      {p.status === "pending" ? (
        <Decide p={p} perms={perms} onDecided={prop.reload} />
      ) : (
        <Banner kind={p.status === "approved" ? "ok" : "info"} testid="proposal-outcome">
          {p.status === "approved"
            ? "Approved: its services and credentials are in the vault."
            : p.status === "rejected"
              ? "Rejected" + (p.reason ? ": " + visible(p.reason) : ".")
              : "Expired before anyone decided."}
        </Banner>
      )}
    </>
  );
}

function Decide({ p, perms, onDecided }: { p: Proposal; perms: Perms; onDecided: () => void }) {
  const slots = (p.credentials ?? []).filter((c) => c.action === "set");
  const [values, setValues] = useState<Record<string, string>>({});
  const [reason, setReason] = useState("");
  const [rejecting, setRejecting] = useState(false);
  const [busy, setBusy] = useState<"approve" | "reject" | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const why = perms.writeCredentials ? undefined : needWriter;
  const missing = slots.filter((c) => !c.has_value && !values[c.key]).map((c) => c.key);
  // Each replacement of what the vault holds is confirmed on its own.
  const toConfirm = (p.changes ?? []).filter((c) => c.confirm);
  const [confirmed, setConfirmed] = useState<Record<string, boolean>>({});
  const unconfirmed = toConfirm.filter((c) => !confirmed[c.confirm!]);

  const decide = async (what: "approve" | "reject") => {
    setBusy(what);
    setErr(null);
    try {
      if (what === "approve") {
        const credentials: Record<string, string> = {};
        for (const c of slots) if (values[c.key]) credentials[c.key] = values[c.key];
        const confirm_changes = toConfirm.filter((c) => confirmed[c.confirm!]).map((c) => c.confirm!);
        await unwrap(api.POST("/v1/admin/proposals/{id}/approve", { params: { path: { id: p.id } }, body: { vault: p.vault, credentials, confirm_changes } }));
      } else {
        await unwrap(api.POST("/v1/admin/proposals/{id}/reject", { params: { path: { id: p.id } }, body: { vault: p.vault, reason } }));
      }
      setValues({});
      onDecided();
    } catch (e) {
      setErr(e);
    }
    setBusy(null);
  };

  const notPending = err instanceof ApiError && err.code === "proposal_not_pending";
  return (
    <form
      class="card"
      aria-label="Decide"
      onSubmit={(e) => {
        e.preventDefault();
        void decide(rejecting ? "reject" : "approve");
      }}
    >
      <h3>Your decision</h3>
      {why ? (
        <Banner kind="info" testid="decide-readonly">
          You can read this proposal but not decide it. {needWriter}
        </Banner>
      ) : null}
      {why ? null : slots.map((c) => (
        <Field
          key={c.key}
          label={c.key}
          hint={c.has_value ? "The agent supplied a value; leave empty to use it, or type one to replace it." : "Required: the agent did not supply a value."}
        >
          <input
            type="password"
            name={"value-" + c.key}
            autoComplete="new-password"
            spellcheck={false}
            disabled={rejecting}
            placeholder={c.has_value ? "agent supplied a value" : ""}
            value={values[c.key] ?? ""}
            onInput={(e) => setValues({ ...values, [c.key]: e.currentTarget.value })}
          />
        </Field>
      ))}
      {why || rejecting
        ? null
        : toConfirm.map((c) => {
            const host = (c.fields ?? []).find((f) => f.field === "host");
            return (
              <label key={c.confirm} class="check confirm-change">
                <input
                  type="checkbox"
                  name={"confirm-" + c.confirm}
                  checked={!!confirmed[c.confirm!]}
                  onChange={(e) => setConfirmed({ ...confirmed, [c.confirm!]: e.currentTarget.checked })}
                />
                <span>
                  {c.target === "service" ? (
                    <>
                      Replace the existing service <strong><Untrusted text={c.name} /></strong>
                      {host ? (
                        <>
                          {" "}
                          and send its credentials to <code><Untrusted text={host.after} /></code> instead of <code><Untrusted text={host.before} /></code>
                        </>
                      ) : null}
                    </>
                  ) : (
                    <>
                      Overwrite the stored value of <code><Untrusted text={c.name} /></code>
                    </>
                  )}
                </span>
              </label>
            );
          })}
      {rejecting ? (
        <Field label="Reason" hint="The agent reads this.">
          <input name="reject-reason" value={reason} autoComplete="off" onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
      ) : null}
      {notPending ? (
        <Banner kind="warn" testid="not-pending">
          Someone decided this proposal already (or it expired).{" "}
          <Button onClick={onDecided}>Reload</Button>
        </Banner>
      ) : (
        <ErrorBanner error={err} />
      )}
      <div class="row wrap">
        {rejecting ? (
          <>
            <Button type="submit" kind="danger" busy={busy === "reject"} reason={why}>
              Reject proposal
            </Button>
            <Button onClick={() => setRejecting(false)}>Cancel</Button>
          </>
        ) : (
          <>
            <Button
              type="submit"
              kind="primary"
              busy={busy === "approve"}
              reason={
                why ??
                (missing.length
                  ? "Enter a value for " + missing.join(", ") + "."
                  : unconfirmed.length
                    ? "Confirm each replacement of what the vault holds first."
                    : undefined)
              }
            >
              Approve
            </Button>
            <Button kind="danger" onClick={() => setRejecting(true)} reason={why}>
              Reject…
            </Button>
          </>
        )}
      </div>
    </form>
  );
}
