// Package cache keeps the objects a VFS reads, which are never rewritten
// under their names, so that each is fetched from the store as rarely as
// can be: in memory ([LRU]), in files that outlive the process and that
// other processes share ([Disk]), and once however many callers miss it
// at the same time ([Flights], [Shared]).
//
// It is handed the functions that fetch what it misses
// ([Disk.ReadThrough], [Shared]) and the checks that accept what it holds:
// it never reaches a store itself, knows nothing of the format of what it
// keeps, and imports no package of the module. It counts nothing either:
// ReadThrough reports a hit or a miss, and the caller counts it.
//
// The LRU is keyed by object name, bounded by bytes, and evicts the least
// recently used entry. Names are immutable, so an entry is never stale
// and needs no invalidation.
//
// The Disk keeps objects in files under a directory, so that they outlive
// the process: a later process (or another one running at the same time)
// reads them from the disk instead of the store. Any number of processes
// of one user may share the directory (its files and subdirectories are
// created readable by their owner only):
//
//   - an entry is created by writing a temporary file in the same
//     directory and renaming it into place, so it is either absent or
//     complete; a writer that dies leaves only a temporary file, which a
//     later sweep removes (diskevict.go);
//   - the caller checks every entry it reads (its length, and a verify
//     function: the CRC32C its commit recorded, say), and an entry that
//     fails (a file torn by a power loss, bytes changed on disk) is
//     deleted and read from the store again;
//   - entries are evicted oldest first (by modification time, which a hit
//     refreshes) once the directory outgrows its bound; removing a file
//     another process is reading does not disturb that read, and an entry
//     evicted before it is opened is a miss.
//
// Entries are keyed by bucket and object name (the SHA-256 of both, in
// the subdirectory [Layout]). Object names are never reused (a new version
// of a block is a new object), so an entry is never stale. Failures of the
// disk are never errors: a read that fails is a miss, a write that fails
// is skipped, and the first failure is logged once.
//
// Other processes, of this version or an older one, share the directory:
// its layout (the paths of the entries, their permissions, the temporary
// files and their prefix) changes only with a new Layout.
package cache
