package cache

import (
	"cmp"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// diskFile is a file found in a disk cache's directory.
type diskFile struct {
	path  string
	size  int64
	mtime time.Time
	temp  bool // a temporary file: an entry being written, or left by a writer that died
}

// diskStaleTemp is the age from which a temporary file is taken for the
// remains of a writer that died: writing an entry takes milliseconds.
const diskStaleTemp = 10 * time.Minute

// planEviction returns the files to delete from a directory holding
// files so that its entries total at most limit bytes: nothing while they
// fit, else the least recently used entries until they total at most
// 7/8 of limit (so that the next sweeps have room before evicting again),
// and in any case the temporary files older than diskStaleTemp at now.
// It also returns the bytes of the entries kept.
func planEviction(files []diskFile, limit int64, now time.Time) (victims []diskFile, kept int64) {
	var entries []diskFile
	for _, f := range files {
		switch {
		case !f.temp:
			entries = append(entries, f)
			kept += f.size
		case now.Sub(f.mtime) > diskStaleTemp:
			victims = append(victims, f)
		}
	}
	if kept <= limit {
		return victims, kept
	}
	slices.SortFunc(entries, func(a, b diskFile) int {
		return cmp.Or(a.mtime.Compare(b.mtime), cmp.Compare(a.path, b.path))
	})
	low := limit - limit/8
	for _, e := range entries {
		if kept <= low {
			break
		}
		victims = append(victims, e)
		kept -= e.size
	}
	return victims, kept
}

// sweep measures the directory and evicts what planEviction says. The
// caller holds c.mu. Files that vanish meanwhile (another process's sweep
// or rename) are simply not counted.
func (c *Disk) sweep() {
	files := scanDisk(c.root)
	victims, kept := planEviction(files, c.limit, time.Now())
	for _, v := range victims {
		os.Remove(v.path)
	}
	c.size, c.added, c.scanned = kept, 0, true
}

// scanDisk lists the files under root, the entries and the temporary files.
func scanDisk(root string) []diskFile {
	var files []diskFile
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // an unreadable subdirectory is skipped, not fatal
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		files = append(files, diskFile{
			path: path, size: fi.Size(), mtime: fi.ModTime(),
			temp: strings.HasPrefix(d.Name(), diskTempPrefix),
		})
		return nil
	})
	return files
}
