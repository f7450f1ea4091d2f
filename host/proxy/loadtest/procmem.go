package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// procMemory is what /proc/<pid>/status says about a process's memory.
type procMemory struct {
	RSSKiB int64 // VmRSS: resident now
	HWMKiB int64 // VmHWM: the highest resident size so far
}

// readProcMemory reads /proc/<pid>/status (Linux only).
func readProcMemory(pid int) (procMemory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	defer f.Close()
	return parseProcStatus(f)
}

// parseProcStatus finds VmRSS and VmHWM ("VmRSS:\t   12345 kB") in a
// /proc/<pid>/status file. Both must be present.
func parseProcStatus(r io.Reader) (procMemory, error) {
	var m procMemory
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return procMemory{}, fmt.Errorf("%s: unexpected value %q", name, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || n < 0 {
			return procMemory{}, fmt.Errorf("%s: %q is not a size in kB", name, fields[0])
		}
		if name == "VmRSS" {
			m.RSSKiB, haveRSS = n, true
		} else {
			m.HWMKiB, haveHWM = n, true
		}
	}
	if err := sc.Err(); err != nil {
		return procMemory{}, err
	}
	if !haveRSS || !haveHWM {
		return procMemory{}, fmt.Errorf("no VmRSS/VmHWM lines (a kernel thread, or not Linux)")
	}
	return m, nil
}

// loadAverage reads the 1, 5 and 15 minute load averages ("" when unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
