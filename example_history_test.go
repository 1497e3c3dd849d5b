package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// Read an old version, list the history, restore, and account for what
// the database keeps.
func ExampleVFS_History() {
	ctx := context.Background()
	client, bucket := exampleClient()
	v, err := s3vfs.New(client, bucket, nil) // Retention: 24h
	if err != nil {
		log.Fatal(err)
	}
	vfs.Register("s3history", v)
	defer vfs.Unregister("s3history")

	db, err := sql.Open("sqlite3", "file:ledger.db?vfs=s3history")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE config(k TEXT PRIMARY KEY, v TEXT)`, // commit 1
		`INSERT INTO config VALUES ('mode', 'safe')`,      // commit 2
		`UPDATE config SET v = 'fast'`,                    // commit 3
	} {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}

	// Time travel: open commit 2, read-only.
	old, err := sql.Open("sqlite3", "file:ledger.db?vfs=s3history&commit=2")
	if err != nil {
		log.Fatal(err)
	}
	defer old.Close()
	var mode string
	if err := old.QueryRow(`SELECT v FROM config WHERE k = 'mode'`).Scan(&mode); err != nil {
		log.Fatal(err)
	}
	fmt.Println("at commit 2:", mode)

	for c, err := range v.History(ctx, "ledger.db") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("commit %d: %d bytes, %d block(s) changed\n", c.N, c.Size, c.BlocksChanged)
	}

	// Bring commit 2 back, as a new commit.
	n, err := v.Restore(ctx, "ledger.db", 2)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.QueryRow(`SELECT v FROM config WHERE k = 'mode'`).Scan(&mode); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restored as commit %d: %s\n", n, mode)

	// Accounting: every version is within the retention, so nothing is
	// garbage yet.
	rep, err := v.GC(ctx, "ledger.db", &s3vfs.GCOptions{DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("commits %d to %d kept, %d live objects, %d garbage\n",
		rep.Oldest, rep.Head, rep.Live.Objects(), rep.Garbage.Objects())
	// Output:
	// at commit 2: safe
	// commit 3: 12288 bytes, 1 block(s) changed
	// commit 2: 12288 bytes, 1 block(s) changed
	// commit 1: 12288 bytes, 1 block(s) changed
	// restored as commit 4: safe
	// commits 1 to 4 kept, 6 live objects, 0 garbage
}
