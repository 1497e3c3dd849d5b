// Package s3vfs is a SQLite VFS that keeps databases in an S3 bucket as
// fixed-size, immutable block objects, for github.com/ncruces/go-sqlite3.
//
// A program opens "file:my/db.sqlite?vfs=s3" and reads and writes a
// database of any size that lives in S3, without downloading it, from many
// machines at once:
//
//	client := s3.NewFromConfig(cfg)
//	v, err := s3vfs.New(client, "my-bucket", nil)
//	if err != nil { ... }
//	vfs.Register("s3", v)
//	db, err := sql.Open("sqlite3", "file:my/path/cool.sqlite?vfs=s3")
//
// Every transaction reads from a snapshot pinned when it starts; a commit
// uploads the changed blocks and then creates one numbered commit record
// with a conditional PUT (If-None-Match: *), which is the single commit
// point. A commit that loses the race to another writer fails with
// SQLITE_BUSY and publishes nothing; the application retries the
// transaction. A COMMIT that returned OK is durable in S3.
//
// Journals and temporary files stay in memory and never reach the bucket.
// WAL mode is not supported. See docs/format.md for the objects in the
// bucket and docs/design.md for how reads and commits flow.
package s3vfs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/superjournal"
	"github.com/s3vfs/s3vfs/internal/tx"
	"github.com/s3vfs/s3vfs/internal/versions"
)

// FormatVersion is the newest version of the storage format this package
// reads and writes (docs/format.md); it reads every earlier one too.
// Options.FormatVersion chooses what commits write.
const FormatVersion = 3

// MaxAttemptPause is the longest pause between two uploads of a Deserialize
// or Restore, or between its last upload and its commit, after which it
// refuses to publish: garbage collection may have taken its early blocks
// for the leftovers of a dead attempt: 15 minutes. [GCOptions.Grace] must
// exceed it.
const MaxAttemptPause = tx.MaxAttemptPause

// ErrInvalidKey reports a database key that cannot be used as an S3 prefix.
var ErrInvalidKey = format.ErrInvalidKey

// Defaults for the zero fields of [Options].
const (
	DefaultBlockSize      = 256 << 10
	DefaultCacheSize      = 64 << 20
	DefaultConcurrency    = 16
	DefaultRetention      = 24 * time.Hour
	DefaultRequestTimeout = 2 * time.Minute
	DefaultWriteBuffer    = 128 << 20
	DefaultAttemptTimeout = 30 * time.Second
	DefaultCacheDirSize   = 1 << 30
	DefaultOpenPrefetch   = 16 << 20
)

