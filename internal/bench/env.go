// Package bench holds the benchmark workloads of s3vfs: a generated
// database, the targets it runs on (a local file, this library with its
// defaults or other settings, and the one-request-per-page strategy of the
// Python library), and the workloads measured on each. The Go benchmarks
// of package s3vfs and the s3vfs bench command both run them; see
// docs/performance.md.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	_ "github.com/ncruces/go-sqlite3/driver" // the database/sql driver
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3server"
)

// Size says how large the generated database is and how much the write
// workloads do.
type Size struct {
	Name     string
	Rows     int // rows of the generated table (about 131 bytes each, index included)
	BulkRows int // rows inserted by the bulk-insert workload
	Updates  int // transactions of the updates workload
}

// The sizes: Small for CI and tests, Full for docs/performance.md.
var (
	Small = Size{Name: "small", Rows: 8_000, BulkRows: 10_000, Updates: 100}
	Full  = Size{Name: "full", Rows: 7_650_000, BulkRows: 100_000, Updates: 1_000}
)

// SizeEnv names the environment variable that selects the size:
// "small" (the default), "full", or a number of rows (with the full
// write workloads).
const SizeEnv = "S3VFS_BENCH_SIZE"

// SizeFromEnv returns the size SizeEnv selects.
func SizeFromEnv() (Size, error) {
	size, err := ParseSize(os.Getenv(SizeEnv))
	if err != nil {
		return Size{}, fmt.Errorf("bench: %s: %w", SizeEnv, err)
	}
	return size, nil
}

// ParseSize reads a size: "small" (or ""), "full", or a number of rows of
// at least 1000, which keeps the full write workloads.
func ParseSize(s string) (Size, error) {
	switch s {
	case "", "small":
		return Small, nil
	case "full":
		return Full, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		return Size{}, fmt.Errorf("size %q: want small, full, or a number of rows of at least 1000", s)
	}
	return Size{Name: s + " rows", Rows: n, BulkRows: Full.BulkRows, Updates: Full.Updates}, nil
}

// Target is one place the workloads run: a local file, or a database in
// the bucket read through a VFS with the given options.
type Target struct {
	Name     string
	Local    bool          // a local file through ncruces' default VFS
	PageSize int           // the generated database's page size
	Opts     s3vfs.Options // for an S3 target
}

// Targets returns the targets of a standard run, all with 4 KiB pages:
// the local file (the floor), this library with its defaults, and the
// one-request-per-page strategy (4 KiB blocks, no cache, no read-ahead).
func Targets() []Target {
	return []Target{
		{Name: "local", Local: true, PageSize: 4096},
		{Name: "s3vfs", PageSize: 4096},
		{Name: "per-page", PageSize: 4096, Opts: s3vfs.Options{BlockSize: 4096, CacheSize: -1, ReadAhead: -1}},
	}
}

// ComparisonTargets returns targets a run includes only when named: this
// library writing format version 1, the commits before format version 2
// (docs/performance.md, "Page-level commits"), and without the prefetch
// of inner pages after a cold open ("Growth").
func ComparisonTargets() []Target {
	return []Target{
		{Name: "s3vfs-v1", PageSize: 4096, Opts: s3vfs.Options{FormatVersion: 1}},
		{Name: "s3vfs-noprefetch", PageSize: 4096, Opts: s3vfs.Options{OpenPrefetch: -1}},
	}
}

// SweepTargets returns this library with each block size tried for the
// defaults (4 KiB to 1 MiB) and page sizes of 4 KiB and 64 KiB.
func SweepTargets() []Target {
	var ts []Target
	for _, ps := range []int{4096, 65536} {
		for _, bs := range []int{4 << 10, 64 << 10, 256 << 10, 1 << 20} {
			if bs < ps {
				continue
			}
			ts = append(ts, Target{
				Name:     fmt.Sprintf("s3vfs page=%dK block=%dK", ps>>10, bs>>10),
				PageSize: ps, Opts: s3vfs.Options{BlockSize: bs},
			})
		}
	}
	return ts
}

// Env is the S3 server, bucket, proxy and local directory of a run, with
// the generated database of each page size.
type Env struct {
	Size   Size
	Server *s3server.Server
	Proxy  *s3proxy.Proxy
	Bucket string
	Dir    string

	sources map[int]string // page size -> generated local file
	seq     atomic.Int64
}

