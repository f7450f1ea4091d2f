package cli

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// maxPasswordBytes bounds a master password read from a file or a
// descriptor; it also fits the pipe a re-exec hands it over in.
const maxPasswordBytes = 4096

// masterPassword reads the master password: from the descriptor a re-exec
// handed over, else standard input (--password-stdin), else the password
// file, else AGENT_VAULT_MASTER_PASSWORD. When that variable was set (used
// or not), the process re-executes itself without it: os.Unsetenv changes
// only Go's copy, while the kernel keeps showing the environment the
// process started with in /proc/<pid>/environ.
func (c *serverCmd) masterPassword(e *env, log *slog.Logger) (string, error) {
	fromEnv, inEnv := os.LookupEnv(masterPasswordEnv)
	os.Unsetenv(masterPasswordEnv)
	var pw string
	var err error
	switch {
	case c.PasswordFD >= 0:
		pw, err = readPasswordFD(c.PasswordFD)
	case c.PasswordStdin:
		line, rerr := bufio.NewReader(e.Stdin).ReadString('\n')
		if rerr != nil && line == "" {
			return "", fmt.Errorf("reading the master password from standard input: %w", rerr)
		}
		pw = strings.TrimRight(line, "\r\n")
	case c.PasswordFile != "":
		pw, err = readPasswordFile(c.PasswordFile, log)
	default:
		pw = fromEnv
	}
	if err != nil {
		return "", err
	}
	if inEnv {
		// Returns only when the re-exec could not happen.
		err := reexecWithout(masterPasswordEnv, pw)
		log.Warn("could not restart without "+masterPasswordEnv+"; it stays readable in this process's environment block. Prefer --password-stdin or "+masterPasswordEnv+"_FILE", "error", err)
	}
	return pw, nil
}

// readPasswordFile reads the first line of path.
func readPasswordFile(path string, log *slog.Logger) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the master password file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the master password file can be read by other users; make it 0600", "path", path, "mode", fi.Mode().Perm().String())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the master password file: %w", err)
	}
	if len(b) > maxPasswordBytes {
		return "", fmt.Errorf("the master password file %s is longer than %d bytes", path, maxPasswordBytes)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// readPasswordFD reads the whole content of an inherited descriptor and
// closes it.
func readPasswordFD(fd int) (string, error) {
	f := os.NewFile(uintptr(fd), "master-password")
	if f == nil {
		return "", fmt.Errorf("--password-fd %d is not a valid descriptor", fd)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the master password from descriptor %d: %w", fd, err)
	}
	if len(b) > maxPasswordBytes {
		return "", fmt.Errorf("the master password is longer than %d bytes", maxPasswordBytes)
	}
	return string(b), nil
}
