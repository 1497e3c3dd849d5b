// Package engine is the engine of s3vfs beneath the root's exported API
// (docs/design.md, "The layers"): what one process knows of a database's
// head and how its freshness checks share requests (KnownHead,
// FreshChecks), the parameters of a database's URI (Params), the verdict
// of the store's self-test kept in the disk cache, and the hooks through
// which the root's tests steer a VFS (Hooks).
//
// It is the first part of the engine to leave the root; the connections,
// snapshots, commit, rebase, group commit and block reads follow it here.
// It never imports the root, nor internal/versions.
package engine