// NewEnv makes a bucket on server and a proxy in front of it, and keeps
// local files in dir. Close removes the bucket.
func NewEnv(ctx context.Context, server *s3server.Server, dir string, size Size) (*Env, error) {
	bucket, err := server.CreateBucket(ctx)
	if err != nil {
		return nil, err
	}
	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		server.RemoveBucket(ctx, bucket)
		return nil, err
	}
	return &Env{Size: size, Server: server, Proxy: proxy, Bucket: bucket, Dir: dir, sources: map[int]string{}}, nil
}

// Close removes the bucket and stops the proxy.
func (e *Env) Close() error {
	e.Proxy.Close()
	return e.Server.RemoveBucket(context.Background(), e.Bucket)
}

// newVFS returns a VFS on the env's bucket through the proxy, registered
// under a fresh name, and a function that unregisters it.
func (e *Env) newVFS(opts s3vfs.Options) (*s3vfs.VFS, string, func(), error) {
	v, err := s3vfs.New(e.Server.Client(e.Proxy.URL), e.Bucket, &opts)
	if err != nil {
		return nil, "", nil, err
	}
	name := fmt.Sprintf("s3bench-%d", e.seq.Add(1))
	vfs.Register(name, v)
	return v, name, func() { vfs.Unregister(name) }, nil
}

// source returns the generated database with pageSize, making it on first
// use: table t(id INTEGER PRIMARY KEY, ts INTEGER, grp INTEGER, v TEXT)
// with an index on ts (ts grows with id, as a timestamp would) and v 100
// hex characters of random bytes.
func (e *Env) source(pageSize int) (string, error) {
	if p, ok := e.sources[pageSize]; ok {
		return p, nil
	}
	path := filepath.Join(e.Dir, fmt.Sprintf("source-%d.db", pageSize))
	os.Remove(path)
	db, err := sql.Open("sqlite3", "file:"+path+"?_pragma=journal_mode(off)&_pragma=synchronous(off)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmts := []string{
		fmt.Sprintf("PRAGMA page_size=%d", pageSize),
		"CREATE TABLE t(id INTEGER PRIMARY KEY, ts INTEGER, grp INTEGER, v TEXT)",
		"CREATE INDEX t_ts ON t(ts)",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return "", fmt.Errorf("bench: %s: %w", s, err)
		}
	}
	const chunk = 200_000
	for lo := 1; lo <= e.Size.Rows; lo += chunk {
		hi := min(lo+chunk-1, e.Size.Rows)
		if _, err := db.Exec(insertRows, lo, hi); err != nil {
			return "", fmt.Errorf("bench: generating rows: %w", err)
		}
	}
	if err := db.Close(); err != nil {
		return "", err
	}
	e.sources[pageSize] = path
	return path, nil
}

// insertRows inserts the rows with ids from ?1 to ?2 into t.
const insertRows = `WITH RECURSIVE c(i) AS (SELECT ?1 UNION ALL SELECT i+1 FROM c WHERE i < ?2)
	INSERT INTO t SELECT i, i*10 + abs(random()) % 10, i % 100, hex(randomblob(50)) FROM c`

// Prepared is a target with its copy of the generated database in place.
type Prepared struct {
	Target
	env  *Env
	key  string // the key in the bucket, or the local path
	size int64  // bytes of the database

	warm *warmConn // the connections of the warm workloads
}

// Prepare puts a copy of the generated database where target reads it.
func (e *Env) Prepare(ctx context.Context, t Target) (*Prepared, error) {
	src, err := e.source(t.PageSize)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Target: t, env: e, size: fi.Size()}
	if t.Local {
		p.key = filepath.Join(e.Dir, fmt.Sprintf("local-%d.db", e.seq.Add(1)))
		return p, copyFile(p.key, src)
	}
	p.key = fmt.Sprintf("bench/%d.db", e.seq.Add(1))
	v, _, done, err := e.newVFS(t.Opts)
	if err != nil {
		return nil, err
	}
	defer done()
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return p, v.Deserialize(ctx, p.key, f)
}

// Size returns the size of the database, in bytes.
func (p *Prepared) Size() int64 { return p.size }

// Close releases the connections of the warm workloads.
func (p *Prepared) Close() {
	if p.warm != nil {
		p.warm.close()
		p.warm = nil
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
