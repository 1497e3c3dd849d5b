package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// exampleVFS returns a VFS on a fresh bucket of the local test server
// (see exampleClient).
func exampleVFS() *s3vfs.VFS {
	client, bucket := exampleClient()
	v, err := s3vfs.New(client, bucket, nil)
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// Serialize streams a database out of S3 as a regular SQLite file, here
// into a local file that plain SQLite opens.
func ExampleVFS_Serialize() {
	ctx := context.Background()
	v := exampleVFS()
	vfs.Register("s3-serialize", v)
	defer vfs.Unregister("s3-serialize")

	db, err := sql.Open("sqlite3", "file:reports/2025.db?vfs=s3-serialize")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE sales(month, amount);
		INSERT INTO sales VALUES ('jan', 100), ('feb', 250), ('mar', 175)`); err != nil {
		log.Fatal(err)
	}
	db.Close()

	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "2025.db")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	// v.Serialize(ctx, key) is the same stream as an iterator of blocks.
	r := v.SerializeReader(ctx, "reports/2025.db")
	if _, err := io.Copy(f, r); err != nil {
		log.Fatal(err)
	}
	r.Close()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	local, err := sql.Open("sqlite3", "file:"+path) // the default VFS: a local file
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	var total int
	if err := local.QueryRow("SELECT sum(amount) FROM sales").Scan(&total); err != nil {
		log.Fatal(err)
	}
	fmt.Println("total from the local copy:", total)
	// Output:
	// total from the local copy: 525
}

// Deserialize uploads a regular SQLite file into S3 as one commit.
func ExampleVFS_Deserialize() {
	ctx := context.Background()
	v := exampleVFS()

	// A local database, made with the default VFS.
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cities.db")
	local, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := local.Exec(`CREATE TABLE cities(name, population);
		INSERT INTO cities VALUES ('Lisbon', 545000), ('Porto', 232000)`); err != nil {
		log.Fatal(err)
	}
	local.Close()

	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := v.Deserialize(ctx, "geo/cities.db", f); err != nil {
		log.Fatal(err)
	}

	vfs.Register("s3-deserialize", v)
	defer vfs.Unregister("s3-deserialize")
	db, err := sql.Open("sqlite3", "file:geo/cities.db?vfs=s3-deserialize&mode=ro")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow("SELECT name FROM cities ORDER BY population DESC").Scan(&name); err != nil {
		log.Fatal(err)
	}
	fmt.Println("largest city:", name)
	// Output:
	// largest city: Lisbon
}

// A database in S3 used through database/sql, like any other SQLite
// database: open it by naming the registered VFS in the URI.
func Example_databaseSQL() {
	ctx := context.Background()
	v := exampleVFS()
	vfs.Register("s3-sql", v)
	defer vfs.Unregister("s3-sql")

	db, err := sql.Open("sqlite3", "file:apps/todo.db?vfs=s3-sql")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if _, err := db.ExecContext(ctx, `CREATE TABLE todo(id INTEGER PRIMARY KEY, title TEXT, done INT)`); err != nil {
		log.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, title := range []string{"write docs", "ship it"} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO todo(title, done) VALUES (?, 0)`, title); err != nil {
			log.Fatal(err)
		}
	}
	// The commit uploads the changed blocks and publishes one commit
	// record; once it returns, the transaction is durable in S3.
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	rows, err := db.QueryContext(ctx, `SELECT id, title FROM todo ORDER BY id`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var title string
		if err := rows.Scan(&id, &title); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, title)
	}
	var commit int
	if err := db.QueryRowContext(ctx, "PRAGMA s3vfs_commit").Scan(&commit); err != nil {
		log.Fatal(err)
	}
	fmt.Println("commit:", commit)
	// Output:
	// 1 write docs
	// 2 ship it
	// commit: 2
}
