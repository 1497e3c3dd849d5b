package s3vfs_test

import (
	"context"
	"testing"

	"github.com/s3vfs/s3vfs"
)

// TestS3ObjectsConformance runs the store contract (store.go) on the S3
// implementation against the real server.
func TestS3ObjectsConformance(t *testing.T) {
	bucket, err := server.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.RemoveBucket(context.Background(), bucket) })
	s3vfs.RunStoreConformanceS3(t, server.Client(""), bucket)
}
