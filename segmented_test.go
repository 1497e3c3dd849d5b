package s3vfs_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
)

// TestCheckpointVersion3Read: a database whose checkpoint a later release
// wrote in segments (format version 3, docs/format.md "Checkpoints,
// version 3") reads as it did: readers learn the version before any
// writer writes it. The test rewrites the checkpoint Deserialize made in
// segments of four blocks, then reads every row from a new process (a VFS
// with empty caches), commits over it, and checks the database's
// integrity.
func TestCheckpointVersion3Read(t *testing.T) {
	e := newEnv(t, nil)
	opts := &s3vfs.Options{BlockSize: 1024}
	v := e.newVFS(opts)
	db := openDB(t, e.register(v), "seg/src.sqlite")
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO t SELECT value, printf('%0200d', value) FROM generate_series(1, 200)")
	want := queryInt(t, db, "SELECT sum(length(v) + id) FROM t")
	db.Close()
	// Deserialize publishes a checkpoint of every block.
	key := "seg/db.sqlite"
	if err := v.Deserialize(context.Background(), key, bytes.NewReader(serializedFile(t, v, "seg/src.sqlite"))); err != nil {
		t.Fatal(err)
	}

	rewritten := 0
	for _, k := range e.keys(key) {
		if !strings.Contains(k, "/_checkpoints/") || strings.HasSuffix(k, ".inner") || strings.Contains(k, "/_checkpoints/gc.") {
			continue
		}
		c, err := format.DecodeCheckpoint(e.readObject(k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(c.Blocks) < 8 {
			continue
		}
		// A version-1 checkpoint's entries are version-2 entries without
		// overlays (Deserialize writes one under a version-2 record).
		c.BlockLevel = false
		c.SegmentShift = format.MinSegmentShift
		e.writeObject(k, c.Encode())
		rewritten++
	}
	if rewritten == 0 {
		t.Fatal("no checkpoint of 8 blocks or more to rewrite")
	}

	db = openDB(t, e.register(e.newVFS(opts)), key)
	defer db.Close()
	if got := queryInt(t, db, "SELECT sum(length(v) + id) FROM t"); got != want {
		t.Fatalf("over version-3 checkpoints: %d, want %d", got, want)
	}
	mustExec(t, db, "UPDATE t SET v = 'x' WHERE id = 7")
	if got := queryInt(t, db, "SELECT sum(length(v) + id) FROM t"); got != want-199 {
		t.Fatalf("after a commit over version-3 checkpoints: %d, want %d", got, want-199)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"); n != 0 {
		t.Fatalf("integrity check: %d problems", n)
	}
}
