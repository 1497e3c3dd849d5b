package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/s3vfs/s3vfs"
)

// sqliteHeader returns a file of pages pages of pageSize bytes whose
// first 100 bytes are a valid SQLite header (the rest is zeros; Deserialize
// checks only the header and the size).
func sqliteHeader(pageSize, pages int) []byte {
	b := make([]byte, pageSize*pages)
	copy(b, "SQLite format 3\x00")
	ps := pageSize
	if ps == 65536 {
		ps = 1
	}
	b[16], b[17] = byte(ps>>8), byte(ps)
	b[18], b[19] = 1, 1
	b[21], b[22], b[23] = 64, 32, 32
	b[28+3] = byte(pages) // in-header database size
	for i := 100; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// FuzzDeserialize feeds arbitrary bytes to Deserialize against the real
// server, with 512-byte blocks so that inputs span several. A stream that
// is refused must fail with ErrNotDatabase and leave nothing behind; a
// stream that is accepted must come back from Serialize byte for byte
// (the change counter and, for WAL-mode input, the version bytes aside).
func FuzzDeserialize(f *testing.F) {
	f.Add(sqliteHeader(512, 2))
	f.Add(sqliteHeader(1024, 3))
	wal := sqliteHeader(512, 3)
	wal[18], wal[19] = 2, 2
	f.Add(wal)
	f.Add(sqliteHeader(512, 3)[:700]) // truncated
	f.Add(sqliteHeader(65536, 1)[:4096])
	f.Add([]byte("SQLite format 3"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := sharedEnv(t)
		fuzzEnv.Lock()
		key := fmt.Sprintf("fuzzdeser/%d", fuzzEnv.n)
		fuzzEnv.Unlock()
		v := e.newVFS(&s3vfs.Options{BlockSize: 512})
		ctx := context.Background()

		err := v.Deserialize(ctx, key, bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, s3vfs.ErrNotDatabase) {
				t.Fatalf("Deserialize: %v, want ErrNotDatabase or success", err)
			}
			keys, lerr := server.Keys(ctx, e.bucket, key+"/")
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(keys) != 0 {
				t.Fatalf("refused input left %d objects behind: %v", len(keys), keys)
			}
			for _, err := range v.Serialize(ctx, key) {
				if !errors.Is(err, s3vfs.ErrNoDatabase) {
					t.Fatalf("refused input: Serialize says %v, want ErrNoDatabase", err)
				}
				break
			}
			return
		}

		var got []byte
		for b, err := range e.newVFS(&s3vfs.Options{BlockSize: 512}).Serialize(ctx, key) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if len(got) != len(data) {
			t.Fatalf("Serialize returned %d bytes of %d", len(got), len(data))
		}
		for i := range data {
			if got[i] != data[i] && !headerMasked(int64(i)) && i != 18 && i != 19 {
				t.Fatalf("byte %d: got %#x, want %#x", i, got[i], data[i])
			}
		}
		if got[18] != 1 || got[19] != 1 {
			t.Fatalf("file format versions %d/%d, want 1/1 (rollback journal)", got[18], got[19])
		}
	})
}
