// "Check a request" on the Services tab: what the proxy would do with a
// request an agent sends (explain-request), as `agent-vault vault explain`
// prints it. Key names only, never values.
import { useState } from "preact/hooks";
import { api, unwrap, type Schemas } from "../api/client";
import { Button, ErrorBanner, Field, fmtTime, Options, Tag } from "../ui";
import { Untrusted } from "../untrusted";

type Explanation = Schemas["ExplainOutputBody"];

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
const decisionKind = { inject: "ok", forward: "muted", refuse: "error" } as const;

export function ExplainRequest({ vault }: { vault: string }) {
  const [method, setMethod] = useState("GET");
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [got, setGot] = useState<Explanation | null>(null);
  return (
    <section class="explain" aria-label="Check a request">
      <h3>Check a request</h3>
      <p class="muted small">What the proxy would do with a request an agent sends: the service it matches and the credential keys it would inject.</p>
      <form
        class="form-row"
        aria-label="Check a request"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr(null);
          try {
            setGot(await unwrap(api.GET("/v1/vaults/{name}/explain", { params: { path: { name: vault }, query: { method, url } } })));
          } catch (x) {
            setGot(null);
            setErr(x);
          }
          setBusy(false);
        }}
      >
        <Field label="Method" narrow>
          <select name="explain-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
            <Options values={methods} />
          </select>
        </Field>
        <Field label="URL">
          <input type="url" name="explain-url" required placeholder="https://api.github.com/user" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </Field>
        <Button type="submit" busy={busy}>
          Check
        </Button>
      </form>
      <ErrorBanner error={err} />
      {got ? <Explained x={got} /> : null}
    </section>
  );
}

function Explained({ x }: { x: Explanation }) {
  const keys = x.credentials ?? [];
  const recent = x.recent ?? [];
  return (
    <div class="card" data-testid="explanation">
      <p>
        <Tag kind={decisionKind[x.decision]}>{x.decision}</Tag> {x.method}{" "}
        <code class="host">
          {x.host}:{x.port}
          {x.path}
        </code>
        {x.code ? <span class="muted small"> ({x.code})</span> : null}
      </p>
      <p data-testid="explain-reason">{x.reason}</p>
      <dl class="facts">
        <div>
          <dt>Service</dt>
          <dd>{x.service ? `${x.service.name} (${x.service.auth_type}${x.service.enabled ? "" : ", disabled"})` : `none; unmatched hosts: ${x.unmatched_host_policy}`}</dd>
        </div>
        <div>
          <dt>Credential keys</dt>
          <dd data-testid="explain-keys">
            {keys.length === 0
              ? "none"
              : keys.map((k) => (
                  <span key={k.key}>
                    <code>{k.key}</code> <Tag kind={k.source === "missing" ? "error" : k.source}>{k.source}</Tag>{" "}
                  </span>
                ))}
          </dd>
        </div>
        <div>
          <dt>Response scrubbing</dt>
          <dd>{x.response_scrubbing}</dd>
        </div>
        <div>
          <dt>Egress check</dt>
          <dd>{x.egress_check}</dd>
        </div>
      </dl>
      {recent.length > 0 ? (
        <ul class="small" aria-label="Recent scrubs and blocks">
          {recent.map((e, i) => (
            <li key={i}>
              {fmtTime(e.time)} {e.kind} <code>{e.keys}</code>
              {e.error ? (
                <>
                  {" "}
                  <Untrusted text={e.error} />
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
