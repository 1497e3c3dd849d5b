package s3vfs

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// readBlock returns the bytes of block idx of snapshot s: from the cache,
// or fetched once however many callers miss at the same time, and always
// checked against the length and CRC32C its commit recorded. The caller
// must not modify the result.
func (db *database) readBlock(ctx context.Context, s *snapshot, idx int64) ([]byte, error) {
	want := blockLen(idx, s.blockSize, s.size)
	ref := s.blocks.get(idx)
	if ref.isHole() {
		return make([]byte, want), nil
	}
	v := db.vfs
	name := blockName(db.key, idx, ref)
	if data, ok := db.cache().get(name); ok {
		v.stats.hits.Add(1)
		return data, nil
	}
	v.stats.misses.Add(1)
	return shared(ctx, &v.fetches, name, func(ctx context.Context) ([]byte, error) {
		if data, ok := db.cache().get(name); ok {
			return data, nil
		}
		data, err := db.readBlockUncached(ctx, s, idx)
		if err != nil {
			return nil, err
		}
		db.cache().add(name, data)
		return data, nil
	})
}

// readBlockUncached fetches block idx of s from S3 and verifies it.
func (db *database) readBlockUncached(ctx context.Context, s *snapshot, idx int64) ([]byte, error) {
	want := blockLen(idx, s.blockSize, s.size)
	ref := s.blocks.get(idx)
	if ref.isHole() {
		return make([]byte, want), nil
	}
	name := blockName(db.key, idx, ref)
	data, err := db.vfs.store.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != want || checksum(data) != ref.crc {
		return nil, vfs.SystemError(fmt.Errorf("s3vfs: block %d of %s (object %s) is corrupt: "+
			"its length or CRC32C does not match commit %d; the object was changed outside s3vfs",
			idx, db.key, name, s.n), sqlite3.IOERR_DATA)
	}
	return data, nil
}

// readAt copies the bytes of snapshot s at off into b, as SQLite sees them:
// the change counter in the header is the commit number (see
// overlayHeader). It returns the number of bytes within the file.
func (db *database) readAt(ctx context.Context, s *snapshot, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) && off+int64(n) < s.size {
		pos := off + int64(n)
		idx := pos / s.blockSize
		data, err := db.readBlock(ctx, s, idx)
		if err != nil {
			return n, err
		}
		m := copy(b[n:], data[pos-idx*s.blockSize:])
		if idx == 0 {
			overlayHeader(b[n:n+m], pos, s.n, data)
		}
		n += m
	}
	return n, nil
}

// overlayHeader writes the commit number n into the file change counter
// (header bytes 24-27) of the bytes b read at off, and into the
// version-valid-for number (92-95) if the stored header had the two equal
// (so the in-header database size keeps the validity SQLite gave it).
// Every commit thus changes the counter as SQLite reads it, which is how
// other connections learn that their page cache is stale, without a
// commit having to rewrite block 0 (docs/design.md). block0 is the stored
// block 0.
func overlayHeader(b []byte, off int64, n uint64, block0 []byte) {
	if off >= 96 || n == 0 || len(block0) < 100 || !plainHeader(block0) {
		return
	}
	counter := uint32(n)
	validFor := counter
	if string(block0[24:28]) != string(block0[92:96]) {
		validFor = ^counter
	}
	put := func(at int64, v uint32) {
		bs := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		for i := int64(0); i < 4; i++ {
			if p := at + i - off; p >= 0 && p < int64(len(b)) {
				b[p] = bs[i]
			}
		}
	}
	put(24, counter)
	put(92, validFor)
}

// plainHeader reports whether block 0 starts with the SQLite header in the
// clear. It does not when a wrapper VFS (vfs/adiantum, vfs/xts) encrypts
// the pages: the header is then ciphertext that must not be touched, and
// SQLite must bump the change counter itself (see file.DeviceCharacteristics).
func plainHeader(block0 []byte) bool {
	return len(block0) >= 16 && string(block0[:16]) == "SQLite format 3\x00"
}
