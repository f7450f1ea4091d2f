package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSessionSaveLoadForget(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if s, err := loadSession(); err != nil || s != nil {
		t.Fatalf("no session yet: got %v, %v", s, err)
	}
	want := session{Addr: "http://127.0.0.1:14321", Email: "o@example.com", Token: "av_sess_x", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := want.save(); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{
		filepath.Join(home, ".agent-vault"):                 0o700 | os.ModeDir,
		filepath.Join(home, ".agent-vault", "session.json"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	got, err := loadSession()
	if err != nil || *got != want {
		t.Fatalf("loaded %+v, %v; want %+v", got, err, want)
	}
	entries, _ := os.ReadDir(filepath.Join(home, ".agent-vault"))
	if len(entries) != 1 {
		t.Errorf("a temp file was left behind: %v", entries)
	}
	if err := forgetSession(); err != nil {
		t.Fatal(err)
	}
	if err := forgetSession(); err != nil {
		t.Fatalf("forgetting twice: %v", err)
	}
	if s, _ := loadSession(); s != nil {
		t.Fatal("session still there after forget")
	}
}

func TestDamagedSession(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".agent-vault"), 0o700)
	os.WriteFile(filepath.Join(home, ".agent-vault", "session.json"), []byte("{"), 0o600)
	_, err := loadSession()
	want := "the session file " + filepath.Join(home, ".agent-vault", "session.json") + " is damaged (unexpected end of JSON input); run 'agent-vault login' again"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}
