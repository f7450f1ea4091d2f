// Package sdkslog gives a store plugin a *slog.Logger whose lines go to the
// host's log, tagged with the plugin's kind. It is apart from package sdk
// because importing log/slog costs every plugin slog's and log's
// initialisers, and through them fmt (about 380 KB of the built-in store's
// wasm); sdk.Log writes the same lines without it. Never log credential
// values.
package sdkslog

import (
	"context"
	"log/slog"

	"github.com/agent-vault/agent-vault/sdk/internal/host"
	"github.com/agent-vault/agent-vault/sdk/internal/logline"
)

// Logger returns a *slog.Logger that writes into the host's log.
func Logger() *slog.Logger { return slog.New(handler{}) }

// handler hands each record to the host as "msg k=v ...".
type handler struct{ attrs []slog.Attr }

func (handler) Enabled(context.Context, slog.Level) bool { return true }

func (h handler) Handle(_ context.Context, r slog.Record) error {
	host.Log(int32(r.Level), h.line(r))
	return nil
}

func (h handler) line(r slog.Record) string {
	kv := make([]string, 0, 2*(len(h.attrs)+r.NumAttrs()))
	add := func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	return logline.Format(r.Message, kv)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	return handler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h handler) WithGroup(string) slog.Handler { return h }

// Interface guards
var _ slog.Handler = handler{}
