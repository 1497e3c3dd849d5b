package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs/internal/s3test"
)

// On a store that sends no response checksums, no command writes the
// SDK's log lines ("Response has no supported checksum") to stderr: the
// commands that read and write objects, Python-layout blocks included,
// print only their own messages there.
func TestNoSDKLogLines(t *testing.T) {
	c, p := proxied(t)
	s3test.StripChecksums(p)
	src := c.localDB("src.db", 2000)
	data, err := os.ReadFile(src)
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
	for _, args := range [][]string{
		{"import", "--block-size", "4096", src, c.url("app.db")},
		{"query", c.url("app.db"), "SELECT count(*) FROM t"},
		{"info", c.url("app.db")},
		{"export", c.url("app.db"), filepath.Join(c.dir, "out.db")},
		{"query", c.url("legacy/py.db"), "SELECT count(*) FROM t"},
		{"migrate", "--to", c.url("moved.db"), c.url("legacy/py.db")},
		{"doctor", "s3://" + c.bucket},
	} {
		r := c.ok("", args...)
		var logged []string
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(line, "SDK ") || strings.Contains(line, "checksum") {
				logged = append(logged, line)
			}
		}
		if len(logged) > 0 {
			t.Errorf("s3vfs %s wrote %d of the SDK's log lines to stderr, first:\n%s", strings.Join(args, " "), len(logged), logged[0])
		}
	}
}
