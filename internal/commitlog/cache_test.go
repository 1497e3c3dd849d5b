package commitlog

import (
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestCache: the cache of records holds the newest, no more than the
// bound it is handed nor much more than maxBytes, and After stops at
// the first record it does not hold.
func TestCache(t *testing.T) {
	const keep = 128
	var c Cache
	for n := uint64(1); n <= 3*keep; n++ {
		c.Add(&format.Record{BlockLevel: true, N: n, Size: 100}, keep)
	}
	if len(c.byN) != keep {
		t.Errorf("%d records held, want %d", len(c.byN), keep)
	}
	if _, ok := c.Get(3 * keep); !ok {
		t.Error("the newest record is not held")
	}
	if _, ok := c.Get(2 * keep); ok {
		t.Error("a record older than the kept ones is held")
	}
	if got := c.After(3*keep - 5); len(got) != 5 || got[0].N != 3*keep-4 {
		t.Errorf("after the sixth newest: %d records, want the 5 newer ones", len(got))
	}

	var big Cache
	for n := uint64(1); n <= 20; n++ {
		big.Add(&format.Record{BlockLevel: true, N: n, Size: 1 << 20}, keep)
	}
	if len(big.byN) >= 8 || big.weight > maxBytes {
		t.Errorf("%d records of 1 MiB held (%d bytes), want under %d bytes", len(big.byN), big.weight, maxBytes)
	}
	// A page-level record's encoded size holds its delta; a version-1
	// record's entries are counted besides.
	if w := recordWeight(&format.Record{Size: 100, Delta: make([]format.Entry, 1000)}); w != 128+100 {
		t.Errorf("a page-level record of 100 bytes weighs %d", w)
	}
	if w := recordWeight(&format.Record{BlockLevel: true, Delta: make([]format.Entry, 10)}); w != 128+160 {
		t.Errorf("a version-1 record of 10 entries weighs %d", w)
	}
	big.Add(&format.Record{BlockLevel: true, N: 30, Size: 100}, keep)
	if got := big.After(19); len(got) != 1 || got[0].N != 20 {
		t.Errorf("after 19: %d records, want record 20 alone (29 is missing)", len(got))
	}
}

// TestCacheProvenNewest: the newest record proven is the highest, and of
// two proofs of one record the later.
func TestCacheProvenNewest(t *testing.T) {
	var c Cache
	if n, at := c.ProvenNewest(); n != 0 || !at.IsZero() {
		t.Fatalf("empty cache: %d at %v, want none", n, at)
	}
	t0 := time.Now()
	c.ProveNewest(5, t0)
	c.ProveNewest(4, t0.Add(time.Second))
	if n, at := c.ProvenNewest(); n != 5 || !at.Equal(t0) {
		t.Errorf("after proving 5 then an older 4: %d at %v, want 5 at %v", n, at, t0)
	}
	c.ProveNewest(5, t0.Add(time.Second))
	if n, at := c.ProvenNewest(); n != 5 || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("after proving 5 again later: %d at %v, want the later proof", n, at)
	}
}
