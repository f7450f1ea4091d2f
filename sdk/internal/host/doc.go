// Package host wraps the agent_vault_v1 imports for the guest library: the
// wasm build calls the host, the native build (!wasip1) has twins so plugin
// code runs under `go test`. It is internal so that plugin authors go
// through sdk and sdk/sdkhttp, never the raw ABI.
package host
