// The small component set the pages are built from.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./api/client";
import { linkProps } from "./router";
import { visible } from "./untrusted";

type BtnProps = JSX.HTMLAttributes<HTMLButtonElement> & {
  kind?: "primary" | "danger" | "plain";
  busy?: boolean;
  disabled?: boolean;
  type?: "button" | "submit";
  // reason explains why the action is unavailable (shown as a tooltip).
  reason?: string;
};

export function Button({ kind = "plain", busy, disabled, reason, type = "button", children, ...rest }: BtnProps) {
  return (
    <button
      {...rest}
      type={type}
      class={"btn btn-" + kind}
      disabled={disabled || busy || !!reason}
      title={reason ?? (rest.title as string | undefined)}
      aria-busy={busy ? "true" : undefined}
    >
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

// narrow marks a field that needs little room (a select, a number) in a
// form row.
export function Field({ label, hint, error, narrow, children }: { label: string; hint?: string; error?: string; narrow?: boolean; children: ComponentChildren }) {
  return (
    <label class={narrow ? "field narrow" : "field"}>
      <span class="field-label">{label}</span>
      {children}
      {hint ? <span class="field-hint">{hint}</span> : null}
      {error ? <span class="field-error">{error}</span> : null}
    </label>
  );
}

export function Banner({ kind = "info", children, testid }: { kind?: "info" | "error" | "warn" | "ok"; children: ComponentChildren; testid?: string }) {
  return (
    <div class={"banner banner-" + kind} role={kind === "error" ? "alert" : "status"} data-testid={testid}>
      {children}
    </div>
  );
}

// OlderButton loads the page of a newest-first list that comes before the
// cursor `before` (a list's next_before) and hands it to onPage; it shows
// only while there is such a page.
export function OlderButton<P>({ before, label, load, onPage, onError }: { before?: number; label: string; load: (before: number) => Promise<P>; onPage: (page: P) => void; onError: (e: unknown) => void }) {
  if (before === undefined) return null;
  return (
    <Button
      onClick={async () => {
        try {
          onPage(await load(before));
        } catch (e) {
          onError(e);
        }
      }}
    >
      {label}
    </Button>
  );
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  // Errors can quote what an agent or an upstream wrote.
  return <Banner kind="error">{visible(errorText(error))}</Banner>;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted loading" role="status">
      <span class="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

// NotFound is the page for a path or a named thing that does not exist.
export function NotFound({ what, name }: { what: string; name?: string }) {
  return (
    <section class="not-found" data-testid="not-found">
      <h1>{name ? `No ${what} named “${name}”` : `No such ${what}`}</h1>
      <p class="muted">
        {name
          ? `It may have been renamed or deleted, or you may not have access to it.`
          : "The address may be mistyped, or the page may have moved."}
      </p>
      <p>
        <a {...linkProps("/")}>← Back to vaults</a>
      </p>
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Tag({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={"tag tag-" + kind}>{children}</span>;
}

// Options are a select's (or a datalist's) options: each value, shown as
// itself or as label(value).
export function Options<T extends string>({ values, label }: { values: readonly T[]; label?: (v: T) => string }) {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {label ? label(v) : v}
        </option>
      ))}
    </>
  );
}

// Column is one column of a RowTable. On a phone the table stacks into
// one block a row, and each cell is named by its header (data-label)
// unless it is bare.
export type Column<T> = {
  head: string;
  cell: (row: T) => ComponentChildren;
  // wide takes a line of its own on a phone; hideSmall is left out there.
  wide?: boolean;
  hideSmall?: boolean;
  bare?: boolean;
  class?: string;
};

// RowTable is the list every page shows: a spinner while it first loads,
// the empty text when there are no rows, else a table of the columns and,
// when there are actions, an actions cell a row.
export function RowTable<T>({
  label,
  rows,
  columns,
  rowKey,
  rowAttrs,
  actions,
  loading,
  empty,
}: {
  label: string;
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  rowAttrs?: (row: T) => Record<string, string>;
  actions?: (row: T) => ComponentChildren;
  loading: boolean;
  empty: ComponentChildren;
}) {
  if (loading) return <Loading />;
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <table class="table stack" aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.head} class={c.hideSmall ? "hide-sm" : undefined}>
              {c.head}
            </th>
          ))}
          {actions ? (
            <th class="actions">
              <span class="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} {...rowAttrs?.(r)}>
            {columns.map((c) => (
              <td key={c.head} class={[c.wide && "wide", c.hideSmall && "hide-sm", c.class].filter(Boolean).join(" ") || undefined} data-label={c.bare || c.hideSmall ? undefined : c.head}>
                {c.cell(r)}
              </td>
            ))}
            {actions ? <td class="actions">{actions(r)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Drawer is a side panel (a full-screen sheet on phones). Escape closes it
// and focus moves into it on open.
// wide is for a drawer that holds a table.
export function Drawer({ title, onClose, wide, children }: { title: string; onClose: () => void; wide?: boolean; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>("input,select,textarea,button")?.focus();
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    document.addEventListener("keydown", key);
    return () => {
      document.removeEventListener("keydown", key);
      prev?.focus();
    };
  }, []);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={wide ? "drawer drawer-wide" : "drawer"} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <header class="drawer-head">
          <h2>{title}</h2>
          <button type="button" class="btn btn-plain" aria-label="Close" onClick={onClose}>
            ✕
          </button>
        </header>
        <div class="drawer-body">{children}</div>
      </div>
    </div>
  );
}

// Confirm asks the user to type a name before a consequential action.
export function TypedConfirm({
  name,
  consequence,
  action,
  kind = "danger",
  onConfirm,
  onCancel,
}: {
  name: string;
  consequence: ComponentChildren;
  action: string;
  kind?: "danger" | "primary";
  onConfirm: () => Promise<void>;
  onCancel: () => void;
}) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  return (
    <form
      class="confirm"
      onSubmit={async (e) => {
        e.preventDefault();
        if (typed !== name) return;
        setBusy(true);
        setErr(null);
        try {
          await onConfirm();
        } catch (x) {
          setErr(x);
          setBusy(false);
        }
      }}
    >
      <div class="confirm-text">{consequence}</div>
      <Field label={`Type the vault name “${name}” to confirm`}>
        <input value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoComplete="off" spellcheck={false} aria-label="Confirm vault name" />
      </Field>
      <ErrorBanner error={err} />
      <div class="row">
        <Button type="submit" kind={kind} busy={busy} disabled={typed !== name}>
          {action}
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

export function fmtTime(s?: string | null): string {
  if (!s) return "—";
  const d = new Date(s);
  if (isNaN(d.getTime()) || d.getFullYear() < 2000) return "—";
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

// useAsync loads data and reloads on demand or when deps change.
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

// useRun runs one action at a time, keeping its error and busy state.
export function useRun(after: () => void) {
  const [busy, setBusy] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const run = async (id: string, f: () => Promise<unknown>) => {
    setBusy(id);
    setErr(null);
    try {
      await f();
      after();
    } catch (x) {
      setErr(x);
    }
    setBusy(null);
  };
  return { busy, err, run };
}