// Options are the static settings of a [VFS]. A nil *Options, and every
// zero field, means the default.
type Options struct {
	// BlockSize is the size in bytes of the block objects of databases
	// this VFS creates, from 512 to 16 MiB. An existing database keeps the
	// block size it was created with. Default 256 KiB (see docs/performance.md).
	BlockSize int

	// CacheSize bounds, in bytes, the block cache shared by every database
	// and connection of the VFS: blocks, and the parts of checkpoints read
	// after the open (bundles of inner pages, segments of block maps).
	// Negative disables the cache. Default 64 MiB.
	CacheSize int64

	// CacheDir, when set, keeps the block objects read from S3 in files
	// under this directory too, so that they outlive the process: a later
	// process on the machine reads them from the disk instead of S3. Any
	// number of processes and VFSs of one user may share the directory
	// (what they create in it only their user can read). Every read
	// from it is checked against the CRC32C the block's commit recorded
	// (a failing file is deleted and the block read from S3 again), and a
	// directory that cannot be written (a full disk, missing permissions)
	// is logged once and read around, never failing a read. Reads go to
	// the memory cache first, then the disk, then S3. The URI parameter
	// cache_dir= sets it for one database. The directory also keeps, for
	// a day, that the store passed the self-test run before the first
	// write ([VFS.CheckStore]), so that later processes skip it.
	// Default: none.
	CacheDir string

	// CacheDirSize bounds, in bytes, the files of the disk cache in
	// CacheDir: the least recently used are deleted beyond it. The bound
	// is approximate: each process sharing the directory counts what the
	// others added at its next sweep, after writing an eighth of the bound.
	// Default 1 GiB.
	CacheDirSize int64

	// Concurrency bounds the parallel S3 requests of one operation (the
	// uploads of a commit, the reads of Serialize). Default 16.
	Concurrency int

	// Retention is how long superseded versions stay readable: [VFS.GC]
	// keeps every version that was the newest within it, and time travel
	// (URI parameters commit= and asof=) reaches back that far. A reader
	// whose view is older than half of it re-reads the head with a LIST
	// instead of trusting a missing next record, so it must not exceed the
	// retention the database is collected with (docs/history.md). The URI
	// parameter retention= sets it for one database. Default 24h.
	Retention time.Duration

	// RequestTimeout bounds each S3 request, retries included, so that an
	// unreachable endpoint gives an error rather than a hang. Default 2m.
	RequestTimeout time.Duration

	// WriteBuffer bounds, in bytes, the changed blocks a transaction keeps
	// in memory; beyond it, full blocks are uploaded before COMMIT (they
	// stay invisible until the commit record names them). Default 128 MiB.
	WriteBuffer int64

	// AttemptTimeout bounds each attempt of an S3 request, its response
	// body included; an attempt that takes longer is abandoned and retried.
	// Default 30s, and never more than RequestTimeout.
	AttemptTimeout time.Duration

	// WriterID is written into every commit record to tell writers apart.
	// Default: host name and process id.
	WriterID string

	// ReadAhead bounds how many blocks a sequential reader has fetched
	// ahead of it, in parallel: the window starts at one block and doubles
	// with every further sequential block. It also bounds the blocks
	// Serialize keeps in flight. Negative turns read-ahead off (one block
	// at a time). Default: Concurrency. See docs/performance.md.
	ReadAhead int

	// OpenPrefetch bounds, in bytes of memory, what an open that reads a
	// database's head (a process's first open of it, or its first since
	// its last connection closed) reads ahead in the background, while
	// SQLite's first transactions check the head: the parts of the head's
	// checkpoint that a cold lookup would otherwise read one round trip at
	// a time, the interior b-tree pages past the front the open read (its
	// inner pages), then the segments of its block map past the open's
	// read (about 24 bytes a block held); each all or nothing, skipping
	// what the disk cache holds (docs/design.md, "Cold open at any
	// size"). What it reads is kept in the block cache, so it is never
	// more than a quarter of CacheSize. Negative turns it off. Default 16
	// MiB, enough for the inner pages of a database of about 5 GB of
	// short rows.
	OpenPrefetch int64

	// Coordinator keeps the commit records, and so decides every commit:
	// nil for the bucket itself (a conditional create), or a DynamoDB
	// table ([github.com/s3vfs/s3vfs/dynamodb.NewCoordinator]) for a
	// store that ignores conditional creates (docs/compatibility.md).
	// Every process writing a database must use the same one.
	Coordinator Coordinator

	// UnsafeSkipStoreCheck turns off the self-test of the store that runs
	// before the first write ([VFS.CheckStore]). With it, a store that
	// ignores conditional creates (If-None-Match: *) silently loses
	// acknowledged commits whenever two writers race: set it only for a
	// bucket that exactly one process ever writes to, on a store you know.
	UnsafeSkipStoreCheck bool

	// Staleness lets a transaction start from a head confirmed within this
	// long, without the freshness request; a database's staleness=MS URI
	// parameter overrides it. Zero (the default) checks every time. See
	// docs/performance.md for what a reader may miss.
	Staleness time.Duration

	// FormatVersion is the storage format commits write (docs/format.md):
	// 3 (the default) writes checkpoints whose block map is in segments,
	// read on demand, so that a cold open of a large database reads the
	// map's front only; 2 writes version-2 checkpoints, for readers built
	// before version 3 (they refuse version-3 checkpoints); both carry
	// small commits' pages in their records, one request per commit, and
	// upgrade a version-1 database at its first commit. 1 keeps a
	// version-1 database in version 1, for readers built before version 2
	// (they refuse version-2 records). A database already in version 2 is
	// written in version 2 or 3 whatever the setting.
	FormatVersion int

	hooks *engine.Hooks // set only by the package's tests
}

