package s3vfs

import (
	"github.com/s3vfs/s3vfs/internal/engine"
)

// database is the state one process shares among every connection to one
// database: what reading needs (engine.Database: the newest known
// snapshot, the freshness checks, the records of the last commits, the
// caches), and the in-process writer lock and write chain.
type database struct {
	*engine.Database
	vfs  *VFS
	refs int // guarded by vfs.mu
}

// newDatabase returns the state of the database at key in v, not yet
// shared (acquire shares it).
func (v *VFS) newDatabase(key string) *database {
	return &database{Database: &engine.Database{Key: key, Env: v.env}, vfs: v}
}
