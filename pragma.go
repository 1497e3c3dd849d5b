package s3vfs

import (
	"fmt"
	"strconv"

	"github.com/ncruces/go-sqlite3"
)

// Pragma implements [vfs.FilePragma]. It answers:
//
//	PRAGMA s3vfs_stats;   -- the VFS's request, byte and cache counters
//	PRAGMA s3vfs_commit;  -- the commit number this connection reads
//
// s3vfs_stats is one line of space-separated name=value pairs, such as
// "requests=12 get=9 put=2 list=1 delete=0 bytes_sent=8192
// bytes_received=65536 cache_hits=40 cache_misses=9 cache_hit_rate=0.816
// disk_hits=0 disk_misses=0 commits=1 conflicts=0 rebases=0 early_blocks=0"; cache_hit_rate is 0
// before any block read.
func (f *file) Pragma(name, value string) (string, error) {
	if err := f.checkPragma(name, value); err != nil {
		return "", err
	}
	switch name {
	case "s3vfs_stats":
		return pragmaStats(f.vfs.Stats()), nil
	case "s3vfs_commit":
		return strconv.FormatUint(f.view().N, 10), nil
	}
	return "", sqlite3.NOTFOUND
}

func pragmaStats(s Stats) string {
	rate := 0.0
	if n := s.CacheHits + s.CacheMisses; n > 0 {
		rate = float64(s.CacheHits) / float64(n)
	}
	return fmt.Sprintf("requests=%d get=%d put=%d list=%d delete=%d bytes_sent=%d bytes_received=%d "+
		"cache_hits=%d cache_misses=%d cache_hit_rate=%.3f disk_hits=%d disk_misses=%d commits=%d conflicts=%d rebases=%d early_blocks=%d",
		s.Requests(), s.Gets, s.Puts, s.Lists, s.Deletes, s.BytesSent, s.BytesReceived,
		s.CacheHits, s.CacheMisses, rate, s.DiskHits, s.DiskMisses, s.Commits, s.Conflicts, s.Rebases, s.EarlyBlocks)
}
