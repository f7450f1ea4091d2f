package cli

import (
	"encoding/json"
	"fmt"

	"github.com/agent-vault/agent-vault/host/api"
)

type openapiCmd struct{}

func (openapiCmd) Run(e *env) error {
	b, err := api.Document()
	if err != nil {
		return err
	}
	var pretty json.RawMessage = b
	_, err = fmt.Fprintf(e.Stdout, "%s\n", pretty)
	return err
}
