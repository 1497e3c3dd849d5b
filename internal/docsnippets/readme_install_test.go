package docsnippets

// README.md, "Install": the VFS registered with no code.

import (
	"database/sql"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" database/sql driver
	_ "github.com/s3vfs/s3vfs/embed"         // registers the "s3" VFS
)

func readmeInstall() (*sql.DB, error) {
	db, err := sql.Open("sqlite3", "file:my/db.sqlite?vfs=s3&bucket=my-bucket")
	return db, err
}
