package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Replicas starting together on a new PostgreSQL database agree on one
// key envelope and one interception CA: an agent's trust store works with
// any of them.
func TestReplicasStartingTogetherShareKeyAndCA(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const n = 4
	var wg sync.WaitGroup
	certs := make([][]byte, n)
	keys := make([][]byte, n)
	errs := make([]error, n)
	stores := make([]*store.Store, n)
	keyrings := make([]*seal.Keyring, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], keyrings[i], errs[i] = Open(ctx, t.TempDir(), url, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	// Every replica looks for the CA at the same moment.
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ca, err := loadOrCreateCA(ctx, stores[i], keyrings[i])
			if err != nil {
				errs[i] = err
				return
			}
			certs[i] = ca.CertPEM()
			// What one replica seals, every other opens.
			keys[i], errs[i] = keyrings[i].Seal([]byte("v"), seal.AAD("probe"))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	st, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env, err := Envelope(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := seal.Unlock(env, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !bytes.Equal(certs[i], certs[0]) {
			t.Fatalf("replica %d has another CA", i)
		}
		if _, err := keyring.Open(keys[i], seal.AAD("probe")); err != nil {
			t.Fatalf("replica %d sealed with another key: %v", i, err)
		}
	}
}
