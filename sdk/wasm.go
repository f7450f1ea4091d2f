//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// This file is the wasm side of sdk/ABI.md: exports, imports and the
// allocation map. Ownership: buffers the host asks for (alloc) and results
// the guest returns are pinned in `pins` until the host calls free.

var pins pinTable

func pin(b []byte) uint32 {
	if len(b) == 0 {
		b = make([]byte, 1)
	}
	ptr := uint32(uintptr(unsafe.Pointer(&b[0])))
	pins.add(ptr, b)
	return ptr
}

// result and input are not inlined into each of the ten exports: in wasm,
// code size is load time.
//
//go:noinline
func result(b []byte) uint64 { return abi.Pack(pin(b), uint32(len(b))) }

//go:noinline
func input(ptr, n uint32) []byte {
	b := pins.get(ptr)
	if b == nil || uint32(len(b)) < n {
		return nil
	}
	return b[:n]
}

//go:wasmexport abi_version
func exportABIVersion() int32 { return abi.Version }

//go:wasmexport alloc
func exportAlloc(size uint32) uint32 { return pin(make([]byte, size)) }

//go:wasmexport free
func exportFree(ptr uint32) { pins.remove(ptr) }

//go:wasmexport manifest
func exportManifest() uint64 { return result(manifestEnvelope()) }

//go:wasmexport validate_config
func exportValidateConfig(ptr, n uint32) uint64 {
	return result(handle(abi.ExportValidateConfig, input(ptr, n)))
}

//go:wasmexport probe
func exportProbe(ptr, n uint32) uint64 { return result(handle(abi.ExportProbe, input(ptr, n))) }

//go:wasmexport check
func exportCheck(ptr, n uint32) uint64 { return result(handle(abi.ExportCheck, input(ptr, n))) }

//go:wasmexport sync
func exportSync(ptr, n uint32) uint64 { return result(handle(abi.ExportSync, input(ptr, n))) }

//go:wasmexport validate_write
func exportValidateWrite(ptr, n uint32) uint64 {
	return result(handle(abi.ExportValidateWrite, input(ptr, n)))
}

//go:wasmexport dynamic_list
func exportDynamicList(ptr, n uint32) uint64 {
	return result(handle(abi.ExportDynamicList, input(ptr, n)))
}

//go:wasmexport lease_create
func exportLeaseCreate(ptr, n uint32) uint64 {
	return result(handle(abi.ExportLeaseCreate, input(ptr, n)))
}

//go:wasmexport lease_renew
func exportLeaseRenew(ptr, n uint32) uint64 {
	return result(handle(abi.ExportLeaseRenew, input(ptr, n)))
}

//go:wasmexport lease_revoke
func exportLeaseRevoke(ptr, n uint32) uint64 {
	return result(handle(abi.ExportLeaseRevoke, input(ptr, n)))
}
