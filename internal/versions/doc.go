// Package versions holds what works on whole versions of a database, above
// the engine (docs/design.md, "The layers"): today the pacing of the tries
// of a publish that replaces a version (PublishRetry: Deserialize,
// Restore, Merge) and the ordered, bounded fetch of a version's parts
// (Ordered: Serialize, History). Streams out and in, restore, migrate,
// export, garbage collection, history and info follow it here from the
// root. It never imports the root.
package versions