// withDefaults returns a copy of o (the zero Options for nil) with the
// default of every option left zero applied, or an error naming the first
// option out of range.
func (o *Options) withDefaults() (Options, error) {
	var v Options
	if o != nil {
		v = *o
	}
	if err := v.defaultSizes(); err != nil {
		return v, err
	}
	if err := v.defaultTimesAndBuffers(); err != nil {
		return v, err
	}
	switch v.FormatVersion {
	case 0:
		v.FormatVersion = 3
	case 1, 2, 3:
	default:
		return v, fmt.Errorf("s3vfs: format version %d is unknown: use 3 (the default), 2 to keep checkpoints readable by releases before version 3, or 1 to keep version-1 databases readable by releases before version 2", v.FormatVersion)
	}
	if v.Staleness < 0 {
		return v, fmt.Errorf("s3vfs: staleness %v is negative", v.Staleness)
	}
	if v.WriterID == "" {
		host, _ := os.Hostname()
		v.WriterID = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return v, nil
}

// defaultSizes applies the defaults of the block size, the cache sizes and
// the concurrency left zero, and checks the ones set.
func (o *Options) defaultSizes() error {
	o.BlockSize = cmp.Or(o.BlockSize, DefaultBlockSize)
	o.CacheSize = max(cmp.Or(o.CacheSize, DefaultCacheSize), 0) // negative: no cache
	o.CacheDirSize = cmp.Or(o.CacheDirSize, DefaultCacheDirSize)
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	switch {
	case o.BlockSize < format.MinBlockSize || o.BlockSize > format.MaxBlockSize:
		return fmt.Errorf("s3vfs: block size %d is out of range: use %d to %d bytes (a power of two such as 262144 is best)",
			o.BlockSize, format.MinBlockSize, format.MaxBlockSize)
	case o.CacheDirSize < 0:
		return fmt.Errorf("s3vfs: cache dir size %d is negative: leave CacheDir empty for no disk cache", o.CacheDirSize)
	case o.Concurrency < 0 || o.Concurrency > 1024:
		return fmt.Errorf("s3vfs: concurrency %d is out of range: use 1 to 1024", o.Concurrency)
	}
	return nil
}

// defaultTimesAndBuffers applies the defaults of the retention, the
// timeouts, the write buffer, the read-ahead and the prefetch of inner
// pages left zero, and checks the
// ones set; it follows defaultSizes, whose concurrency the read-ahead
// defaults to.
func (o *Options) defaultTimesAndBuffers() error {
	o.Retention = cmp.Or(o.Retention, DefaultRetention)
	o.RequestTimeout = cmp.Or(o.RequestTimeout, DefaultRequestTimeout)
	o.WriteBuffer = cmp.Or(o.WriteBuffer, DefaultWriteBuffer)
	o.AttemptTimeout = cmp.Or(o.AttemptTimeout, min(DefaultAttemptTimeout, o.RequestTimeout))
	o.ReadAhead = cmp.Or(o.ReadAhead, o.Concurrency)
	switch {
	case o.Retention < time.Second:
		return fmt.Errorf("s3vfs: retention %v is too short: use at least 1s", o.Retention)
	case o.RequestTimeout < 0:
		return fmt.Errorf("s3vfs: request timeout %v is negative", o.RequestTimeout)
	case o.WriteBuffer < 0:
		return fmt.Errorf("s3vfs: write buffer %d is negative", o.WriteBuffer)
	case o.AttemptTimeout < 0:
		return fmt.Errorf("s3vfs: attempt timeout %v is negative", o.AttemptTimeout)
	case o.ReadAhead > 1024:
		return fmt.Errorf("s3vfs: read-ahead %d is out of range: use 1 to 1024 blocks, or negative for none", o.ReadAhead)
	}
	o.ReadAhead = max(o.ReadAhead, 0) // negative: none
	o.OpenPrefetch = max(cmp.Or(o.OpenPrefetch, DefaultOpenPrefetch), 0)
	return nil
}

// VFS is a SQLite VFS backed by one S3 bucket. Register it with
// vfs.Register and name it in the URI of a database (?vfs=NAME). It is safe
// for concurrent use. Connections to the same database in one process
// share its snapshots, lock table and block cache.
type VFS struct {
	env  *engine.Env // the store, the commit log, the caches and counters the engine shares
	ops  *versions.Ops
	opts Options
}

var (
	// Ensure these interfaces are implemented:
	_ vfs.VFS         = &VFS{}
	_ vfs.VFSFilename = &VFS{}
)

// New returns a VFS that keeps databases in bucket, using client for every
// request. The caller configures the client (credentials, region, endpoint,
// logging); the VFS never loads AWS configuration itself. On each of its
// requests the VFS sets its own retry policy and turns off the SDK's
// validation of response checksums: the objects of its format carry
// checksums of their own, checked on stores that send none (MinIO) too.
func New(client *s3.Client, bucket string, opts *Options) (*VFS, error) {
	if client == nil {
		return nil, errors.New("s3vfs: nil *s3.Client: build one with s3.NewFromConfig")
	}
	if bucket == "" {
		return nil, errors.New("s3vfs: empty bucket name: name the bucket that holds the databases")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	v := newVFS(store.NewS3(client, bucket, o.AttemptTimeout), bucket, o)
	v.env.Store.Endpoint = engine.EndpointOf(client)
	return v, nil
}

// Bucket returns the name of the bucket the VFS keeps its databases in.
func (v *VFS) Bucket() string { return v.env.Store.Bucket }

// Stats returns the counts of work done since the VFS was created.
func (v *VFS) Stats() Stats { return statsOf(&v.env.Counts, &v.env.Requests) }

// Open implements [vfs.VFS].
func (v *VFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	return v.open(name, nil, flags)
}

// OpenFilename implements [vfs.VFSFilename]; it reads the URI parameters of
// the main database (see docs/design.md).
func (v *VFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if name == nil {
		return v.open("", nil, flags)
	}
	return v.open(name.String(), name, flags)
}

// open opens the file SQLite names: the main database from the bucket,
// any other file (a journal, a temporary file) in memory.
func (v *VFS) open(name string, uri *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	const temporary = vfs.OPEN_TEMP_DB | vfs.OPEN_TEMP_JOURNAL | vfs.OPEN_SUBJOURNAL |
		vfs.OPEN_TRANSIENT_DB | vfs.OPEN_DELETEONCLOSE
	switch {
	case flags&temporary != 0 || name == "" && flags&vfs.OPEN_MAIN_DB == 0:
		// Temporary files live in memory and never reach the bucket. (A
		// main database without a name is no temporary file: SQLite flags
		// those TEMP_DB. It fails format.ValidateKey below.)
		return &vfsutil.SliceFile{}, flags | vfs.OPEN_MEMORY, nil
	case flags&vfs.OPEN_SUPER_JOURNAL != 0:
		return superjournal.Open(name, flags)
	case flags&vfs.OPEN_WAL != 0:
		return nil, flags, vfs.SystemError(errors.New("s3vfs: WAL mode is not supported; use a rollback journal mode"), sqlite3.CANTOPEN)
	case flags&vfs.OPEN_MAIN_DB == 0:
		// Journals are kept in memory: a commit is atomic in S3 on its own,
		// so a journal is only needed to roll back, never to recover.
		return &vfsutil.SliceFile{}, flags | vfs.OPEN_MEMORY, nil
	}
	return v.openMain(name, uri, flags)
}

// openMain opens the main database at key name with the parameters of uri:
// it joins the database's shared state in the process, reads or checks
// its head, and refuses a key that holds no database unless flags create.
func (v *VFS) openMain(name string, uri *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if err := format.ValidateKey(name); err != nil {
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	p, err := v.openParams(uri)
	if err != nil {
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	db := v.env.Acquire(name)
	db.Known.DeclareRetention(p.Retention)
	if p.CacheSet {
		db.UseCache(p.CacheSize)
	}
	if p.CacheDir != "" {
		db.UseDisk(p.CacheDir)
	}
	pinned, err := v.headAtOpen(db, p, flags)
	if err != nil {
		v.env.Release(db)
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	f := &file{Txn: engine.NewTxn(db), db: db, vfs: v, readOnly: flags&vfs.OPEN_READONLY != 0 || p.ReadOnly, params: p, pinned: pinned}
	if f.readOnly {
		flags |= vfs.OPEN_READONLY
		flags &^= vfs.OPEN_READWRITE
	}
	// No OPEN_MEMORY here: wrappers such as vfs/adiantum leave files
	// flagged OPEN_MEMORY unencrypted. The journal stays in memory all the
	// same: its open is routed to a SliceFile above.
	return f, flags, nil
}

// openParams returns the URI parameters of a main database's open, with
// the VFS's staleness where uri sets none, checked against the
// coordinator.
func (v *VFS) openParams(uri *vfs.Filename) (engine.Params, error) {
	p, err := engine.ParseParams(uri)
	if err != nil {
		return p, err
	}
	if !p.StalenessSet {
		p.Staleness = v.opts.Staleness
	}
	if err := v.checkCoordinator(p); err != nil {
		return p, err
	}
	return p, nil
}

// headAtOpen does the requests an open of db with parameters p makes: it
// reads the pinned version for time travel (returned), the head at the
// process's first open, or checks a head learned earlier; then, unless
// flags create or a version is pinned, it requires a database at the key.
func (v *VFS) headAtOpen(db *engine.Database, p engine.Params, flags vfs.OpenFlag) (*format.Snapshot, error) {
	// SQLite's open carries no context: Options.RequestTimeout bounds it.
	ctx := context.Background()
	var pinned *format.Snapshot // time travel: the one version the file reads
	var err error
	switch known, _ := db.Known.Get(); {
	case p.Pinned():
		pinned, err = db.PinnedSnapshot(ctx, p)
	case known == nil:
		// The first open in this process (or since its last connection
		// closed) reads the head, then starts reading ahead what a cold
		// lookup would read after the front, while SQLite's first
		// transactions check it.
		if err = db.Load(ctx); err == nil {
			db.ReadAheadAfterOpen(ctx)
		}
	case !p.Immutable:
		// SQLite reads the header at open without a lock, and keeps the
		// page size it finds there until its first transaction: a head
		// this process learned earlier may predate another process's
		// PRAGMA page_size + VACUUM. Check it as a transaction would
		// (staleness= still saves the request).
		_, err = db.Refresh(ctx, p.Staleness)
	}
	if err == nil && pinned == nil && flags&vfs.OPEN_CREATE == 0 {
		err = v.requireExisting(ctx, db)
	}
	return pinned, err
}

// requireExisting returns [ErrNoDatabase], naming the key, the bucket and the
// fix, unless the key holds a database: a commit, or the Python library's
// layout. A head this process knows as empty (immutable=, staleness=, or a
// connection opened before another process created the database) is asked
// again before the open is refused.
func (v *VFS) requireExisting(ctx context.Context, db *engine.Database) error {
	exists := func() bool {
		head, _ := db.Known.Get()
		return head != nil && !head.Empty()
	}
	if exists() {
		return nil
	}
	if _, err := db.Refresh(ctx, 0); err != nil {
		return err
	}
	if exists() {
		return nil
	}
	return fmt.Errorf("%w: s3://%s/%s was opened without create (mode=ro or mode=rw), as SQLite refuses a missing file; check the key, or open with mode=rwc (the default) to create it",
		ErrNoDatabase, v.env.Store.Bucket, db.Key)
}

// Delete implements [vfs.VFS]. SQLite only deletes journals, which live in
// memory and are gone once closed, and super-journals (internal/superjournal);
// databases are never deleted through SQLite.
func (v *VFS) Delete(name string, syncDir bool) error {
	return superjournal.Delete(name, syncDir)
}

// Access implements [vfs.VFS]. It reports that no journal or WAL file
// exists, so SQLite never looks for a hot journal; super-journals exist
// while SQLite keeps them (internal/superjournal).
func (v *VFS) Access(name string, flags vfs.AccessFlag) (bool, error) {
	exists, _, err := superjournal.Exists(name, flags)
	return exists, err
}

// FullPathname implements [vfs.VFS]: database names are S3 keys, used
// verbatim.
func (v *VFS) FullPathname(name string) (string, error) {
	return name, nil
}
