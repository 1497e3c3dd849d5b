//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/testproc"
)

// TestGettingStarted follows step 2 of docs/getting-started.md as written:
// it starts the server with the commands of its first block, runs the
// next blocks with sh, checks what the page says "ls -R" shows, and runs
// its Go program, which must print hello. Only the port, the data
// directory and the command's path differ (and "go install" is left to the
// test's build).
func TestGettingStarted(t *testing.T) {
	if versitygw == "" {
		t.Skip("no versitygw binary (the tests run against " + os.Getenv("S3VFS_TEST_ENDPOINT") + ")")
	}
	b, err := os.ReadFile("../../docs/getting-started.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, step, ok := strings.Cut(doc, "\n## 2. ")
	step, _, _ = strings.Cut(step, "\n## 3. ")
	if !ok {
		t.Fatal("docs/getting-started.md has no step 2")
	}
	blocks := indentedBlocks(step)
	if len(blocks) < 3 {
		t.Fatalf("step 2 has %d command blocks, want the server, the environment and the commands:\n%q", len(blocks), blocks)
	}

	for _, block := range blocks {
		for _, line := range strings.Split(block, "\n") {
			if strings.Contains(line, "go install") && !strings.HasPrefix(line, "go install ./cmd/s3vfs") {
				t.Errorf("step 2 builds something again, which step 1 built (demo --server-path finds it): %s", line)
			}
		}
	}

	c := newCLI(t)
	addr, err := testproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(c.dir, "s3data")
	adapt := func(s string) string {
		s = strings.ReplaceAll(s, "127.0.0.1:7070", addr.String())
		s = strings.ReplaceAll(s, "/tmp/s3data", data)
		return strings.ReplaceAll(s, "go run ./cmd/s3vfs", "s3vfs")
	}
	env := append([]string{
		"PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + c.dir,
		"S3VFS_VERSITYGW=" + versitygw,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}, goEnv(t)...)

	// The first terminal: the server, in the foreground.
	server := exec.Command("sh", "-c", adapt(blocks[0]))
	server.Env, server.Dir = env, c.dir
	var serverOut testproc.SyncWriter
	server.Stdout, server.Stderr = &serverOut, &serverOut
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		server.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if conn, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server of step 2 does not listen on %s:\n%s\n%s", addr, blocks[0], serverOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The second terminal: the environment and the commands.
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, block := range blocks[1:] {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, "go install ./cmd/s3vfs") {
				continue // the test built it, and it is on PATH
			}
			script.WriteString(adapt(line) + "\n")
		}
	}
	sh := exec.Command("sh", "-c", script.String())
	sh.Env, sh.Dir = env, c.dir
	sh.Stdin = strings.NewReader("") // the shell reads a script with no statements
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the commands of step 2 failed: %v\n%s\n%s", err, script.String(), out)
	}
	for _, w := range []string{"hello", "format version:  2", "exported s3://my-bucket/hello.db"} {
		if !bytes.Contains(out, []byte(w)) {
			t.Errorf("the commands of step 2 do not print %q:\n%s", w, out)
		}
	}

	// What "ls -R" shows, as the page says.
	_, para, ok := strings.Cut(step, "`ls -R /tmp/s3data/my-bucket`")
	para, _, _ = strings.Cut(para, "\n\n")
	if !ok {
		t.Fatal("step 2 does not say what ls -R shows")
	}
	bucket := filepath.Join(data, "my-bucket")
	mentioned := map[string]bool{}
	for _, m := range regexp.MustCompile("`(hello\\.db/[^`]*)`").FindAllStringSubmatch(para, -1) {
		mentioned[strings.TrimSuffix(m[1], "/")] = true
		if _, err := os.Stat(filepath.Join(bucket, m[1])); err != nil {
			t.Errorf("docs/getting-started.md says ls -R shows %s; the bucket has no such object or folder", m[1])
		}
	}
	entries, err := os.ReadDir(filepath.Join(bucket, "hello.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !mentioned["hello.db/"+e.Name()] {
			t.Errorf("ls -R shows hello.db/%s, which docs/getting-started.md does not mention", e.Name())
		}
	}
	if records, err := os.ReadDir(filepath.Join(bucket, "hello.db", "_commits")); err == nil {
		words := []string{"no", "one", "two", "three", "four"}
		if n := len(records); n >= len(words) || !strings.Contains(strings.Join(strings.Fields(para), " "), words[n]+" numbered commit records") {
			t.Errorf("the bucket holds %d commit records; docs/getting-started.md says:\n%s", n, para)
		}
	}

	// The Go program of "From Go", with the same environment.
	_, program, ok := strings.Cut(step, "```go\n")
	program, _, _ = strings.Cut(program, "```")
	if !ok {
		t.Fatal("step 2 has no Go program")
	}
	dir := filepath.Join(c.dir, "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	var exports []string
	for _, line := range strings.Split(blocks[1], "\n") {
		if rest, ok := strings.CutPrefix(adapt(line), "export "); ok {
			exports = append(exports, strings.Fields(rest)...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, "go", "run", filepath.Join(dir, "main.go"))
	run.Env = append(append([]string{}, env...), exports...)
	run.Dir = "../.." // in the checkout, as the page says
	got, err := run.CombinedOutput()
	if err != nil || string(got) != "hello\n" {
		t.Errorf("the Go program of step 2: %v\n%s", err, got)
	}
}

// indentedBlocks returns the indented code blocks of a Markdown text, in
// order, without their indentation.
func indentedBlocks(text string) []string {
	var blocks []string
	var cur []string
	prevBlank := true
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "    ") && (prevBlank || len(cur) > 0):
			cur = append(cur, strings.TrimPrefix(line, "    "))
		case len(cur) > 0:
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
		prevBlank = strings.TrimSpace(line) == ""
	}
	if len(cur) > 0 {
		blocks = append(blocks, strings.Join(cur, "\n"))
	}
	return blocks
}

// goEnv returns the Go settings a go command needs under another HOME:
// the build and module caches of this one, so that nothing is built or
// downloaded again.
func goEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN").Output()
	if err != nil {
		t.Fatal(err)
	}
	vals := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	var env []string
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN"} {
		if i < len(vals) {
			env = append(env, fmt.Sprintf("%s=%s", k, vals[i]))
		}
	}
	return env
}
