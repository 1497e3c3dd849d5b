package s3vfs_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/internal/dyntest"
)

// The store-safety configurations of the scenario workloads: (a) the store
// as it is; (b) a store that ignores conditional creates (a client whose
// PutObject loses If-None-Match) with the DynamoDB coordinator, which must
// lose nothing; (c) the same store without a coordinator, where every
// write is refused (storecheck_test.go).

// childTableEnv passes a child process the DynamoDB table of a coordinated
// env; the endpoint travels in dyntest.EnvEndpoint.
const childTableEnv = "S3VFS_TEST_CHILD_DYNAMODB_TABLE"

var dyn struct {
	once   sync.Once
	server *dyntest.Server
	err    error
}

// dynamoServer returns the DynamoDB-compatible server of the tests
// (dynalite), started on first use and stopped by TestMain.
func dynamoServer(t testing.TB) *dyntest.Server {
	t.Helper()
	dyn.once.Do(func() {
		dyn.server, dyn.err = dyntest.Start(context.Background(), func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, f+"\n", a...)
		})
	})
	if dyn.err != nil {
		t.Fatalf("no DynamoDB server for the tests: %v", dyn.err)
	}
	return dyn.server
}

// stopDynamoServer stops the server if it was started.
func stopDynamoServer() {
	if dyn.server != nil {
		dyn.server.Close()
	}
}

// newCoordinatedEnv is newEnv in configuration (b): every VFS of the env,
// and of its child processes, talks to the bucket through a client that
// strips If-None-Match, and keeps its records in a fresh DynamoDB table.
func newCoordinatedEnv(t testing.TB, opts *s3vfs.Options) *env {
	t.Helper()
	srv := dynamoServer(t)
	table := srv.NewTableName()
	if err := dynamodb.CreateTable(context.Background(), srv.Client(), table); err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, opts, table)
}

// coordinated returns the client and options a VFS of a coordinated env
// (table != "") uses, or client and opts unchanged.
func coordinated(client *s3.Client, opts *s3vfs.Options, table string) (*s3.Client, *s3vfs.Options) {
	if table == "" {
		return client, opts
	}
	o := s3vfs.Options{}
	if opts != nil {
		o = *opts
	}
	o.Coordinator = dynamodb.NewCoordinator(dyn.server.Client(), table)
	c := client.Options()
	c.APIOptions = append(c.APIOptions, stripConditions)
	return s3.New(c), &o
}

// childCoordinated is coordinated in a child process, from its environment.
func childCoordinated(client *s3.Client, opts *s3vfs.Options) (*s3.Client, *s3vfs.Options) {
	table := os.Getenv(childTableEnv)
	if table == "" {
		return client, opts
	}
	dyn.once.Do(func() {
		dyn.server, dyn.err = dyntest.Start(context.Background(), nil) // EnvEndpoint is set
	})
	if dyn.err != nil {
		panic(dyn.err)
	}
	return coordinated(client, opts, table)
}
