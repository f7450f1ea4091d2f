package abi

import "testing"

func TestDynamicKeyPrefix(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"db-postgres", "DB_POSTGRES", true},
		{" db.replica/x y ", "DB_REPLICA_X_Y", true},
		{"DB", "DB", true},
		{"2fa", "2FA", false},
		{"", "", false},
		{"ü", "Ü", false},
	}
	for _, tc := range tests {
		got, ok := DynamicKeyPrefix(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("DynamicKeyPrefix(%q) = %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
