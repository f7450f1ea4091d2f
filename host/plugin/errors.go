package plugin

import (
	"fmt"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Class says who is at fault when a plugin call fails.
type Class int

const (
	// ClassGuest: the plugin reported an error in its envelope. Its code is
	// passed through (when it is one of abi.GuestCodes).
	ClassGuest Class = iota + 1
	// ClassTrap: the plugin panicked, trapped, exited, or broke the ABI
	// (bad pointer, malformed envelope).
	ClassTrap
	// ClassLimit: the call hit a host limit (deadline, memory, output size).
	ClassLimit
	// ClassLoad: the module failed validation at load.
	ClassLoad
)

func (c Class) String() string {
	switch c {
	case ClassGuest:
		return "guest"
	case ClassTrap:
		return "trap"
	case ClassLimit:
		return "limit"
	case ClassLoad:
		return "load"
	}
	return "unknown"
}

// Error is every failure host/plugin returns. It unwraps to a *domain.Error
// with the same code, so `domain.CodeOf(err)` and the API's single
// code-to-status mapping work unchanged. Messages name the plugin and the
// export and never contain a credential value (guest messages are the
// plugin's own and are documented in sdk/ABI.md as display-safe).
type Error struct {
	Plugin  string // kind, or the load name before the manifest is read
	Export  string // ABI export, empty for load-level failures
	Class   Class
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Export == "" {
		return fmt.Sprintf("plugin %q: %s", e.Plugin, e.Message)
	}
	return fmt.Sprintf("plugin %q: export %q: %s", e.Plugin, e.Export, e.Message)
}

// Display is the message to show the API's caller: the plugin's own words
// for a guest-reported error (display-safe by the ABI), the full context
// (plugin, export, what broke) for a trap, limit or load failure.
func (e *Error) Display() string {
	if e.Class == ClassGuest {
		return e.Message
	}
	return e.Error()
}

// Unwrap exposes the stable code to errors.As(&*domain.Error).
func (e *Error) Unwrap() error { return &domain.Error{Code: e.Code, Message: e.Error()} }

func loadErr(plugin, code, format string, args ...any) *Error {
	return &Error{Plugin: plugin, Class: ClassLoad, Code: code, Message: fmt.Sprintf(format, args...)}
}
