// Package tx holds the values of a write transaction of s3vfs, and the
// rules it commits by:
//
//   - [Writes]: its writes not yet committed (whole blocks in memory,
//     blocks uploaded early, the size and the truncation floor), read as
//     one view over the snapshot it began on;
//   - [ReadSet] and [ByteSet]: what SQLite read on that snapshot, which a
//     rebase meets against what other commits changed;
//   - [Early]: what it uploaded that no record names yet, the claims that
//     renew those blocks for a later try, the pause bound
//     ([MaxAttemptPause]) and what its end deletes; [Upload] is one
//     object a commit writes;
//   - [Rules]: how its commit may be published (alone, rebased, renewed),
//     decided once from its own state ([Writes.RulesFor]).
//
// It is pure: it imports only the standard library and internal/format,
// does no I/O and knows nothing of SQLite. The caller (the engine's
// Txn) reads the snapshot, uploads and deletes objects, and
// hands in what a value needs: the snapshot's size and block size,
// functions that read committed and spilled bytes, the clock, new tokens.
// None of its values is safe for concurrent use.
package tx
