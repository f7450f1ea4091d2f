// StorePicker chooses a vault's credential store: Built-in, or one of the
// external kinds the server offers, with that kind's config form.
import { cleanConfig, initialConfig, SchemaFields, type Config, type JSONSchema } from "./schemaForm";
import type { Schemas } from "./api/client";
import { Field } from "./ui";

export type Kind = Schemas["KindInfo"];
export type StoreChoice = { kind: string; config: Config; poll?: number };

// Shipped kinds whose name is not simply capitalised.
const labels: Record<string, string> = { builtin: "Built-in", openbao: "OpenBao" };

export function kindLabel(k: string) {
  return labels[k] ?? k.charAt(0).toUpperCase() + k.slice(1);
}

// spec turns a choice into the API's CredentialStoreSpec.
export function spec(kinds: Kind[], c: StoreChoice): Schemas["CredentialStoreSpec"] {
  if (c.kind === "builtin") return { kind: "builtin" };
  const k = kinds.find((x) => x.kind === c.kind);
  const s: Schemas["CredentialStoreSpec"] = { kind: c.kind, config: cleanConfig(k?.config_schema as JSONSchema, c.config) };
  if (c.poll) s.poll_interval_seconds = c.poll;
  return s;
}

export function StorePicker({ kinds, value, onChange, idPrefix }: { kinds: Kind[]; value: StoreChoice; onChange: (c: StoreChoice) => void; idPrefix: string }) {
  const external = kinds.filter((k) => k.kind !== "builtin");
  const cur = kinds.find((k) => k.kind === value.kind);
  return (
    <>
      <Field
        label="Credential store"
        hint={external.length === 0 ? "Only the built-in store is available: this server has no external store configured." : cur?.description}
      >
        <select
          name={idPrefix + "-kind"}
          value={value.kind}
          onChange={(e) => {
            const kind = e.currentTarget.value;
            const k = kinds.find((x) => x.kind === kind);
            onChange({ kind, config: initialConfig(k?.config_schema as JSONSchema) });
          }}
        >
          <option value="builtin">Built-in</option>
          {external.map((k) => (
            <option key={k.kind} value={k.kind}>
              {kindLabel(k.kind)}
            </option>
          ))}
        </select>
      </Field>
      {value.kind !== "builtin" && cur ? (
        <>
          <SchemaFields schema={cur.config_schema as JSONSchema} value={value.config} onChange={(config) => onChange({ ...value, config })} idPrefix={idPrefix} />
          {cur.polls ? (
            <Field label="Sync every (seconds, optional)" hint="Default 60.">
              <input
                type="number"
                min={1}
                name={idPrefix + "-poll"}
                value={value.poll ?? ""}
                onInput={(e) => onChange({ ...value, poll: e.currentTarget.value ? Number(e.currentTarget.value) : undefined })}
              />
            </Field>
          ) : null}
        </>
      ) : null}
    </>
  );
}
