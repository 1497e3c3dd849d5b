// Package engine is the engine of s3vfs beneath the root's exported API
// (docs/design.md, "The layers"). It holds what reading a database needs:
//
//   - Env, what one VFS shares among its databases: the store, the commit
//     log, the block cache, the disk caches, the single flight of fetches,
//     the counters, and the settings the engine reads (Config);
//   - Database, one database as a process knows it: the newest known
//     head and how long to trust it (KnownHead), the freshness checks
//     that share requests (FreshChecks), the records of the last commits,
//     the snapshots built from them (Build), and every read of a block:
//     through the caches and the disk cache, from inner pages and their
//     bundles, merged with its overlays, or from the Python layout;
//   - the parameters of a database's URI (Params), the verdict of the
//     store's self-test kept on disk, and the hooks through which the
//     root's tests steer a VFS (Hooks).
//
// The write side (the connection, the transaction, the commit, rebase and
// group commit) follows it here from the root. It never imports the root,
// nor internal/versions.
package engine
