package cli_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestMasterPasswordNotInProc starts the real server with the master
// password from each source and reads every file under /proc/<pid>/ that
// can hold process text (environ, cmdline, status, the threads' copies …):
// none may contain the password. The sources share one data directory, and
// a wrong password fails the start, so each start also proves the password
// arrived intact.
func TestMasterPasswordNotInProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const password = "proc-leak-probe-7f3a9c"
	dir := newDataDir(t)
	pwFile := filepath.Join(t.TempDir(), "master-password")
	writeFileT(t, pwFile, password+"\n")
	tests := []struct {
		name  string
		flags []string
		env   []string
		stdin string
	}{
		{name: "env", env: []string{"AGENT_VAULT_MASTER_PASSWORD=" + password}},
		{name: "file-env", env: []string{"AGENT_VAULT_MASTER_PASSWORD_FILE=" + pwFile}},
		{name: "stdin", flags: []string{"--password-stdin"}, stdin: password + "\n"},
		// Set but overridden by stdin: the variable must still go.
		{name: "stdin-and-env", flags: []string{"--password-stdin"}, stdin: password + "\n", env: []string{"AGENT_VAULT_MASTER_PASSWORD=" + password}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"server", "--data-dir", dir, "--port", "0", "--mitm-port", "0"}, tc.flags...)...)
			cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, tc.env...)
			if tc.stdin != "" {
				cmd.Stdin = strings.NewReader(tc.stdin)
			}
			s := startServerCmd(t, cmd)
			pid := s.cmd.Process.Pid
			for path, content := range procFiles(t, pid) {
				if bytes.Contains(content, []byte(password)) {
					t.Errorf("/proc/%d/%s contains the master password", pid, path)
				}
			}
			if strings.Contains(s.stderr.String(), password) {
				t.Errorf("the server's log contains the master password")
			}
			s.stop(t)
		})
	}
}

// procFiles reads the text files under /proc/<pid>/ and its threads'
// directories (at most 4 MiB each), skipping what cannot be read.
func procFiles(t *testing.T, pid int) map[string][]byte {
	t.Helper()
	root := filepath.Join("/proc", strconv.Itoa(pid))
	out := map[string][]byte{}
	var walk func(rel string, depth int)
	walk = func(rel string, depth int) {
		entries, err := os.ReadDir(filepath.Join(root, rel))
		if err != nil {
			return
		}
		for _, e := range entries {
			name := filepath.Join(rel, e.Name())
			switch {
			case e.Type()&os.ModeSymlink != 0:
				// fd/*, cwd, exe, root: targets are names, not contents.
				if target, err := os.Readlink(filepath.Join(root, name)); err == nil {
					out[name+" (link)"] = []byte(target)
				}
			case e.IsDir():
				// task/<tid>/ repeats the files per thread; fd/ and
				// the like hold only links.
				if depth < 2 && e.Name() != "net" && e.Name() != "ns" {
					walk(name, depth+1)
				}
			default:
				f, err := os.Open(filepath.Join(root, name))
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(f, 4<<20))
				f.Close()
				out[name] = b
			}
		}
	}
	walk("", 0)
	if len(out["environ"]) == 0 || len(out["cmdline"]) == 0 {
		t.Fatalf("could not read /proc/%d/environ and cmdline", pid)
	}
	return out
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
