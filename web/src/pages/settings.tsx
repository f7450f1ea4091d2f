// The Settings tab: the credential store (through a drawer with a typed
// confirmation), the unmatched-host policy, rename and delete.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { navigate } from "../router";
import type { JSONSchema } from "../schemaForm";
import { initialConfig } from "../schemaForm";
import { kindLabel, spec, StorePicker, type StoreChoice } from "../storePicker";
import { Banner, Button, Drawer, ErrorBanner, Field, fmtTime, Loading, Tag, TypedConfirm, useAsync } from "../ui";
import { needAdmin, type Ctx, type Perms } from "./vault";

export function SettingsTab({ ctx, perms, onChanged }: { ctx: Ctx; perms: Perms; onChanged: () => void }) {
  const name = ctx.vault.name;
  const settings = useAsync(
    () => (perms.readSettings ? unwrap(api.GET("/v1/vaults/{name}/settings", { params: { path: { name } } })) : Promise.resolve(undefined)),
    [name, perms.readSettings],
  );
  const [drawer, setDrawer] = useState(false);
  const [danger, setDanger] = useState<"rename" | "delete" | null>(null);
  const [newName, setNewName] = useState("");
  const cs = ctx.credential_store;
  const adminReason = perms.admin ? undefined : needAdmin;
  return (
    <>
      <div class="page-head">
        <h2>Settings</h2>
        <Button kind="primary" onClick={() => setDrawer(true)} reason={adminReason}>
          Edit settings
        </Button>
      </div>
      <dl class="facts card">
        <div>
          <dt>Credential store</dt>
          <dd data-testid="store-kind">{kindLabel(cs.kind)}</dd>
        </div>
        {cs.config && typeof cs.config === "object"
          ? Object.entries(cs.config as Record<string, unknown>).map(([k, v]) => (
              <div key={k}>
                <dt>{k.replace(/_/g, " ")}</dt>
                <dd>
                  <code>{String(v)}</code>
                </dd>
              </div>
            ))
          : null}
        {cs.read_only ? (
          <div>
            <dt>Last sync</dt>
            <dd>
              {cs.last_sync_status ? <Tag kind={cs.last_sync_status}>{cs.last_sync_status}</Tag> : "never"} {fmtTime(cs.last_synced_at)}
            </dd>
          </div>
        ) : null}
      </dl>
      {perms.readSettings ? (
        <dl class="facts card">
          <div>
            <dt>Requests to hosts that match no service</dt>
            <dd data-testid="unmatched-policy">{settings.data ? policyText(settings.data.unmatched_host_policy) : settings.loading ? "…" : "—"}</dd>
          </div>
        </dl>
      ) : null}
      {adminReason ? <p class="muted">{adminReason}</p> : null}
      <ErrorBanner error={settings.error} />

      <h2>Danger zone</h2>
      <div class="card danger-zone">
        {danger === "rename" ? (
          <>
            <Field label="New name">
              <input name="new-vault-name" value={newName} onInput={(e) => setNewName(e.currentTarget.value)} autoComplete="off" />
            </Field>
            <TypedConfirm
              name={name}
              action="Rename vault"
              consequence={<p>Agents and scripts that name this vault must use the new name afterwards.</p>}
              onCancel={() => setDanger(null)}
              onConfirm={async () => {
                const v = await unwrap(api.PATCH("/v1/vaults/{name}", { params: { path: { name } }, body: { name: newName } }));
                navigate("/vaults/" + encodeURIComponent(v.name) + "/settings", true);
              }}
            />
          </>
        ) : danger === "delete" ? (
          <TypedConfirm
            name={name}
            action="Delete vault"
            consequence={<p>Deleting the vault removes its credentials, services, grants and logs. This cannot be undone.</p>}
            onCancel={() => setDanger(null)}
            onConfirm={async () => {
              await unwrap(api.DELETE("/v1/vaults/{name}", { params: { path: { name } } }));
              navigate("/", true);
            }}
          />
        ) : (
          <div class="row">
            <Button onClick={() => setDanger("rename")} reason={adminReason}>
              Rename vault
            </Button>
            <Button kind="danger" onClick={() => setDanger("delete")} reason={adminReason}>
              Delete vault
            </Button>
          </div>
        )}
      </div>
      {drawer ? (
        <SettingsDrawer
          ctx={ctx}
          settings={settings.data}
          onClose={() => setDrawer(false)}
          onSaved={() => {
            setDrawer(false);
            settings.reload();
            onChanged();
          }}
        />
      ) : null}
    </>
  );
}

