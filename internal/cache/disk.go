package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Disk is a cache of objects in files under a directory, shared with
// other processes (see the package doc for its contract). Its methods are
// safe for concurrent use.
type Disk struct {
	root  string      // the directory of the entries: dir + "/" + Layout
	limit int64       // bytes of entries kept, approximately
	opts  DiskOptions // how entries are written and failures logged

	mu      sync.Mutex
	scanned bool  // a sweep has measured the directory; guarded by mu
	size    int64 // bytes in the directory at the last sweep plus those added since; guarded by mu
	added   int64 // bytes this process added since the last sweep; guarded by mu

	offUntil atomic.Int64 // unix nanoseconds before which writes are skipped, after a failure
	warned   atomic.Bool  // the failure has been logged
}

// Layout names the subdirectory of a Disk's directory that holds its
// entries, so that a later layout can live next to this one.
const Layout = "blocks.v1"

const (
	// diskRetryAfter is how long writes are skipped after one failed (a
	// full disk, an unwritable directory): the reads go to the store
	// meanwhile.
	diskRetryAfter = time.Minute
	// diskTouchAfter is how old an entry's modification time must be
	// before a hit refreshes it: eviction is only approximately LRU, and
	// a hot entry is not rewritten on every read.
	diskTouchAfter = time.Minute
)

// DiskOptions are the points where tests change how a Disk behaves; the
// zero value is what a Disk does in production.
type DiskOptions struct {
	// Write writes an entry's bytes to its temporary file (to fill the
	// disk, or stop a writer half way); nil: f.Write.
	Write func(f *os.File, data []byte) (int, error)
	// Logf logs the first failure of the disk; nil: log.Printf.
	Logf func(format string, args ...any)
}

// write writes data to f, as the Disk writes an entry.
func (o DiskOptions) write(f *os.File, data []byte) (int, error) {
	if o.Write != nil {
		return o.Write(f, data)
	}
	return f.Write(data)
}

// logf logs a line.
func (o DiskOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// NewDisk returns the disk cache in directory dir (made absolute), whose
// entries live in dir/[Layout] and total about limit bytes. Nothing is
// created on disk before the first [Disk.Put].
func NewDisk(dir string, limit int64, opts DiskOptions) *Disk {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &Disk{root: filepath.Join(dir, Layout), limit: limit, opts: opts}
}

// Path returns the file of the entry of object name in bucket: the
// SHA-256 of both, fanned out over 256 subdirectories.
func (c *Disk) Path(bucket, name string) string {
	sum := sha256.Sum256([]byte(bucket + "/" + name))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(c.root, h[:2], h)
}

// Get returns the bytes of the entry at path if it holds exactly want
// bytes (any number if want is negative) that verify accepts. An entry of
// another length, or that verify rejects, is deleted: the caller reads
// the object from its store and puts it back.
func (c *Disk) Get(path string, want int64, verify func([]byte) bool) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.failed("read", err)
		}
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.failed("read", err)
		return nil, false
	}
	if want >= 0 && fi.Size() != want {
		os.Remove(path) // torn or truncated
		return nil, false
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		c.failed("read", err)
		return nil, false
	}
	if !verify(data) {
		os.Remove(path) // changed on disk
		return nil, false
	}
	if now := time.Now(); now.Sub(fi.ModTime()) > diskTouchAfter {
		os.Chtimes(path, now, now) // recently used; fails harmlessly if just evicted
	}
	return data, true
}

// Has reports whether an entry exists at path, without reading or
// checking it: a hint that a read of it will not need the store.
func (c *Disk) Has(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Put stores data as the entry at path, then sweeps the directory when it
// may have outgrown its bound. It never fails: a write that fails is
// logged once and writes are skipped for a while.
func (c *Disk) Put(path string, data []byte) {
	if int64(len(data)) > c.limit || time.Now().UnixNano() < c.offUntil.Load() {
		return
	}
	if err := writeEntry(path, data, c.opts.write); err != nil {
		c.offUntil.Store(time.Now().Add(diskRetryAfter).UnixNano())
		c.failed("write", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.size += int64(len(data))
	c.added += int64(len(data))
	// Other processes fill the directory too: sweep at first, when this
	// process's count says the bound is passed, and after every eighth of
	// the bound written, so that what others added is counted.
	if !c.scanned || c.size > c.limit || c.added > c.limit/8 {
		c.sweep()
	}
}

// writeEntry creates the file at path holding data: a temporary file in
// the same directory, renamed into place, so that no reader ever sees a
// partial entry. It is not synced: a file torn by a power loss fails the
// reader's check and is read from the store again. write writes the bytes
// to the temporary file.
func writeEntry(path string, data []byte, write func(*os.File, []byte) (int, error)) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, diskTempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		// Private to the user, as CreateTemp's files are: they hold the
		// database's pages.
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, diskTempPrefix+"*")
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = write(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		if _, serr := os.Stat(path); serr == nil {
			// Another writer's entry is in place (on a system that cannot
			// rename over a file being read): it is as good as ours.
			return nil
		}
		return err
	}
	return nil
}

// diskTempPrefix starts the names of files being written.
const diskTempPrefix = ".tmp-"

// failed logs the first failure of the disk cache: it goes on without it.
func (c *Disk) failed(op string, err error) {
	if c.warned.CompareAndSwap(false, true) {
		c.opts.logf("s3vfs: disk cache %s: cannot %s (%v); reading blocks from S3 instead (logged once)",
			filepath.Dir(c.root), op, err)
	}
}
