// The vaults list, with create.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { linkProps, navigate } from "../router";
import { kindLabel, spec, StorePicker, type Kind, type StoreChoice } from "../storePicker";
import { Button, Empty, ErrorBanner, Field, fmtTime, Loading, Tag, useAsync } from "../ui";

export function VaultsPage({ me }: { me: Schemas["MeOutputBody"] }) {
  const vaults = useAsync(() => unwrap(api.GET("/v1/vaults")), []);
  const canCreate = me.role === "owner" || me.role === "member";
  const [creating, setCreating] = useState(false);
  const list = vaults.data?.vaults ?? [];
  return (
    <section>
      <div class="page-head">
        <h1>Vaults</h1>
        {creating ? null : (
          <Button kind="primary" onClick={() => setCreating(true)} reason={canCreate ? undefined : "Your instance role may not create vaults."}>
            New vault
          </Button>
        )}
      </div>
      {creating ? <CreateVault onDone={() => setCreating(false)} /> : null}
      <ErrorBanner error={vaults.error} />
      {vaults.loading && !vaults.data ? (
        <Loading what="Loading vaults" />
      ) : list.length === 0 && !vaults.error ? (
        <Empty>No vaults yet. A vault holds the credentials and services one group of agents may use.</Empty>
      ) : (
        <ul class="list" aria-label="Vaults">
          {list.map((v) => (
            <li key={v.id} class="list-row" data-vault={v.name}>
              <div class="item">
                <div class="item-main">
                  <a {...linkProps("/vaults/" + encodeURIComponent(v.name))} class="list-main">
                    <strong>{v.name}</strong>
                  </a>
                  {v.store_kind ? <Tag kind={v.store_kind === "builtin" ? "builtin" : "external"}>{kindLabel(v.store_kind)}</Tag> : null}
                  {v.credentials !== undefined ? <span class="muted small" data-testid="vault-counts">{plural(v.credentials, "credential")} · {plural(v.services ?? 0, "service")}</span> : null}
                </div>
                <div class="item-side">
                  <span class="muted small">created {fmtTime(v.created_at)}</span>
                  {v.role ? <Tag kind="role">{v.role}</Tag> : <Tag kind="muted">not joined</Tag>}
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function CreateVault({ onDone }: { onDone: () => void }) {
  const kinds = useAsync(() => unwrap(api.GET("/v1/instance/credential-stores")), []);
  const [name, setName] = useState("");
  const [store, setStore] = useState<StoreChoice>({ kind: "builtin", config: {} });
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const list: Kind[] = kinds.data?.kinds ?? [];
  return (
    <form
      class="card"
      aria-label="New vault"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setErr(null);
        try {
          const body: Schemas["CreateVaultInputBody"] = { name };
          if (store.kind !== "builtin") body.credential_store = spec(list, store);
          const v = await unwrap(api.POST("/v1/vaults", { body }));
          onDone();
          navigate("/vaults/" + encodeURIComponent(v.name));
        } catch (x) {
          setErr(x);
          setBusy(false);
        }
      }}
    >
      <h2>New vault</h2>
      <Field label="Name" hint="Lowercase letters, digits and dashes.">
        <input name="vault-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" />
      </Field>
      {kinds.loading ? <Loading what="Loading store kinds" /> : <StorePicker kinds={list} value={store} onChange={setStore} idPrefix="create" />}
      <ErrorBanner error={err ?? kinds.error} />
      <div class="row">
        <Button type="submit" kind="primary" busy={busy}>
          Create vault
        </Button>
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
