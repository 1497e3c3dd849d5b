package docsnippets

// README.md, "Use": a VFS of the program's own client.

import (
	"context"
	"database/sql"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

func readmeUse(ctx context.Context) (*sql.DB, error) {
	cfg, _ := config.LoadDefaultConfig(ctx)
	client := s3.NewFromConfig(cfg)
	v, err := s3vfs.New(client, "my-bucket", nil) // or &s3vfs.Options{BlockSize: 65536, …}
	vfs.Register("s3", v)
	db, err := sql.Open("sqlite3", "file:my/path/cool.sqlite?vfs=s3") // ncruces driver
	return db, err
}
