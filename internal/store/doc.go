// Package store moves bytes under keys: the objects of one bucket, through
// the S3 API ([S3]) or in memory ([Mem]), behind the [Objects] interface,
// and the [Store] wrapper every implementation shares (the request
// counters, the per-request timeout, the [*Error] that names the operation,
// bucket and key, walking listings page by page and splitting deletes into
// batches). It knows nothing of the format of what it stores: it imports no
// package of the module.
//
// The contract every implementation of Objects keeps, checked by one
// conformance suite (storetest.Run) that each of them runs:
//   - Errors are classified: a missing object matches [ErrNotFound], a
//     lost conditional write [ErrExists], refused credentials
//     [ErrAccessDenied], a missing bucket [ErrNoBucket], an unsupported
//     request errNotImplemented. Any other error is transient or unknown;
//     it is not classified.
//   - GetObject returns the whole object. With ifMatch set it returns it
//     only while its ETag is ifMatch, and fails matching ErrExists after
//     the object changed.
//   - PutObject stores data under key. With ifNoneMatch it stores it only
//     if no object of that name exists, and fails matching ErrExists
//     otherwise — for exactly one of any number of racing writers. An
//     error may leave the outcome unknown (the answer was lost); callers
//     settle it by reading back.
//   - ListObjects returns, in ascending byte order of key, up to limit
//     objects under prefix whose key sorts after startAfter ("" for the
//     first page), and whether more follow. A completed put is listed
//     (strong consistency).
//   - RemoveObjects deletes up to [MaxRemoveBatch] objects in one request;
//     missing ones are not an error.
//   - Every method honours the cancellation of ctx, and is safe for
//     concurrent use.
//
// [Store.SelfTest] asks a bucket for the promises the commit protocol
// stands on; the root decides when to run it and what its verdict means.
package store
