package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"
)

// walPending reports whether the database file name is in WAL mode with
// commits still in its -wal file: the file alone then lacks them.
func walPending(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var header [20]byte
	if _, err := f.ReadAt(header[:], 0); err != nil || string(header[:16]) != "SQLite format 3\x00" {
		return false
	}
	if header[18] != 2 && header[19] != 2 { // the file format versions: 2 is WAL
		return false
	}
	st, err := os.Stat(name + "-wal")
	return err == nil && st.Size() > 0
}

// walSnapshot copies the database file name, in WAL mode with commits in
// its -wal file, with those commits, into a temporary file, with SQLite's
// backup (which reads through the WAL, as any reader does, and leaves the
// file and its -wal as they are; SQLite may create its -shm). It returns
// the copy's path and a function that removes it.
func walSnapshot(ctx context.Context, name string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "s3vfs-import-")
	if err != nil {
		return "", nil, fmt.Errorf("s3vfs: cannot copy %s, in WAL mode, with the commits in its -wal file: %w", name, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	abs, err := filepath.Abs(name)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	copyPath := filepath.Join(dir, "snapshot.db")
	src := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?vfs=os&mode=ro"
	conn, err := sqlite3.OpenFlags(src, sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("s3vfs: %s is in WAL mode with commits in %s-wal, which could not be read (%w): "+
			"checkpoint it first (sqlite3 %s \"PRAGMA wal_checkpoint(TRUNCATE)\")", name, name, err, name)
	}
	defer conn.Close()
	conn.SetInterrupt(ctx)
	if err := conn.Backup("main", "file:"+(&url.URL{Path: filepath.ToSlash(copyPath)}).EscapedPath()+"?vfs=os"); err != nil {
		cleanup()
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		return "", nil, fmt.Errorf("s3vfs: cannot copy %s, in WAL mode, with the commits in its -wal file into %s: %w", name, dir, err)
	}
	return copyPath, cleanup, nil
}
