package store

import "sync/atomic"

// Counters counts the requests a store sends and the object bytes
// they carry, updated concurrently.
type Counters struct {
	Gets, Puts, Lists, Deletes atomic.Int64 // requests sent, by kind
	Sent, Received             atomic.Int64 // object bytes uploaded and downloaded
}
