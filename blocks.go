package s3vfs

import (
	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/versions"
)

// The block path of a VFS: where its databases' blocks, checkpoints and
// records are kept and cached. A VFS is its options over one engine.Env,
// which holds the store (the bucket, its request counters and timeouts),
// the commit log (the bucket's, or the coordinator's), the memory cache of
// block objects, and the disk caches by directory (Options.CacheDir, and
// cache_dir= per database), with the settings the engine reads.

// newVFS returns a VFS whose objects live in objects, the store of bucket;
// o has its defaults applied.
func newVFS(objects store.Objects, bucket string, o Options) *VFS {
	e := &engine.Env{Cfg: o.config(), Cache: cache.NewLRU(o.CacheSize)}
	if o.CacheDir != "" {
		e.Disk = e.DiskCacheIn(o.CacheDir)
	}
	e.Store = store.Store{Objects: objects, Bucket: bucket, Counters: &e.Requests, Timeout: o.RequestTimeout}
	e.Records = commitlog.NewBucket(&e.Store)
	if o.Coordinator != nil {
		e.Records = o.Coordinator.Records(bucket) // the bucket, for the command an error names
	}
	v := &VFS{env: e, opts: o}
	v.ops = &versions.Ops{Env: e, SQLite: v}
	return v
}

// config returns the settings of o that the engine reads.
func (o *Options) config() engine.Config {
	return engine.Config{
		BlockSize: o.BlockSize, Retention: o.Retention, Concurrency: o.Concurrency,
		CacheDirSize: o.CacheDirSize, Coordinated: o.Coordinator != nil, Hooks: o.hooks,
		CoordinatorName: o.coordinatorName(),
		WriterID:        o.WriterID, FormatVersion: o.FormatVersion, WriteBuffer: o.WriteBuffer,
		MaxRecordSize: o.maxRecordSize(), SkipStoreCheck: o.UnsafeSkipStoreCheck, ReadAhead: o.ReadAhead,
		OpenPrefetch: o.OpenPrefetch,
	}
}

// maxRecordSize returns the bound of o's coordinator on a record; 0 for
// none.
func (o *Options) maxRecordSize() int {
	if o.Coordinator == nil {
		return 0
	}
	return o.Coordinator.MaxRecordSize()
}

// coordinatorName returns the name of o's coordinator; "" for none.
func (o *Options) coordinatorName() string {
	if o.Coordinator == nil {
		return ""
	}
	return o.Coordinator.Name()
}
