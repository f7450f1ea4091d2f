// The Audit page: the instance's audit trail of administrative actions,
// newest first, with filters, older pages, and a check of the hash chain.
// Instance owners only (the API refuses others).
import { useEffect, useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Banner, Button, Empty, ErrorBanner, Field, fmtTime, Loading, OlderButton, Tag } from "../ui";
import { Untrusted } from "../untrusted";

type Entry = Schemas["AuditEntry"];
type Verify = Schemas["VerifyAuditOutputBody"];
type Me = Schemas["MeOutputBody"];
type Summary = Schemas["AuditChanges"];
type ChangedField = Schemas["ChangedField"];

// show prints one before or after value: names as they are, lists and
// objects as JSON.
function show(v: unknown): string {
  if (typeof v === "string") return v === "" ? '""' : v;
  if (Array.isArray(v)) return "[" + v.map(show).join(", ") + "]";
  return JSON.stringify(v);
}

function ChangeLine({ c }: { c: ChangedField }) {
  const had = c.before !== undefined && c.before !== null;
  const has = c.after !== undefined && c.after !== null;
  return (
    <li>
      <code>{c.field}</code>{" "}
      {c.withheld ? (
        <span class="muted">changed (value withheld)</span>
      ) : (
        <>
          {had ? <Untrusted text={show(c.before)} /> : <span class="muted">(none)</span>} →{" "}
          {has ? <Untrusted text={show(c.after)} /> : <span class="muted">(none)</span>}
        </>
      )}
    </li>
  );
}

// SummaryView shows what an entry changed, field by field; an entry
// recorded before summaries had this shape shows its JSON.
function SummaryView({ summary }: { summary: Summary }) {
  const known = new Set(["changes", "keys", "value_macs", "note"]);
  if (Object.keys(summary).some((k) => !known.has(k))) {
    return (
      <div class="muted small">
        <code>
          <Untrusted text={JSON.stringify(summary)} />
        </code>
      </div>
    );
  }
  const macs = Object.keys(summary.value_macs ?? {}).length;
  return (
    <div class="muted small audit-summary">
      {summary.changes?.length ? (
        <ul class="changes">
          {summary.changes.map((c) => (
            <ChangeLine c={c} />
          ))}
        </ul>
      ) : null}
      {summary.keys?.length ? (
        <div>
          keys: <Untrusted text={summary.keys.join(", ")} />
          {macs ? ` (value MACs: ${macs})` : null}
        </div>
      ) : null}
      {summary.note ? <div>{summary.note}</div> : null}
    </div>
  );
}

export function AuditPage({ me }: { me: Me }) {
  const [actor, setActor] = useState("");
  const [vault, setVault] = useState("");
  const [operation, setOperation] = useState("");
  // Hours back from now; 0: any time.
  const [sinceHours, setSinceHours] = useState(0);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [more, setMore] = useState<number | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [err, setErr] = useState<unknown>(null);
  const [verify, setVerify] = useState<Verify | null>(null);
  const [checking, setChecking] = useState(false);
  const owner = me.role === "owner";

  const query = (before?: number) => ({
    params: {
      query: {
        limit: 50,
        ...(before ? { before } : {}),
        ...(actor ? { actor } : {}),
        ...(vault ? { vault } : {}),
        ...(operation ? { operation } : {}),
        ...(sinceHours ? { since: new Date(Date.now() - sinceHours * 3600_000).toISOString() } : {}),
      },
    },
  });

  useEffect(() => {
    if (!owner) return;
    let alive = true;
    setLoading(true);
    unwrap(api.GET("/v1/audit", query())).then(
      (r) => {
        if (!alive) return;
        setEntries(r.entries ?? []);
        setMore(r.has_more ? r.next_before : undefined);
        setErr(null);
        setLoading(false);
      },
      (e) => alive && (setErr(e), setLoading(false)),
    );
    return () => {
      alive = false;
    };
  }, [actor, vault, operation, sinceHours, owner]);

  if (!owner) return <Banner kind="info">Only instance owners read the audit trail.</Banner>;
  return (
    <>
      <div class="page-head">
        <h1>Audit trail</h1>
        <Button
          busy={checking}
          onClick={async () => {
            setChecking(true);
            try {
              setVerify(await unwrap(api.GET("/v1/audit/verify")));
            } catch (e) {
              setErr(e);
            }
            setChecking(false);
          }}
        >
          Verify chain
        </Button>
      </div>
      {verify ? (
        verify.ok ? (
          <Banner kind="ok" testid="audit-verify">
            The chain is whole: {verify.checked} entries verified.
          </Banner>
        ) : (
          <Banner kind="error" testid="audit-verify">
            The chain is broken at entry {verify.break?.seq}: {verify.break?.reason}
          </Banner>
        )
      ) : null}
      <form class="form-row filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <Field label="Actor">
          <input name="audit-actor" value={actor} placeholder="email, agent or id" onInput={(e) => setActor(e.currentTarget.value.trim())} />
        </Field>
        <Field label="Vault">
          <input name="audit-vault" value={vault} placeholder="any" onInput={(e) => setVault(e.currentTarget.value.trim())} />
        </Field>
        <Field label="Operation">
          <input name="audit-operation" value={operation} placeholder="e.g. set-credentials" onInput={(e) => setOperation(e.currentTarget.value.trim())} />
        </Field>
        <Field label="Since">
          <select name="audit-since" value={String(sinceHours)} onChange={(e) => setSinceHours(Number(e.currentTarget.value))}>
            <option value="0">Any time</option>
            <option value="1">Last hour</option>
            <option value="24">Last day</option>
            <option value="168">Last 7 days</option>
            <option value="720">Last 30 days</option>
          </select>
        </Field>
      </form>
      <ErrorBanner error={err} />
      {loading ? (
        <Loading what="Loading the audit trail" />
      ) : entries.length === 0 ? (
        <Empty>No audit entries {actor || vault || operation || sinceHours ? "match these filters" : "yet"}.</Empty>
      ) : (
        <table class="table logs stack" aria-label="Audit entries">
          <thead>
            <tr>
              <th>#</th>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq} data-audit-seq={e.seq}>
                <td class="small">{e.seq}</td>
                <td class="small nowrap" data-label="Time">
                  {fmtTime(e.time)}
                </td>
                <td class="small" data-label="Actor">
                  {e.actor_kind} <Untrusted text={e.actor_name || e.actor_id} />
                  {e.client_addr ? <div class="muted">{e.client_addr}</div> : null}
                </td>
                <td class="req wide">
                  <code>{e.operation}</code>
                  {e.vault ? (
                    <span class="muted small">
                      {" "}
                      in <Untrusted text={e.vault} />
                    </span>
                  ) : null}
                  <div class="small">
                    <code>
                      <Untrusted text={e.target} />
                    </code>
                  </div>
                  {e.summary ? <SummaryView summary={e.summary} /> : null}
                </td>
                <td data-label="Outcome">
                  <Tag kind={e.outcome === "ok" ? "ok" : "error"}>{e.outcome}</Tag>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <OlderButton
        before={more}
        label="Older entries"
        load={(before) => unwrap(api.GET("/v1/audit", query(before)))}
        onPage={(r) => (setEntries((old) => [...old, ...(r.entries ?? [])]), setMore(r.has_more ? r.next_before : undefined))}
        onError={setErr}
      />
    </>
  );
}
