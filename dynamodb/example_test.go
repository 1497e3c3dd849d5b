package dynamodb_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
)

// A VFS whose commits are kept in a DynamoDB table, for a store that
// ignores conditional creates; blocks and checkpoints stay in the bucket.
// Databases then open with file:KEY?vfs=s3vfs.
func ExampleNewCoordinator() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	table := "my-commits"
	if err := dynamodb.CreateTable(ctx, awsdynamodb.NewFromConfig(cfg), table); err != nil {
		log.Fatal(err)
	}
	v, err := s3vfs.New(s3.NewFromConfig(cfg), "my-bucket", &s3vfs.Options{
		Coordinator: dynamodb.NewCoordinator(awsdynamodb.NewFromConfig(cfg), table),
	})
	if err != nil {
		log.Fatal(err)
	}
	vfs.Register("s3vfs", v)
}
