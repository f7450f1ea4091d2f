package proxy

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

// TestErrorWireFormat pins the responses the proxy writes itself, byte for
// byte (Date aside): agents and SDKs parse them.
func TestErrorWireFormat(t *testing.T) {
	e := newEnv(t, testServices())
	auth := func(u string) string {
		return "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u)) + "\r\n"
	}
	cases := []struct{ name, request string }{
		{"proxy-auth-required", "GET http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n"},
		{"host-not-allowed", "GET http://deny.test/x?q=1 HTTP/1.1\r\nHost: deny.test\r\n" + auth("tok2:locked") + "\r\n"},
		{"credential-not-found", "GET http://api.test/missing/x HTTP/1.1\r\nHost: api.test\r\n" + auth("tok1:main") + "\r\n"},
		{"service-disabled", "GET http://api.test/disabled/x HTTP/1.1\r\nHost: api.test\r\n" + auth("tok1:main") + "\r\n"},
		{"https-absolute-form", "GET https://api.test/ HTTP/1.1\r\nHost: api.test\r\n" + auth("tok1:main") + "\r\n"},
	}
	var out bytes.Buffer
	for _, tc := range cases {
		c := dialProxy(t, e)
		io.WriteString(c, tc.request)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(&out, "### %s\n%s %s\n", tc.name, resp.Proto, resp.Status)
		names := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			if k != "Date" {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			fmt.Fprintf(&out, "%s: %s\n", k, resp.Header.Get(k))
		}
		fmt.Fprintf(&out, "\n%s\n", body)
	}
	golden.Check(t, "error-responses", out.Bytes())
}
