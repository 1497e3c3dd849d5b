// Package commitlog keeps the commit records of databases, and with them
// the one commit point of the protocol: the create of record n of a
// database succeeds for one writer only. Blocks and checkpoints always
// live in the bucket; records live there too ([Bucket], the default), or
// with a coordinator for stores whose conditional creates cannot be
// trusted (docs/compatibility.md), behind the same [Log] interface. It
// imports no package of the module but store, which moves the bucket's
// objects, and format, which names them.
//
// The contract every implementation of Log keeps, checked by one
// conformance suite (logtest.Run) that each of them runs:
//   - Create makes record n of key hold data if no record n exists, and
//     fails with an error matching store.ErrExists if one does, even when
//     several writers race: exactly one of them succeeds. Its outcome may
//     be unknown on failure (a lost answer): callers settle it with Get.
//   - Get returns what Create stored, or an error matching
//     store.ErrNotFound; a record created before Get was called is always
//     found (strong consistency).
//   - Newest returns the highest record number of key, 0 if none, as of
//     some moment during the call.
//   - List calls fn for every record of key, in any order (callers sort),
//     with its size and the time it was created by the store's clock, or
//     by the writer's within the clock skew docs/design.md assumes; a time
//     may be listed truncated to the second.
//   - Remove deletes records of key; missing ones are not an error.
//   - Overwrite makes an existing record hold other bytes, what Get and
//     List return from then on (a removal's one write that is not a
//     create); a record deleted meanwhile may be made again, or the call
//     may fail with an error matching store.ErrNotFound.
//   - The records of one key are never those of another.
//   - Every method takes the caller's context, fails once it is
//     cancelled, and is safe for concurrent use.
//
// [Cache] holds the records a process read or created lately, decoded: a
// record never changes once created but by the removal of its database,
// which a process holding the old bytes learns from the records after
// them, so no process reads one twice.
package commitlog
