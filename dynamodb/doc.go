// Package dynamodb keeps the commit records of s3vfs databases in a
// DynamoDB table, for stores whose conditional creates cannot be trusted
// (docs/compatibility.md): its [Coordinator] is an s3vfs.Coordinator, set
// as s3vfs.Options.Coordinator.
//
//	v, err := s3vfs.New(s3Client, "my-bucket", &s3vfs.Options{
//		Coordinator: dynamodb.NewCoordinator(dynamoClient, "my-table"),
//	})
//
// Only the commit point moves: record N of database K is the item (db=K,
// n=N), created with a conditional PutItem (attribute_not_exists) and read
// with strongly consistent reads; it holds the record's bytes. Blocks and
// checkpoints stay in the bucket, and a commit writes a checkpoint rather
// than a record too large for an item ([Coordinator.MaxRecordSize]). A
// database kept here leaves the marker "DynamoDB table T" in its bucket
// ([Coordinator.Name]), which a process without the coordinator refuses
// to write past.
//
// The table: partition key "db" (string), sort key "n" (number); items
// also hold "record" (binary), "size" (number) and "created" (number:
// Unix nanoseconds by the writer's clock, taken right before the create,
// which garbage collection reads where it reads LastModified in the
// bucket). [CreateTable] makes one; so does
// "s3vfs doctor --dynamodb-table T --create-table s3://BUCKET".
//
// The package imports the AWS SDK's DynamoDB client, which the s3vfs
// package itself never imports: a program that keeps its commits in the
// bucket does not link it.
package dynamodb
