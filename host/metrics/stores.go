package metrics

import (
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Synced records a finished sync (credstore.Observer).
func (m *Metrics) Synced(vaultID, kind, outcome string, took time.Duration) {
	m.syncs.WithLabelValues(m.vaultName(vaultID), kind, outcome).Inc()
	m.syncSeconds.WithLabelValues(kind).Observe(took.Seconds())
}

// Lease records a lease event (credstore.Observer).
func (m *Metrics) Lease(vaultID, kind, event string) {
	m.leases.WithLabelValues(m.vaultName(vaultID), kind, event).Inc()
}

// PluginCall records a call into a store plugin (plugin.Config.Observe).
func (m *Metrics) PluginCall(kind, export string, took time.Duration, err error) {
	m.pluginCalls.WithLabelValues(kind, export, pluginResult(err)).Inc()
	m.pluginTime.WithLabelValues(kind, export).Observe(took.Seconds())
}

// pluginResult folds a plugin call's error into a closed set: ok, error
// (the plugin reported one), trap, timeout or limit (memory, output).
func pluginResult(err error) string {
	if err == nil {
		return "ok"
	}
	var pe *plugin.Error
	if !errors.As(err, &pe) {
		return "error"
	}
	switch {
	case pe.Code == abi.CodePluginTimeout:
		return "timeout"
	case pe.Class == plugin.ClassLimit:
		return "limit"
	case pe.Class == plugin.ClassTrap:
		return "trap"
	}
	return "error"
}

// Interface guards
var _ credstore.Observer = (*Metrics)(nil)
