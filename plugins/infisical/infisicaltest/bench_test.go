package infisicaltest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// BenchmarkListSecrets10k measures one list of 10 000 secrets, the size of
// the broker's end-to-end sync benchmark, so the emulator's share of that
// budget is known.
func BenchmarkListSecrets10k(b *testing.B) {
	e := infisicaltest.NewUnstarted()
	if _, err := e.Start(); err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.AddIdentity(infisicaltest.Identity{ID: "id"})
	secrets := make(map[string]string, 10000)
	for i := 0; i < 10000; i++ {
		secrets[fmt.Sprintf("SECRET_%05d", i)] = fmt.Sprintf("value-%d-%040d", i, i)
	}
	e.SetSecrets("p", "dev", "/", secrets)
	tok, err := e.IssueToken("id")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.URL()+"/api/v3/secrets/raw?workspaceId=p&workspaceSlug=&environment=dev&secretPath=%2F&expandSecretReferences=true&include_imports=false&recursive=false", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
		b.SetBytes(n)
	}
}

// BenchmarkCreateLease measures one lease mint and revoke.
func BenchmarkCreateLease(b *testing.B) {
	e := infisicaltest.NewUnstarted()
	if _, err := e.Start(); err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	populate(e)
	tok, _ := e.IssueToken("identity-1")
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", e.URL()+"/api/v1/dynamic-secrets/leases", strings.NewReader(leaseBody("db-postgres", "")))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.StopTimer()
	if n := e.Counts().LeasesMinted; n != b.N {
		b.Fatalf("minted %d, want %d", n, b.N)
	}
}
