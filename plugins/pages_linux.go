package plugins

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropPages gives back the resident pages of a shipped module, which the
// server reads once at start to hash it: otherwise they would count in its
// RSS for good, though nothing reads them until a compile. The module is
// an embedded string in the binary's read-only data, mapped privately from
// the executable and never written, so MADV_DONTNEED only unmaps pages the
// page cache still holds: a later read maps the same bytes again.
func DropPages(kind string) {
	s, ok := embedded[kind]
	page := uintptr(os.Getpagesize())
	if !ok || uintptr(len(s)) < page {
		return
	}
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	start := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	first := (start + page - 1) &^ (page - 1) // whole pages inside the module
	last := (start + uintptr(len(s))) &^ (page - 1)
	if last > first {
		_ = unix.Madvise(b[first-start:last-start], unix.MADV_DONTNEED)
	}
}
