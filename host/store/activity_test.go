package store

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestActivity groups rows into buckets from Since, one vault or all, in
// both dialects; rows before Since are left out.
func TestActivity(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		a, _ := s.CreateVault(ctx, "a", nil, nil)
		b, _ := s.CreateVault(ctx, "b", nil, nil)
		since := time.UnixMilli(1_700_000_000_000).UTC()
		at := func(sec int) time.Time { return since.Add(time.Duration(sec) * time.Second) }
		rows := []RequestLog{
			{VaultID: a.ID, At: at(-1), Service: "old", Status: 200}, // before the window
			{VaultID: a.ID, At: at(0), Service: "api", Status: 200, Keys: []string{"K"}},
			{VaultID: a.ID, At: at(59), Service: "api", Status: 200, Keys: []string{"K"}},
			{VaultID: a.ID, At: at(61), Service: "api", Status: 502, Keys: []string{"K"}, Error: "upstream_unreachable"},
			{VaultID: a.ID, At: at(125), Service: "", Status: 200},
			{VaultID: b.ID, At: at(10), Service: "db", Status: 403, Error: "host_not_allowed"},
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		format := func(rs []ActivityRow) []string {
			var out []string
			for _, r := range rs {
				vault := map[string]string{a.ID: "a", b.ID: "b"}[r.VaultID]
				out = append(out, strings.Join([]string{itoa(r.Bucket), vault, r.Service, itoa(r.Status), r.Error, map[bool]string{true: "inj", false: "-"}[r.Injected], itoa(r.Count)}, " "))
			}
			slices.Sort(out)
			return out
		}
		all, err := s.Activity(ctx, ActivityQuery{Since: since, Bucket: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"0 a api 200  inj 2", "0 b db 403 host_not_allowed - 1", "1 a api 502 upstream_unreachable inj 1", "2 a  200  - 1"}
		if got := format(all); !reflect.DeepEqual(got, want) {
			t.Fatalf("instance activity:\n got %q\nwant %q", got, want)
		}
		one, err := s.Activity(ctx, ActivityQuery{VaultID: b.ID, Since: since, Bucket: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if got := format(one); !reflect.DeepEqual(got, []string{"0 b db 403 host_not_allowed - 1"}) {
			t.Fatalf("vault b: %q", got)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
