//go:build !linux

package plugin

import "github.com/tetratelabs/wazero/experimental"

// guestMemory is nil: wazero's default slice-backed memory (see
// memory_linux.go for why Linux reserves a mapping instead).
var guestMemory experimental.MemoryAllocator
