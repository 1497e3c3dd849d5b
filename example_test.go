package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// exampleClient returns a client and a fresh bucket on the test server
// (removed by TestMain when the tests end). A real program builds its
// client from the AWS configuration:
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	client := s3.NewFromConfig(cfg)
func exampleClient() (*s3.Client, string) {
	bucket, err := server.CreateBucket(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	return server.Client(""), bucket
}

func Example() {
	client, bucket := exampleClient()

	v, err := s3vfs.New(client, bucket, &s3vfs.Options{BlockSize: 65536})
	if err != nil {
		log.Fatal(err)
	}
	vfs.Register("s3", v)
	defer vfs.Unregister("s3")

	db, err := sql.Open("sqlite3", "file:my/path/cool.sqlite?vfs=s3")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if _, err := db.Exec(`CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO users(name) VALUES ('ada'), ('grace')`); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "users")
	fmt.Println(v.Stats().Commits, "commits")
	// Output:
	// 2 users
	// 2 commits
}
