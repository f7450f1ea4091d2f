// The instance Overview and a vault's Activity tab: requests per minute by
// outcome, the error ratio, the busiest services, the sync health of
// external stores and live leases, all aggregated by the server from the
// request log (GET /v1/overview, GET /v1/vaults/{name}/activity). Charts
// are drawn with uPlot (canvas, bundled, no CDN).
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api, unwrap, type Schemas } from "../api/client";
import { Banner, Empty, ErrorBanner, fmtTime, Loading, Tag, useAsync } from "../ui";
import { type Me, type Perms, needWriter } from "./vault";

type Raw = Schemas["Activity"];
// Activity is the answer with its lists never null.
type Activity = Raw & { buckets: NonNullable<Raw["buckets"]>; stores: NonNullable<Raw["stores"]>; top_services: NonNullable<Raw["top_services"]> };
const norm = (r: Raw): Activity => ({ ...r, buckets: r.buckets ?? [], stores: r.stores ?? [], top_services: r.top_services ?? [] });
type Window = "hour" | "day";

// Outcome colours: forwarded traffic in greens and blues, refusals in
// warm colours, failures in reds.
const outcomes: [string, string, string][] = [
  ["injected", "Injected", "#1f9d55"],
  ["passthrough", "Passthrough", "#3b82f6"],
  ["denied", "Denied", "#f59e0b"],
  ["netguard_blocked", "Blocked (network)", "#a855f7"],
  ["auth_required", "Auth required", "#6b7280"],
  ["rate_limited", "Rate limited", "#eab308"],
  ["bad_request", "Bad request", "#92400e"],
  ["upstream_error", "Upstream error", "#dc2626"],
  ["error", "Error", "#7f1d1d"],
];

export function OverviewPage({ me }: { me: Me }) {
  if (me.role !== "owner") return <Banner kind="info">The overview is for instance owners.</Banner>;
  return <ActivityView title="Overview" load={(w) => unwrap(api.GET("/v1/overview", { params: { query: { window: w } } }))} />;
}

export function ActivityTab({ vault, perms }: { vault: string; perms: Perms }) {
  if (!perms.logs && !perms.owner) return <Banner kind="info">{needWriter} Activity is hidden from proxy-only members.</Banner>;
  return (
    <ActivityView
      title="Activity"
      vault={vault}
      load={(w) => unwrap(api.GET("/v1/vaults/{name}/activity", { params: { path: { name: vault }, query: { window: w } } }))}
    />
  );
}

