package s3vfs

import (
	"strconv"

	"github.com/ncruces/go-sqlite3"
)

// Pragma implements [vfs.FilePragma]. It answers:
//
//	PRAGMA s3vfs_stats;   -- the VFS's request, byte and cache counters
//	PRAGMA s3vfs_commit;  -- the commit number this connection reads
func (f *file) Pragma(name, value string) (string, error) {
	switch name {
	case "s3vfs_stats":
		return f.db.vfs.Stats().String(), nil
	case "s3vfs_commit":
		return strconv.FormatUint(f.view().n, 10), nil
	}
	return "", sqlite3.NOTFOUND
}
