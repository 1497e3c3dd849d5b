package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs/internal/sqltest"
)

// pyxRead reads prefix/ as the Python library sqlite-s3vfs does: every
// object under it in key order, concatenated. It checks the names and
// that all blocks but the last are blockSize bytes.
func (c *cli) pyxRead(key string, blockSize int) []byte {
	c.t.Helper()
	ctx := context.Background()
	client := server.Client(server.Endpoint)
	var file []byte
	i := 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), Prefix: aws.String(key + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, o := range page.Contents {
			if want := fmt.Sprintf("%s/%010d", key, i); aws.ToString(o.Key) != want {
				c.t.Fatalf("object %d is %s, want %s", i, aws.ToString(o.Key), want)
			}
			if len(file)%blockSize != 0 {
				c.t.Fatalf("block %d follows a short block", i)
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: o.Key})
			if err != nil {
				c.t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				c.t.Fatal(err)
			}
			if len(b) > blockSize || len(b) == 0 {
				c.t.Fatalf("%s is %d bytes, block size %d", aws.ToString(o.Key), len(b), blockSize)
			}
			file = append(file, b...)
			i++
		}
	}
	return file
}

func TestExportPythonLayoutCLI(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 2000)
	c.ok("", "import", "--block-size", "8192", src, c.url("app.db"))
	c.ok("", "export", c.url("app.db"), "ref.db")
	want, err := os.ReadFile(filepath.Join(c.dir, "ref.db"))
	if err != nil {
		t.Fatal(err)
	}

	r := c.ok("", "export", "--layout", "python", c.url("app.db"), c.url("old/app.db"))
	checkOneLine(t, r.stderr, "exported "+c.url("app.db"), "commit 1", "Python layout", "blocks of 4096 bytes")
	got := c.pyxRead("old/app.db", 4096)
	if !bytes.Equal(got, want) {
		t.Fatalf("the Python layout holds %d bytes that differ from the %d exported", len(got), len(want))
	}
	if err := os.WriteFile(filepath.Join(c.dir, "py.db"), got, 0o644); err != nil {
		t.Fatal(err)
	}
	db := sqltest.OpenLocal(t, filepath.Join(c.dir, "py.db"))
	var n int
	var check string
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 2000 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %s, %v", check, err)
	}
	db.Close()

	// A new commit, then the old one published again with larger blocks:
	// the stale blocks go.
	c.ok("", "query", c.url("app.db"), "DELETE FROM t WHERE id > 10")
	r = c.ok("", "export", "--layout", "python", "--block-size", "65536", "--commit", "1", c.url("app.db"), c.url("old/app.db"))
	checkOneLine(t, r.stderr, "commit 1", "blocks of 65536 bytes", "removed")
	t.Log(r.stderr)
	if got := c.pyxRead("old/app.db", 65536); !bytes.Equal(got, want) {
		t.Fatal("the export of commit 1 differs from it")
	}
	// The newest.
	r = c.ok("", "export", "--layout", "python", c.url("app.db"), c.url("old/app.db"))
	checkOneLine(t, r.stderr, "commit 2")
	if got := c.pyxRead("old/app.db", 4096); bytes.Equal(got, want) || len(got) == 0 {
		t.Fatal("the export of the newest commit is the old one")
	}

	c.ok("", "query", c.url("v1.db"), "CREATE TABLE x(y)")
	for _, f := range []struct {
		code int
		want []string
		args []string
	}{
		{exitUsage, []string{"--layout python", "s3://" + c.bucket + "/KEY"}, []string{"--layout", "python", c.url("app.db"), "out.db"}},
		{exitUsage, []string{"s3://" + c.bucket + "/x.db", "aws s3 sync"}, []string{"--layout", "python", c.url("app.db"), "s3://elsewhere/x.db"}},
		{exitUsage, []string{"--block-size", "--layout python"}, []string{"--block-size", "512", c.url("app.db"), "out.db"}},
		{exitUsage, []string{"--layout \"zip\"", "python"}, []string{"--layout", "zip", c.url("app.db"), "out.db"}},
		{exitUsage, []string{"S3 name", "--layout python"}, []string{c.url("app.db"), c.url("copy.db")}},
		{exitError, []string{"the database itself"}, []string{"--layout", "python", c.url("app.db"), c.url("app.db")}},
		{exitError, []string{"s3vfs database", "v1.db/_"}, []string{"--layout", "python", c.url("app.db"), c.url("v1.db")}},
		{exitError, []string{"block size 100", "512"}, []string{"--layout", "python", "--block-size", "100", c.url("app.db"), c.url("new.db")}},
		{exitError, []string{"commit 9", "does not exist"}, []string{"--layout", "python", "--commit", "9", c.url("app.db"), c.url("new.db")}},
		{exitError, []string{"no database at " + c.url("none.db")}, []string{"--layout", "python", c.url("none.db"), c.url("new.db")}},
	} {
		t.Log(c.fails(f.code, f.want, append([]string{"export"}, f.args...)...).stderr)
	}
	if r := c.ok("", "export", "--help"); !strings.Contains(r.stdout, "no commit point") {
		t.Errorf("export --help does not warn that the Python layout has no commit point:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "out.db")); err == nil {
		t.Error("a refused export wrote out.db")
	}
}