function ActivityView({ title, vault, load }: { title: string; vault?: string; load: (w: Window) => Promise<Raw> }) {
  const [win, setWin] = useState<Window>("hour");
  const a = useAsync(() => load(win).then(norm), [win, vault]);
  const d = a.data;
  return (
    <section class="activity" data-testid="activity">
      <div class="page-head">
        {vault ? <h2>{title}</h2> : <h1>{title}</h1>}
        <div class="seg" role="group" aria-label="Window">
          {(["hour", "day"] as const).map((w) => (
            <button key={w} type="button" class={"seg-btn" + (win === w ? " seg-on" : "")} aria-pressed={win === w} onClick={() => setWin(w)}>
              Last {w}
            </button>
          ))}
        </div>
      </div>
      {a.error ? <ErrorBanner error={a.error} /> : null}
      {!d ? (
        <Loading what="Loading activity" />
      ) : (
        <>
          <div class="tiles">
            <Tile label="Requests" value={String(d.requests)} testid="tile-requests" />
            <Tile label="Error ratio" value={pct(d.error_ratio)} testid="tile-error-ratio" warn={d.error_ratio > 0.05} />
            <Tile label="Active leases" value={String(d.active_leases)} testid="tile-leases" />
            <Tile label="Stores stale" value={`${d.stores.filter((s) => s.stale || s.last_sync_status === "error").length} / ${d.stores.length}`} testid="tile-stores" />
          </div>
          <h3>Requests per minute by outcome</h3>
          <OutcomeChart a={d} />
          <h3>Error ratio</h3>
          <ErrorChart a={d} />
          <h3>Top services</h3>
          {d.top_services.length === 0 ? (
            <Empty>No proxied requests in this window.</Empty>
          ) : (
            <table class="table" data-testid="top-services">
              <thead>
                <tr>
                  {vault ? null : <th>Vault</th>}
                  <th>Service</th>
                  <th class="num">Requests</th>
                  <th class="num">Errors</th>
                </tr>
              </thead>
              <tbody>
                {d.top_services.map((s) => (
                  <tr key={s.vault + "/" + s.service} data-service={s.service}>
                    {vault ? null : <td>{s.vault}</td>}
                    <td>{s.service || <span class="muted">no service</span>}</td>
                    <td class="num">{s.requests}</td>
                    <td class="num">{s.errors}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>External stores</h3>
          {d.stores.length === 0 ? (
            <Empty>No external credential store{vault ? " for this vault" : ""}.</Empty>
          ) : (
            <table class="table" data-testid="store-health">
              <thead>
                <tr>
                  <th>Vault</th>
                  <th>Kind</th>
                  <th>Sync</th>
                  <th>Last good sync</th>
                  <th class="num">Leases</th>
                </tr>
              </thead>
              <tbody>
                {d.stores.map((s) => (
                  <tr key={s.vault} data-store={s.vault}>
                    <td>{s.vault}</td>
                    <td>{s.kind}</td>
                    <td>
                      <Tag kind={s.last_sync_status === "ok" && !s.stale ? "ok" : "error"}>{s.stale ? "stale" : s.last_sync_status}</Tag>
                    </td>
                    <td>{s.last_ok_at ? fmtTime(s.last_ok_at) : "never"}</td>
                    <td class="num">{s.active_leases}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function Tile({ label, value, testid, warn }: { label: string; value: string; testid: string; warn?: boolean }) {
  return (
    <div class={"tile" + (warn ? " tile-warn" : "")} data-testid={testid}>
      <div class="tile-value">{value}</div>
      <div class="tile-label muted">{label}</div>
    </div>
  );
}

function pct(r: number) {
  return (r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1) + " %";
}

// OutcomeChart draws one line per outcome that occurred in the window.
function OutcomeChart({ a }: { a: Activity }) {
  const perMinute = 60 / a.bucket_seconds;
  const xs = a.buckets.map((b) => Date.parse(b.start) / 1000);
  const shown = outcomes.filter(([id]) => (a.outcomes[id] ?? 0) > 0);
  if (shown.length === 0) return <Empty>No proxied requests in this window.</Empty>;
  const data: uPlot.AlignedData = [xs, ...shown.map(([id]) => a.buckets.map((b) => (b.outcomes[id] ?? 0) * perMinute))];
  const series: uPlot.Series[] = [{}, ...shown.map(([, label, color]) => ({ label, stroke: color, fill: color + "22", width: 2 }))];
  return <Chart data={data} series={series} testid="chart-outcomes" total={a.requests} />;
}

function ErrorChart({ a }: { a: Activity }) {
  const xs = a.buckets.map((b) => Date.parse(b.start) / 1000);
  const ratio = a.buckets.map((b) => {
    const all = Object.values(b.outcomes).reduce((s, n) => s + (n ?? 0), 0);
    const failed = (b.outcomes["upstream_error"] ?? 0) + (b.outcomes["error"] ?? 0);
    return all ? (failed / all) * 100 : null;
  });
  const series: uPlot.Series[] = [{}, { label: "Errors %", stroke: "#dc2626", width: 2, spanGaps: false }];
  return <Chart data={[xs, ratio]} series={series} testid="chart-errors" total={a.errors} height={140} />;
}

// Chart mounts a uPlot and keeps it as wide as its container.
function Chart({ data, series, testid, total, height = 220 }: { data: uPlot.AlignedData; series: uPlot.Series[]; testid: string; total: number; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const plot = new uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height,
        series,
        scales: { x: { time: true } },
        axes: [{}, { size: 44 }],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 200), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [data, series]);
  return <div class="chart" ref={box} data-testid={testid} data-total={total} />;
}
