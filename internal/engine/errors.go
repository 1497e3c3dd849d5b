package engine

import "errors"

// The errors the engine returns that the root exports as its own (the
// same values, so errors.Is matches them at either): their docs are the
// root's. ErrNoCommit (timetravel.go) and ErrUnsafeStore (storecheck.go)
// are such errors too.
var (
	// ErrNoDatabase reports a key with no database behind it.
	ErrNoDatabase = errors.New("s3vfs: no database at this key")
	// ErrLegacyLayout reports a database in the layout of the Python
	// library sqlite-s3vfs where s3vfs cannot use it as asked.
	ErrLegacyLayout = errors.New("s3vfs: a database in the Python sqlite-s3vfs layout")
)
