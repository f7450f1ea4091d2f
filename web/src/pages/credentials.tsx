// The Credentials tab: key names and types only; values go in, never out.
import { useState } from "preact/hooks";
import { api, ApiError, errorText, unwrap, type Schemas } from "../api/client";
import { kindLabel } from "../storePicker";
import { Banner, Button, Empty, ErrorBanner, Field, fmtTime, Loading, RowTable, Tag, useAsync } from "../ui";
import { needWriter, type Ctx, type Perms } from "./vault";

export function CredentialsTab({ ctx, perms, onStoreChanged }: { ctx: Ctx; perms: Perms; onStoreChanged: () => void }) {
  const vault = ctx.vault.name;
  const creds = useAsync(() => (perms.read ? unwrap(api.GET("/v1/credentials", { params: { query: { vault } } })) : Promise.resolve(null)), [vault, perms.read]);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const cs = ctx.credential_store;
  const ro = cs.read_only;
  const list = creds.data?.credentials ?? [];
  const writeReason = ro ? `Read-only: credentials come from ${kindLabel(cs.kind)}.` : perms.writeCredentials ? undefined : needWriter;
  if (!perms.read) return <Empty>Join the vault to see its credentials.</Empty>;
  return (
    <>
      {ro ? (
        <SyncPanel
          ctx={ctx}
          perms={perms}
          onSynced={() => {
            creds.reload();
            onStoreChanged();
          }}
        />
      ) : null}
      <div class="page-head">
        <h2>Credentials</h2>
        {ro || adding ? null : (
          <Button kind="primary" onClick={() => setAdding(true)} reason={writeReason}>
            Add credential
          </Button>
        )}
      </div>
      {adding ? (
        <CredentialForm
          vault={vault}
          onDone={(saved) => {
            setAdding(false);
            if (saved) creds.reload();
          }}
        />
      ) : null}
      <ErrorBanner error={creds.error ?? rowErr} />
      {creds.loading && !creds.data ? (
        <Loading what="Loading credentials" />
      ) : list.length === 0 && !creds.error ? (
        <Empty>{ro ? "No credentials synced yet." : "No credentials yet. Add one, and reference its key from a service."}</Empty>
      ) : (
        <table class="table stack" aria-label="Credentials">
          <thead>
            <tr>
              <th>Key</th>
              <th>Type</th>
              <th class="hide-sm">Updated</th>
              <th class="actions">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr key={c.key} data-key={c.key}>
                <td class="wide">
                  <code>{c.key}</code>
                  {c.secret ? <span class="muted small"> from {c.secret}</span> : null}
                </td>
                <td>
                  <Tag kind={c.type}>{c.type}</Tag>
                  {c.unavailable ? <Tag kind="error">unavailable</Tag> : null}
                </td>
                <td class="hide-sm muted small">{c.type === "dynamic" ? "leased on use" : fmtTime(c.updated_at)}</td>
                <td class="actions">
                  {ro || c.type === "dynamic" ? null : editing === c.key ? null : (
                    <>
                      <Button onClick={() => setEditing(c.key)} reason={writeReason} aria-label={`Edit ${c.key}`}>
                        Edit
                      </Button>
                      <Button
                        kind="danger"
                        busy={deleting === c.key}
                        reason={writeReason}
                        aria-label={`Delete ${c.key}`}
                        onClick={async () => {
                          if (!confirm(`Delete the credential ${c.key}? Services that use it will fail until it is set again.`)) return;
                          setDeleting(c.key);
                          setRowErr(null);
                          try {
                            await unwrap(api.DELETE("/v1/credentials", { body: { vault, keys: [c.key] } }));
                            creds.reload();
                          } catch (e) {
                            setRowErr(e);
                          }
                          setDeleting(null);
                        }}
                      >
                        Delete
                      </Button>
                    </>
                  )}
                  {editing === c.key ? (
                    <CredentialForm
                      vault={vault}
                      fixedKey={c.key}
                      onDone={(saved) => {
                        setEditing(null);
                        if (saved) creds.reload();
                      }}
                    />
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {perms.canaries ? <Canaries vault={vault} /> : null}
    </>
  );
}

// Canaries lists the vault's canary credentials by name: bait values
// `agent-vault run --canary NAME` puts in a program's environment.
function Canaries({ vault }: { vault: string }) {
  const list = useAsync(() => unwrap(api.GET("/v1/vaults/{name}/canaries", { params: { path: { name: vault } } })), [vault]);
  return (
    <section class="canaries" aria-label="Canaries">
      <h3>Canaries</h3>
      <p class="muted small">
        Bait values that <code>agent-vault run --canary NAME</code> puts in a program's environment: a request or response that carries one is blocked and its session revoked. Names only.
      </p>
      <ErrorBanner error={list.error} />
      <RowTable
        label="Canaries"
        rows={list.data?.canaries ?? []}
        loading={list.loading && !list.data}
        empty="No canaries in this vault."
        rowKey={(c) => c.id}
        columns={[
          { head: "Name", wide: true, cell: (c) => <code>{c.name}</code> },
          { head: "Created", cell: (c) => fmtTime(c.created_at) },
        ]}
      />
    </section>
  );
}

// CredentialForm sets one value; the value field is a password field and
// is cleared after saving.
function CredentialForm({ vault, fixedKey, onDone }: { vault: string; fixedKey?: string; onDone: (saved: boolean) => void }) {
  const [key, setKey] = useState(fixedKey ?? "");
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  return (
    <form
      class={fixedKey ? "inline-form" : "card"}
      aria-label={fixedKey ? `New value for ${fixedKey}` : "Add credential"}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setErr(null);
        try {
          await unwrap(api.POST("/v1/credentials", { body: { vault, credentials: { [key]: value } } }));
          setValue("");
          onDone(true);
        } catch (x) {
          setErr(x);
          setBusy(false);
        }
      }}
    >
      {fixedKey ? null : (
        <Field label="Key" hint="Upper case, digits and underscores, e.g. STRIPE_KEY.">
          <input name="credential-key" required value={key} autoComplete="off" spellcheck={false} onInput={(e) => setKey(e.currentTarget.value)} />
        </Field>
      )}
      <Field label={fixedKey ? `New value for ${fixedKey}` : "Value"} hint="Stored encrypted; never shown again.">
        <input name="credential-value" type="password" required value={value} autoComplete="new-password" onInput={(e) => setValue(e.currentTarget.value)} />
      </Field>
      <ErrorBanner error={err} />
      <div class="row">
        <Button type="submit" kind="primary" busy={busy}>
          Save
        </Button>
        <Button onClick={() => onDone(false)}>Cancel</Button>
      </div>
    </form>
  );
}

// SyncPanel shows an external store's sync state and runs a manual sync.
function SyncPanel({ ctx, perms, onSynced }: { ctx: Ctx; perms: Perms; onSynced: () => void }) {
  const vault = ctx.vault.name;
  const [summary, setSummary] = useState<Schemas["Summary"]>(ctx.credential_store);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ kind: "ok" | "error" | "warn"; text: string } | null>(null);
  const s = summary;
  return (
    <div class="card sync" data-testid="sync-panel">
      <Banner kind="info" testid="read-only-banner">
        Credentials in this vault come from <strong>{kindLabel(s.kind)}</strong> and are read-only here. Change them in {kindLabel(s.kind)}; they sync
        automatically{s.poll_interval_seconds ? ` every ${s.poll_interval_seconds} s` : ""}.
      </Banner>
      <dl class="facts">
        <div>
          <dt>Last sync</dt>
          <dd data-testid="sync-status">
            {s.last_sync_status ? <Tag kind={s.last_sync_status === "ok" ? "ok" : "error"}>{s.last_sync_status}</Tag> : <span class="muted">never</span>}
          </dd>
        </div>
        <div>
          <dt>Synced at</dt>
          <dd data-testid="sync-time">{fmtTime(s.last_synced_at)}</dd>
        </div>
        <div>
          <dt>Next sync</dt>
          <dd>{fmtTime(s.next_sync_at)}</dd>
        </div>
        <div>
          <dt>Credentials</dt>
          <dd>{s.credential_count}</dd>
        </div>
      </dl>
      {s.last_sync_error ? (
        <Banner kind="error" testid="sync-error">
          Last sync failed: {s.last_sync_error}
        </Banner>
      ) : null}
      <div class="row">
        <Button
          kind="primary"
          busy={busy}
          reason={perms.sync ? undefined : needWriter}
          onClick={async () => {
            setBusy(true);
            setResult(null);
            try {
              const r = await unwrap(api.POST("/v1/vaults/{name}/sync", { params: { path: { name: vault } } }));
              setSummary(r);
              setResult(
                r.last_sync_status === "error"
                  ? { kind: "error", text: "Sync failed: " + (r.last_sync_error ?? "unknown error") }
                  : { kind: "ok", text: `Synced ${r.credential_count} credential${r.credential_count === 1 ? "" : "s"}.` },
              );
              onSynced();
            } catch (e) {
              if (e instanceof ApiError && e.status === 409) setResult({ kind: "warn", text: "A sync is already in flight for this vault; its result will show here shortly." });
              else setResult({ kind: "error", text: errorText(e) });
            }
            setBusy(false);
          }}
        >
          {busy ? "Syncing…" : "Manual sync"}
        </Button>
        {result ? (
          <Banner kind={result.kind} testid="sync-result">
            {result.text}
          </Banner>
        ) : null}
      </div>
    </div>
  );
}
