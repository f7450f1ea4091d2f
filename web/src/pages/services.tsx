// The Services tab: which hosts get which credential, one form per auth
// type; new services can start from the built-in catalog or from a host an
// agent reached without one.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Button, Empty, ErrorBanner, Field, fmtTime, Loading, Options, Tag, useAsync } from "../ui";
import { ExplainRequest } from "./explain";
import { needWriter, type Perms } from "./vault";

type Service = Schemas["Service"];
type Auth = Schemas["Auth"];
type AuthType = Auth["type"];
type CatalogEntry = Schemas["CatalogEntry"];
type DiscoveredHost = Schemas["DiscoveredHost"];

// authFields lists, per auth type, the fields its form shows.
const authFields: Record<AuthType, { key: keyof Auth; label: string; hint: string; required?: boolean; credential?: boolean }[]> = {
  bearer: [{ key: "token", label: "Token credential", hint: "Key of the credential sent as Authorization: Bearer.", required: true, credential: true }],
  basic: [
    { key: "username", label: "User name credential", hint: "Key of the credential used as the user name.", required: true, credential: true },
    { key: "password", label: "Password credential (optional)", hint: "Key of the credential used as the password.", credential: true },
  ],
  "api-key": [
    { key: "key", label: "API key credential", hint: "Key of the credential holding the API key.", required: true, credential: true },
    { key: "header", label: "Header (optional)", hint: "Default X-API-Key." },
    { key: "prefix", label: "Prefix (optional)", hint: "Literal text before the value." },
  ],
  custom: [],
  passthrough: [],
};

const authHelp: Record<AuthType, string> = {
  bearer: "Sends Authorization: Bearer <credential>.",
  basic: "Sends HTTP basic authentication built from credentials.",
  "api-key": "Sends the credential in a header.",
  custom: "Sets headers from templates such as Token {{ API_KEY }}.",
  passthrough: "Forwards requests without adding credentials.",
};

