package plugins

import (
	"crypto/sha256"
	"testing"
)

// Dropping a module's pages never changes what it reads as.
func TestDropPagesKeepsContents(t *testing.T) {
	for _, kind := range append([]string{"nope"}, Kinds...) {
		b, _ := Shipped(kind)
		before := sha256.Sum256(b)
		DropPages(kind)
		if sha256.Sum256(b) != before {
			t.Fatalf("%s reads differently after DropPages", kind)
		}
	}
}
