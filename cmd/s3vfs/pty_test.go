package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestShellTerminal drives the shell through a pseudo-terminal: the prompt,
// line editing (Ctrl-A, Ctrl-K, arrows), history (Up) and multi-line
// statements.
func TestShellTerminal(t *testing.T) {
	c := newCLI(t)
	c.ok("", "query", c.url("tty.db"), "CREATE TABLE kv(k TEXT, v INTEGER); INSERT INTO kv VALUES ('a', 1), ('b', 2)")

	term := startTerminal(t, c, "shell", c.url("tty.db"))
	waitFor, send := term.waitFor, term.send

	m := waitFor(0, "s3vfs> ")
	// A statement over two lines: the continuation prompt, then the result
	// as a table (stdout is a terminal).
	send("SELECT k, v FROM kv\r")
	m = waitFor(m, "...> ")
	send("WHERE v = 2;\r")
	m = waitFor(m, "(1 row)")
	m = waitFor(m, "s3vfs> ")

	// Line editing: type a wrong query, go to the start (Ctrl-A), delete
	// the line (Ctrl-K), type the right one.
	send("SELECT 'wrong';\x01\x0bSELECT sum(v) AS total FROM kv;\r")
	m = waitFor(m, "total")
	m = waitFor(m, "3")
	m = waitFor(m, "s3vfs> ")

	// History: Up recalls the last statement.
	send("\x1b[A\r")
	m = waitFor(m, "total")
	m = waitFor(m, "s3vfs> ")

	// Ctrl-C drops a half-typed statement; .tables still works after it.
	send("SELECT\r")
	m = waitFor(m, "...> ")
	send("\x03")
	m = waitFor(m, "s3vfs> ")
	send(".tables\r")
	m = waitFor(m, "kv")
	send(".quit\r")

	if err := term.wait(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	if out := term.output(); strings.Contains(out, "│ wrong") {
		t.Errorf("the edited-away query ran:\n%s", out)
	}
}

// TestShellCtrlC checks that Ctrl-C while a statement runs stops that
// statement, as in sqlite3, and leaves the shell and its session usable.
func TestShellCtrlC(t *testing.T) {
	c := newCLI(t)
	c.ok("", "query", c.url("c.db"), "CREATE TABLE kv(k TEXT)")
	term := startTerminal(t, c, "shell", c.url("c.db"))
	m := term.waitFor(0, "s3vfs> ")
	// A statement that never ends by itself.
	term.send("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n;\r")
	time.Sleep(500 * time.Millisecond)
	term.send("\x03")
	m = term.waitFor(m, "Error: interrupted")
	m = term.waitFor(m, "s3vfs> ")
	term.send("INSERT INTO kv VALUES ('after');\r")
	m = term.waitFor(m, "s3vfs> ")
	term.send(".quit\r")
	if err := term.wait(); err != nil {
		t.Fatalf("shell exited with %v after Ctrl-C:\n%s", err, term.output())
	}
	if r := c.ok("", "query", c.url("c.db"), "SELECT k FROM kv"); r.stdout != "k\nafter\n" {
		t.Errorf("after Ctrl-C the shell wrote %q", r.stdout)
	}
}

// terminal is a command run on a pseudo-terminal.
type terminal struct {
	t   *testing.T
	cmd *exec.Cmd
	tty *os.File
	mu  sync.Mutex
	out bytes.Buffer
}

// startTerminal runs the command with args on a pseudo-terminal.
func startTerminal(t *testing.T, c *cli, args ...string) *terminal {
	cmd, tty := startPTY(t, c, args...)
	term := &terminal{t: t, cmd: cmd, tty: tty}
	t.Cleanup(func() {
		tty.Close()
		cmd.Process.Kill()
	})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return term
}

// startPTY starts the command with args on a 120-column pseudo-terminal.
func startPTY(t *testing.T, c *cli, args ...string) (*exec.Cmd, *os.File) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(c.env, "TERM=xterm")
	cmd.Dir = c.dir
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	return cmd, tty
}

// output is what the command printed so far.
func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// waitFor waits until the output after mark contains s, and returns the
// new mark.
func (term *terminal) waitFor(mark int, s string) int {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if i := strings.Index(term.output()[mark:], s); i >= 0 {
			return mark + i + len(s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	term.t.Fatalf("timed out waiting for %q; output so far:\n%s", s, term.output()[mark:])
	return 0
}

// send types s.
func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := io.WriteString(term.tty, s); err != nil {
		term.t.Fatal(err)
	}
}

// wait waits up to 20 s for the command to exit.
func (term *terminal) wait() error {
	done := make(chan error, 1)
	go func() { done <- term.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		term.cmd.Process.Kill()
		return errors.New("the command did not exit")
	}
}

// TestProgressBarOnTerminal checks that import, export and migrate draw a
// progress bar when stderr is a terminal (TestImportExportRoundTrip checks
// that they do not when it is not), and end its line before the line that
// reports the result.
func TestProgressBarOnTerminal(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 3000)
	putPythonDB(t, c, "legacy/p.db", src)
	for _, tc := range []struct {
		args   []string
		result string // the start of the line that follows the bar
	}{
		{[]string{"import", src, c.url("p.db")}, "imported "},
		{[]string{"export", c.url("p.db"), "out.db"}, "exported "},
		{[]string{"migrate", "--to", c.url("m.db"), c.url("legacy/p.db")}, "migrated "},
	} {
		args := tc.args
		cmd, tty := startPTY(t, c, args...)
		var out bytes.Buffer
		io.Copy(&out, tty) // until the command exits and the pty closes
		tty.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		s := out.String()
		if !strings.Contains(s, args[0]) || !strings.Contains(s, "100%") {
			t.Errorf("%s on a terminal drew no progress bar:\n%q", args[0], s)
			continue
		}
		if !strings.Contains(s, "kB") {
			t.Errorf("%s: the progress bar shows no bytes:\n%q", args[0], s)
		}
		after := s[strings.LastIndex(s, "100%"):]
		if i := strings.Index(after, tc.result); i < 0 || !strings.Contains(after[:i], "\n") {
			t.Errorf("%s: the bar's line does not end before the line %q:\n%q", args[0], tc.result, s)
		}
		if strings.HasSuffix(s, "\n\r\n") || strings.HasSuffix(s, "\n\n") {
			t.Errorf("%s: a blank line at the end:\n%q", args[0], s)
		}
	}
}
