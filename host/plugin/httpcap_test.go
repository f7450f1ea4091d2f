package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// upstream is a loopback server that counts hits and can redirect.
type upstream struct {
	*httptest.Server
	hits atomic.Int32
}

func newUpstream(t *testing.T, redirectTo string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, redirectTo, http.StatusFound)
		case "/big":
			w.Write(make([]byte, abi.MaxHTTPResponseBody+1))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"auth":"` + r.Header.Get("Authorization") + `"}`))
		}
	}))
	t.Cleanup(u.Close)
	return u
}

var plainDial = (&net.Dialer{}).DialContext

func do(c *httpCapability, method, url string) (*abi.HTTPResponse, *abi.Error) {
	desc, _ := json.Marshal(abi.HTTPRequest{Method: method, URL: url, Header: map[string][]string{"Authorization": {"Bearer s3cr3t"}}})
	r, origin, err := abi.DecodeHTTPRequest(desc)
	if err != nil {
		return nil, &abi.Error{Code: "decode", Message: err.Error()}
	}
	return c.do(context.Background(), r, origin)
}

func TestHTTP_allowed(t *testing.T) {
	up := newUpstream(t, "")
	c := newHTTPCapability(nil, []string{up.URL}, plainDial)
	resp, herr := do(c, "GET", up.URL+"/x")
	if herr != nil || resp.Status != 200 || string(resp.Body) != `{"auth":"Bearer s3cr3t"}` {
		t.Fatalf("resp %+v, err %v", resp, herr)
	}
}

func TestHTTP_denied(t *testing.T) {
	up := newUpstream(t, "")
	other := newUpstream(t, "")
	tests := []struct {
		name     string
		manifest []string
		operator []string
		url      string
		wantCode string
		wantMsg  string
	}{
		{name: "origin-not-granted", operator: []string{other.URL}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "no-grants", url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "other-port-same-host", operator: []string{"http://127.0.0.1:1"}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "manifest-origin-on-loopback", manifest: []string{up.URL}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPPrivateAddress, wantMsg: strings.TrimPrefix(up.URL, "http://") + " resolves to an internal address; only operator-configured origins may"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newHTTPCapability(tc.manifest, tc.operator, plainDial)
			_, herr := do(c, "GET", tc.url)
			if herr == nil || herr.Code != tc.wantCode || herr.Message != tc.wantMsg {
				t.Fatalf("got %+v, want %s: %s", herr, tc.wantCode, tc.wantMsg)
			}
			if up.hits.Load() != 0 {
				t.Fatalf("denied request reached the upstream")
			}
		})
	}
}

func canon(u string) string { o, _ := abi.ParseOrigin(u); return o }

func TestHTTP_redirect(t *testing.T) {
	outside := newUpstream(t, "")
	bouncer := newUpstream(t, outside.URL+"/stolen")
	t.Run("denied-to-ungranted-origin", func(t *testing.T) {
		c := newHTTPCapability(nil, []string{bouncer.URL}, plainDial)
		_, herr := do(c, "GET", bouncer.URL+"/redirect")
		want := "redirect to origin " + canon(outside.URL) + " is not granted to this plugin"
		if herr == nil || herr.Code != abi.CodeHTTPOriginDenied || herr.Message != want {
			t.Fatalf("got %+v, want %s", herr, want)
		}
		if outside.hits.Load() != 0 {
			t.Fatal("redirect reached the ungranted origin")
		}
	})
	t.Run("allowed-between-granted-origins", func(t *testing.T) {
		c := newHTTPCapability(nil, []string{bouncer.URL, outside.URL}, plainDial)
		resp, herr := do(c, "GET", bouncer.URL+"/redirect")
		if herr != nil || resp.Status != 200 || outside.hits.Load() != 1 {
			t.Fatalf("resp %+v, err %v, hits %d", resp, herr, outside.hits.Load())
		}
	})
	t.Run("loop-stops", func(t *testing.T) {
		var self *upstream
		self = newUpstream(t, "")
		self.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, self.URL+"/again", http.StatusFound)
		})
		c := newHTTPCapability(nil, []string{self.URL}, plainDial)
		_, herr := do(c, "GET", self.URL+"/start")
		if herr == nil || herr.Code != abi.CodeHTTPFailed || herr.Message != "stopped after 5 redirects" {
			t.Fatalf("got %+v", herr)
		}
	})
}

func TestHTTP_responseTooLarge(t *testing.T) {
	up := newUpstream(t, "")
	c := newHTTPCapability(nil, []string{up.URL}, plainDial)
	_, herr := do(c, "GET", up.URL+"/big")
	if herr == nil || herr.Code != abi.CodeHTTPTooLarge || herr.Message != fmt.Sprintf("response body exceeds %d bytes", abi.MaxHTTPResponseBody) {
		t.Fatalf("got %+v", herr)
	}
}

func TestHTTP_failureHidesSecrets(t *testing.T) {
	// A refused connection: the message names the cause, not the URL's
	// query string nor the request headers.
	c := newHTTPCapability(nil, []string{"http://127.0.0.1:1"}, plainDial)
	_, herr := do(c, "GET", "http://127.0.0.1:1/x?token=s3cr3t")
	if herr == nil || herr.Code != abi.CodeHTTPFailed || strings.Contains(herr.Message, "s3cr3t") {
		t.Fatalf("got %+v", herr)
	}
}

func TestIsInternal(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"100.64.0.1", true}, {"0.0.0.0", true}, {"::1", true},
		{"fc00::1", true}, {"fe80::1", true}, {"::ffff:127.0.0.1", true}, {"224.0.0.1", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"2606:4700::1111", false}, {"100.128.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			if got := isInternal(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Fatalf("isInternal(%s) = %v", tc.ip, got)
			}
		})
	}
}

// TestHTTP_throughGuest drives the capability from a WAT guest: the probe
// export sends its config as the request descriptor.
func TestHTTP_throughGuest(t *testing.T) {
	up := newUpstream(t, "")
	outside := newUpstream(t, "")
	bouncer := newUpstream(t, outside.URL+"/x")
	rt := newTestRuntime(t, func(c *Config) {
		c.Env = envMap(map[string]string{"HTTPGUEST_ORIGINS": up.URL + "," + bouncer.URL})
		c.DialContext = plainDial
	})
	p := rt.load(t, "limits/http")
	ctx := context.Background()
	tests := []struct {
		name, url, want string
	}{
		{name: "granted", url: up.URL + "/ok"},
		{name: "not-granted", url: outside.URL + "/x",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_origin_denied": origin ` + canon(outside.URL) + ` is not granted to this plugin`},
		{name: "redirect-out", url: bouncer.URL + "/redirect",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_origin_denied": redirect to origin ` + canon(outside.URL) + ` is not granted to this plugin`},
		{name: "bad-descriptor", url: "ftp://x",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_bad_request": origin "ftp://x": scheme must be http or https`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Probe(ctx, json.RawMessage(`{"method":"GET","url":"`+tc.url+`"}`))
			if got := errString(err); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if up.hits.Load() != 1 || outside.hits.Load() != 0 {
		t.Fatalf("hits: granted %d, outside %d", up.hits.Load(), outside.hits.Load())
	}
}
