package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Every bad input gives one line on stderr naming the cause and the fix,
// and a non-zero exit status.
func TestErrors(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 10)
	c.ok("", "import", src, c.url("app.db"))
	notDB := filepath.Join(c.dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("just some text, not SQLite\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		code int
		want []string
		args []string
		env  []string
	}{
		{"no command", 2, []string{"no command", "s3vfs help"}, nil, nil},
		{"unknown command", 2, []string{"unknown command \"frobnicate\"", "s3vfs help"}, []string{"frobnicate"}, nil},
		{"unknown flag", 2, []string{"-nope", "--help"}, []string{"query", "--nope", c.url("app.db"), "SELECT 1"}, nil},
		{"not s3 url", 2, []string{"not an S3 database name", "s3://"}, []string{"info", "app.db"}, nil},
		{"no bucket", 2, []string{"names no bucket", "s3://my-bucket/"}, []string{"info", "s3:///app.db"}, nil},
		{"no key", 2, []string{"names no database key"}, []string{"info", "s3://" + c.bucket}, nil},
		{"bad bucket", 2, []string{"not a valid S3 database name", "not a bucket name"}, []string{"info", "s3://user@b/k"}, nil},
		{"missing args", 2, []string{"query needs a database and SQL"}, []string{"query", c.url("app.db")}, nil},
		{"bad format", 2, []string{"unknown --format", "csv, json or table"}, []string{"query", "--format", "xml", c.url("app.db"), "SELECT 1"}, nil},
		{"missing bucket", 1, []string{"bucket \"no-such-bucket-s3vfs\" does not exist", "create it"}, []string{"info", "s3://no-such-bucket-s3vfs/app.db"}, nil},
		{"missing database", 1, []string{"no database at", "s3vfs import"}, []string{"info", c.url("nothing.db")}, nil},
		{"export missing database", 1, []string{"no database at"}, []string{"export", c.url("nothing.db"), "x.db"}, nil},
		{"query read-only missing database", 1, []string{"no database at"}, []string{"query", "--read-only", c.url("nothing.db"), "SELECT 1"}, nil},
		{"import not a database", 1, []string{"not a SQLite database"}, []string{"import", notDB, c.url("text.db")}, nil},
		{"import missing file", 1, []string{"cannot read", "no such file"}, []string{"import", filepath.Join(c.dir, "absent.db"), c.url("x.db")}, nil},
		{"import over database", 1, []string{"already holds a database", "--force"}, []string{"import", src, c.url("app.db")}, nil},
		{"export over file", 1, []string{"already exists", "--force"}, []string{"export", c.url("app.db"), src}, nil},
		{"sql error", 1, []string{"no such table: nope"}, []string{"query", c.url("app.db"), "SELECT * FROM nope"}, nil},
		{"flag after sql", 2, []string{"\"--stats\" after the SQL", "flags go before"}, []string{"query", c.url("app.db"), "SELECT 1", "--stats"}, nil},
		{"too many args", 2, []string{"1 arguments left over"}, []string{"query", c.url("app.db"), "SELECT ?", "1", "2"}, nil},
		{"too few args", 2, []string{"2 parameters but 1 arguments"}, []string{"query", c.url("app.db"), "SELECT ?, ?", "1"}, nil},
		{"no credentials", 1, []string{"no AWS credentials", "AWS_ACCESS_KEY_ID", "--profile"}, []string{"info", c.url("app.db")},
			[]string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}},
		{"bad profile", 1, []string{"profile \"nobody\" does not exist"}, []string{"info", "--profile", "nobody", c.url("app.db")}, nil},
		{"permission denied", 1, []string{"access denied", "credentials"}, []string{"info", c.url("app.db")},
			[]string{"AWS_SECRET_ACCESS_KEY=wrong-secret"}},
		{"unreachable endpoint", 1, []string{"cannot reach", "--endpoint"}, []string{"info", "--endpoint", "http://127.0.0.1:1", c.url("app.db")}, nil},
		{"bad endpoint", 2, []string{"--endpoint", "is not a URL"}, []string{"info", "--endpoint", "localhost", c.url("app.db")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			r := c.runEnv(tc.env, "", tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			t.Logf("exit %d: %s", r.code, r.stderr)
			checkOneLine(t, r.stderr, tc.want...)
		})
	}
}

// Each fix is given once: where the library's message already names the
// cause and the fix, the command does not add its own again.
func TestErrorFixGivenOnce(t *testing.T) {
	c := newCLI(t)
	c.ok("", "import", c.localDB("src.db", 10), c.url("app.db"))
	notDB := filepath.Join(c.dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("just some text, not SQLite\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, once string
		args, env  []string
	}{
		{"missing bucket", "fix the bucket name", []string{"info", "s3://no-such-bucket-s3vfs/app.db"}, nil},
		{"permission denied", "credentials", []string{"info", c.url("app.db")}, []string{"AWS_SECRET_ACCESS_KEY=wrong-secret"}},
		{"not a database", "SQLite database", []string{"import", notDB, c.url("text.db")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			r := c.runEnv(tc.env, "", tc.args...)
			if n := strings.Count(r.stderr, tc.once); r.code == 0 || n != 1 {
				t.Fatalf("exit %d, %q said %d times, want once: %s", r.code, tc.once, n, r.stderr)
			}
		})
	}
}

// TestFlagsAfterArguments: flags may follow the database, as with the aws
// command (query keeps them before the SQL: its arguments may start with
// "-").
func TestFlagsAfterArguments(t *testing.T) {
	c := newCLI(t)
	c.ok("", "import", c.localDB("src.db", 10), c.url("app.db"))
	r := c.ok("", "info", c.url("app.db"), "--json")
	if !strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		t.Errorf("info DB --json printed %q, want JSON", r.stdout)
	}
	out := filepath.Join(c.dir, "out.db")
	c.ok("", "export", c.url("app.db"), out, "--commit", "1")
	c.ok("", "export", c.url("app.db"), out, "--force")
	if r := c.ok("", "log", c.url("app.db"), "--format=json"); !strings.HasPrefix(strings.TrimSpace(r.stdout), "[") {
		t.Errorf("log DB --format=json printed %q", r.stdout)
	}
}

