package server

import (
	"context"
	"os"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/jobs"
	"github.com/agent-vault/agent-vault/host/requestlog"
	"github.com/agent-vault/agent-vault/host/store"
)

// How often the maintenance jobs run. Expiry every minute keeps a 7-day
// deadline accurate to the minute; retention is cheap but not urgent.
const (
	proposalExpiryEvery = time.Minute
	logRetentionEvery   = 10 * time.Minute
)

// startJobs starts the scheduled maintenance: pending proposals expire,
// and the request log is held to its retention (AGENT_VAULT_REQUEST_LOG_MAX_AGE,
// AGENT_VAULT_REQUEST_LOG_MAX_ROWS).
func startJobs(ctx context.Context, cfg Config, st *store.Store) (stop func(), err error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	retention, err := requestlog.RetentionFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	return jobs.Start(context.WithoutCancel(ctx), log,
		jobs.Job{Name: "expire-proposals", Every: proposalExpiryEvery, Run: func(ctx context.Context) error {
			n, err := st.ExpireProposals(ctx)
			if n > 0 {
				log.Info("proposals expired", "count", n)
			}
			return err
		}},
		jobs.Job{Name: "request-log-retention", Every: logRetentionEvery, Run: func(ctx context.Context) error {
			n, err := retention.Prune(ctx, st, time.Now())
			if n > 0 {
				log.Debug("request log pruned", "rows", n, "max_age", retention.MaxAge.String(), "max_rows", retention.MaxRows)
			}
			return err
		}},
	), nil
}

// storeInfo tells the API which vaults are external and which dynamic keys
// they offer, without minting leases.
type storeInfo struct{ m *credstore.Manager }

func (s storeInfo) IsExternal(ctx context.Context, vaultID string) (bool, error) {
	return s.m.IsExternal(ctx, vaultID)
}

func (s storeInfo) DynamicKeys(ctx context.Context, vaultID string) ([]string, error) {
	var out []string
	for _, k := range s.m.DynamicKeys(ctx, vaultID, false) {
		if !k.Unavailable { // "PREFIX_*" placeholders are not keys a service can name
			out = append(out, k.Key)
		}
	}
	return out, nil
}

// Interface guards
var _ api.StoreInfo = storeInfo{}
