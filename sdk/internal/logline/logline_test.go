package logline

import "testing"

func TestFormat(t *testing.T) {
	tests := []struct {
		msg  string
		kv   []string
		want string
	}{
		{"started", nil, "started"},
		{"auth method chosen", []string{"method", "universal-auth", "url", "https://x"}, "auth method chosen method=universal-auth url=https://x"},
		{"odd", []string{"k", "v", "lonely"}, "odd k=v !BADKEY=lonely"},
	}
	for _, tc := range tests {
		if got := Format(tc.msg, tc.kv); got != tc.want {
			t.Errorf("Format(%q, %q) = %q, want %q", tc.msg, tc.kv, got, tc.want)
		}
	}
}
