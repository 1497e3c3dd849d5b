package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs/internal/s3server"
	"github.com/s3vfs/s3vfs/internal/sqltest"
)

// The tests build the command once and run the binary against a real S3
// server, the way a user would.
var (
	server    *s3server.Server
	binary    string
	versitygw string // the cached server binary, handed to "s3vfs demo"
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	srv, err := s3server.Start(context.Background(), func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: no S3 server for the tests: %v\n", err)
		return 1
	}
	defer srv.Close()
	server = srv
	if versitygw, err = s3server.Binary(context.Background(), nil); err != nil && os.Getenv(s3server.EnvEndpoint) == "" {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "s3vfs-cmd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "s3vfs")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: go build: %v\n%s", err, out)
		return 1
	}
	return srv.Sweep(m.Run())
}

// cli is one test's bucket and the environment the binary runs with.
type cli struct {
	t      *testing.T
	bucket string
	env    []string
	dir    string // a scratch directory, also HOME
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	bucket, err := server.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.RemoveBucket(context.Background(), bucket) })
	dir := t.TempDir()
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		// HOME is a scratch directory: point the demo at the cached
		// server binary rather than building it again.
		"S3VFS_VERSITYGW=" + versitygw,
	}, server.AWSEnv()...)
	return &cli{t: t, bucket: bucket, dir: dir, env: env}
}

// url returns s3://BUCKET/key.
func (c *cli) url(key string) string { return "s3://" + c.bucket + "/" + key }

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// run executes the binary with args and stdin.
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	return c.runEnv(nil, stdin, args...)
}

func (c *cli) runEnv(extraEnv []string, stdin string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs the binary and fails the test unless it succeeds.
func (c *cli) ok(stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("s3vfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs the binary and checks that it fails with exit code code and
// one line on stderr that contains every string in want.
func (c *cli) fails(code int, want []string, args ...string) result {
	c.t.Helper()
	r := c.run("", args...)
	if r.code != code {
		c.t.Fatalf("s3vfs %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if lines := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") + 1; lines != 1 {
		c.t.Errorf("s3vfs %s: %d lines on stderr, want 1:\n%s", strings.Join(args, " "), lines, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			c.t.Errorf("s3vfs %s: stderr %q does not mention %q", strings.Join(args, " "), r.stderr, w)
		}
	}
	return r
}

// localDB writes a local SQLite database with n rows in table t and
// returns its path.
func (c *cli) localDB(name string, n int) string {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	db := sqltest.OpenLocal(c.t, path)
	defer db.Close()
	for _, s := range []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)",
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
			INSERT INTO t SELECT i, 'name ' || i, i / 4.0, randomblob(100) FROM n`, n),
		"CREATE INDEX t_name ON t(name)",
	} {
		if _, err := db.Exec(s); err != nil {
			c.t.Fatal(err)
		}
	}
	return path
}

// checkOneLine checks that stderr is one line mentioning every want.
func checkOneLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if lines := strings.Count(strings.TrimRight(stderr, "\n"), "\n") + 1; lines != 1 || stderr == "" {
		t.Errorf("%d lines on stderr, want 1:\n%s", lines, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
}
