package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// Try a change on a branch, leave the database it came from as it was,
// and remove the branch when done.
func ExampleVFS_Branch() {
	ctx := context.Background()
	client, bucket := exampleClient()
	v, err := s3vfs.New(client, bucket, nil)
	if err != nil {
		log.Fatal(err)
	}
	vfs.Register("s3branch", v)
	defer vfs.Unregister("s3branch")

	db, err := sql.Open("sqlite3", "file:shop.db?vfs=s3branch")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE price(item TEXT PRIMARY KEY, cents INTEGER)`, // commit 1
		`INSERT INTO price VALUES ('tea', 300), ('coffee', 350)`,   // commit 2
	} {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}

	// A branch of the newest commit: no block is copied.
	first, err := v.Branch(ctx, "shop.db", 0, "shop-sale.db")
	if err != nil {
		log.Fatal(err)
	}
	sale, err := sql.Open("sqlite3", "file:shop-sale.db?vfs=s3branch")
	if err != nil {
		log.Fatal(err)
	}
	defer sale.Close()
	if _, err := sale.Exec(`UPDATE price SET cents = cents * 8 / 10`); err != nil {
		log.Fatal(err)
	}

	var onBranch, onSource int
	if err := sale.QueryRow(`SELECT cents FROM price WHERE item = 'tea'`).Scan(&onBranch); err != nil {
		log.Fatal(err)
	}
	if err := db.QueryRow(`SELECT cents FROM price WHERE item = 'tea'`).Scan(&onSource); err != nil {
		log.Fatal(err)
	}
	info, err := v.Info(ctx, "shop-sale.db")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("branch of %s at commit %d, first commit %d\n", info.BranchOf, info.BranchPoint, first)
	fmt.Println("tea on the branch:", onBranch, "on the source:", onSource)

	sale.Close()
	if err := v.Remove(ctx, "shop-sale.db"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// branch of shop.db at commit 2, first commit 3
	// tea on the branch: 240 on the source: 300
}
