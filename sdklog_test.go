package s3vfs_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// recordingLogger keeps what the SDK logs.
type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) Logf(c logging.Classification, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(c)+" "+fmt.Sprintf(format, v...))
}

func (l *recordingLogger) logged() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// On a store that sends no response checksums (MinIO), a client
// configured as the SDK's defaults have it (response checksums validated
// where supported, a logger that writes everything) logs nothing for the
// VFS's requests: the VFS checks what it reads against checksums of its
// own, and does not ask the SDK to validate, which would log a line per
// GET that it could not.
func TestNoSDKLogLines(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	s3test.StripChecksums(e.proxy)
	log := new(recordingLogger)
	newVFS := func() string {
		client := s3.New(s3.Options{
			BaseEndpoint: aws.String(e.proxy.URL),
			Region:       server.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(server.AccessKey, server.SecretKey, ""),
			UsePathStyle: true,
			Logger:       log,
			// What config.LoadDefaultConfig sets unless told otherwise.
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		})
		v, err := s3vfs.New(client, e.bucket, &s3vfs.Options{BlockSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		return e.register(v)
	}

	db := openDB(t, newVFS(), "app.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200)
		INSERT INTO t SELECT randomblob(500) FROM n`)
	db.Close()
	// A cold reader fetches every block and commit record.
	db = openDB(t, newVFS(), "app.db")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 200 {
		t.Fatalf("%d rows, want 200", n)
	}
	integrityOK(t, db)
	db.Close()
	if lines := log.logged(); len(lines) > 0 {
		t.Fatalf("the SDK logged %d lines, first: %s", len(lines), lines[0])
	}
}
