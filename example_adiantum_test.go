package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"
)

// exampleHexKey is a 256-bit key. Keep real keys out of source code.
const exampleHexKey = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// openEncrypted opens key on the VFS registered as vfsName (an adiantum
// wrapper), setting the encryption key on every new connection with a
// PRAGMA so that it never appears in a URI.
func openEncrypted(vfsName, key, hexKey string) (*sql.DB, error) {
	return driver.Open("file:"+key+"?vfs="+vfsName, func(c *sqlite3.Conn) error {
		return c.Exec("PRAGMA hexkey='" + hexKey + "'")
	})
}

// Client-side encryption: wrap the VFS with ncruces' adiantum package, and
// the bucket holds only ciphertext. Pages are encrypted before they reach
// the VFS, so blocks, caching and commits work unchanged.
func Example_adiantum() {
	v := exampleVFS()
	vfs.Register("s3-encrypted", adiantum.Wrap(v, nil))
	defer vfs.Unregister("s3-encrypted")

	db, err := openEncrypted("s3-encrypted", "vault/secrets.db", exampleHexKey)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE secrets(name, value);
		INSERT INTO secrets VALUES ('launch code', '0000')`); err != nil {
		log.Fatal(err)
	}
	var value string
	if err := db.QueryRow(`SELECT value FROM secrets WHERE name = 'launch code'`).Scan(&value); err != nil {
		log.Fatal(err)
	}
	fmt.Println("read back:", value)

	// Serialize yields what is stored: ciphertext, not a SQLite file.
	head := make([]byte, 16)
	r := v.SerializeReader(context.Background(), "vault/secrets.db")
	r.Read(head)
	r.Close()
	fmt.Println("stored file starts with the SQLite header:", string(head) == "SQLite format 3\x00")
	// Output:
	// read back: 0000
	// stored file starts with the SQLite header: false
}
