package cli

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// reexecWithout replaces the process with a fresh run of the same binary
// and arguments (same pid, so supervisors notice nothing) whose environment
// lacks name. The password travels in a pipe whose read end the new image
// inherits (--password-fd); it is drained and closed at once, so afterwards
// no file under /proc/<pid>/ shows it. It returns only on failure.
func reexecWithout(name, password string) error {
	if len(password) > maxPasswordBytes {
		return fmt.Errorf("the master password is longer than %d bytes", maxPasswordBytes)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	// A pipe holds at least 4 KiB without a reader, so this cannot block.
	_, err = w.Write([]byte(password))
	w.Close()
	if err != nil {
		return err
	}
	fd := int(r.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil { // inherit it
		return err
	}
	args := append(append([]string(nil), os.Args...), "--password-fd", strconv.Itoa(fd))
	err = syscall.Exec("/proc/self/exe", args, withoutEnv(os.Environ(), []string{name}))
	runtime.KeepAlive(r)
	return err
}
