package s3vfs

import (
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestRecentRecords: the cache of records holds the newest, no more than
// keptRecords of them nor much more than keptRecordBytes, and after stops
// at the first record it does not hold.
func TestRecentRecords(t *testing.T) {
	var c recentRecords
	for n := uint64(1); n <= 3*keptRecords; n++ {
		c.add(&format.Record{N: n, Size: 100})
	}
	if len(c.byN) != keptRecords {
		t.Errorf("%d records held, want %d", len(c.byN), keptRecords)
	}
	if _, ok := c.get(3 * keptRecords); !ok {
		t.Error("the newest record is not held")
	}
	if _, ok := c.get(2 * keptRecords); ok {
		t.Error("a record older than the kept ones is held")
	}
	if got := c.after(3*keptRecords - 5); len(got) != 5 || got[0].N != 3*keptRecords-4 {
		t.Errorf("after the sixth newest: %d records, want the 5 newer ones", len(got))
	}

	var big recentRecords
	for n := uint64(1); n <= 20; n++ {
		big.add(&format.Record{N: n, Size: 1 << 20})
	}
	if len(big.byN) >= 8 || big.weight > keptRecordBytes {
		t.Errorf("%d records of 1 MiB held (%d bytes), want under %d bytes", len(big.byN), big.weight, keptRecordBytes)
	}
	big.add(&format.Record{N: 30, Size: 100})
	if got := big.after(19); len(got) != 1 || got[0].N != 20 {
		t.Errorf("after 19: %d records, want record 20 alone (29 is missing)", len(got))
	}
}
