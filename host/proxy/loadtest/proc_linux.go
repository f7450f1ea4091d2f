package main

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill the server if the harness dies first,
// so an interrupted run leaves no server behind.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
