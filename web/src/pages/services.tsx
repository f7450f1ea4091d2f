// The Services tab: which hosts get which credential, one form per auth type.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Button, Empty, ErrorBanner, Field, Loading, Tag, useAsync } from "../ui";
import { needWriter, type Perms } from "./vault";

type Service = Schemas["Service"];
type Auth = Schemas["Auth"];
type AuthType = Auth["type"];

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
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const reason = perms.writeServices ? undefined : needWriter;
  if (!perms.read) return <Empty>Join the vault to see its services.</Empty>;
  const list = svcs.data?.services ?? [];
  const keyNames = (keys.data?.credentials ?? []).map((c) => c.key);
  return (
    <>
      <div class="page-head">
        <h2>Services</h2>
        {editing === "new" ? null : (
          <Button kind="primary" onClick={() => setEditing("new")} reason={reason}>
            Add service
          </Button>
        )}
      </div>
      {editing === "new" ? (
        <ServiceForm
          vault={vault}
          keys={keyNames}
          onDone={(saved) => {
            setEditing(null);
            if (saved) svcs.reload();
          }}
        />
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
    </>
  );
}

function ServiceForm({ vault, keys, initial, onDone }: { vault: string; keys: string[]; initial?: Service; onDone: (saved: boolean) => void }) {
  const [name, setName] = useState(initial?.name ?? "");
  const [host, setHost] = useState(initial?.host ?? "");
  const [auth, setAuth] = useState<Auth>(initial?.auth ?? { type: "bearer" });
  const [headers, setHeaders] = useState(
    Object.entries(initial?.auth.headers ?? {})
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
        const svc: Service = { ...(initial ?? {}), name, host, auth: a };
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
      {authFields[auth.type].map((f) => (
        <Field key={f.key} label={f.label} hint={f.hint}>
          <input
            name={"auth-" + f.key}
            required={f.required}
            list={f.credential ? listId : undefined}
            value={(auth[f.key] as string | undefined) ?? ""}
            autoComplete="off"
            spellcheck={false}
            onInput={(e) => setAuth({ ...auth, [f.key]: e.currentTarget.value })}
          />
        </Field>
      ))}
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
