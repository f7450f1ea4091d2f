package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// invoke runs one export on inst following the ownership rules in ABI.md:
// the host writes the input into its buffer in the guest (allocated with
// alloc, reused across calls), calls, copies the packed result out and frees
// it. in == nil means the
// export takes no parameters. healthy reports whether inst may be reused.
func (p *Plugin) invoke(ctx context.Context, inst *instance, export string, in []byte) (ok json.RawMessage, healthy bool, err error) {
	st := &callState{services: p.services, export: export}
	ctx = context.WithValue(ctx, callStateKey{}, st)
	inst.stderr.reset()
	fn := inst.fns[export]
	if fn == nil {
		return nil, true, p.err(export, ClassGuest, abi.CodePluginUnsupported, "the plugin does not export it")
	}
	mem := inst.mod.Memory()

	var params []uint64
	if in != nil {
		ptr, err := p.inputBuffer(ctx, inst, export, uint32(len(in)))
		if err != nil {
			return nil, false, err
		}
		mem.Write(ptr, in)
		params = []uint64{uint64(ptr), uint64(len(in))}
	}
	res, err := fn.Call(ctx, params...)
	if err != nil {
		return nil, false, p.classify(ctx, inst, export, err)
	}
	rptr, rlen := abi.Unpack(res[0])
	if rlen > abi.MaxResultBytes {
		return nil, false, p.err(export, ClassLimit, abi.CodePluginOutputLimit, fmt.Sprintf("result is %d bytes; the limit is %d", rlen, abi.MaxResultBytes))
	}
	if err := abi.CheckRange(rptr, rlen, mem.Size()); err != nil || rlen == 0 {
		if err == nil {
			err = errors.New("empty result")
		}
		return nil, false, p.err(export, ClassTrap, abi.CodePluginBadResult, fmt.Sprintf("returned (ptr %d, len %d): %v", rptr, rlen, err))
	}
	view, _ := mem.Read(rptr, rlen)
	out := append([]byte(nil), view...) // copy before calling free
	if _, err := inst.fns[abi.ExportFree].Call(ctx, uint64(rptr)); err != nil {
		e := p.classify(ctx, inst, export, err)
		e.Message = "free: " + e.Message
		return nil, false, e
	}
	if export == abi.ExportManifest {
		// The manifest is not enveloped differently, just smaller.
		if len(out) > abi.MaxManifestBytes {
			return nil, false, p.err(export, ClassLimit, abi.CodePluginOutputLimit, fmt.Sprintf("manifest is %d bytes; the limit is %d", len(out), abi.MaxManifestBytes))
		}
	}
	okRaw, gerr, err := abi.DecodeEnvelope(out)
	if err != nil {
		return nil, false, p.err(export, ClassTrap, abi.CodePluginBadResult, "malformed result: "+err.Error())
	}
	if gerr != nil {
		if !abi.IsGuestCode(gerr.Code) {
			return nil, true, p.err(export, ClassGuest, abi.CodePluginError, fmt.Sprintf("returned unknown code %q: %s", gerr.Code, gerr.Message))
		}
		return nil, true, p.err(export, ClassGuest, gerr.Code, gerr.Message)
	}
	return okRaw, true, nil
}

// inputBuffer returns the instance's input buffer, at least n bytes long
// (never shorter than 4 KiB, so most calls reuse the first one). A smaller
// buffer is freed before a larger one is allocated.
func (p *Plugin) inputBuffer(ctx context.Context, inst *instance, export string, n uint32) (uint32, error) {
	if inst.inPtr != 0 && n <= inst.inCap {
		return inst.inPtr, nil
	}
	if inst.inPtr != 0 {
		if _, err := inst.fns[abi.ExportFree].Call(ctx, uint64(inst.inPtr)); err != nil {
			e := p.classify(ctx, inst, export, err)
			e.Message = "free: " + e.Message
			return 0, e
		}
		inst.inPtr, inst.inCap = 0, 0
	}
	size := max(n, 4096)
	res, err := inst.fns[abi.ExportAlloc].Call(ctx, uint64(size))
	if err != nil {
		e := p.classify(ctx, inst, export, err)
		e.Message = "alloc: " + e.Message
		return 0, e
	}
	ptr := uint32(res[0])
	if err := abi.CheckRange(ptr, size, inst.mod.Memory().Size()); err != nil || ptr == 0 {
		return 0, p.err(export, ClassTrap, abi.CodePluginBadResult, fmt.Sprintf("alloc(%d) returned an unusable pointer %d", size, ptr))
	}
	inst.inPtr, inst.inCap = ptr, size
	return ptr, nil
}

// classify maps a failed wazero call to a limit or a trap.
func (p *Plugin) classify(ctx context.Context, inst *instance, export string, err error) *Error {
	stderr := inst.stderr.String()
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return p.err(export, ClassLimit, abi.CodePluginTimeout, fmt.Sprintf("did not return within its deadline (%s)", p.timeoutOf(export)))
		case sys.ExitCodeContextCanceled:
			return p.err(export, ClassLimit, abi.CodePluginTimeout, "the call was canceled")
		}
	}
	if ctx.Err() != nil {
		return p.err(export, ClassLimit, abi.CodePluginTimeout, fmt.Sprintf("did not return within its deadline (%s)", p.timeoutOf(export)))
	}
	limit := uint64(p.rt.cfg.MemoryLimitPages) * 65536
	if strings.Contains(stderr, "out of memory") || uint64(inst.mod.Memory().Size()) >= limit {
		return p.err(export, ClassLimit, abi.CodePluginMemoryLimit, fmt.Sprintf("exceeded the memory limit of %d pages (%d MiB)", p.rt.cfg.MemoryLimitPages, limit>>20))
	}
	if stderr != "" {
		p.logger().Warn("plugin trapped", "export", export, "stderr", scrubGiven(ctx, firstLine(stderr, 300)))
	}
	// The guest's stderr goes to the log only: a panic value is the
	// plugin's text and might echo data it should not. A Go panic inside an
	// export ends in `unreachable`; from a goroutine, in exit code 2.
	if strings.HasPrefix(stderr, "panic:") {
		return p.err(export, ClassTrap, abi.CodePluginTrap, "trapped: the plugin panicked")
	}
	if exit != nil {
		return p.err(export, ClassTrap, abi.CodePluginTrap, fmt.Sprintf("trapped: the plugin exited with code %d", exit.ExitCode()))
	}
	return p.err(export, ClassTrap, abi.CodePluginTrap, "trapped: "+firstLine(err.Error(), 300))
}

func (p *Plugin) timeoutOf(export string) time.Duration {
	switch export {
	case abi.ExportInitialize, abi.ExportABIVersion, abi.ExportManifest:
		return p.rt.cfg.InitTimeout // called only while loading
	}
	return p.rt.cfg.CallTimeout
}

func firstLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return abi.Truncate(s, max)
}

func (p *Plugin) err(export string, class Class, code, msg string) *Error {
	return &Error{Plugin: p.name(), Export: export, Class: class, Code: code, Message: msg}
}
