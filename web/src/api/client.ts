// The typed API client: openapi-fetch over the types generated from
// openapi/openapi.json, plus the session token and problem decoding.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

const tokenKey = "agent-vault.session";

// The session token lives in sessionStorage: it ends with the tab.
export const session = {
  get: (): string | null => sessionStorage.getItem(tokenKey),
  set: (t: string) => sessionStorage.setItem(tokenKey, t),
  clear: () => sessionStorage.removeItem(tokenKey),
};

const auth: Middleware = {
  onRequest({ request }) {
    const t = session.get();
    if (t) request.headers.set("Authorization", "Bearer " + t);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

// ApiError carries the server's RFC 9457 problem: a stable code, a detail
// and, for validation failures, one message per field.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly fields: { location?: string; message?: string }[] = [],
  ) {
    super(detail || code || "HTTP " + status);
  }
  // fieldText joins the per-field messages for display.
  get fieldText(): string {
    return this.fields.map((f) => (f.location ? f.location.replace(/^body\./, "") + ": " : "") + (f.message ?? "")).join("; ");
  }
}

// Listeners told when the session is rejected (expired or revoked).
const unauthorized = new Set<() => void>();
export function onUnauthorized(f: () => void) {
  unauthorized.add(f);
  return () => unauthorized.delete(f);
}

// unwrap turns an openapi-fetch result into its data or an ApiError.
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r;
  try {
    r = await p;
  } catch {
    throw new ApiError(0, "network_error", "The server could not be reached.");
  }
  if (r.response.ok) return r.data as T;
  const e = (r.error ?? {}) as Partial<Problem>;
  // A wrong password typed to confirm something is not a lost session.
  if (r.response.status === 401 && session.get() && e.code !== "invalid_credentials") unauthorized.forEach((f) => f());
  throw new ApiError(r.response.status, e.code ?? "http_" + r.response.status, e.detail ?? e.title ?? r.response.statusText, e.errors ?? []);
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const f = e.fieldText;
    return f && !e.detail.includes(f) ? `${e.detail} (${f})` : e.detail;
  }
  return e instanceof Error ? e.message : String(e);
}
