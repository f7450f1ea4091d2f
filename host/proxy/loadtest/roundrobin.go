package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// roundRobin is the plain TCP load balancer the README asks for in front
// of several replicas' proxy ports: each accepted connection goes to the
// next backend in turn and bytes are copied both ways, nothing parsed.
type roundRobin struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	wg       sync.WaitGroup
}

func startRoundRobin(backends []string) (*roundRobin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rr := &roundRobin{ln: ln, backends: backends}
	rr.wg.Add(1)
	go rr.serve()
	return rr, nil
}

func (rr *roundRobin) addr() string { return rr.ln.Addr().String() }

func (rr *roundRobin) serve() {
	defer rr.wg.Done()
	for {
		c, err := rr.ln.Accept()
		if err != nil {
			return
		}
		backend := rr.backends[rr.next.Add(1)%uint64(len(rr.backends))]
		rr.wg.Add(1)
		go func() {
			defer rr.wg.Done()
			defer c.Close()
			b, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer b.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(b, c) //nolint:errcheck // either side closing ends the pair
				b.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(c, b) //nolint:errcheck
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

// close stops accepting; open connections end when their clients close.
func (rr *roundRobin) close() { rr.ln.Close() }
