package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// definedNames lists every metric name the registry can export, with a
// histogram's _bucket, _sum and _count series.
func definedNames(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 512)
	go func() { New(nil).reg.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			names[m[1]+suffix] = true
		}
	}
	if !names["agent_vault_proxy_requests_total"] || !names["go_goroutines"] || !names["process_resident_memory_bytes"] {
		t.Fatalf("the registry describes too little: %d names", len(names))
	}
	return names
}

// metricRef finds what looks like a metric name of ours or of the runtime
// in a PromQL expression.
var metricRef = regexp.MustCompile(`\b(?:agent_vault|go|process)_[a-z0-9_]+\b`)

// checkExprs fails for every expression that names a metric the registry
// does not define, and returns the names used.
func checkExprs(t *testing.T, where string, exprs []string, defined map[string]bool) map[string]bool {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no queries found", where)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		refs := metricRef.FindAllString(e, -1)
		if len(refs) == 0 {
			t.Errorf("%s: query names no metric: %s", where, e)
		}
		for _, name := range refs {
			if !defined[name] {
				t.Errorf("%s: %q is not a metric the server exports (query %s)", where, name, e)
			}
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
		}
	}
	return used
}

// TestDashboardNamesExistingMetrics reads every query of the Grafana
// dashboard (panels and variables) and checks the metrics it names exist,
// and that every metric of ours has a panel.
func TestDashboardNamesExistingMetrics(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	defined := definedNames(t)
	used := checkExprs(t, "grafana-dashboard.json", exprs, defined)
	var missing []string
	for name := range defined {
		if strings.HasPrefix(name, Namespace+"_") && !strings.HasSuffix(name, "_bucket") && !strings.HasSuffix(name, "_sum") &&
			!strings.HasSuffix(name, "_count") && !used[name] && name != "agent_vault_build_info" && name != "agent_vault_scrape_errors_total" {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("metrics without a dashboard panel: %v", missing)
	}
}

// TestAlertsNameExistingMetrics does the same for the example alerting
// rules, and checks the three the operators asked for are there.
func TestAlertsNameExistingMetrics(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	alerts := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			alerts[r.Alert] = true
		}
	}
	checkExprs(t, "alerts.yml", exprs, definedNames(t))
	for _, want := range []string{"AgentVaultSyncStale", "AgentVaultLeaseFailures", "AgentVaultProxyErrorRatio"} {
		if !alerts[want] {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}
}
