package cli

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// overviewCmd prints the instance's traffic aggregate (owners), the same
// figures as the UI's Overview page.
type overviewCmd struct {
	authFlag
	Window string `enum:"hour,day" default:"hour" help:"The last hour (per minute) or the last day (per quarter hour)."`
}

func (overviewCmd) Help() string {
	return `Requests through the proxy by outcome, the error ratio, the busiest services,
the sync health of external credential stores and the active dynamic-secret
leases, over the last hour or day, from the request log. Instance owners.
'vault activity' shows one vault.`
}

func (o *overviewCmd) Run(c *apiClient, out *printer) error {
	w := client.GetOverviewParamsWindow(o.Window)
	a, err := decode[client.Activity](c.api.GetOverview(c.ctx, &client.GetOverviewParams{Window: &w}))
	if err != nil {
		return err
	}
	return out.result(a, func() { printActivity(out, "All vaults", a) })
}

// vaultActivityCmd prints one vault's traffic aggregate (the UI's vault
// Activity tab).
type vaultActivityCmd struct {
	authFlag
	vaultFlag
	Window string `enum:"hour,day" default:"hour" help:"The last hour (per minute) or the last day (per quarter hour)."`
}

func (v *vaultActivityCmd) Run(c *apiClient, out *printer) error {
	w := client.GetVaultActivityParamsWindow(v.Window)
	a, err := decode[client.Activity](c.api.GetVaultActivity(c.ctx, v.Vault, &client.GetVaultActivityParams{Window: &w}))
	if err != nil {
		return err
	}
	return out.result(a, func() { printActivity(out, "Vault "+v.Vault, a) })
}

// printActivity is an aggregate for people: totals, outcomes, a one-line
// chart of requests per bucket, then the busiest services and the stores.
func printActivity(out *printer, title string, a *client.Activity) {
	width := "1-minute"
	if a.BucketSeconds != 60 {
		width = fmt.Sprintf("%d-minute", a.BucketSeconds/60)
	}
	out.line("%s, last %s (since %s UTC, %s buckets)", title, a.Window, a.Since.UTC().Format("2006-01-02 15:04"), width)
	out.line("requests       %d", a.Requests)
	out.line("errors         %d (%.1f%%)", a.Errors, 100*a.ErrorRatio)
	out.line("active leases  %d", a.ActiveLeases)
	if len(a.Outcomes) > 0 {
		// Most frequent first; ties by name, so the line is stable.
		names := slices.SortedFunc(maps.Keys(a.Outcomes), func(x, y string) int {
			return cmp.Or(cmp.Compare(a.Outcomes[y], a.Outcomes[x]), strings.Compare(x, y))
		})
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, a.Outcomes[n])
		}
		out.line("outcomes       %s", strings.Join(parts, ", "))
	}
	if buckets := deref(a.Buckets); len(buckets) > 0 {
		chart, peak := sparkline(buckets)
		out.line("per bucket     %s  (oldest to now; peak %d)", chart, peak)
	}
	out.line("")
	var rows [][]string
	for _, s := range deref(a.TopServices) {
		name := s.Service
		if name == "" {
			name = "(no service)"
		}
		rows = append(rows, []string{s.Vault, name, fmt.Sprint(s.Requests), fmt.Sprint(s.Errors)})
	}
	out.table("No proxied requests in this window.", []string{"vault", "service", "requests", "errors"}, rows)
	rows = nil
	for _, s := range deref(a.Stores) {
		state := string(s.LastSyncStatus)
		if s.Stale {
			state += " (stale)"
		}
		rows = append(rows, []string{s.Vault, s.Kind, state, whenPtr(s.LastOkAt), whenPtr(s.LastSyncedAt),
			(time.Duration(s.PollIntervalSeconds) * time.Second).String(), fmt.Sprint(s.ActiveLeases)})
	}
	out.line("")
	out.table("No external credential stores.", []string{"vault", "store", "sync", "last ok", "last attempt", "every", "leases"}, rows)
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

// sparkline draws each bucket's total as one of eight bar heights scaled
// to the busiest bucket, and an empty bucket as a dot.
func sparkline(buckets []client.ActivityBucket) (string, int64) {
	totals := make([]int64, len(buckets))
	var peak int64
	for i, b := range buckets {
		for _, n := range b.Outcomes {
			totals[i] += n
		}
		peak = max(peak, totals[i])
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	var sb strings.Builder
	for _, n := range totals {
		if n == 0 {
			sb.WriteRune('·')
			continue
		}
		sb.WriteRune(bars[(n*int64(len(bars))-1)/peak])
	}
	return sb.String(), peak
}
