package s3vfs_test

import (
	"testing"

	_ "github.com/ncruces/go-sqlite3/driver"
)

func TestCreateInsertReopen(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("my/path/cool.sqlite")
	mustExec(t, db, "CREATE TABLE foo(x, y)")
	for i := 0; i < 100; i++ {
		mustExec(t, db, "INSERT INTO foo VALUES (?, ?)", 1, 2)
	}
	integrityOK(t, db)
	db.Close()

	v2 := e.newVFS(nil)
	db2 := openDB(t, e.register(v2), "my/path/cool.sqlite")
	if got := queryInt(t, db2, "SELECT count(*) FROM foo"); got != 100 {
		t.Fatalf("count = %d, want 100", got)
	}
	integrityOK(t, db2)
	t.Log(e.vfs.Stats(), v2.Stats())
}
