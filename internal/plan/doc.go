// Package plan decides commits: from the snapshot a transaction began on
// (format.Snapshot) and its writes (tx.Writes), the new record, the
// objects to upload, whether to write a checkpoint, and the snapshot the
// commit makes. Blocks plans a commit of format version 1 (every changed
// block uploaded whole); Pages one of version 2 (changed pages carried
// inline by the record, or their blocks folded and uploaded, within the
// bounds of FoldBounds). WithInner adds to a plan that writes a checkpoint
// its inner pages, laid out by InnerLayout (docs/format.md, "Inner
// pages").
//
// Its contract: it is pure. It does no I/O, keeps no state and imports
// only format, tx, btree and the standard library; doing a plan (the uploads,
// the conditional create of the record, its outcome) is the engine's job.
// A plan names only objects of its own attempt (Attempt.Token) or of the
// snapshot it builds on, which is what garbage collection relies on
// (docs/design.md, "A writer never loses a block").
package plan
