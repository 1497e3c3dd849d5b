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

// TestLogConformanceDynamoDB runs the commit log's contract on the
// records of a DynamoDB coordinator, in a fresh table of the tests'
// dynalite. Its VFS sends no request to its bucket.
func TestLogConformanceDynamoDB(t *testing.T) {
	srv := dynamoServer(t)
	table := srv.NewTableName()
	if err := s3vfs.CreateDynamoDBTable(context.Background(), srv.Client(), table); err != nil {
		t.Fatal(err)
	}
	v, err := s3vfs.New(server.Client(""), "no-bucket", &s3vfs.Options{Coordinator: s3vfs.NewDynamoDBCoordinator(srv.Client(), table)})
	if err != nil {
		t.Fatal(err)
	}
	logtest.Run(t, s3vfs.CommitLogForTest(v))
	if st := v.Stats(); st.Requests() != 0 {
		t.Errorf("the records of the coordinator sent requests to the bucket: %+v", st)
	}
}
