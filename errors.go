package s3vfs

import (
	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Errors that classify S3 failures; match them with [errors.Is]. They are
// the values of the store (internal/store), so errors from any layer
// match them.
var (
	// ErrNotFound reports an object or bucket that does not exist.
	ErrNotFound = store.ErrNotFound
	// ErrExists reports a conditional create that lost: the object exists.
	ErrExists = store.ErrExists
	// ErrAccessDenied reports rejected credentials or missing permissions.
	ErrAccessDenied = store.ErrAccessDenied
	// ErrNoBucket reports a bucket that does not exist.
	ErrNoBucket = store.ErrNoBucket
)

// Error is an S3 failure: the operation, the object, and the cause. Its
// cause matches one of ErrNotFound, ErrExists, ErrAccessDenied or
// ErrNoBucket where the failure is one of those. Match it with
// [errors.As]; its fields are:
//
//	Op     string // get, put, create, list or delete
//	Bucket string
//	Key    string // the object, or the prefix of a listing
//	Err    error  // the cause, classified
type Error = store.Error

// ErrUnknownVersion reports an object of the bucket in a format version
// newer than this release reads (a record of a later release): upgrade
// s3vfs to read the database. Match it with [errors.Is].
var ErrUnknownVersion = format.ErrUnknownVersion

// ErrLegacyLayout reports a database in the layout of the Python library
// sqlite-s3vfs where s3vfs cannot use it as asked: it is read-only until
// migrated ([VFS.Migrate], s3vfs migrate), and a hot journal (a Python
// transaction that died half-way) makes it unreadable. The error says
// which, and what to do.
var ErrLegacyLayout = engine.ErrLegacyLayout
