package cache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// ReadThrough answers from an intact entry, else fetches and keeps what
// is intact; it reports which, and keeps the layout on disk older
// processes share.
func TestReadThrough(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := NewDisk(dir, 1<<20, DiskOptions{})
	want := []byte("object bytes")
	good := func(b []byte) bool { return bytes.Equal(b, want) }
	fetches := 0
	fetch := func(context.Context) ([]byte, error) { fetches++; return want, nil }
	path := d.Path("bucket", "db/blocks/1")

	if rel, _ := filepath.Rel(dir, path); filepath.Dir(filepath.Dir(rel)) != Layout || len(filepath.Base(rel)) != 64 {
		t.Errorf("entry at %s, want %s/xx/<SHA-256>", rel, Layout)
	}
	read := func(length int64, verify func([]byte) bool, wantHit bool) {
		t.Helper()
		data, hit, err := d.ReadThrough(ctx, path, length, verify, fetch)
		if err != nil || hit != wantHit || !bytes.Equal(data, want) {
			t.Fatalf("ReadThrough = %q, hit %v, %v; want hit %v", data, hit, err, wantHit)
		}
	}
	read(int64(len(want)), good, false)
	if fetches != 1 {
		t.Fatalf("%d fetches, want 1", fetches)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by others", p, perm)
		}
	}
	read(int64(len(want)), good, true)
	read(-1, good, true)
	if fetches != 1 {
		t.Fatalf("%d fetches, want 1", fetches)
	}

	// An entry of another length is a miss, and deleted; the fetched
	// bytes are returned but not kept when they are not intact.
	read(int64(len(want))+1, good, false)
	if d.Has(path) {
		t.Error("the bytes fetched, of the wrong length, are kept")
	}
	read(int64(len(want)), func([]byte) bool { return false }, false)
	if d.Has(path) {
		t.Error("the bytes fetched, refused by verify, are kept")
	}

	// fetch's error is returned as is.
	boom := errors.New("boom")
	if _, hit, err := d.ReadThrough(ctx, path, -1, good, func(context.Context) ([]byte, error) { return nil, boom }); hit || err != boom {
		t.Errorf("ReadThrough with a failing fetch: hit %v, %v", hit, err)
	}
}
