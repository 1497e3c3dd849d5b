// Package testproc holds what the test servers' packages (internal/s3server,
// internal/dyntest) share for running a server process and for telling
// their clients where it answers, and the random names the tests give
// what they create.
package testproc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// RandomHex returns n random bytes as lower-case hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// SyncWriter is a buffer safe for the concurrent use os/exec makes of a
// command's Stdout and Stderr. The zero value is ready to use.
type SyncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

// Write implements io.Writer.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// String returns what was written so far.
func (s *SyncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
