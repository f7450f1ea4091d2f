package server

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestPerAddressListenerClosesSurplus(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := limitPerAddress(inner, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedByServer reports whether the server closed c without a word.
	closedByServer := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	}
	dial()
	dial()
	first, second := <-accepted, <-accepted
	if third := dial(); !closedByServer(third) {
		t.Fatal("a third connection from the same address was kept")
	}
	first.Close()
	dial()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted after one closed")
	}
	second.Close()
}

func TestHostServed(t *testing.T) {
	allowed := []string{"vault.example.com", "*.corp.example"}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"", true}, {"127.0.0.1:14321", true}, {"[::1]:14321", true}, {"10.0.0.7", true}, {"localhost:14321", true},
		{"app.localhost", true}, {"vault.example.com", true}, {"Vault.Example.Com.:8443", true}, {"a.corp.example", true},
		{"evil.example", false}, {"corp.example", false}, {"localhost.evil.example", false}, {"vault.example.com.evil.example", false},
		{"127.0.0.1.nip.io", false},
	} {
		if got := hostServed(tc.host, allowed); got != tc.want {
			t.Errorf("hostServed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
