package s3vfs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
)

func TestInfoAndUsage(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, WriterID: "info-test"})
	ctx := context.Background()
	if _, err := e.vfs.Info(ctx, "info/db"); !errors.Is(err, s3vfs.ErrNoDatabase) {
		t.Fatalf("Info of nothing: %v, want ErrNoDatabase", err)
	}
	db := e.open("info/db")
	mustExec(t, db, "PRAGMA page_size=1024")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t SELECT randomblob(500) FROM generate_series(1, 40)")
	size := queryInt(t, db, "PRAGMA page_count") * 1024

	// A fresh VFS, as another process would see it.
	v := e.newVFS(nil)
	e.proxy.Reset()
	info, err := v.Info(ctx, "info/db")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.proxy.Total(); n > 5 {
		t.Errorf("Info took %d requests, want at most 5", n)
	}
	if e.proxy.Counts()["LIST"] > 1 {
		t.Errorf("Info listed more than the head: %v", e.proxy.Counts())
	}
	want := s3vfs.Info{Key: "info/db", Commit: 2, Writer: "info-test", BlockSize: 4096, PageSize: 1024, Layout: "s3vfs",
		FileSize: size, Blocks: (size + 4095) / 4096, FormatVersion: 2} // no checkpoint yet: a reader of version 2 reads it
	got := info
	got.Time = time.Time{}
	if got != want {
		t.Errorf("Info = %+v\nwant   %+v", got, want)
	}
	if time.Since(info.Time) > time.Minute || info.Time.After(time.Now()) {
		t.Errorf("commit time %v", info.Time)
	}

	keys, err := server.Keys(ctx, e.bucket, "info/db/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := v.Usage(ctx, "info/db")
	if err != nil {
		t.Fatal(err)
	}
	if u.Objects != int64(len(keys)) || u.Bytes < size {
		t.Errorf("Usage = %+v; the bucket holds %d objects, file size %d", u, len(keys), size)
	}
}
