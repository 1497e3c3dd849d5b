package versions

import "github.com/s3vfs/s3vfs/internal/engine"

// database is a database as the operations on whole versions use it: the
// state every user of it in the process shares (engine.Database), and the
// Ops it was acquired through.
type database struct {
	*engine.Database
	vfs *Ops
}

// acquire returns the shared state of the database at key, made on first
// use; release gives it back.
func (v *Ops) acquire(key string) *database {
	return &database{Database: v.Env.Acquire(key), vfs: v}
}

// release gives back db, which acquire returned.
func (v *Ops) release(db *database) { v.Env.Release(db.Database) }

// newDatabase returns the state of the database at key in v, not shared:
// for an operation that must not see, nor be seen by, the process's users
// of it.
func (v *Ops) newDatabase(key string) *database {
	return &database{Database: v.Env.NewDatabase(key), vfs: v}
}
