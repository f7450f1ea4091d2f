package sdk

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/sdk/internal/host"
)

// Logger returns a *slog.Logger whose lines go to the host's log, tagged
// with the plugin's kind. Never log credential values.
func Logger() *slog.Logger { return slog.New(hostHandler{}) }

// Log writes one line to the host's log, tagged with the plugin's kind:
// msg followed by " key=value" for each pair of kv, as Logger formats
// them. It does the job without slog's Logger, Record and Value machinery
// (about 100 KB of wasm), for a plugin that must stay small. Never log
// credential values.
func Log(level slog.Level, msg string, kv ...string) { host.Log(int32(level), logLine(msg, kv)) }

func logLine(msg string, kv []string) string {
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) { // a value without a key, as slog shows it
			b.WriteString(" !BADKEY=" + kv[i])
			break
		}
		b.WriteString(" " + kv[i] + "=" + kv[i+1])
	}
	return b.String()
}

// Now is the host's clock.
func Now() time.Time { return host.Now() }

// hostHandler formats a record as "msg k=v ..." and hands it to the host.
type hostHandler struct{ attrs []slog.Attr }

func (hostHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h hostHandler) Handle(_ context.Context, r slog.Record) error {
	host.Log(int32(r.Level), h.line(r))
	return nil
}

func (h hostHandler) line(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	return b.String()
}

func (h hostHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return hostHandler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h hostHandler) WithGroup(string) slog.Handler { return h }

// Interface guards
var _ slog.Handler = hostHandler{}
