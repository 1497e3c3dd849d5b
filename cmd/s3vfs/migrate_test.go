package main

import (
	"bytes"
	"context"
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
	data, err := os.ReadFile(c.localDB("py.db", 300))
	if err != nil {
		t.Fatal(err)
	}
	client := server.Client("")
	for i := 0; i*4096 < len(data); i++ {
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(c.bucket), Key: aws.String(fmt.Sprintf("legacy/py.db/%010d", i)),
			Body: bytes.NewReader(data[i*4096 : min((i+1)*4096, len(data))]),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if r := c.ok("", "query", c.url("legacy/py.db"), "SELECT count(*) FROM t"); !strings.Contains(r.stdout, "300") {
		t.Fatalf("query before migration: %s", r.stdout)
	}
	c.fails(1, []string{"s3vfs migrate"}, "query", c.url("legacy/py.db"), "DELETE FROM t")
	r := c.ok("", "migrate", "--to", c.url("app.db"), "--delete-legacy", c.url("legacy/py.db"))
	if !strings.Contains(r.stdout, "verified") || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("migrate output: %s", r.stdout)
	}
	if r := c.ok("", "query", c.url("app.db"), "SELECT count(*) FROM t"); !strings.Contains(r.stdout, "300") {
		t.Fatalf("query after migration: %s", r.stdout)
	}
	c.fails(1, []string{"Python sqlite-s3vfs layout", "legacy/py.db/0000000000"}, "migrate", c.url("legacy/py.db"))
	c.fails(2, []string{"another bucket"}, "migrate", "--to", "s3://other-bucket/x.db", c.url("legacy/py.db"))
}