export function ServicesTab({ vault, perms }: { vault: string; perms: Perms }) {
  const svcs = useAsync(() => (perms.read ? unwrap(api.GET("/v1/vaults/{name}/services", { params: { path: { name: vault } } })) : Promise.resolve(null)), [vault]);
  const keys = useAsync(() => (perms.read ? unwrap(api.GET("/v1/credentials", { params: { query: { vault } } })) : Promise.resolve(null)), [vault]);
  const [editing, setEditing] = useState<Service | "new" | null>(null);
  // preset fills the new-service form (from the catalog or a discovered
  // host); the form is re-mounted (its key) when it changes.
  const [preset, setPreset] = useState<{ svc: Service; from: string } | null>(null);
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const catalog = useAsync(() => (perms.writeServices ? unwrap(api.GET("/v1/service-catalog")) : Promise.resolve(null)), []);
  const hosts = useAsync(
    () => (perms.writeServices ? unwrap(api.GET("/v1/vaults/{name}/discovered-hosts", { params: { path: { name: vault } } })) : Promise.resolve(null)),
    [vault],
  );
  const reason = perms.writeServices ? undefined : needWriter;
  if (!perms.read) return <Empty>Join the vault to see its services.</Empty>;
  const list = svcs.data?.services ?? [];
  const keyNames = (keys.data?.credentials ?? []).map((c) => c.key);
  const entries = catalog.data?.services ?? [];
  const startNew = (p: { svc: Service; from: string } | null) => {
    setPreset(p);
    setEditing("new");
  };
  return (
    <>
      <div class="page-head">
        <h2>Services</h2>
        {editing === "new" ? null : (
          <Button kind="primary" onClick={() => startNew(null)} reason={reason}>
            Add service
          </Button>
        )}
      </div>
      {editing === "new" ? (
        <>
          <CatalogPicker entries={entries} error={catalog.error} chosen={preset?.from} onPick={(e) => setPreset({ svc: structuredClone(e.service), from: e.id })} />
          <ServiceForm
            key={preset ? preset.from + preset.svc.host : "blank"}
            vault={vault}
            keys={keyNames}
            preset={preset?.svc}
            onDone={(saved) => {
              setEditing(null);
              setPreset(null);
              if (saved) {
                svcs.reload();
                hosts.reload();
              }
            }}
          />
        </>
      ) : null}
      <ErrorBanner error={svcs.error ?? rowErr} />
      {svcs.loading && !svcs.data ? (
        <Loading what="Loading services" />
      ) : list.length === 0 && !svcs.error ? (
        <Empty>No services yet. A service tells the proxy which credential to attach for a host.</Empty>
      ) : (
        <ul class="list" aria-label="Services">
          {list.map((s) => (
            <li key={s.name} class="list-row list-col" data-service={s.name}>
              <div class="item">
                <div class="item-main">
                  <strong>{s.name}</strong>
                  <code class="muted">{s.host}</code>
                  <Tag kind="auth">{s.auth.type}</Tag>
                  {s.enabled === false ? <Tag kind="muted">disabled</Tag> : <Tag kind="ok">enabled</Tag>}
                </div>
                <div class="item-side">
                  <Button onClick={() => setEditing(s)} reason={reason} aria-label={`Edit ${s.name}`}>
                    Edit
                  </Button>
                  <Button
                    busy={busy === "t" + s.name}
                    reason={reason}
                    onClick={async () => {
                      setBusy("t" + s.name);
                      setRowErr(null);
                      try {
                        await unwrap(
                          api.PATCH("/v1/vaults/{name}/services/{service}", { params: { path: { name: vault, service: s.name } }, body: { enabled: s.enabled === false } }),
                        );
                        svcs.reload();
                      } catch (e) {
                        setRowErr(e);
                      }
                      setBusy(null);
                    }}
                  >
                    {s.enabled === false ? "Enable" : "Disable"}
                  </Button>
                  <Button
                    kind="danger"
                    busy={busy === "d" + s.name}
                    reason={reason}
                    aria-label={`Remove ${s.name}`}
                    onClick={async () => {
                      if (!confirm(`Remove the service ${s.name}? Requests to ${s.host} will no longer get credentials.`)) return;
                      setBusy("d" + s.name);
                      setRowErr(null);
                      try {
                        await unwrap(api.DELETE("/v1/vaults/{name}/services/{service}", { params: { path: { name: vault, service: s.name } } }));
                        svcs.reload();
                      } catch (e) {
                        setRowErr(e);
                      }
                      setBusy(null);
                    }}
                  >
                    Remove
                  </Button>
                </div>
              </div>
              {editing !== "new" && editing?.name === s.name ? (
                <ServiceForm
                  vault={vault}
                  keys={keyNames}
                  initial={s}
                  onDone={(saved) => {
                    setEditing(null);
                    if (saved) svcs.reload();
                  }}
                />
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {perms.writeServices ? (
        <DiscoveredHosts
          hosts={hosts.data?.hosts ?? []}
          error={hosts.error}
          entries={entries}
          onCreate={(h, e) => {
            startNew({ svc: serviceFromHost(h, e), from: "host:" + h.host });
            window.scrollTo({ top: 0 });
          }}
        />
      ) : null}
      {perms.explain ? <ExplainRequest vault={vault} /> : null}
    </>
  );
}

// CatalogPicker offers the built-in catalog with a search; picking an
// entry fills the form below it.
function CatalogPicker({ entries, error, chosen, onPick }: { entries: CatalogEntry[]; error: unknown; chosen?: string; onPick: (e: CatalogEntry) => void }) {
  const [q, setQ] = useState("");
  const needle = q.trim().toLowerCase();
  const shown = entries.filter((e) => !needle || (e.id + " " + e.name + " " + e.description + " " + e.service.host).toLowerCase().includes(needle));
  return (
    <section class="card catalog" aria-label="Service catalog">
      <div class="row wrap">
        <h3 class="catalog-title">Start from the catalog</h3>
        <span class="spacer" />
        <input
          name="catalog-search"
          type="search"
          placeholder="Search GitHub, Stripe, Slack…"
          aria-label="Search the catalog"
          value={q}
          autoComplete="off"
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </div>
      <ErrorBanner error={error} />
      {shown.length === 0 ? (
        <p class="muted">{entries.length ? `Nothing in the catalog matches “${q}”: fill in the form below.` : "Loading the catalog…"}</p>
      ) : (
        <ul class="catalog-list">
          {shown.map((e) => (
            <li key={e.id}>
              <button
                type="button"
                class={"catalog-item" + (chosen === e.id ? " chosen" : "")}
                aria-pressed={chosen === e.id}
                data-catalog={e.id}
                onClick={() => onPick(e)}
              >
                <strong>{e.name}</strong>
                <code class="muted small">{e.service.host}</code>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// serviceFromHost drafts a service for a discovered host: the catalog
// entry's when one covers it (a wildcard entry narrowed to the host seen),
// else a bearer service for exactly that host.
function serviceFromHost(h: DiscoveredHost, entries: CatalogEntry[]): Service {
  const hostname = h.host.replace(/:\d+$/, "");
  const e = entries.find((x) => x.id === h.catalog_id);
  if (e) {
    const svc = structuredClone(e.service);
    if (svc.host.startsWith("*.")) svc.host = hostname;
    return svc;
  }
  const label = hostname.split(".").find((l) => l !== "api" && l !== "www") ?? "service";
  const name = label.toLowerCase().replace(/[^a-z0-9_-]/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 64) || "service";
  return { name, host: h.host, auth: { type: "bearer", token: "" } };
}

// DiscoveredHosts lists hosts agents reached without a service, each one
// click from a pre-filled service form.
function DiscoveredHosts({
  hosts,
  error,
  entries,
  onCreate,
}: {
  hosts: DiscoveredHost[];
  error: unknown;
  entries: CatalogEntry[];
  onCreate: (h: DiscoveredHost, entries: CatalogEntry[]) => void;
}) {
  const names = new Map(entries.map((e) => [e.id, e.name]));
  return (
    <section class="discovered" aria-label="Hosts without a service">
      <h3>Hosts without a service</h3>
      <p class="muted small">Hosts agents reached through the proxy that no service covers (host only, never paths or values).</p>
      <ErrorBanner error={error} />
      {hosts.length === 0 ? (
        <Empty>No requests to hosts without a service.</Empty>
      ) : (
        <ul class="list">
          {hosts.map((h) => (
            <li key={h.host} class="list-row" data-host={h.host}>
              <code class="host">{h.host}</code>
              {h.catalog_id ? <Tag kind="auth">{names.get(h.catalog_id) ?? h.catalog_id}</Tag> : null}
              <span class="muted small">
                {h.count} request{h.count === 1 ? "" : "s"}, last {fmtTime(h.last_seen)}
              </span>
              <span class="spacer" />
              <Button onClick={() => onCreate(h, entries)} aria-label={`Create service for ${h.host}`}>
                Create service
              </Button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// KeyPicker is a credential-key field: a list of the vault's keys to pick
// from, and free text for a key that is to be added later.
function KeyPicker({
  name,
  value,
  keys,
  list,
  required,
  onChange,
}: {
  name: string;
  value: string;
  keys: string[];
  list: string;
  required?: boolean;
  onChange: (v: string) => void;
}) {
  const known = keys.includes(value);
  return (
    <div class="key-picker">
      <select name={name + "-pick"} aria-label="Pick one of the vault's keys" value={known ? value : ""} onChange={(e) => e.currentTarget.value && onChange(e.currentTarget.value)}>
        <option value="">{keys.length ? "Vault keys…" : "No keys yet"}</option>
        <Options values={keys} />
      </select>
      <input
        name={name}
        required={required}
        list={list}
        value={value}
        autoComplete="off"
        spellcheck={false}
        placeholder="KEY_NAME"
        onInput={(e) => onChange(e.currentTarget.value)}
      />
      {value && !known ? <span class="field-hint key-new">Not in this vault yet: add it on the Credentials tab.</span> : null}
    </div>
  );
}

function ServiceForm({
  vault,
  keys,
  initial,
  preset,
  onDone,
}: {
  vault: string;
  keys: string[];
  initial?: Service;
  preset?: Service;
  onDone: (saved: boolean) => void;
}) {
  const start = initial ?? preset;
  const [name, setName] = useState(start?.name ?? "");
  const [host, setHost] = useState(start?.host ?? "");
  const [auth, setAuth] = useState<Auth>(start?.auth ?? { type: "bearer" });
  const [headers, setHeaders] = useState(
    Object.entries(start?.auth.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n"),
  );
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const listId = "cred-keys-" + (initial?.name ?? "new");
  return (
    <form
      class="card"
      aria-label={initial ? `Edit service ${initial.name}` : "Add service"}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setErr(null);
        const a: Auth = { type: auth.type };
        for (const f of authFields[auth.type]) if (auth[f.key]) (a as Record<string, unknown>)[f.key] = auth[f.key];
        if (auth.type === "custom") {
          a.headers = {};
          for (const line of headers.split("\n")) {
            const i = line.indexOf(":");
            if (i > 0) a.headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
          }
        }
        const svc: Service = { ...(start ?? {}), name, host, auth: a };
        try {
          await unwrap(api.POST("/v1/vaults/{name}/services", { params: { path: { name: vault } }, body: { services: [svc] } }));
          onDone(true);
        } catch (x) {
          setErr(x);
          setBusy(false);
        }
      }}
    >
      <datalist id={listId}>
        {keys.map((k) => (
          <option key={k} value={k} />
        ))}
      </datalist>
      <div class="grid2">
        <Field label="Name" hint="Lowercase letters, digits, - and _.">
          <input name="service-name" required value={name} disabled={!!initial} autoComplete="off" onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Host" hint="api.example.com, *.example.com, host:port/path*">
          <input name="service-host" required value={host} autoComplete="off" onInput={(e) => setHost(e.currentTarget.value)} />
        </Field>
      </div>
      <Field label="Authentication" hint={authHelp[auth.type]}>
        <select name="service-auth" value={auth.type} onChange={(e) => setAuth({ type: e.currentTarget.value as AuthType })}>
          <option value="bearer">Bearer token</option>
          <option value="basic">Basic</option>
          <option value="api-key">API key header</option>
          <option value="custom">Custom headers</option>
          <option value="passthrough">Passthrough</option>
        </select>
      </Field>
      {authFields[auth.type].map((f) =>
        f.credential ? (
          <Field key={f.key} label={f.label} hint={f.hint}>
            <KeyPicker
              name={"auth-" + f.key}
              required={f.required}
              keys={keys}
              list={listId}
              value={(auth[f.key] as string | undefined) ?? ""}
              onChange={(v) => setAuth({ ...auth, [f.key]: v })}
            />
          </Field>
        ) : (
          <Field key={f.key} label={f.label} hint={f.hint}>
            <input
              name={"auth-" + f.key}
              value={(auth[f.key] as string | undefined) ?? ""}
              autoComplete="off"
              spellcheck={false}
              onInput={(e) => setAuth({ ...auth, [f.key]: e.currentTarget.value })}
            />
          </Field>
        ),
      )}
      {auth.type === "custom" ? (
        <Field label="Headers" hint="One per line, Name: template, e.g. Authorization: Token {{ API_KEY }}">
          <textarea name="auth-headers" rows={3} required value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />
        </Field>
      ) : null}
      <ErrorBanner error={err} />
      <div class="row">
        <Button type="submit" kind="primary" busy={busy}>
          Save service
        </Button>
        <Button onClick={() => onDone(false)}>Cancel</Button>
      </div>
    </form>
  );
}
