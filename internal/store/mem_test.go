package store_test

import (
	"testing"

	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/store/storetest"
)

// TestMemConformance runs the store contract on Mem; it needs no server.
func TestMemConformance(t *testing.T) {
	storetest.Run(t, store.NewMem())
}