function policyText(p: string) {
  return p === "deny" ? "Refused (deny)" : "Forwarded without credentials (passthrough)";
}

function SettingsDrawer({
  ctx,
  settings,
  onClose,
  onSaved,
}: {
  ctx: Ctx;
  settings?: Schemas["VaultSettings"];
  onClose: () => void;
  onSaved: () => void;
}) {
  const name = ctx.vault.name;
  const cs = ctx.credential_store;
  const kinds = useAsync(() => unwrap(api.GET("/v1/instance/credential-stores")), []);
  const list = kinds.data?.kinds ?? [];
  const curSchema = list.find((k) => k.kind === cs.kind)?.config_schema as JSONSchema | undefined;
  const [store, setStore] = useState<StoreChoice | null>(null);
  const choice: StoreChoice = store ?? { kind: cs.kind, config: initialConfig(curSchema, cs.config), poll: cs.poll_interval_seconds || undefined };
  const [policy, setPolicy] = useState(settings?.unmatched_host_policy ?? "passthrough");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);

  const kindChanged = choice.kind !== cs.kind;
  const configChanged = store !== null && !kindChanged && JSON.stringify(spec(list, choice)) !== JSON.stringify(spec(list, { kind: cs.kind, config: initialConfig(curSchema, cs.config), poll: cs.poll_interval_seconds || undefined }));
  const policyChanged = settings !== undefined && policy !== settings.unmatched_host_policy;

  const saveStore = async () => {
    await unwrap(api.PATCH("/v1/vaults/{name}/credential-store", { params: { path: { name } }, body: spec(list, choice) }));
  };
  const savePolicy = async () => {
    if (policyChanged) await unwrap(api.PATCH("/v1/vaults/{name}/settings", { params: { path: { name } }, body: { unmatched_host_policy: policy } }));
  };

  const consequence =
    cs.kind === "builtin" ? (
      <p>
        Connecting <strong>{name}</strong> to {kindLabel(choice.kind)} <strong>overwrites its built-in credentials</strong> with the secrets synced from{" "}
        {kindLabel(choice.kind)}, and makes them read-only here.
      </p>
    ) : choice.kind === "builtin" ? (
      <p>
        Disconnecting <strong>{name}</strong> from {kindLabel(cs.kind)} <strong>keeps the synced secrets as built-in credentials</strong>; they stop syncing and
        become editable here.
      </p>
    ) : (
      <p>
        Moving <strong>{name}</strong> from {kindLabel(cs.kind)} to {kindLabel(choice.kind)} replaces its credentials with those synced from{" "}
        {kindLabel(choice.kind)}.
      </p>
    );

  return (
    <Drawer title="Edit settings" onClose={onClose}>
      {kinds.loading ? (
        <Loading what="Loading store kinds" />
      ) : confirming ? (
        <TypedConfirm
          name={name}
          kind="primary"
          action={choice.kind === "builtin" ? "Disconnect and save" : "Connect and save"}
          consequence={consequence}
          onCancel={() => setConfirming(false)}
          onConfirm={async () => {
            await saveStore();
            await savePolicy();
            onSaved();
          }}
        />
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (kindChanged) {
              setConfirming(true);
              return;
            }
            setBusy(true);
            setErr(null);
            try {
              if (configChanged) await saveStore();
              await savePolicy();
              onSaved();
            } catch (x) {
              setErr(x);
              setBusy(false);
            }
          }}
        >
          <StorePicker kinds={list} value={choice} onChange={setStore} idPrefix="settings" />
          {kindChanged ? <Banner kind="warn">Saving asks you to type the vault name: {consequence}</Banner> : null}
          <Field label="Requests to hosts that match no service">
            <select name="unmatched-host-policy" value={policy} onChange={(e) => setPolicy(e.currentTarget.value as "passthrough" | "deny")}>
              <option value="passthrough">Forward without credentials (passthrough)</option>
              <option value="deny">Refuse (deny)</option>
            </select>
          </Field>
          <ErrorBanner error={err ?? kinds.error} />
          <div class="row">
            <Button type="submit" kind="primary" busy={busy}>
              Save
            </Button>
            <Button onClick={onClose}>Cancel</Button>
          </div>
        </form>
      )}
    </Drawer>
  );
}
