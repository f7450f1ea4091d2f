//go:build !linux

package cli

import "errors"

// reexecWithout is only needed where /proc shows a process's original
// environment; elsewhere os.Unsetenv is all there is.
func reexecWithout(name, password string) error {
	return errors.New("re-executing is supported on Linux only")
}
