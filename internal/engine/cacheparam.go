package engine

import "github.com/s3vfs/s3vfs/internal/cache"

// Cache returns the block Cache of the database: its own, if the first
// open named one with block_cache=, else the VFS's shared Cache.
func (db *Database) Cache() *cache.LRU {
	if c := db.ownCache.Load(); c != nil {
		return c
	}
	return db.Env.Cache
}

// UseCache gives the database a block cache of its own of size bytes (0:
// none), unless it already has one: the first open that names a size
// decides, as long as some connection keeps the database open.
func (db *Database) UseCache(size int64) {
	db.ownCache.CompareAndSwap(nil, cache.NewLRU(size))
}

// Disk returns the Disk cache of the database: its own, if the first open
// named one with cache_dir=, else the VFS's (Options.CacheDir), or nil.
func (db *Database) Disk() *cache.Disk {
	if c := db.ownDisk.Load(); c != nil {
		return c
	}
	return db.Env.Disk
}

// UseDisk gives the database the disk cache in dir, unless it already has
// one of its own: the first open that names a directory decides, as long
// as some connection keeps the database open.
func (db *Database) UseDisk(dir string) {
	if db.ownDisk.Load() == nil {
		db.ownDisk.CompareAndSwap(nil, db.Env.DiskCacheIn(dir))
	}
}
