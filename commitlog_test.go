package s3vfs_test

import (
	"context"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/commitlog/logtest"
)

// TestLogConformanceS3 runs the commit log's contract (the doc of
// internal/commitlog) on a VFS's log in its bucket, against the real
// server.
func TestLogConformanceS3(t *testing.T) {
	bucket, err := server.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.RemoveBucket(context.Background(), bucket) })
	v, err := s3vfs.New(server.Client(""), bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	logtest.Run(t, s3vfs.CommitLogForTest(v))
}
