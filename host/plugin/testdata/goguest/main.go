// Command goguest is a Go test guest built on the SDK whose probe misbehaves
// the way real Go plugins do, chosen by the config's "do": "panic" (a Go
// panic: stderr and exit code 2), "oom" (allocates until Go's runtime gives
// up), "loop" (spins forever), "sleep" (time.Sleep past the deadline).
package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
)

func main() {}

func init() { sdk.Register(guest{}) }

type guest struct{ sdk.StrictConfig[config] }

type config struct {
	Do string `json:"do"`
}

var sink [][]byte

func (guest) Manifest() sdk.Manifest {
	return sdk.Manifest{Kind: "goguest", Description: "misbehaving Go test guest",
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{"do":{"type":"string"}},"additionalProperties":false}`)}
}

func (guest) Probe(_ context.Context, req sdk.Request) error {
	var c config
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	switch c.Do {
	case "panic":
		panic("boom")
	case "oom":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "loop":
		for {
		}
	case "sleep":
		time.Sleep(time.Hour)
	}
	return nil
}

// Interface guards
var _ sdk.Store = guest{}