// TestFlagsFirst: the flags a command defines move before its arguments,
// with their values; "--" keeps what follows as arguments; help is found
// anywhere.
func TestFlagsFirst(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Bool("json", false, "")
	fs.Int("commit", 0, "")
	for _, tc := range []struct{ in, want []string }{
		{[]string{"s3://b/k", "--json"}, []string{"--json", "s3://b/k"}},
		{[]string{"s3://b/k", "out.db", "--commit", "3"}, []string{"--commit", "3", "s3://b/k", "out.db"}},
		{[]string{"s3://b/k", "--commit=3", "-"}, []string{"--commit=3", "s3://b/k", "-"}},
		{[]string{"s3://b/k", "--", "-out.db", "--json"}, []string{"--", "s3://b/k", "-out.db", "--json"}},
		{[]string{"s3://b/k", "-h"}, []string{"-h", "s3://b/k"}},
		{[]string{"s3://b/k", "--nope"}, []string{"s3://b/k", "--nope"}},
	} {
		if got := flagsFirst(fs, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBusyErrorLine: a BUSY statement says it wrote nothing only when it
// was the script's first; otherwise it names the statement and says the
// ones before it ran.
func TestBusyErrorLine(t *testing.T) {
	db := target{"b", "app.db"}
	first := (&busyError{err: errors.New("busy"), sql: "UPDATE t SET v = 1", retried: true}).describe(db).Error()
	if !strings.Contains(first, "nothing was written, so running it again is safe") || !strings.Contains(first, "10 times") {
		t.Errorf("the first statement: %s", first)
	}
	later := (&busyError{err: errors.New("busy"), sql: "UPDATE counter\n  SET v = v + 1", ran: 1}).describe(db).Error()
	if strings.Contains(later, "safe") || !strings.Contains(later, "statement 2 (UPDATE counter SET v = v + 1)") || !strings.Contains(later, "the 1 before it ran") {
		t.Errorf("the second statement: %s", later)
	}
}

// TestBucketInHost: the hint for a local server reached without
// --path-style, and not for AWS hosts.
func TestBucketInHost(t *testing.T) {
	for host, want := range map[string]bool{
		"my-bucket.localhost": true, "my-bucket.127.0.0.1": true, "my-bucket.minio": true,
		"my-bucket.s3.us-east-1.amazonaws.com": false, "localhost": false, "s3.example.com": false,
	} {
		if got := bucketInHost(host); got != want {
			t.Errorf("bucketInHost(%q) = %v, want %v", host, got, want)
		}
	}
	msg := explain(&net.DNSError{Name: "my-bucket.localhost", Err: "no such host", IsNotFound: true})
	if !strings.Contains(msg, "--path-style") {
		t.Errorf("explain: %s", msg)
	}
}

// TestKeysVerbatim: as with the aws command, an s3:// name's key is taken
// as written: a key with "%20", "?" or "#" is imported, queried and
// listed under exactly that name.
func TestKeysVerbatim(t *testing.T) {
	c := newCLI(t)
	for _, key := range []string{"a%20b.db", "what?.db", "x#1.db"} {
		c.ok("", "query", c.url(key), "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
		if r := c.ok("", "query", c.url(key), "SELECT count(*) FROM t"); r.stdout != "count(*)\n1\n" {
			t.Errorf("%s: %q", key, r.stdout)
		}
		keys, err := server.Keys(context.Background(), c.bucket, key+"/_commits/")
		if err != nil || len(keys) == 0 {
			t.Errorf("no commit stored under the key %q as written: %v %v", key, keys, err)
		}
	}
}

// TestTimeout: a server that accepts connections and never answers ends
// the command after --timeout with a line that names the fix, not after
// two minutes with the SDK's text.
func TestTimeout(t *testing.T) {
	c, p := proxied(t)
	c.ok("", "query", c.url("slow.db"), "CREATE TABLE t(x)")
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		<-r.Context().Done() // never answers
		return true
	})
	start := time.Now()
	r := c.run("", "info", "--timeout", "2s", c.url("slow.db"))
	if took := time.Since(start); r.code != 1 || took > 30*time.Second {
		t.Fatalf("exit %d after %v: %s", r.code, took, r.stderr)
	}
	checkOneLine(t, r.stderr, "did not answer in time", "--timeout")
	t.Log(r.stderr)
}

// TestJSONFlags: --json and --format json are the same on every command
// that prints JSON.
func TestJSONFlags(t *testing.T) {
	c := newCLI(t)
	db := c.url("j.db")
	c.ok("", "query", db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	for _, args := range [][]string{
		{"info", "--format", "json", db}, {"info", "--json", db},
		{"query", "--json", db, "SELECT x FROM t"}, {"log", "--json", db},
		{"gc", "--dry-run", "--format", "json", db},
		{"branch", "--format", "json", db, c.url("j-branch.db")},
	} {
		r := c.ok("", args...)
		if out := strings.TrimSpace(r.stdout); !json.Valid([]byte(out)) || out == "" {
			t.Errorf("%v printed %q, want JSON", args, r.stdout)
		}
	}
	c.fails(2, []string{"-format", "use json or text"}, "info", "--format", "csv", db)
}
