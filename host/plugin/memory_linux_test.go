//go:build linux

package plugin

import (
	"testing"
	"unsafe"
)

// TestMappedMemory checks the contract wazero relies on: Reallocate gives
// exactly size bytes, growing keeps the address and the contents, new
// pages are zero, and a size past the reservation fails with nil.
func TestMappedMemory(t *testing.T) {
	const page = 65536
	m := newMappedMemory(0, 4*page).(*mappedMemory)
	defer m.Free()

	b := m.Reallocate(page)
	if len(b) != page {
		t.Fatalf("len = %d, want %d", len(b), page)
	}
	base := unsafe.SliceData(b)
	b[0], b[page-1] = 1, 2

	tests := []struct {
		name    string
		size    uint64
		wantNil bool
	}{
		{name: "grow-one-page", size: 2 * page},
		{name: "same-size", size: 2 * page},
		{name: "grow-to-max", size: 4 * page},
		{name: "past-max", size: 5 * page, wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Reallocate(tc.size)
			if tc.wantNil {
				if got != nil {
					t.Fatalf("Reallocate(%d) = %d bytes, want nil", tc.size, len(got))
				}
				return
			}
			if uint64(len(got)) != tc.size {
				t.Fatalf("len = %d, want %d", len(got), tc.size)
			}
			if unsafe.SliceData(got) != base {
				t.Fatal("memory moved while growing")
			}
			if got[0] != 1 || got[page-1] != 2 {
				t.Fatalf("contents lost: %d %d", got[0], got[page-1])
			}
			if last := got[tc.size-1]; last != 0 {
				t.Fatalf("new page not zero: %d", last)
			}
			got[tc.size-1] = 3 // writable
			got[tc.size-1] = 0
		})
	}

	m.Free()
	if got := m.Reallocate(page); got != nil {
		t.Fatalf("Reallocate after Free = %d bytes, want nil", len(got))
	}
	m.Free() // a second Free is harmless
}

// TestMappedMemory_fallback: a maximum that cannot be reserved gives a
// slice-backed memory that still grows.
func TestMappedMemory_fallback(t *testing.T) {
	m := newMappedMemory(0, 1<<33)
	if _, ok := m.(*sliceMemory); !ok {
		t.Fatalf("got %T, want *sliceMemory", m)
	}
	b := m.Reallocate(65536)
	b[0] = 7
	if b = m.Reallocate(2 * 65536); len(b) != 2*65536 || b[0] != 7 {
		t.Fatalf("len %d, b[0] %d; want %d, 7", len(b), b[0], 2*65536)
	}
	m.Free()
}
