package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcUpstream is a gRPC test service that requires the credentials the
// proxy injects: "authorization: Bearer <TOKEN>" on every method but
// StreamingInputCall, which needs "x-api-key: <KEY>" (service grpc-custom).
type grpcUpstream struct {
	testgrpc.UnimplementedTestServiceServer
	cancelled chan struct{} // closed when a FullDuplexCall sees its client cancel
}

func checkGRPCAuth(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	want, key := "Bearer sk_live_TOKENVALUE", "authorization"
	if method == testgrpc.TestService_StreamingInputCall_FullMethodName {
		want, key = "APIKEYVALUE", "x-api-key"
	}
	if got := md.Get(key); len(got) != 1 || got[0] != want {
		return status.Errorf(codes.Unauthenticated, "%s missing or wrong (%d values)", key, len(got))
	}
	if len(md.Get("proxy-authorization")) > 0 {
		return status.Error(codes.PermissionDenied, "proxy-authorization reached the upstream")
	}
	return nil
}

func (g *grpcUpstream) UnaryCall(_ context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if st := in.GetResponseStatus(); st != nil && st.Code != 0 {
		return nil, status.Error(codes.Code(st.Code), st.Message)
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: bytes.Repeat([]byte("r"), int(in.ResponseSize))}}, nil
}

func (g *grpcUpstream) StreamingOutputCall(in *testgrpc.StreamingOutputCallRequest, s testgrpc.TestService_StreamingOutputCallServer) error {
	for _, p := range in.ResponseParameters {
		if err := s.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: bytes.Repeat([]byte("s"), int(p.Size))}}); err != nil {
			return err
		}
	}
	return nil
}

func (g *grpcUpstream) StreamingInputCall(s testgrpc.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(m.GetPayload().GetBody())
	}
}

// FullDuplexCall answers each message with one of the asked size, until
// the client half-closes or cancels.
func (g *grpcUpstream) FullDuplexCall(s testgrpc.TestService_FullDuplexCallServer) error {
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if status.Code(err) == codes.Canceled || errors.Is(s.Context().Err(), context.Canceled) {
				close(g.cancelled)
			}
			return err
		}
		size := 1
		if len(m.ResponseParameters) > 0 {
			size = int(m.ResponseParameters[0].Size)
		}
		if err := s.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: bytes.Repeat([]byte("d"), size)}}); err != nil {
			return err
		}
	}
}

// startGRPC serves the test service over TLS at grpc.api.test:443.
func startGRPC(t *testing.T, e *h2Env) *grpcUpstream {
	leaf, err := e.upCA.leaf("h2.api.test", "grpc.api.test")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcUpstream{cancelled: make(chan struct{})}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*leaf}})),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkGRPCAuth(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkGRPCAuth(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}))
	testgrpc.RegisterTestServiceServer(srv, g)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(srv.Stop)
	e.route("grpc.api.test:443", l.Addr().String())
	return g
}

// grpcClient connects a gRPC client to grpc.api.test through the proxy:
// its dialer opens the CONNECT tunnel, and gRPC speaks TLS and HTTP/2
// inside it, trusting the proxy's CA. dials counts tunnels.
func grpcClient(t *testing.T, e *env, dials *atomic.Int32) testgrpc.TestServiceClient {
	auth := base64.StdEncoding.EncodeToString([]byte("tok1:main"))
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", e.addr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", addr, addr, auth)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 || br.Buffered() > 0 {
			c.Close()
			return nil, fmt.Errorf("CONNECT: %v %v", resp, err)
		}
		return c, nil
	}
	cc, err := grpc.NewClient("passthrough:///grpc.api.test:443", grpc.WithContextDialer(dialer),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: e.mitmCA.pool})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

