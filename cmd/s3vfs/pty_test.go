package main

import (
	"bytes"
	"io"
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

	cmd := exec.Command(binary, "shell", c.url("tty.db"))
	cmd.Env = append(c.env, "TERM=xterm")
	cmd.Dir = c.dir
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// waitFor waits until the output after mark contains s, and returns the
	// new mark.
	waitFor := func(mark int, s string) int {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			o := out.String()
			mu.Unlock()
			if i := strings.Index(o[mark:], s); i >= 0 {
				return mark + i + len(s)
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("timed out waiting for %q; output so far:\n%s", s, out.String()[mark:])
		return 0
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(tty, s); err != nil {
			t.Fatal(err)
		}
	}

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

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shell exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the shell did not exit on .quit")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(out.String(), "wrong") && strings.Contains(out.String(), "│ wrong") {
		t.Errorf("the edited-away query ran:\n%s", out.String())
	}
}

// TestProgressBarOnTerminal checks that import and export draw a progress
// bar when stderr is a terminal (TestImportExportRoundTrip checks that
// they do not when it is not).
func TestProgressBarOnTerminal(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 3000)
	for _, args := range [][]string{
		{"import", src, c.url("p.db")},
		{"export", c.url("p.db"), "out.db"},
	} {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(c.env, "TERM=xterm")
		cmd.Dir = c.dir
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		io.Copy(&out, tty) // until the command exits and the pty closes
		tty.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if s := out.String(); !strings.Contains(s, args[0]) || !strings.Contains(s, "100%") || !strings.Contains(s, "kB") {
			t.Errorf("%s on a terminal drew no progress bar:\n%q", args[0], s)
		}
	}
}
