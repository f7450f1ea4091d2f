//go:build !linux

package plugin

import (
	"fmt"
	"os"
)

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }

func checkOpened(f *os.File, denied []string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	return nil
}
