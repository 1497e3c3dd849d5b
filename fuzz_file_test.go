package s3vfs_test

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// fuzzEnv is the bucket the fuzz targets share: a bucket per input would
// cost more than the input itself.
var fuzzEnv = struct {
	sync.Mutex
	e *env
	n int
}{}

func sharedEnv(t *testing.T) *env {
	fuzzEnv.Lock()
	defer fuzzEnv.Unlock()
	if fuzzEnv.e == nil {
		// The env lives as long as the test binary: its bucket is
		// removed by TestMain (Server.Sweep), its proxy dropped at exit.
		fuzzEnv.e = newEnv(&keepTB{T: t}, nil)
	}
	fuzzEnv.n++
	return fuzzEnv.e
}

// keepTB is a testing.TB whose cleanups never run: for state shared by
// every input of a fuzz target.
type keepTB struct{ *testing.T }

func (keepTB) Cleanup(func()) {}

// fileBlockSizes are the block sizes the block file fuzz target picks from.
var fileBlockSizes = []int{512, 1000, 4096}

// headerMasked reports whether offset i is in the file change counter or
// version-valid-for fields, which a committed file serves as the commit
// number (the model does not track them).
func headerMasked(i int64) bool { return i >= 24 && i < 28 || i >= 92 && i < 96 }

// FuzzBlockFile drives the VFS's main database file against the real
// server with a program of ReadAt, WriteAt, Truncate, commit, rollback and
// reopen, and checks every read against a plain []byte reference.
func FuzzBlockFile(f *testing.F) {
	f.Add(byte(0), []byte{1, 0, 0, 10, 200, 3, 0, 0, 0, 0, 0, 0, 0, 0, 50})
	f.Add(byte(1), []byte{1, 0, 9, 40, 7, 2, 0, 3, 0, 0, 3, 1, 0, 200, 0, 0, 0, 0, 60, 4})
	// Shrink, then grow again past the old end, in one transaction.
	f.Add(byte(0), []byte{1, 0, 0, 200, 9, 3, 0, 0, 0, 0, 2, 2, 0x58, 0, 0, 1, 5, 0x14, 0, 7, 0, 2, 0xbc, 10, 0, 3, 0, 0, 0, 0, 5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, bsSel byte, prog []byte) {
		e := sharedEnv(t)
		fuzzEnv.Lock()
		key := fmt.Sprintf("fuzzfile/%d", fuzzEnv.n)
		fuzzEnv.Unlock()
		bs := fileBlockSizes[int(bsSel)%len(fileBlockSizes)]
		opts := &s3vfs.Options{BlockSize: bs}

		open := func() vfs.File {
			v := e.newVFS(opts)
			file, _, err := v.Open(key, vfs.OPEN_MAIN_DB|vfs.OPEN_READWRITE|vfs.OPEN_CREATE)
			if err != nil {
				t.Fatal(err)
			}
			if err := file.Lock(vfs.LOCK_SHARED); err != nil {
				t.Fatal(err)
			}
			if err := file.Lock(vfs.LOCK_RESERVED); err != nil {
				t.Fatal(err)
			}
			return file
		}
		file := open()
		defer func() { file.Close() }()
		var committed, pending []byte

		check := func(what string, off int64, n int) {
			t.Helper()
			got := make([]byte, n)
			m, err := file.ReadAt(got, off)
			want := make([]byte, n)
			wm := 0
			if off < int64(len(pending)) {
				wm = copy(want, pending[off:])
			}
			if m != wm || (err == io.EOF) != (wm < n) || err != nil && err != io.EOF {
				t.Fatalf("%s: ReadAt(%d bytes at %d) = %d, %v; want %d bytes", what, n, off, m, err, wm)
			}
			for i := range got {
				if got[i] != want[i] && !headerMasked(off+int64(i)) {
					t.Fatalf("%s: byte %d: got %#x, want %#x", what, off+int64(i), got[i], want[i])
				}
			}
			if size, err := file.Size(); err != nil || size != int64(len(pending)) {
				t.Fatalf("%s: Size = %d, %v; want %d", what, size, err, len(pending))
			}
		}

		for len(prog) >= 5 {
			op, a, b, c, d := prog[0]%6, int64(prog[1]), int64(prog[2]), int(prog[3]), prog[4]
			prog = prog[5:]
			off := (a<<8 | b) % (4 * int64(bs)) // within a few blocks
			n := c*7 + 1
			switch op {
			case 0: // read
				check("read", off, n)
			case 1: // write
				data := bytes.Repeat([]byte{d | 1}, n)
				data[0] = d
				if _, err := file.WriteAt(data, off); err != nil {
					t.Fatal(err)
				}
				if end := off + int64(n); end > int64(len(pending)) {
					pending = append(pending, make([]byte, end-int64(len(pending)))...)
				}
				copy(pending[off:], data)
			case 2: // truncate
				if err := file.Truncate(off); err != nil {
					t.Fatal(err)
				}
				if off < int64(len(pending)) {
					pending = pending[:off]
				} else {
					pending = append(pending, make([]byte, off-int64(len(pending)))...)
				}
			case 3: // commit, as SQLite does: the batch, the sync, the end of the transaction
				if err := file.(vfs.FileBatchAtomicWrite).CommitAtomicWrite(); err != nil {
					t.Fatal(err)
				}
				if err := file.(vfs.FileSync).SyncSuper(""); err != nil {
					t.Fatal(err)
				}
				nextTransaction(t, file)
				committed = bytes.Clone(pending)
			case 4: // rollback
				if err := file.(vfs.FileBatchAtomicWrite).RollbackAtomicWrite(); err != nil {
					t.Fatal(err)
				}
				nextTransaction(t, file)
				pending = bytes.Clone(committed)
			case 5: // reopen in a fresh process and read everything
				file.Close()
				file = open()
				pending = bytes.Clone(committed)
				check("reopen", 0, len(pending)+1)
			}
		}
		check("end", 0, len(pending)+1)
	})
}

// nextTransaction ends a write transaction on file and begins the next, as
// SQLite does between two (it releases RESERVED, keeping SHARED).
func nextTransaction(t *testing.T, file vfs.File) {
	t.Helper()
	if err := file.Unlock(vfs.LOCK_SHARED); err != nil {
		t.Fatal(err)
	}
	if err := file.Lock(vfs.LOCK_RESERVED); err != nil {
		t.Fatal(err)
	}
}
