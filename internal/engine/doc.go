// Package engine is the engine of s3vfs beneath the root's exported API
// (docs/design.md, "The layers"). It holds what reading and writing a
// database need:
//
//   - Env, what one VFS shares among its databases: the store, the commit
//     log, the block cache, the disk caches, the single flight of fetches,
//     the counters, the store's self-test, and the settings the engine
//     reads (Config);
//   - Database, one database as a process knows it: the newest known
//     head and how long to trust it (KnownHead), the freshness checks
//     that share requests (FreshChecks), the records of the last commits,
//     the snapshots built from them (Build), and every read of a block:
//     through the caches and the disk cache, from inner pages and their
//     bundles, merged with its overlays, or from the Python layout; and
//     the process's write lock and write chain;
//   - Txn, the transaction a connection runs: its reads and writes over
//     its snapshot, the write lock, and its commit: planned (internal/plan),
//     published (uploads, then the conditional create of its record),
//     rebased over a commit that got in first, spilled when it outgrows its
//     buffer, or queued and merged with others of its process (group
//     commit);
//   - time travel: the version of a commit other than the newest
//     (SnapshotAt, PinnedSnapshot for commit= and asof=);
//   - the parameters of a database's URI (Params), the verdict of the
//     store's self-test kept on disk, and the hooks through which the
//     root's tests steer a VFS (Hooks).
//
// What is SQLite's alone (the lock levels, the pragmas, the settings a
// connection may not use, read-ahead) stays in the root's file. The engine
// never imports the root, nor internal/versions.
package engine
