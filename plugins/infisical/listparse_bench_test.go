//go:build !wasip1

package main

import (
	"bytes"
	"fmt"
	"testing"
)

// bigList is a list-secrets answer of n secrets shaped like the emulator's
// (every field Infisical sends, ~490 bytes each).
func bigList(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"secrets":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"6f1c2a9e-1b7d-4c3e-9a55-%012d","_id":"6f1c2a9e-1b7d-4c3e-9a55-%012d","workspace":"p-1","environment":"dev","version":1,"type":"shared","secretKey":"KEY_%05d","secretValue":"value-%d","secretComment":"","secretPath":"/","secretValueHidden":false,"skipMultilineEncoding":false,"secretReminderNote":null,"secretReminderRepeatDays":null,"secretMetadata":[],"tags":[],"createdAt":"2026-11-28T17:00:00.000Z","updatedAt":"2026-11-28T17:00:00.000Z"}`, i, i, i, i)
	}
	b.WriteString(`],"imports":[]}`)
	return b.Bytes()
}

func BenchmarkParseSecretList10k(b *testing.B) {
	body := bigList(10000)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if got, err := parseSecretList(body); err != nil || len(got) != 10000 {
			b.Fatalf("%d pairs, %v", len(got), err)
		}
	}
}
