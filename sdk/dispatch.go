package sdk

import (
	"context"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// manifestEnvelope encodes the registered Store's manifest.
func manifestEnvelope() []byte {
	s := store()
	if s == nil {
		return abi.EncodeError(CodeNotImplemented, "no store registered: call sdk.Register in init")
	}
	m := s.Manifest()
	b, err := appendManifest(nil, abi.Manifest{
		Kind: m.Kind, ABIVersion: abi.Version, Version: m.Version, Description: m.Description,
		Features: features(s), ConfigSchema: m.ConfigSchema, Env: m.Env,
		HTTPOrigins: m.HTTPOrigins, HTTPOriginsEnv: m.HTTPOriginsEnv,
	})
	if err != nil {
		return abi.EncodeError(CodeNotImplemented, "manifest does not encode: config_schema is not one JSON value")
	}
	return okEnvelope(b)
}

// handle runs one store export: in is the abi.Request JSON, the result is
// an envelope. It is the whole guest side of the ABI apart from memory.
func handle(export string, in []byte) []byte {
	s := store()
	if s == nil {
		return abi.EncodeError(CodeNotImplemented, "no store registered")
	}
	var req abi.Request
	if err := decodeRequest(in, &req); err != nil {
		return abi.EncodeError(CodeInvalidStoreConfig, "request: "+err.Error())
	}
	var ctx context.Context = context.Background()
	if req.DeadlineUnixNano > 0 {
		lc := &lazyDeadline{Context: ctx, deadline: time.Unix(0, req.DeadlineUnixNano)}
		defer lc.cancel()
		ctx = lc
	}
	r := Request{Config: req.Config, Env: req.Env}
	if r.Env == nil {
		r.Env = map[string]string{}
	}
	var (
		out any = abi.Empty{}
		err error
	)
	switch export {
	case abi.ExportValidateConfig:
		err = s.ValidateConfig(ctx, req.Config)
	case abi.ExportProbe:
		err = s.Probe(ctx, r)
	case abi.ExportSync:
		sy, ok := s.(Syncer)
		if !ok {
			return notImplemented(export)
		}
		var secrets map[string]string
		if secrets, err = sy.Sync(ctx, r); secrets == nil {
			secrets = map[string]string{}
		}
		out = abi.SyncResult{Secrets: secrets}
	case abi.ExportCheck:
		c, ok := s.(Checker)
		if !ok {
			return notImplemented(export)
		}
		var summary string
		summary, err = c.Check(ctx, r)
		out = abi.CheckResult{Summary: summary}
	case abi.ExportValidateWrite:
		w, ok := s.(Writer)
		if !ok {
			return notImplemented(export)
		}
		err = w.ValidateWrite(ctx, r, req.Secrets)
	case abi.ExportDynamicList, abi.ExportLeaseCreate, abi.ExportLeaseRenew, abi.ExportLeaseRevoke:
		d, ok := s.(DynamicSecrets)
		if !ok {
			return notImplemented(export)
		}
		out, err = dynamic(ctx, d, export, r, req)
	default:
		return notImplemented(export)
	}
	if err != nil {
		return errorEnvelope(err)
	}
	if _, empty := out.(abi.Empty); empty {
		return []byte(`{"ok":{}}`)
	}
	return okEnvelope(appendResult(nil, out))
}

func dynamic(ctx context.Context, d DynamicSecrets, export string, r Request, req abi.Request) (any, error) {
	switch export {
	case abi.ExportDynamicList:
		list, err := d.ListDynamic(ctx, r)
		if list == nil {
			list = []DynamicSecret{}
		}
		return abi.DynamicListResult{Secrets: list}, err
	case abi.ExportLeaseCreate:
		return d.LeaseCreate(ctx, r, req.Name)
	case abi.ExportLeaseRenew:
		return d.LeaseRenew(ctx, r, req.LeaseID)
	default:
		return abi.Empty{}, d.LeaseRevoke(ctx, r, req.LeaseID)
	}
}

func notImplemented(export string) []byte {
	return abi.EncodeError(CodeNotImplemented, "this plugin does not implement "+export)
}

// lazyDeadline reports the host's deadline at once but arms a timer only
// when something waits on Done: most calls never do, and a timer costs a
// good part of a small call in wasm. Err compares the clock with the
// deadline, so a plugin that only asks Err (as sdk.Fetch does) links no
// timer machinery either.
type lazyDeadline struct {
	context.Context
	deadline time.Time
	once     sync.Once
	inner    context.Context
	stop     context.CancelFunc
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) arm() context.Context {
	c.once.Do(func() { c.inner, c.stop = context.WithDeadline(c.Context, c.deadline) })
	return c.inner
}

func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

func (c *lazyDeadline) Err() error {
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}

func (c *lazyDeadline) cancel() {
	c.once.Do(func() {}) // never arm after the call
	if c.stop != nil {
		c.stop()
	}
}

// Interface guards
var _ context.Context = (*lazyDeadline)(nil)
