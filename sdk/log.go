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

// Now is the host's clock.
func Now() time.Time { return host.Now() }

// hostHandler formats a record as "msg k=v ..." and hands it to the host.
type hostHandler struct{ attrs []slog.Attr }

func (hostHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h hostHandler) Handle(_ context.Context, r slog.Record) error {
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
	host.Log(int32(r.Level), b.String())
	return nil
}

func (h hostHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return hostHandler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h hostHandler) WithGroup(string) slog.Handler { return h }

// Interface guards
var _ slog.Handler = hostHandler{}
