package main

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	c := newCLI(t)
	// The demo starts its own server, whatever the environment says.
	r := c.ok("", "demo", "--rows", "3000")
	for _, w := range []string{
		"Starting a throwaway S3 server", "Created bucket", "3000 orders", "now at commit 1",
		"customer ", "integrity_check: ok; 3000 orders", "requests=", "Cleaning up",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("demo output lacks %q:\n%s", w, r.stdout)
		}
	}
	if r := c.run("", "demo", "extra"); r.code != exitUsage {
		t.Errorf("demo extra: exit %d", r.code)
	}
	// --server-path names the server binary the demo runs, for
	// docs/getting-started.md to start it.
	if r := c.ok("", "demo", "--server-path"); r.stdout != versitygw+"\n" {
		t.Errorf("demo --server-path printed %q, want %q", r.stdout, versitygw+"\n")
	}
}
