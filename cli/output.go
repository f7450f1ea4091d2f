package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

// printer writes results: aligned tables and sentences for people, the
// API's JSON with --json. Results go to stdout, messages to stderr.
type printer struct {
	out  io.Writer
	err  io.Writer
	json bool
}

func newPrinter(e *env, asJSON bool) *printer {
	return &printer{out: e.Stdout, err: e.Stderr, json: asJSON}
}

// result prints v as JSON with --json, else calls human.
func (p *printer) result(v any, human func()) error {
	if p.json {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := p.out.Write(safeJSON(buf.Bytes()))
		return err
	}
	human()
	return nil
}

// line prints one sentence for people; the arguments' text is made safe
// (safeText), the format is the program's own.
func (p *printer) line(format string, args ...any) {
	fmt.Fprintf(p.out, format+"\n", safeArgs(args)...)
}

// table prints rows under upper-case headers, columns aligned; an empty
// table prints the empty message instead.
func (p *printer) table(empty string, headers []string, rows [][]string) {
	if len(rows) == 0 {
		fmt.Fprintln(p.out, safeText(empty))
		return
	}
	tw := tabwriter.NewWriter(p.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(headers, "\t")))
	cells := make([]string, 0, len(headers))
	for _, r := range rows {
		cells = cells[:0]
		for _, c := range r {
			cells = append(cells, safeText(c)) // a tab or newline in a cell would break the columns
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// when formats a timestamp for tables (UTC, minutes).
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func str(p *string) string {
	if p == nil || *p == "" {
		return "-"
	}
	return *p
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// terminal returns stdin as a terminal file, or nil when it is not one.
func terminal(e *env) *os.File {
	f, ok := e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// confirmTyped asks the user to type name before a destructive change.
// --yes skips the question; without a terminal and without --yes the
// command refuses, so a script never changes anything by accident.
// action reads "delete vault "x"", warning says what is at stake.
func confirmTyped(e *env, yes bool, action, warning, name string) error {
	return confirmTypedWhat(e, yes, action, warning, "the vault name", name)
}

// confirmTypedWhat is confirmTyped for any name: what says what to type.
func confirmTypedWhat(e *env, yes bool, action, warning, what, name string) error {
	if yes {
		return nil
	}
	tty := terminal(e)
	if tty == nil {
		return usageErrorf("refusing to %s without confirmation: there is no terminal to ask on; pass --yes to confirm", action)
	}
	fmt.Fprintf(e.Stderr, "%s.\nType %s (%s) to confirm: ", warning, what, name)
	answer, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && answer == "" {
		return fmt.Errorf("no confirmation read: %w; nothing was changed", err)
	}
	if strings.TrimSpace(answer) != name {
		return fmt.Errorf("the confirmation did not match %q; nothing was changed", name)
	}
	return nil
}

// promptLine asks for a visible value (an email) on the terminal.
func promptLine(e *env, prompt string) (string, error) {
	tty := terminal(e)
	if tty == nil {
		return "", nil
	}
	fmt.Fprint(e.Stderr, prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// promptSecret asks for a hidden value on the terminal; ok is false when
// there is no terminal to ask on.
func promptSecret(e *env, prompt string) (value string, ok bool, err error) {
	tty := terminal(e)
	if tty == nil {
		return "", false, nil
	}
	fmt.Fprint(e.Stderr, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(e.Stderr)
	return string(b), true, err
}

// readAllStdin reads a value piped in, without its final newline.
func readAllStdin(e *env, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(e.Stdin, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading %s from standard input: %w", what, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// progress shows a ticking status line on stderr while a long call runs,
// only when stderr is a terminal and the output is for people; piped runs
// stay quiet. stop clears the line.
func progress(e *env, out *printer, msg string) (stop func()) {
	f, ok := e.Stderr.(*os.File)
	if !ok || out.json || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		const frames = `|/-\`
		start := time.Now()
		tick := time.NewTicker(120 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(f, "\r%c %s… %ds", frames[i%len(frames)], msg, int(time.Since(start).Seconds()))
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
