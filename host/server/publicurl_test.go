package server

import (
	"strings"
	"testing"
)

func TestCheckPublicURL(t *testing.T) {
	tests := []struct {
		name, raw, wantHost string
		wantErr             bool
	}{
		{name: "unset", raw: ""},
		{name: "https", raw: "https://vault.example.com", wantHost: "vault.example.com"},
		{name: "with-port-and-path", raw: "http://vault.example.com:8080/av/", wantHost: "vault.example.com"},
		{name: "no-scheme", raw: "vault.example.com", wantErr: true},
		{name: "ftp", raw: "ftp://vault.example.com", wantErr: true},
		{name: "query", raw: "https://vault.example.com/?a=b", wantErr: true},
		{name: "user-info", raw: "https://u:p@vault.example.com", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := checkPublicURL(tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && tc.wantHost != "" && u.Hostname() != tc.wantHost {
				t.Errorf("host %q, want %q", u.Hostname(), tc.wantHost)
			}
			if err != nil && !strings.Contains(err.Error(), "public URL") {
				t.Errorf("error %q does not name the setting", err)
			}
		})
	}
}
