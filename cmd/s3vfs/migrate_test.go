package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// migrate moves a Python-layout database to another key, deleting the old
// objects, and says so; a second run finds nothing to migrate; bad
// arguments name the fix.
func TestMigrateCommand(t *testing.T) {
	c := newCLI(t)
	putPythonDB(t, c, "legacy/py.db", c.localDB("py.db", 300))
	if r := c.ok("", "query", c.url("legacy/py.db"), "SELECT count(*) FROM t"); !strings.Contains(r.stdout, "300") {
		t.Fatalf("query before migration: %s", r.stdout)
	}
	// A refused write names the command to run, with the real bucket.
	r := c.fails(1, []string{"s3vfs migrate " + c.url("legacy/py.db")}, "query", c.url("legacy/py.db"), "DELETE FROM t")
	if strings.Contains(r.stderr, "BUCKET") {
		t.Errorf("the refused write names a placeholder: %s", r.stderr)
	}
	// info has no commit to show, and shows no zeros for one.
	r = c.ok("", "info", c.url("legacy/py.db"))
	for _, w := range []string{"layout:", "Python sqlite-s3vfs", "commit:      none", "file size:"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("info of a Python-layout database lacks %q:\n%s", w, r.stdout)
		}
	}
	for _, w := range []string{"commit:      0", "0001-01-01", "writer:", "format version:"} {
		if strings.Contains(r.stdout, w) {
			t.Errorf("info of a Python-layout database shows %q:\n%s", w, r.stdout)
		}
	}
	r = c.ok("", "info", "--json", c.url("legacy/py.db"))
	var info map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"commit", "commit_time", "writer", "format_version"} {
		if _, ok := info[k]; ok {
			t.Errorf("info --json of a Python-layout database has %q: %s", k, r.stdout)
		}
	}
	if info["layout"] != "python" || info["file_size"] == nil {
		t.Errorf("info --json of a Python-layout database: %s", r.stdout)
	}

	r = c.ok("", "migrate", "--to", c.url("app.db"), "--delete-legacy", c.url("legacy/py.db"))
	if !strings.Contains(r.stdout, "verified") || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("migrate output: %s", r.stdout)
	}
	if r := c.ok("", "query", c.url("app.db"), "SELECT count(*) FROM t"); !strings.Contains(r.stdout, "300") {
		t.Fatalf("query after migration: %s", r.stdout)
	}
	c.fails(1, []string{"Python sqlite-s3vfs layout", "legacy/py.db/0000000000"}, "migrate", c.url("legacy/py.db"))
	c.fails(2, []string{"another bucket"}, "migrate", "--to", "s3://other-bucket/x.db", c.url("legacy/py.db"))

	// An s3vfs database has nothing to migrate, and the command says so
	// rather than that there is no database.
	r = c.ok("", "migrate", c.url("app.db"))
	if !strings.Contains(r.stdout, c.url("app.db")+" is already an s3vfs database") || !strings.Contains(r.stdout, "nothing to migrate") {
		t.Errorf("migrate of an s3vfs database: %q", r.stdout)
	}
	c.fails(1, []string{c.url("app.db") + " is already an s3vfs database", "nothing to migrate", "export"},
		"migrate", "--to", c.url("copy.db"), c.url("app.db"))
}

// putPythonDB uploads the local database file at path to key in the
// layout of the Python library sqlite-s3vfs, 4096-byte blocks.
func putPythonDB(t *testing.T, c *cli, key, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	client := server.Client("")
	for i := 0; i*4096 < len(data); i++ {
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(c.bucket), Key: aws.String(fmt.Sprintf("%s/%010d", key, i)),
			Body: bytes.NewReader(data[i*4096 : min((i+1)*4096, len(data))]),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
