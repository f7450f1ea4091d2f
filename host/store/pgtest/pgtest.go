// Package pgtest gives tests a real PostgreSQL server: one per test binary,
// started on first use in a temporary directory (initdb, then postgres on a
// free loopback port) and stopped when the binary's tests end. Each caller
// gets its own empty schema on it, named in the URL's search_path: a
// schema costs milliseconds where a database costs most of a second.
//
// PostgreSQL refuses to run as root, and CI runs as root: then the server
// runs as the unprivileged user "nobody" in a directory handed to it.
//
// Without an installed PostgreSQL the tests that need one are skipped,
// except under CI=true, where a missing server is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Main runs a test binary's tests and then stops the shared server, if
// one was started: call it from TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.stop()
	return code
}

// Stop stops the shared server, if one was started: for a TestMain that
// cannot use Main (its harness runs the tests itself).
func Stop() { shared.stop() }

// Available reports whether PostgreSQL is installed here.
func Available() bool { _, err := findBin(); return err == nil }

// URL returns the URL of a new, empty schema on the shared server. It
// skips t when PostgreSQL is not installed, and fails it under CI=true.
func URL(t testing.TB) string {
	t.Helper()
	base, err := shared.start()
	if err != nil {
		if errors.Is(err, errNotInstalled) && os.Getenv("CI") != "true" {
			t.Skip("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)")
		}
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base+"/"+database+"?sslmode=disable")
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	return base + "/" + database + "?sslmode=disable&search_path=" + name
}

// database is the one database on the test server that holds every
// caller's schema.
const database = "agent_vault_test"

var errNotInstalled = errors.New("PostgreSQL is not installed")

// findBin finds the directory holding initdb and postgres: PATH first,
// then Debian's versioned directories, newest first.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

type server struct {
	once sync.Once
	base string // postgres://postgres@127.0.0.1:port
	err  error
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
}

var shared server

func (s *server) start() (string, error) {
	s.once.Do(func() { s.base, s.err = s.run() })
	return s.base, s.err
}

func (s *server) run() (string, error) {
	bin, err := findBin()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "agent-vault-pg-")
	if err != nil {
		return "", err
	}
	s.dir = dir
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return "", fmt.Errorf("running as root needs the user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	// The server is this process's child (not pg_ctl's daemon), so it
	// dies with the test binary even when the binary never reaches stop.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	s.cmd, s.done = cmd, make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(s.done) }()
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, base+"/postgres?sslmode=disable")
		cancel()
		if err == nil {
			_, err = conn.Exec(context.Background(), "CREATE DATABASE "+database)
			conn.Close(context.Background())
			if err != nil {
				return "", err
			}
			return base, nil
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return "", fmt.Errorf("postgres exited: %v\n%s", werr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("postgres did not accept connections within a minute: %v", err)
		}
	}
}

// stop shuts the server down fast (SIGQUIT: no checkpoint, nothing to
// keep) and removes its directory.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
