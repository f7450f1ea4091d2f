import { Fragment } from "preact";

// Text that an agent or an upstream can write (a proposal's message, a
// proposed host, a logged path, an error) is shown as text, never as HTML
// (JSX escapes it), and also never as an instruction to the display:
// control characters, bidi overrides and isolates, zero-width and other
// invisible format characters are shown as visible escapes ("\x1b",
// "\u202e"), the way the CLI shows them, and the text sits in a <bdi> so
// right-to-left text cannot reorder what surrounds it.

// Controls except newline and tab (C0, DEL, C1), format characters (Cf:
// bidi, zero-width, soft hyphen, BOM, tags), line and paragraph separators.
const unsafeChars = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\u{110bd}\u{110cd}\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0001}\u{e0020}-\u{e007f}]/gu;

export function visible(s: string | null | undefined): string {
  if (!s) return "";
  return s.replace(unsafeChars, (c) => {
    const n = c.codePointAt(0)!;
    if (n === 0x0d) return "\\r";
    if (n < 0x80) return "\\x" + n.toString(16).padStart(2, "0");
    if (n <= 0xffff) return "\\u" + n.toString(16).padStart(4, "0");
    return "\\U" + n.toString(16).padStart(8, "0");
  });
}

// Untrusted renders agent- or upstream-written text safely.
export function Untrusted({ text, fallback = "—" }: { text?: string | null; fallback?: string }) {
  if (!text) return <>{fallback}</>;
  return <bdi class="untrusted">{visible(text)}</bdi>;
}

// UntrustedPath renders a logged path that may break after each "/", "?"
// or "&" on a narrow screen, rather than in the middle of a word.
export function UntrustedPath({ text }: { text?: string | null }) {
  if (!text) return <>—</>;
  const parts = visible(text).split(/(?<=[/?&])/);
  return (
    <bdi class="untrusted">
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 ? <wbr /> : null}
          {p}
        </Fragment>
      ))}
    </bdi>
  );
}
