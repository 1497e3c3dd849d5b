package s3vfs_test

import (
	"bytes"
	"context"
	"testing"
)

// TestSerializeYieldsCopies: the blocks Serialize yields are the caller's.
// Modifying them, even when they came from the block cache, changes
// neither a later Serialize nor what SQLite reads.
func TestSerializeYieldsCopies(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("copies.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t SELECT randomblob(1000) FROM generate_series(1, 50)")
	sum := queryString(t, db, "SELECT group_concat(hex(x)) FROM t") // every page in the cache
	if hits := e.vfs.Stats().CacheHits; hits == 0 {
		t.Fatal("nothing was read from the cache")
	}

	ctx := context.Background()
	serialize := func(scribble bool) []byte {
		var out bytes.Buffer
		for data, err := range e.vfs.Serialize(ctx, "copies.db") {
			if err != nil {
				t.Fatal(err)
			}
			out.Write(data)
			if scribble {
				for i := range data {
					data[i] = 0xAA
				}
			}
		}
		return out.Bytes()
	}
	before := e.vfs.Stats().CacheHits
	first := serialize(true)
	if e.vfs.Stats().CacheHits == before {
		t.Fatal("Serialize read nothing from the cache: the test checks nothing")
	}
	if second := serialize(false); !bytes.Equal(first, second) {
		t.Fatal("modifying the blocks of one Serialize changed the next")
	}
	if got := queryString(t, db, "SELECT group_concat(hex(x)) FROM t"); got != sum {
		t.Fatal("modifying the blocks of Serialize changed what SQLite reads")
	}
	integrityOK(t, db)
}
