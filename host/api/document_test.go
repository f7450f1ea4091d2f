package api_test

import (
	"testing"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

// The committed openapi/openapi.json is the golden of the document the code
// generates; `make generate` (or UPDATE_GOLDEN=1) rewrites it.
func TestOpenAPIDocumentIsCommitted(t *testing.T) {
	doc, err := api.Document()
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckFile(t, "../../openapi/openapi.json", append(doc, '\n'))
}
