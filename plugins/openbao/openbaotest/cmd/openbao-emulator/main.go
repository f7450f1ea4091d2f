// Command openbao-emulator runs the OpenBao emulator by hand, for trying a
// broker against it outside the test suite (the browser tests use it):
//
//	go run ./plugins/openbao/openbaotest/cmd/openbao-emulator -addr 127.0.0.1:8200
//
// It prints the address to configure (OPENBAO_ADDR=…) and serves a fixed
// state: an AppRole (role_id and secret_id from -role-id and -secret-id)
// allowed everything, the KV v2 secret secret/app with API_KEY and DB_URL,
// the secret secret/app/billing with BILLING_KEY, and the database role
// readonly (leases of one hour).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	roleID := flag.String("role-id", "ui-role-id", "the AppRole role_id")
	secretID := flag.String("secret-id", "ui-secret-id", "the AppRole secret_id")
	flag.Parse()
	emu := openbaotest.NewUnstarted(openbaotest.WithAddr(*addr))
	emu.AddAppRole(openbaotest.AppRole{RoleID: *roleID, SecretID: *secretID, Policies: []string{"*"}, TTL: time.Hour})
	emu.PutSecret("", "secret", "app", map[string]any{"API_KEY": "emulated-openbao-key", "DB_URL": "postgres://emulated"})
	emu.PutSecret("", "secret", "app/billing", map[string]any{"BILLING_KEY": "emulated-billing-key"})
	emu.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour})
	url, err := emu.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("OPENBAO_ADDR=" + url)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	emu.Close()
}
