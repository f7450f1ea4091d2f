package api

import (
	"encoding/json"
)

// Document returns the OpenAPI 3.1 document, indented, exactly as committed
// in openapi/openapi.json. It needs no database: only the operations'
// shapes are read.
func Document() ([]byte, error) {
	_, a := New(Deps{})
	return json.MarshalIndent(a.OpenAPI(), "", "  ")
}
