package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// ActivityBucket is one time bucket of proxied requests.
type ActivityBucket struct {
	Start    time.Time      `json:"start"`
	Outcomes map[string]int `json:"outcomes" doc:"Requests by outcome (injected, passthrough, denied, netguard_blocked, auth_required, rate_limited, upstream_error, bad_request, error); outcomes that did not occur are left out"`
}

// ServiceActivity is one service's share of the traffic.
type ServiceActivity struct {
	Vault    string `json:"vault"`
	Service  string `json:"service" doc:"Empty: requests that matched no service"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
}

// StoreHealth is an external store's sync state.
type StoreHealth struct {
	Vault               string     `json:"vault"`
	Kind                string     `json:"kind"`
	LastSyncStatus      string     `json:"last_sync_status" enum:"ok,error"`
	LastSyncedAt        *time.Time `json:"last_synced_at,omitempty" doc:"The last sync attempt"`
	LastOKAt            *time.Time `json:"last_ok_at,omitempty" doc:"The last successful sync (or connect)"`
	PollIntervalSeconds int        `json:"poll_interval_seconds"`
	Stale               bool       `json:"stale" doc:"No successful sync for three poll intervals"`
	ActiveLeases        int        `json:"active_leases" doc:"Dynamic-secret leases this server holds for the vault"`
}

// Activity aggregates the request log over a window.
type Activity struct {
	Window        string            `json:"window" enum:"hour,day"`
	Since         time.Time         `json:"since" doc:"Start of the first bucket"`
	BucketSeconds int               `json:"bucket_seconds" doc:"Width of each bucket: 60 for an hour, 900 for a day"`
	Buckets       []ActivityBucket  `json:"buckets" doc:"Every bucket of the window, oldest first; the last one is still filling"`
	Requests      int               `json:"requests"`
	Outcomes      map[string]int    `json:"outcomes" doc:"Requests by outcome over the window"`
	Errors        int               `json:"errors" doc:"Requests that failed: the upstream was unreachable, the proxy failed, or a 5xx status"`
	ErrorRatio    float64           `json:"error_ratio" doc:"errors / requests (0 without requests)"`
	TopServices   []ServiceActivity `json:"top_services" doc:"The busiest services, at most 8"`
	Stores        []StoreHealth     `json:"stores" doc:"External credential stores and their sync health"`
	ActiveLeases  int               `json:"active_leases"`
}

type ActivityInput struct {
	Window string `query:"window" enum:"hour,day" default:"hour" doc:"The last hour in minutes, or the last day in quarter hours"`
}

type VaultActivityInput struct {
	Name   string `path:"name"`
	Window string `query:"window" enum:"hour,day" default:"hour"`
}

type ActivityOutput struct {
	Body Activity
}

// topServices is how many services an activity lists.
const topServices = 8

func (s *server) registerOverview(api huma.API) {
	huma.Register(api, op("get-overview", http.MethodGet, "/v1/overview",
		"The instance's traffic, errors, store sync health and leases over the last hour or day (from the request log)", "overview"),
		func(ctx context.Context, in *ActivityInput) (*ActivityOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			a, err := s.activity(ctx, "", in.Window)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &ActivityOutput{Body: a}, nil
		})
	huma.Register(api, op("get-vault-activity", http.MethodGet, "/v1/vaults/{name}/activity",
		"One vault's traffic, errors, store sync health and leases over the last hour or day", "overview", http.StatusNotFound),
		func(ctx context.Context, in *VaultActivityInput) (*ActivityOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			a, err := s.activity(ctx, c.Vault.ID, in.Window)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &ActivityOutput{Body: a}, nil
		})
}

// activity aggregates one vault's request log (vaultID set) or the whole
// instance's.
func (s *server) activity(ctx context.Context, vaultID, window string) (Activity, error) {
	n, width := 60, time.Minute
	if window == "day" {
		n, width = 96, 15*time.Minute
	} else {
		window = "hour"
	}
	now := s.Now()
	since := now.Truncate(width).Add(-time.Duration(n-1) * width).UTC()
	rows, err := s.Store.Activity(ctx, store.ActivityQuery{VaultID: vaultID, Since: since, Bucket: width})
	if err != nil {
		return Activity{}, err
	}
	names, err := s.vaultNames(ctx)
	if err != nil {
		return Activity{}, err
	}
	a := Activity{Window: window, Since: since, BucketSeconds: int(width / time.Second), Outcomes: map[string]int{},
		Buckets: make([]ActivityBucket, n), TopServices: []ServiceActivity{}, Stores: []StoreHealth{}}
	for i := range a.Buckets {
		a.Buckets[i] = ActivityBucket{Start: since.Add(time.Duration(i) * width), Outcomes: map[string]int{}}
	}
	type svcKey struct{ vault, service string }
	services := map[svcKey]*ServiceActivity{}
	for _, r := range rows {
		outcome := domain.ProxyOutcome(r.Status, r.Error, r.Injected)
		b := min(max(r.Bucket, 0), n-1)
		a.Buckets[b].Outcomes[outcome] += r.Count
		a.Outcomes[outcome] += r.Count
		a.Requests += r.Count
		failed := outcome == domain.OutcomeUpstreamError || outcome == domain.OutcomeError || r.Status >= 500
		k := svcKey{names[r.VaultID], r.Service}
		sa := services[k]
		if sa == nil {
			sa = &ServiceActivity{Vault: k.vault, Service: k.service}
			services[k] = sa
		}
		sa.Requests += r.Count
		if failed {
			a.Errors += r.Count
			sa.Errors += r.Count
		}
	}
	if a.Requests > 0 {
		a.ErrorRatio = float64(a.Errors) / float64(a.Requests)
	}
	for _, sa := range services {
		a.TopServices = append(a.TopServices, *sa)
	}
	slices.SortFunc(a.TopServices, func(x, y ServiceActivity) int {
		return cmp.Or(cmp.Compare(y.Requests, x.Requests), cmp.Compare(x.Vault, y.Vault), cmp.Compare(x.Service, y.Service))
	})
	a.TopServices = a.TopServices[:min(len(a.TopServices), topServices)]

	var leases map[string]int
	if s.Stores != nil {
		leases = s.Stores.ActiveLeases()
	}
	stores, err := s.Store.ExternalStores(ctx)
	if err != nil {
		return Activity{}, err
	}
	for _, cs := range stores {
		if vaultID != "" && cs.VaultID != vaultID {
			continue
		}
		h := StoreHealth{Vault: names[cs.VaultID], Kind: cs.Kind, LastSyncStatus: cs.LastSyncStatus, LastSyncedAt: cs.LastSyncedAt,
			LastOKAt: cs.LastOKAt, PollIntervalSeconds: cs.PollIntervalSeconds, ActiveLeases: leases[cs.VaultID]}
		if iv := time.Duration(cs.PollIntervalSeconds) * time.Second; iv > 0 {
			h.Stale = cs.LastOKAt == nil || now.Sub(*cs.LastOKAt) > 3*iv
		}
		a.Stores = append(a.Stores, h)
	}
	slices.SortFunc(a.Stores, func(x, y StoreHealth) int { return cmp.Compare(x.Vault, y.Vault) })
	for id, n := range leases {
		if vaultID == "" || id == vaultID {
			a.ActiveLeases += n
		}
	}
	return a, nil
}

// vaultNames maps every vault's id to its name.
func (s *server) vaultNames(ctx context.Context) (map[string]string, error) {
	vs, err := s.Store.ListVaults(ctx, "", "", true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(vs))
	for _, v := range vs {
		out[v.ID] = v.Name
	}
	return out, nil
}
