package main

import (
	"context"
	"fmt"

	"github.com/agent-vault/agent-vault/sdk"
)

// Check logs in once at server start, so the chosen auth method (or why
// the login failed) is in the log before any vault needs OpenBao. The
// summary names the address and the method, never a credential.
func (store) Check(ctx context.Context, req sdk.Request) (string, error) {
	base, err := addr(req.Env)
	if err != nil {
		return "", err
	}
	method, _, err := chooseMethod(req.Env)
	if err != nil {
		return "", err
	}
	if _, err := token(ctx, req.Env, false); err != nil {
		return "", err
	}
	return fmt.Sprintf("logged in to %s with %s", base, method), nil
}
