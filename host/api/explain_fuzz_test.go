package api

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzExplainTarget: any URL either is refused with invalid_input or splits
// into a host, a numeric port and an absolute path, as the proxy would.
func FuzzExplainTarget(f *testing.F) {
	for _, s := range []string{"https://api.github.com/user", "http://[::1]:8080/x", "https://x.com:99999/", "ftp://x.com",
		"/relative", "https://user:pw@host/p", "http://HOST.Example.COM", "https://%zz/", "http://a b/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		host, port, path, err := explainTarget(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid_input: url: ") {
				t.Fatalf("%q: unexpected error %v", raw, err)
			}
			return
		}
		if n, perr := strconv.Atoi(port); host == "" || perr != nil || n < 1 || n > 65535 || !strings.HasPrefix(path, "/") {
			t.Fatalf("%q: host %q port %q path %q", raw, host, port, path)
		}
		if host != strings.ToLower(host) {
			t.Fatalf("%q: host %q not lower-case", raw, host)
		}
	})
}
