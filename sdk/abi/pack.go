package abi

import "fmt"

// Pack packs a guest pointer and length into the i64 that exports return:
// the pointer in the high 32 bits, the length in the low 32 bits.
func Pack(ptr, length uint32) uint64 { return uint64(ptr)<<32 | uint64(length) }

// Unpack splits an i64 packed by Pack.
func Unpack(v uint64) (ptr, length uint32) { return uint32(v >> 32), uint32(v) }

// CheckRange validates a (ptr, len) pair against a memory of memSize bytes.
// A zero length is valid at any in-bounds offset; a non-zero length must not
// start at 0 (the null page is never a valid result) nor run past the end.
func CheckRange(ptr, length, memSize uint32) error {
	if uint64(ptr)+uint64(length) > uint64(memSize) {
		return fmt.Errorf("range [%d, %d) is outside memory of %d bytes", ptr, uint64(ptr)+uint64(length), memSize)
	}
	if length > 0 && ptr == 0 {
		return fmt.Errorf("non-empty range at null pointer")
	}
	return nil
}
