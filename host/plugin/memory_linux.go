//go:build linux

package plugin

import (
	"runtime"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// guestMemory backs each instance's linear memory with an anonymous
// mapping: the instance's whole maximum is reserved (address space only,
// PROT_NONE) and pages become readable and writable as the guest grows.
//
// Why: wazero's default grows a Go slice, copying the whole memory at every
// memory.grow. A Go guest grows many times while its runtime starts, so
// that copying (and zeroing) was about a third of creating an instance.
// Here growing never copies or moves the memory, and the pages live
// outside the Go heap, so guest memory adds no GC work to the host.
//
// It uses wazero's experimental.MemoryAllocator (the hook exists for this;
// wazero does the same for shared memories). A reservation that fails falls
// back to a plain slice, so behaviour never depends on this path.
var guestMemory experimental.MemoryAllocator = experimental.MemoryAllocatorFunc(newMappedMemory)

type mappedMemory struct {
	buf     []byte // the whole reservation; buf[:size] is accessible
	size    uint64
	cleanup runtime.Cleanup
}

func newMappedMemory(capacity, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<32 {
		return &sliceMemory{buf: make([]byte, 0, capacity)}
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return &sliceMemory{buf: make([]byte, 0, capacity)}
	}
	m := &mappedMemory{buf: buf}
	// wazero frees a memory when its module closes, but not when
	// instantiation fails after the memory was made: unmap it then.
	m.cleanup = runtime.AddCleanup(m, func(b []byte) { _ = syscall.Munmap(b) }, buf)
	return m
}

// Reallocate makes the first size bytes accessible. Sizes are multiples of
// the 64 KiB wasm page, so always of the OS page. nil means the grow fails,
// which the guest sees as memory.grow returning -1.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.size {
		if err := syscall.Mprotect(m.buf[m.size:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.size = size
	}
	return m.buf[:size:size]
}

func (m *mappedMemory) Free() {
	if m.buf == nil {
		return
	}
	m.cleanup.Stop()
	_ = syscall.Munmap(m.buf)
	m.buf, m.size = nil, 0
}

// sliceMemory is the fallback when a reservation fails: a Go slice that
// copies when it grows, as wazero does by default.
type sliceMemory struct{ buf []byte }

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, size-uint64(cap(m.buf)))...)
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }

// Interface guards
var (
	_ experimental.LinearMemory = (*mappedMemory)(nil)
	_ experimental.LinearMemory = (*sliceMemory)(nil)
)
