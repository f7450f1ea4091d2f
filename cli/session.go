package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// session is what `login` keeps between commands. The file holds a bearer
// token, so it is written 0600 in a 0700 directory and never printed.
type session struct {
	Addr      string    `json:"addr"`
	Email     string    `json:"email"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// sessionPath is ~/.agent-vault/session.json.
func sessionPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for the session file: %w", err)
	}
	return filepath.Join(home, ".agent-vault", "session.json"), nil
}

// loadSession returns the saved session, or nil when there is none.
func loadSession() (*session, error) {
	p, err := sessionPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the session: %w", err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the session file %s is damaged (%v); run 'agent-vault login' again", p, err)
	}
	return &s, nil
}

// save writes the session atomically, readable by its owner only.
func (s *session) save() error {
	p, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("saving the session: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".session-*")
	if err != nil {
		return fmt.Errorf("saving the session: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; chmod anyway in case of an odd umask.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the session: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the session: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("saving the session: %w", err)
	}
	return nil
}

// forgetSession removes the saved session; a missing file is fine.
func forgetSession() error {
	p, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the session: %w", err)
	}
	return nil
}
