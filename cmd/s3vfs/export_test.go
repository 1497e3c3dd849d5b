package main

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestExportClosesItsStream runs export in this process, so that what it
// leaves behind shows: a database stream it opened and never closed keeps
// a goroutine parked for good.
func TestExportClosesItsStream(t *testing.T) {
	c := newCLI(t)
	c.ok("", "import", c.localDB("src.db", 100), c.url("app.db"))
	for _, kv := range c.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}

	before := streams()
	for _, flags := range [][]string{
		{},
		{"--commit", "1"},
		{"--asof", time.Now().Add(time.Minute).UTC().Format(time.RFC3339)},
	} {
		args := append(append([]string{"export", "--force"}, flags...), c.url("app.db"), filepath.Join(c.dir, "out.db"))
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("s3vfs %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if n := streams() - before; n != 0 {
			t.Fatalf("s3vfs %s left %d database streams open", strings.Join(args, " "), n)
		}
	}
}

// streams counts the goroutines of database streams not yet closed (the
// iterators SerializeReader pulls from).
func streams() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "created by iter.Pull2")
		}
		buf = make([]byte, 2*len(buf))
	}
}
