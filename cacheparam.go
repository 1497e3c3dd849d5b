package s3vfs

import "github.com/s3vfs/s3vfs/internal/cache"

// cache returns the block cache of the database: its own, if the first
// open named one with block_cache=, else the VFS's shared cache.
func (db *database) cache() *cache.LRU {
	if c := db.ownCache.Load(); c != nil {
		return c
	}
	return db.vfs.env.Cache
}

// useCache gives the database a block cache of its own of size bytes (0:
// none), unless it already has one: the first open that names a size
// decides, as long as some connection keeps the database open.
func (db *database) useCache(size int64) {
	db.ownCache.CompareAndSwap(nil, cache.NewLRU(size))
}

// disk returns the disk cache of the database: its own, if the first open
// named one with cache_dir=, else the VFS's (Options.CacheDir), or nil.
func (db *database) disk() *cache.Disk {
	if c := db.ownDisk.Load(); c != nil {
		return c
	}
	return db.vfs.env.Disk
}

// useDisk gives the database the disk cache in dir, unless it already has
// one of its own: the first open that names a directory decides, as long
// as some connection keeps the database open.
func (db *database) useDisk(dir string) {
	if db.ownDisk.Load() == nil {
		db.ownDisk.CompareAndSwap(nil, db.vfs.env.DiskCacheIn(dir))
	}
}
