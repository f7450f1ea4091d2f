//go:build !linux && !wasip1

package plugins

// DropPages does nothing off Linux (see pages_linux.go).
func DropPages(string) {}
