// SchemaFields renders a store kind's per-vault config from its JSON Schema,
// so a third-party store kind gets a form without UI code. It covers the
// flat object schemas plugins declare: string, integer, number, boolean,
// enum and array-of-string properties (a list is typed comma-separated).
import { Field } from "./ui";

export type JSONSchema = {
  type?: string | string[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  format?: string;
  writeOnly?: boolean;
  items?: JSONSchema;
};

export type Config = Record<string, unknown>;

function label(name: string, s: JSONSchema) {
  return (
    s.title ??
    name
      .split("_")
      .map((w) => (/^(id|url|uri|api|ttl)$/.test(w) ? w.toUpperCase() : w))
      .join(" ")
      .replace(/^./, (c) => c.toUpperCase())
  );
}

// initialConfig fills defaults from the schema under any existing values.
export function initialConfig(schema: JSONSchema | undefined, current?: unknown): Config {
  const out: Config = {};
  for (const [k, s] of Object.entries(schema?.properties ?? {})) if (s.default !== undefined) out[k] = s.default;
  if (current && typeof current === "object") Object.assign(out, current);
  return out;
}

// cleanConfig drops empty optional fields, so the server sees only what
// the user set.
export function cleanConfig(schema: JSONSchema | undefined, c: Config): Config {
  const req = new Set(schema?.required ?? []);
  const out: Config = {};
  for (const [k, v] of Object.entries(c)) {
    const empty = v === "" || v === undefined || (Array.isArray(v) && v.length === 0);
    if (!empty || req.has(k)) out[k] = v ?? "";
  }
  return out;
}

export function SchemaFields({
  schema,
  value,
  onChange,
  idPrefix,
  errors,
}: {
  schema?: JSONSchema;
  value: Config;
  onChange: (c: Config) => void;
  idPrefix: string;
  errors?: Record<string, string>;
}) {
  const props = Object.entries(schema?.properties ?? {});
  if (props.length === 0) return null;
  const req = new Set(schema?.required ?? []);
  const set = (k: string, v: unknown) => onChange({ ...value, [k]: v });
  return (
    <fieldset class="schema-fields">
      {props.map(([k, s]) => {
        const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
        const name = `${idPrefix}-${k}`;
        const l = label(k, s) + (req.has(k) ? "" : " (optional)");
        const err = errors?.[k];
        if (s.enum) {
          return (
            <Field key={k} label={l} hint={s.description} error={err}>
              <select name={name} value={String(value[k] ?? "")} onChange={(e) => set(k, e.currentTarget.value)}>
                {req.has(k) ? null : <option value="">—</option>}
                {s.enum.map((o) => (
                  <option key={String(o)} value={String(o)}>
                    {String(o)}
                  </option>
                ))}
              </select>
            </Field>
          );
        }
        if (t === "boolean") {
          return (
            <label key={k} class="check">
              <input type="checkbox" name={name} checked={value[k] === true} onChange={(e) => set(k, e.currentTarget.checked)} />
              {l}
              {s.description ? <span class="field-hint"> — {s.description}</span> : null}
            </label>
          );
        }
        if (t === "array") {
          const list = Array.isArray(value[k]) ? (value[k] as unknown[]).map(String) : [];
          return (
            <Field key={k} label={l} hint={(s.description ? s.description + " " : "") + "Separate entries with commas."} error={err}>
              <input
                name={name}
                type="text"
                required={req.has(k)}
                value={list.join(", ")}
                autoComplete="off"
                onChange={(e) =>
                  set(
                    k,
                    e.currentTarget.value
                      .split(",")
                      .map((x) => x.trim())
                      .filter((x) => x !== ""),
                  )
                }
              />
            </Field>
          );
        }
        const numeric = t === "integer" || t === "number";
        return (
          <Field key={k} label={l} hint={s.description} error={err}>
            <input
              name={name}
              type={numeric ? "number" : s.writeOnly || s.format === "password" ? "password" : "text"}
              required={req.has(k)}
              value={value[k] === undefined ? "" : String(value[k])}
              autoComplete="off"
              onInput={(e) => {
                const raw = e.currentTarget.value;
                set(k, numeric && raw !== "" ? Number(raw) : raw);
              }}
            />
          </Field>
        );
      })}
    </fieldset>
  );
}
