package s3vfs_test

import (
	"context"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/store/storetest"
)

// TestS3Conformance runs the store contract (the doc of internal/store)
// on its S3 implementation against the real server.
func TestS3Conformance(t *testing.T) {
	bucket, err := server.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.RemoveBucket(context.Background(), bucket) })
	storetest.Run(t, store.NewS3(server.Client(""), bucket, s3vfs.DefaultAttemptTimeout))
}
