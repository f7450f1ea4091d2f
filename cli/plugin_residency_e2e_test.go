package cli_test

import (
	"strings"
	"testing"
	"time"
)

// A restarted server registers the built-in store from its remembered
// manifest without compiling it, compiles it on the first credential write,
// and frees it again when idle: writes, and the plugin's own refusals,
// work the same on every path.
func TestCredentialWritesAcrossPluginRelease(t *testing.T) {
	dir := newDataDir(t)
	first := startServer(t, dir)
	_, body := post(t, first.URL+"/v1/auth/register", "", `{"email":"o@example.com","password":"password1"}`)
	tok := tokenField.FindStringSubmatch(body)[1]
	if status, body := post(t, first.URL+"/v1/credentials", tok, `{"vault":"default","credentials":{"API_KEY":"v1"}}`); status != 200 {
		t.Fatalf("write on the first start: %d %s", status, body)
	}
	first.stop(t)

	s := startServerWith(t, dir, []string{"--mitm-port", "0", "--plugin-idle-release", "20ms"})
	for i, tc := range []struct {
		body, wantCode string
		wantStatus     int
	}{
		{`{"vault":"default","credentials":{"API_KEY":"v2"}}`, "", 200},
		{`{"vault":"default","credentials":{"lower":"v"}}`, "invalid_credential_key", 400},
		{`{"vault":"default","credentials":{"OTHER_KEY":"v3"}}`, "", 200},
	} {
		status, body := post(t, s.URL+"/v1/credentials", tok, tc.body)
		if status != tc.wantStatus || !strings.Contains(body, tc.wantCode) {
			t.Fatalf("write %d: %d %s, want %d %s", i, status, body, tc.wantStatus, tc.wantCode)
		}
		// Idle past the release, so the next write compiles again.
		time.Sleep(200 * time.Millisecond)
	}
}
