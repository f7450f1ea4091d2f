// Command startbench measures the server's start: the time from exec until
// both the API and the proxy port accept connections, on a fresh data
// directory (first start) and again on the same one (restart), with the
// process's RSS half a second after ready and its peak RSS (VmHWM). It
// prints the median of -n runs of each. `make bench-start` runs it.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

type sample struct {
	ready          time.Duration
	rssMiB, hwmMiB int
}

func main() {
	bin := flag.String("bin", "bin/agent-vault", "the server binary")
	n := flag.Int("n", 5, "runs of each")
	flag.Parse()
	var first, restart []sample
	for range *n {
		dir, err := os.MkdirTemp("", "startbench-")
		if err != nil {
			fail(err)
		}
		first = append(first, run(*bin, dir))
		restart = append(restart, run(*bin, dir))
		os.RemoveAll(dir)
	}
	report("first start", first)
	report("restart", restart)
}

func run(bin, dir string) sample {
	api, proxy := freePort(), freePort()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--port", api, "--mitm-port", proxy)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for !(accepts(api) && accepts(proxy)) {
		if time.Since(start) > 2*time.Minute {
			fail(fmt.Errorf("the server did not answer within 2 minutes"))
		}
		time.Sleep(time.Millisecond)
	}
	s := sample{ready: time.Since(start)}
	time.Sleep(500 * time.Millisecond)
	s.rssMiB, s.hwmMiB = status(cmd.Process.Pid, "VmRSS:"), status(cmd.Process.Pid, "VmHWM:")
	return s
}

func accepts(port string) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 50*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// status reads a kB figure from /proc/PID/status, in MiB (0 off Linux).
func status(pid int, key string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

func report(name string, xs []sample) {
	med := func(f func(sample) int64) int64 {
		v := make([]int64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("%-12s ready median %4d ms   RSS 0.5 s after ready %3d MiB   peak RSS %3d MiB   (%d runs)\n", name,
		med(func(s sample) int64 { return s.ready.Milliseconds() }),
		med(func(s sample) int64 { return int64(s.rssMiB) }),
		med(func(s sample) int64 { return int64(s.hwmMiB) }), len(xs))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "startbench:", err)
	os.Exit(1)
}
