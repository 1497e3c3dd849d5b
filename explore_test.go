package s3vfs_test

import (
	"errors"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

func TestExplore(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	for _, mode := range []string{"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF", "WAL"} {
		db := e.open("x"+mode+".db")
		var got string
		err := db.QueryRow("PRAGMA journal_mode=" + mode).Scan(&got)
		t.Log(mode, got, err)
		_, err = db.Exec("CREATE TABLE t(x)")
		var se *sqlite3.Error
		if errors.As(err, &se) {
			t.Log(se.ExtendedCode(), se)
		}
		before := e.vfs.Stats()
		_, err = db.Exec("INSERT INTO t VALUES (1)")
		if errors.As(err, &se) {
			t.Log(se.ExtendedCode(), se)
		}
		t.Log(e.vfs.Stats().Sub(before))
		db.Close()
	}
}
