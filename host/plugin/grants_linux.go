package plugin

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openNoFollow opens path for reading without following a final symlink.
func openNoFollow(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// checkOpened refuses what f turned out to be, whatever name led there: a
// file on procfs or sysfs, anything but a regular file, or a file whose
// real path is in a denied tree (a directory swapped for a symlink between
// the check of the name and the open).
func checkOpened(f *os.File, denied []string) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return err
	}
	if fs.Type == unix.PROC_SUPER_MAGIC || fs.Type == unix.SYSFS_MAGIC {
		return fmt.Errorf("is on procfs or sysfs, which no plugin may read")
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	if real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil && under(real, denied) {
		return fmt.Errorf("is in a directory no plugin may read")
	}
	return nil
}
