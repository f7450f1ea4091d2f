// Package logline formats a plugin's log line, "msg key=value ...", the
// same way for sdk.Log and sdkslog.Logger.
package logline

import "strings"

// Format writes msg followed by " key=value" for each pair of kv; a value
// without a key shows as slog shows one, "!BADKEY=value".
func Format(msg string, kv []string) string {
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			b.WriteString(" !BADKEY=" + kv[i])
			break
		}
		b.WriteString(" " + kv[i] + "=" + kv[i+1])
	}
	return b.String()
}
