package engine

import (
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestCheckBlockLen: a block shorter than its map says is an I/O error
// naming the block, not a panic in the slicing that follows.
func TestCheckBlockLen(t *testing.T) {
	db := &Database{Key: "k"}
	s := &format.Snapshot{N: 7, BlockSize: 16, Size: 40}
	if err := db.CheckBlockLen(s, 1, make([]byte, 16), 16); err != nil {
		t.Errorf("a whole block: %v", err)
	}
	err := db.CheckBlockLen(s, 1, make([]byte, 12), 16)
	if err == nil || !strings.Contains(err.Error(), "block 1 of k read as 12 bytes where commit 7 needs 16") {
		t.Errorf("a short block: %v", err)
	}
}