// TestGRPC runs gRPC end to end through the proxy: the upstream gets the
// vault's credentials as metadata (bearer and a custom header), unary and
// streaming calls in both directions carry more than the HTTP/2 flow
// control windows, status and message arrive in trailers, a cancelled call
// is cancelled upstream, and every call is a row in the request log.
func TestGRPC(t *testing.T) {
	e := newH2Env(t)
	g := startGRPC(t, e)
	var dials atomic.Int32
	c := grpcClient(t, e.env, &dials)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The agent's own authorization metadata is replaced.
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer agent-fake")

	t.Run("unary", func(t *testing.T) {
		r, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 300 << 10, Payload: &testgrpc.Payload{Body: make([]byte, 200<<10)}})
		if err != nil || len(r.GetPayload().GetBody()) != 300<<10 {
			t.Fatalf("%v, %d bytes", err, len(r.GetPayload().GetBody()))
		}
	})
	t.Run("status-in-trailers", func(t *testing.T) {
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing"}})
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such thing" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("server-streaming", func(t *testing.T) {
		var params []*testgrpc.ResponseParameters
		for range 40 {
			params = append(params, &testgrpc.ResponseParameters{Size: 64 << 10})
		}
		s, err := c.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
		if err != nil {
			t.Fatal(err)
		}
		n, total := 0, 0
		for {
			m, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n, total = n+1, total+len(m.GetPayload().GetBody())
		}
		if n != 40 || total != 40*64<<10 {
			t.Fatalf("%d messages, %d bytes", n, total)
		}
	})
	t.Run("client-streaming-custom-header", func(t *testing.T) {
		s, err := c.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			if err := s.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, 64<<10)}}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.CloseAndRecv()
		if err != nil || r.AggregatedPayloadSize != 40*64<<10 {
			t.Fatalf("%v, %d bytes", err, r.GetAggregatedPayloadSize())
		}
	})
	t.Run("bidi-and-cancel", func(t *testing.T) {
		sctx, scancel := context.WithCancel(ctx)
		s, err := c.FullDuplexCall(sctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if err := s.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(i + 1)}}}); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv()
			if err != nil || len(m.GetPayload().GetBody()) != i+1 {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		scancel()
		select {
		case <-g.cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream never saw the call cancelled")
		}
	})
	if d := dials.Load(); d != 1 {
		t.Fatalf("%d tunnels for the calls, want 1", d)
	}
	// One row per call, with the credential keys and the service.
	ev := e.log.next(t, 4)
	want := []struct{ path, svc, keys string }{
		{"/grpc.testing.TestService/UnaryCall", "grpc", "[TOKEN]"},
		{"/grpc.testing.TestService/UnaryCall", "grpc", "[TOKEN]"},
		{"/grpc.testing.TestService/StreamingOutputCall", "grpc", "[TOKEN]"},
		{"/grpc.testing.TestService/StreamingInputCall", "grpc-custom", "[KEY]"},
		{"/grpc.testing.TestService/FullDuplexCall", "grpc", "[TOKEN]"},
	}
	evs := e.log.all()
	for i, w := range want {
		if ev = evs[i]; ev.Path != w.path || ev.Service != w.svc || fmt.Sprint(ev.Keys) != w.keys || ev.Host != "grpc.api.test" || ev.Method != "POST" {
			t.Errorf("event %d: %+v, want %+v", i, ev, w)
		}
	}
}

// TestGRPCOutlivesTunnelTimeouts: a stream that stays open past the
// tunnel's lifetime and the idle timeout keeps working; the connection
// only takes no new streams (GOAWAY), and the next call opens a new
// tunnel, authenticated afresh.
func TestGRPCOutlivesTunnelTimeouts(t *testing.T) {
	const lifetime = 300 * time.Millisecond
	e := newH2Env(t, func(c *Config) { c.TunnelMaxLifetime = lifetime; c.IdleTimeout = lifetime })
	startGRPC(t, e)
	var dials atomic.Int32
	c := grpcClient(t, e.env, &dials)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() {
		t.Helper()
		if err := s.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	ping()
	start := time.Now()
	// Past both limits: wait until a new call needs a new tunnel, which
	// shows that the first connection got its GOAWAY.
	for dials.Load() < 2 {
		if _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		if dials.Load() < 2 {
			time.Sleep(50 * time.Millisecond) // polling for the lifetime to pass
		}
	}
	if time.Since(start) < lifetime/2 {
		t.Fatalf("a new tunnel after %v, well before the lifetime", time.Since(start))
	}
	ping() // the long-lived stream still works on the old connection
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
}
