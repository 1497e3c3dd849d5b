package dynamodb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs/internal/commitlog/logtest"
	"github.com/s3vfs/s3vfs/internal/dyntest"
	"github.com/s3vfs/s3vfs/internal/store"
)

// dynamoServer starts the tests' DynamoDB-compatible server (dynalite),
// stopped when t ends.
func dynamoServer(t *testing.T) *dyntest.Server {
	t.Helper()
	srv, err := dyntest.Start(context.Background(), t.Logf)
	if err != nil {
		t.Fatalf("no DynamoDB server for the tests: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestLogConformanceDynamoDB runs the commit log's contract (the doc of
// internal/commitlog) on the records of a Coordinator, in a fresh table
// of dynalite. The records are the table's alone: they are handed no
// bucket but its name.
func TestLogConformanceDynamoDB(t *testing.T) {
	srv := dynamoServer(t)
	table := srv.NewTableName()
	if err := CreateTable(context.Background(), srv.Client(), table); err != nil {
		t.Fatal(err)
	}
	logtest.Run(t, NewCoordinator(srv.Client(), table).Records("no-bucket"))
	// A second create of an existing table is not an error.
	if err := CreateTable(context.Background(), srv.Client(), table); err != nil {
		t.Fatalf("CreateTable of an existing table: %v", err)
	}
}

// The names a VFS reads from a Coordinator: the marker text and the URI
// are compared with what other processes wrote and asked for, so they
// never change.
func TestCoordinatorNames(t *testing.T) {
	c := NewCoordinator(nil, "T")
	if got, want := c.Name(), "DynamoDB table T"; got != want {
		t.Errorf("Name() = %q, want %q (the marker in the bucket, byte for byte)", got, want)
	}
	if got, want := c.URI(), "dynamodb&table=T"; got != want {
		t.Errorf("URI() = %q, want %q", got, want)
	}
	if got, want := c.MaxRecordSize(), 350<<10; got != want {
		t.Errorf("MaxRecordSize() = %d, want %d", got, want)
	}
}

// A table that does not exist fails with the fix, naming the table and
// the VFS's bucket, and as no store error kind.
func TestMissingTable(t *testing.T) {
	srv := dynamoServer(t)
	const table = "s3vfs-no-such-table"
	_, err := NewCoordinator(srv.Client(), table).Records("my-bucket").Get(context.Background(), "d.db", 1)
	want := "s3vfs doctor --dynamodb-table " + table + " --create-table s3://my-bucket)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Get from a missing table: %v, want an error that says %q", err, want)
	}
	for _, kind := range []error{store.ErrNotFound, store.ErrExists, store.ErrAccessDenied} {
		if errors.Is(err, kind) {
			t.Errorf("the missing table's error matches %v", kind)
		}
	}
}
