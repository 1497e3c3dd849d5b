package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/sqltest"
)

// pyxObject is one object as a plain S3 listing shows it.
type pyxObject struct {
	key  string
	size int64
}

// pyxList lists every object under prefix with the raw S3 client, in key
// order, as the Python library's bucket.objects.filter(Prefix=...) does.
func pyxList(t testing.TB, e *env, prefix string) []pyxObject {
	t.Helper()
	client := server.Client(e.proxy.URL)
	var out []pyxObject
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, pyxObject{aws.ToString(o.Key), aws.ToInt64(o.Size)})
		}
	}
	return out
}

func pyxGet(t testing.TB, e *env, key string) []byte {
	t.Helper()
	out, err := server.Client(e.proxy.URL).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pyxPut(t testing.TB, e *env, key string, data []byte) {
	t.Helper()
	_, err := server.Client(e.proxy.URL).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// pyxSerialized returns the newest commit of key as a file.
func pyxSerialized(t testing.TB, v *s3vfs.VFS, key string) []byte {
	t.Helper()
	r := v.SerializeReader(context.Background(), key)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pyxFile reads dest as the Python library sqlite-s3vfs would: every
// object under dest/ in key order, concatenated. It checks the names and
// sizes of the layout on the way, and that the file size the Python
// library computes (the sum of the object sizes) is the file's length.
func pyxFile(t testing.TB, e *env, dest string, blockSize int) []byte {
	t.Helper()
	objs := pyxList(t, e, dest+"/")
	var file []byte
	var sum int64
	for i, o := range objs {
		if want := fmt.Sprintf("%s/%010d", dest, i); o.key != want {
			t.Fatalf("object %d is %s, want %s", i, o.key, want)
		}
		if i < len(objs)-1 && o.size != int64(blockSize) {
			t.Fatalf("%s is %d bytes, want %d (only the last block may be shorter)", o.key, o.size, blockSize)
		}
		if i == len(objs)-1 && (o.size == 0 || o.size > int64(blockSize)) {
			t.Fatalf("last block %s is %d bytes, want 1 to %d", o.key, o.size, blockSize)
		}
		sum += o.size
		file = append(file, pyxGet(t, e, o.key)...)
	}
	if sum != int64(len(file)) {
		t.Fatalf("sizes sum to %d, file is %d bytes", sum, len(file))
	}
	return file
}

// pyxCheckLocal writes file to disk and checks plain SQLite opens it
// with rows rows in t.
func pyxCheckLocal(t testing.TB, file []byte, rows int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "py.db")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	db := sqltest.OpenLocal(t, path)
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != rows {
		t.Fatalf("%d rows, want %d", n, rows)
	}
	integrityOK(t, db)
	db.Close()
}

func pyxSource(t testing.TB, e *env, key string, rows int) {
	t.Helper()
	db := e.open(key)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
	mustExec(t, db, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
		INSERT INTO t SELECT i, 'name ' || i, randomblob(200) FROM n`, rows))
	mustExec(t, db, "CREATE INDEX t_name ON t(name)")
	db.Close()
}

func TestExportPythonLayout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 8192})
	pyxSource(t, e, "app.db", 2000)
	want := pyxSerialized(t, e.vfs, "app.db")
	var viaIter []byte
	for b, err := range e.vfs.Serialize(ctx, "app.db") {
		if err != nil {
			t.Fatal(err)
		}
		viaIter = append(viaIter, b...)
	}
	if !bytes.Equal(viaIter, want) {
		t.Fatal("Serialize and SerializeReader differ")
	}

	for _, bs := range []int{0, 512, 4095, 4096, 65536} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			dest := fmt.Sprintf("py/app-%d.db", bs)
			res, err := e.vfs.ExportPythonLayout(ctx, "app.db", dest, bs)
			if err != nil {
				t.Fatal(err)
			}
			eff := bs
			if bs == 0 {
				eff = 4096
			}
			nblocks := (int64(len(want)) + int64(eff) - 1) / int64(eff)
			if res != (s3vfs.PythonExport{Size: int64(len(want)), BlockSize: eff, Blocks: nblocks}) {
				t.Fatalf("result %+v, want %d bytes in %d blocks of %d", res, len(want), nblocks, eff)
			}
			got := pyxFile(t, e, dest, eff)
			if int64(len(pyxList(t, e, dest+"/"))) != nblocks {
				t.Fatalf("%d objects, want %d", len(pyxList(t, e, dest+"/")), nblocks)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the Python layout holds %d bytes that differ from the %d pyxSerialized", len(got), len(want))
			}
			pyxCheckLocal(t, got, 2000)
		})
	}
}

func TestExportPythonLayoutStaleBlocks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	pyxSource(t, e, "app.db", 1000)

	// Smaller blocks first, then larger: most of the old ones are stale.
	first, err := e.vfs.ExportPythonLayout(ctx, "app.db", "old.db", 512)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.vfs.ExportPythonLayout(ctx, "app.db", "old.db", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(first.Blocks - second.Blocks); second.Removed != want {
		t.Fatalf("removed %d stale blocks, want %d", second.Removed, want)
	}
	if got := pyxFile(t, e, "old.db", 4096); !bytes.Equal(got, pyxSerialized(t, e.vfs, "app.db")) {
		t.Fatal("the Python layout differs from the database after re-export")
	}

	// The database shrinks: its blocks past the new end go.
	db := e.open("app.db")
	mustExec(t, db, "DELETE FROM t WHERE id > 100")
	mustExec(t, db, "VACUUM")
	db.Close()
	want := pyxSerialized(t, e.vfs, "app.db")
	if int64(len(want)) >= second.Size {
		t.Fatalf("the database did not shrink: %d bytes, was %d", len(want), second.Size)
	}
	third, err := e.vfs.ExportPythonLayout(ctx, "app.db", "old.db", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if third.Removed == 0 || int64(third.Removed) != second.Blocks-third.Blocks {
		t.Fatalf("removed %d stale blocks, want %d", third.Removed, second.Blocks-third.Blocks)
	}
	got := pyxFile(t, e, "old.db", 4096)
	if !bytes.Equal(got, want) {
		t.Fatal("the Python layout differs from the shrunk database")
	}
	pyxCheckLocal(t, got, 100)

	// A gap and a far stale block (a torn earlier export) go as well.
	pyxPut(t, e, "old.db/0000000900", []byte("stale"))
	res, err := e.vfs.ExportPythonLayout(ctx, "app.db", "old.db", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 {
		t.Fatalf("removed %d, want 1", res.Removed)
	}
	if got := pyxFile(t, e, "old.db", 4096); !bytes.Equal(got, want) {
		t.Fatal("a stale block survived")
	}
}

func TestExportPythonLayoutAt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	pyxSource(t, e, "app.db", 500)
	info, err := e.vfs.Info(ctx, "app.db")
	if err != nil {
		t.Fatal(err)
	}
	want := pyxSerialized(t, e.vfs, "app.db")
	db := e.open("app.db")
	mustExec(t, db, "INSERT INTO t(name) VALUES ('later')")
	db.Close()

	if _, err := e.vfs.ExportPythonLayoutAt(ctx, "app.db", info.Commit, "old.db", 1024); err != nil {
		t.Fatal(err)
	}
	got := pyxFile(t, e, "old.db", 1024)
	if !bytes.Equal(got, want) {
		t.Fatal("the export of the older commit differs from it")
	}
	pyxCheckLocal(t, got, 500)

	// A commit that does not exist: refused, nothing written.
	_, err = e.vfs.ExportPythonLayoutAt(ctx, "app.db", info.Commit+100, "never.db", 0)
	if !errors.Is(err, s3vfs.ErrNoCommit) {
		t.Fatalf("export of a commit not made: %v, want ErrNoCommit", err)
	}
	if objs := pyxList(t, e, "never.db"); len(objs) != 0 {
		t.Fatalf("a failed export wrote %v", objs)
	}
}

func TestExportPythonLayoutRefuses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	pyxSource(t, e, "app.db", 100)
	pyxSource(t, e, "v1.db", 10)
	pyxPut(t, e, "other.db/notes.txt", []byte("hello"))
	pyxPut(t, e, "other.db/0000000000", []byte("old block"))
	pyxPut(t, e, "hot.db-journal/0000000000", []byte{0xd9, 0xd5, 0x05, 0xf9})
	pyxPut(t, e, "cold.db-journal/0000000000", make([]byte, 512))
	pyxPut(t, e, "marker.db/", nil)

	for _, c := range []struct {
		name, key, dest string
		bs              int
		want            []string
		is              error
	}{
		{"itself", "app.db", "app.db", 0, []string{"the database itself"}, nil},
		{"holds the source", "v1.db/inner.db", "v1.db", 0, []string{"under the destination's prefix"}, nil},
		{"v1 database", "app.db", "v1.db", 0, []string{"s3vfs database", "v1.db/_", "never overwritten"}, nil},
		{"other objects", "app.db", "other.db", 0, []string{"other.db/notes.txt", "not Python layout blocks"}, nil},
		{"hot journal", "app.db", "hot.db", 0, []string{"hot journal", "hot.db-journal/"}, nil},
		{"invalid dest", "app.db", "a//b", 0, []string{"'//'"}, s3vfs.ErrInvalidKey},
		{"reserved dest", "app.db", "x/_blocks", 0, []string{"_blocks"}, s3vfs.ErrInvalidKey},
		{"small blocks", "app.db", "new.db", 100, []string{"block size 100", "512"}, nil},
		{"large blocks", "app.db", "new.db", 32 << 20, []string{"out of range"}, nil},
		{"no source", "missing.db", "new.db", 0, nil, s3vfs.ErrNoDatabase},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The whole bucket, not the destination's prefix: a store may
			// refuse to list an invalid key's prefix (MinIO answers
			// XMinioInvalidObjectName for "a//b/").
			before := pyxList(t, e, "")
			_, err := e.vfs.ExportPythonLayout(ctx, c.key, c.dest, c.bs)
			if err == nil {
				t.Fatal("export succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v does not match %v", err, c.is)
			}
			if after := pyxList(t, e, ""); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("a refused export changed the objects:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	// The v1 database is intact.
	db := e.open("v1.db")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 10 {
		t.Fatalf("v1.db has %d rows, want 10", n)
	}
	db.Close()

	// A zeroed journal and an empty folder marker are no obstacle.
	for _, dest := range []string{"cold.db", "marker.db"} {
		if _, err := e.vfs.ExportPythonLayout(ctx, "app.db", dest, 0); err != nil {
			t.Fatalf("export to %s: %v", dest, err)
		}
	}
	objs := pyxList(t, e, "marker.db/")
	if objs[0].key != "marker.db/" || objs[0].size != 0 {
		t.Fatalf("the folder marker is gone: %v", objs[:1])
	}
}
