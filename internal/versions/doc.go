// Package versions holds what works on whole versions of a database,
// above the engine (docs/design.md, "The layers"): streams out and in
// (Serialize, Deserialize), history, info and usage, restore, branches,
// merges and removal, migration from the Python layout and export to it,
// and garbage collection with its summaries; with them the pacing of the
// tries of a publish that replaces a version (PublishRetry) and the
// ordered, bounded fetch of a version's parts (Ordered).
//
// Ops is its entry: the engine's share of a VFS (engine.Env), and the VFS
// as SQLite knows it, for the operations that read a version through a
// connection of their own. The root's exported methods are doors to Ops's
// and convert its results to the root's types, whose doc comments are the
// contract. It never imports the root.
package versions
