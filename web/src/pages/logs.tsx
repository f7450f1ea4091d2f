// The Logs tab: the proxy's request log, newest first, with filters and a
// live tail that polls for entries newer than the newest one shown.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Banner, Empty, ErrorBanner, Field, fmtTime, Loading, OlderButton, Tag } from "../ui";
import { needWriter, type Perms } from "./vault";
import { Untrusted, UntrustedPath } from "../untrusted";

type Entry = Schemas["LogEntry"];
type Bucket = "" | "1xx" | "2xx" | "3xx" | "4xx" | "5xx";

const tailEveryMs = 2000;

export function LogsTab({ vault, perms }: { vault: string; perms: Perms }) {
  const [bucket, setBucket] = useState<Bucket>("");
  const [service, setService] = useState("");
  const [entries, setEntries] = useState<Entry[]>([]);
  const [more, setMore] = useState<number | undefined>(undefined);
  const [latest, setLatest] = useState(0);
  const [loading, setLoading] = useState(true);
  const [err, setErr] = useState<unknown>(null);
  const [live, setLive] = useState(true);
  const latestRef = useRef(0);

  const query = (extra: { before?: number; after?: number }) => ({
    params: {
      path: { name: vault },
      query: { ...extra, limit: 50, ...(bucket ? { status_bucket: bucket as Exclude<Bucket, ""> } : {}), ...(service ? { service } : {}) },
    },
  });

  useEffect(() => {
    if (!perms.logs) return;
    let alive = true;
    setLoading(true);
    unwrap(api.GET("/v1/vaults/{name}/logs", query({}))).then(
      (r) => {
        if (!alive) return;
        setEntries(r.logs ?? []);
        setMore(r.has_more ? r.next_before : undefined);
        latestRef.current = r.latest_id;
        setLatest(r.latest_id);
        setErr(null);
        setLoading(false);
      },
      (e) => alive && (setErr(e), setLoading(false)),
    );
    return () => {
      alive = false;
    };
  }, [vault, bucket, service, perms.logs]);

  useEffect(() => {
    if (!live || !perms.logs) return;
    const t = setInterval(async () => {
      try {
        const r = await unwrap(api.GET("/v1/vaults/{name}/logs", query({ after: latestRef.current })));
        if (r.logs && r.logs.length) setEntries((old) => [...r.logs!, ...old].sort((a, b) => b.id - a.id));
        if (r.latest_id > latestRef.current) {
          latestRef.current = r.latest_id;
          setLatest(r.latest_id);
        }
      } catch (e) {
        setErr(e);
        setLive(false);
      }
    }, tailEveryMs);
    return () => clearInterval(t);
  }, [live, vault, bucket, service, perms.logs]);

  if (!perms.logs) return <Banner kind="info">{needWriter} The request log is hidden from proxy-only members.</Banner>;
  return (
    <>
      <div class="page-head">
        <h2>Request log</h2>
        <label class="check">
          <input type="checkbox" name="live-tail" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} />
          Live tail {live ? <span class="pulse" aria-hidden="true" /> : null}
        </label>
      </div>
      <form class="form-row filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <Field label="Status" narrow>
          <select name="status-filter" value={bucket} onChange={(e) => setBucket(e.currentTarget.value as Bucket)}>
            <option value="">All</option>
            {["2xx", "3xx", "4xx", "5xx", "1xx"].map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Service">
          <input name="service-filter" value={service} placeholder="any" onChange={(e) => setService(e.currentTarget.value.trim())} />
        </Field>
      </form>
      <ErrorBanner error={err} />
      {loading ? (
        <Loading what="Loading requests" />
      ) : entries.length === 0 ? (
        <Empty>No proxied requests {bucket || service ? "match these filters" : "yet"}.</Empty>
      ) : (
        <table class="table logs stack" aria-label="Requests" data-latest={latest}>
          <thead>
            <tr>
              <th>Time</th>
              <th>Status</th>
              <th>Request</th>
              <th>Service</th>
              <th>Actor</th>
              <th>ms</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-log-id={e.id}>
                <td class="small nowrap">{fmtTime(e.time)}</td>
                <td>
                  <Tag kind={e.status >= 500 || e.status === 0 ? "error" : e.status >= 400 ? "warn" : "ok"}>{e.status || "—"}</Tag>
                </td>
                <td class="req wide">
                  <code>
                    <Untrusted text={e.method} /> <Untrusted text={e.host} />
                    <UntrustedPath text={e.path} />
                  </code>
                  {e.error ? (
                    <div class="field-error">
                      <Untrusted text={e.error} />
                    </div>
                  ) : null}
                  {e.keys && e.keys.length ? <div class="muted small">keys: {e.keys.join(", ")}</div> : null}
                  {e.blocked ? (
                    <div data-guard="blocked">
                      <Tag kind="error">blocked</Tag> <span class="small">{e.blocked}</span>
                    </div>
                  ) : null}
                  {e.scrubbed && e.scrubbed.length ? (
                    <div data-guard="scrubbed">
                      <Tag kind="warn">scrubbed</Tag>{" "}
                      <span class="small">{e.scrubbed.map((s) => `${s.key}×${s.count}`).join(", ")}</span>
                    </div>
                  ) : null}
                </td>
                <td class="small" data-label="Service">{e.service ? <Untrusted text={e.service} /> : <span class="muted">—</span>}</td>
                <td class="small nowrap" data-label="Actor">
                  {e.actor_kind}:<Untrusted text={e.actor_name || e.actor_id} />
                </td>
                <td class="small" data-label="ms">{e.latency_ms}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <OlderButton
        before={more}
        label="Older requests"
        load={(before) => unwrap(api.GET("/v1/vaults/{name}/logs", query({ before })))}
        onPage={(r) => (setEntries((old) => [...old, ...(r.logs ?? [])]), setMore(r.has_more ? r.next_before : undefined))}
        onError={setErr}
      />
    </>
  );
}
