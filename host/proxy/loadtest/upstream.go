package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// upstream is the tiny service under the proxy: it answers "ok" to a
// request carrying the expected bearer token and 401 to any other, so every
// counted success proves the credential was injected. It listens on
// loopback twice, plain and TLS, and counts the connections it accepts: for
// proxied cells that is the number of upstream dials the proxy made.
type upstream struct {
	plain, tls     *countingListener
	plainSrv       *http.Server
	tlsSrv         *http.Server
	caPEM          []byte // the self-signed certificate the TLS side presents
	wantAuthHeader string
}

func startUpstream(token string) (*upstream, error) {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	u := &upstream{caPEM: caPEM, wantAuthHeader: "Bearer " + token}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pl.Close()
		return nil, err
	}
	u.plain, u.tls = &countingListener{Listener: pl}, &countingListener{Listener: tl}
	h := http.HandlerFunc(u.serve)
	// HTTP/1.1 only on both sides: the proxy's upstream transport speaks
	// HTTP/1.1, so direct and proxied cells compare the same protocol.
	noH2 := map[string]func(*http.Server, *tls.Conn, http.Handler){}
	u.plainSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSNextProto: noH2}
	u.tlsSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSNextProto: noH2}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	go u.plainSrv.Serve(u.plain)                      //nolint:errcheck // ends with close
	go u.tlsSrv.Serve(tls.NewListener(u.tls, tlsCfg)) //nolint:errcheck // ends with close
	return u, nil
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != u.wantAuthHeader {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "2")
	w.Write([]byte("ok")) //nolint:errcheck // the client may be gone
}

// accepted is the number of connections accepted so far on both listeners.
func (u *upstream) accepted() (plain, tls int64) {
	return u.plain.n.Load(), u.tls.n.Load()
}

func (u *upstream) close() {
	u.plainSrv.Close()
	u.tlsSrv.Close()
}

type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// selfSigned makes a certificate for 127.0.0.1 that is its own root; the
// server trusts it through --upstream-ca-file.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "agent-vault loadtest upstream"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Interface guards
var _ net.Listener = (*countingListener)(nil)
