package main

import (
	"encoding/json"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
)

// config is a vault's Infisical source.
type config struct {
	ProjectID   string // project_id
	Environment string // environment
	SecretPath  string // secret_path
}

// parseConfig decodes strictly, trims every field and checks each one,
// naming the field in the error.
func parseConfig(raw json.RawMessage) (config, error) {
	var c config
	fields := map[string]*string{"project_id": &c.ProjectID, "environment": &c.Environment, "secret_path": &c.SecretPath}
	if err := sdk.DecodeStringConfig(raw, fields); err != nil {
		return config{}, err
	}
	c.ProjectID = strings.TrimSpace(c.ProjectID)
	c.Environment = strings.TrimSpace(c.Environment)
	c.SecretPath = strings.TrimSpace(c.SecretPath)
	switch {
	case c.ProjectID == "":
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "project_id: required")
	case c.Environment == "":
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "environment: required")
	case c.SecretPath == "":
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "secret_path: required")
	case !strings.HasPrefix(c.SecretPath, "/"):
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "secret_path: must start with /")
	}
	return c, nil
}
