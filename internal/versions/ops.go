package versions

import (
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/engine"
)

// Ops is what the operations on whole versions need from a VFS: the
// engine's share of it, and the VFS as SQLite knows it, through which an
// operation reads a version with a connection of its own (a schema, the
// integrity check of a migrated database).
type Ops struct {
	Env    *engine.Env
	SQLite vfs.VFS
}
