package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/s3vfs/s3vfs"
)

// history returns the commits History lists for key, by number.
func history(t *testing.T, v *s3vfs.VFS, key string) map[uint64]s3vfs.Commit {
	t.Helper()
	commits := map[uint64]s3vfs.Commit{}
	for c, err := range v.History(context.Background(), key) {
		if err != nil {
			t.Fatal(err)
		}
		commits[c.N] = c
	}
	return commits
}

// wantMade fails t unless History lists commit n of key as made by made
// from commit from (no source), and its record starts with magic.
func wantMade(t *testing.T, v *s3vfs.VFS, commits map[uint64]s3vfs.Commit, key string, n uint64, made string, from uint64, magic string) {
	t.Helper()
	c, ok := commits[n]
	if !ok {
		t.Fatalf("History does not list commit %d of %s", n, key)
	}
	if c.Made != made || c.From != from || c.Source != "" {
		t.Errorf("commit %d of %s: Made %q, From %d, Source %q; want %q, %d, none", n, key, c.Made, c.From, c.Source, made, from)
	}
	data, err := s3vfs.CommitLogForTest(v).Get(context.Background(), key, n)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		t.Errorf("record %d of %s starts %q, want %q", n, key, data[:min(len(data), len(magic))], magic)
	}
}

const (
	magicR2 = "s3vfsR2\n" // a version-2 record
	magicR3 = "s3vfsR3\n" // a version-2 record that says how its commit was made
)

// A restore's commit says which commit it brought back; the commits
// around it are transactions, in plain version-2 records.
func TestRestoreMadeInHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	key := "made/restore.db"
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")        // commit 1
	mustExec(t, db, "INSERT INTO t VALUES (1)") // 2
	mustExec(t, db, "INSERT INTO t VALUES (2)") // 3
	n, err := e.vfs.Restore(ctx, key, 2)
	if err != nil || n != 4 {
		t.Fatalf("Restore(2) = %d, %v; want commit 4", n, err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (3)") // 5
	if got := queryString(t, db, "SELECT group_concat(x) FROM t"); got != "1,3" {
		t.Fatalf("after the restore and an insert: %q, want 1,3", got)
	}

	commits := history(t, e.newVFS(nil), key)
	if len(commits) != 5 {
		t.Fatalf("History lists %d commits, want 5", len(commits))
	}
	wantMade(t, e.vfs, commits, key, 3, "", 0, magicR2)
	wantMade(t, e.vfs, commits, key, 4, "restore", 2, magicR3)
	wantMade(t, e.vfs, commits, key, 5, "", 0, magicR2)

	// A restore of a restore names the commit it brought back.
	if n, err := e.vfs.Restore(ctx, key, 4); err != nil || n != 6 {
		t.Fatalf("Restore(4) = %d, %v; want commit 6", n, err)
	}
	wantMade(t, e.vfs, history(t, e.vfs, key), key, 6, "restore", 4, magicR3)

	// There is no commit 0 to restore: nothing is published.
	if _, err := e.vfs.Restore(ctx, key, 0); !errors.Is(err, s3vfs.ErrNoCommit) {
		t.Errorf("Restore(0): %v, want ErrNoCommit", err)
	}
	if got := len(history(t, e.vfs, key)); got != 6 {
		t.Errorf("History lists %d commits after Restore(0), want 6", got)
	}
}

// Deserialize marks its commit, over an empty key and over a database.
func TestDeserializeMadeInHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	src := localDatabase(t, 4096, 100)
	key := "made/deserialize.db"
	if err := e.vfs.Deserialize(ctx, key, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.open(key), "DELETE FROM items WHERE id < 10") // commit 2
	if err := e.vfs.Deserialize(ctx, key, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	commits := history(t, e.vfs, key)
	if len(commits) != 3 {
		t.Fatalf("History lists %d commits, want 3", len(commits))
	}
	wantMade(t, e.vfs, commits, key, 1, "deserialize", 0, magicR3)
	wantMade(t, e.vfs, commits, key, 2, "", 0, magicR2)
	wantMade(t, e.vfs, commits, key, 3, "deserialize", 0, magicR3)
}

// A writer set to format version 1 writes version-1 records, which cannot
// say how a commit was made: a restore and a Deserialize work, unmarked.
func TestRestoreFormat1Unmarked(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, FormatVersion: 1})
	key := "made/v1.db"
	if err := e.vfs.Deserialize(ctx, key, bytes.NewReader(localDatabase(t, 4096, 100))); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.open(key), "DELETE FROM items WHERE id < 10") // commit 2
	n, err := e.vfs.Restore(ctx, key, 1)
	if err != nil || n != 3 {
		t.Fatalf("Restore(1) = %d, %v; want commit 3", n, err)
	}
	commits := history(t, e.vfs, key)
	if len(commits) != 3 {
		t.Fatalf("History lists %d commits, want 3", len(commits))
	}
	for n, c := range commits {
		wantFormat(t, e.vfs, key, n, 1)
		if c.Made != "" || c.From != 0 || c.Source != "" {
			t.Errorf("commit %d, in a version-1 record, is listed as made: %+v", n, c)
		}
	}
	if got := queryInt(t, e.open(key), "SELECT count(*) FROM items"); got != 100 {
		t.Errorf("after the restore: %d rows, want 100", got)
	}
}
