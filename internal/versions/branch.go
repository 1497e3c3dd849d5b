package versions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Branches (docs/history.md, "Branches"; docs/design.md, "Branches"): a
// branch is a database whose first record, numbered after the commit it
// was made from, names that commit's objects where they are. Its records
// carry a lineage that says under which key the objects of older commits
// live; the source keeps a registration that its garbage collection
// reads, so that the version the branch was made from stays.

// ErrBranchesLive is the root's ErrBranchesLive.
var ErrBranchesLive = errors.New("s3vfs: the database has branches")

// Branch is the root's VFS.Branch, whose doc comment is the contract.
func (v *Ops) Branch(ctx context.Context, src string, n uint64, dst string) (uint64, error) {
	fail := func(err error) (uint64, error) {
		return 0, fmt.Errorf("s3vfs: branch %s of %s: %w", dst, src, err)
	}
	if err := v.readyToWrite(ctx, src, dst, dst, false); err != nil {
		return fail(err)
	}
	defer v.Env.StoreCheckSettled(ctx)
	from := v.acquire(src)
	defer v.release(from)
	s, err := from.branchable(ctx, n)
	if err != nil {
		return fail(err)
	}
	to := v.acquire(dst)
	defer v.release(to)
	if err := to.reserveForBranch(ctx, src, s); err != nil {
		return fail(err)
	}
	reg := format.BranchName(src, s.N, dst)
	cleanup := context.WithoutCancel(ctx) // undone even when ctx ends
	if err := v.Env.Store.Put(ctx, reg, []byte("s3vfs branch\n")); err != nil {
		return fail(errors.Join(err, to.unreserve(cleanup)))
	}
	if err := from.stillReadable(ctx, s); err != nil {
		return fail(errors.Join(err, v.Env.Store.Remove(cleanup, []string{reg}), to.unreserve(cleanup)))
	}
	pin, err := from.Locate(ctx, s, 0) // the record names block 0's entry
	defer pin.Release()
	if err != nil {
		return fail(err)
	}
	rec := branchRecord(src, s, plan.Attempt{Token: engine.NewToken(), Time: engine.CommitTime(s.Time), Writer: v.Env.Cfg.WriterID})
	if err := to.createOwn(ctx, rec.N, rec.Token, rec.Encode()); err != nil {
		// Nothing else can create it while the key is reserved: an
		// error here is the store's; whether the record landed is
		// unknown, so the registration stays (it only keeps objects).
		return fail(err)
	}
	return rec.N, nil
}

// readyToWrite checks the keys of a branch, src and dst, or of a merge,
// the database and its branch (validateBranchKeys), then that the VFS may
// write the database at key, which exists or not as exists says
// (Env.RequireSafeStore). The caller defers Env.StoreCheckSettled.
func (v *Ops) readyToWrite(ctx context.Context, src, dst, key string, exists bool) error {
	if err := validateBranchKeys(src, dst); err != nil {
		return err
	}
	return v.Env.RequireSafeStore(ctx, key, v.Env.Disk, exists)
}

// validateBranchKeys checks the keys of a branch.
func validateBranchKeys(src, dst string) error {
	if err := format.ValidateKey(src); err != nil {
		return err
	}
	if err := format.ValidateKey(dst); err != nil {
		return err
	}
	if src == dst {
		return errors.New("a database cannot be a branch of itself: name another key")
	}
	return nil
}

// branchable returns the version of db a branch is made from: commit n,
// or the newest for 0. It must be a version of this database (not one
// older than a branch's own first commit), and not too deep a branch.
func (db *database) branchable(ctx context.Context, n uint64) (*format.Snapshot, error) {
	var s *format.Snapshot
	var err error
	if n == 0 {
		s, err = db.Refresh(ctx, 0)
	} else {
		s, err = db.SnapshotAt(ctx, n)
	}
	switch {
	case err != nil:
		return nil, err
	case s.Legacy != nil:
		return nil, fmt.Errorf("%w: %s is in the Python library's layout: migrate it first (s3vfs migrate)", engine.ErrLegacyLayout, db.Key)
	case s.Empty():
		return nil, fmt.Errorf("%w: s3://%s/%s", engine.ErrNoDatabase, db.Env.Store.Bucket, db.Key)
	case len(s.Lineage) >= format.MaxLineage:
		return nil, fmt.Errorf("%s is a branch %d deep, the most there may be: branch its source, or copy it (export and import)", db.Key, len(s.Lineage))
	}
	return s, nil
}

// stillReadable checks, after the branch's registration is written, that
// version s of db is still one garbage collection keeps, and that db is
// not being removed. A collection that listed the registrations before
// they held this one judged s by a clock no later than now, so it keeps s
// if s is readable now (with a margin for the clocks of the writer of
// the next record and of the collector); and a removal that listed them
// before wrote its removed record before, which the listing here finds.
// The newest commit is always readable; an older one while the record
// after it is younger than the retention.
func (db *database) stillReadable(ctx context.Context, s *format.Snapshot) error {
	newest, err := db.Env.Records.Newest(ctx, db.Key)
	if err != nil || newest == s.N {
		return err
	}
	if newest < s.N {
		return fmt.Errorf("%w: commit %d of %s is gone", engine.ErrNoCommit, s.N, db.Key)
	}
	head, err := db.ReadRecord(ctx, newest)
	if err != nil {
		return err
	}
	if head.Made.By == format.Removed {
		return fmt.Errorf("%w: s3://%s/%s is being removed", engine.ErrNoDatabase, db.Env.Store.Bucket, db.Key)
	}
	next := head
	if newest != s.N+1 {
		if next, err = db.ReadRecord(ctx, s.N+1); err != nil {
			return err
		}
	}
	if next.Time.Add(engine.LastModifiedSlack).Before(time.Now().Add(-db.Retention() + branchMargin)) {
		return fmt.Errorf("%w: commit %d of %s is about to pass the retention: branch a newer commit", engine.ErrNoCommit, s.N, db.Key)
	}
	return nil
}

// branchMargin is how long before the retention ends a version may still
// be branched from: room for the clocks of the writer whose record times
// the version (a record's time is its writer's clock) and of a collector
// to differ, and for the branch's last requests.
const branchMargin = time.Minute

// reserveForBranch makes sure db, the branch to be, holds no database,
// and reserves its key: record 1, which says that a branch of src is
// being made. A process that creates a database there meanwhile loses
// the race for record 1 and reads it, and so never writes a database the
// branch would hide.
func (db *database) reserveForBranch(ctx context.Context, src string, s *format.Snapshot) error {
	head, err := db.Refresh(ctx, 0)
	if err != nil {
		return err
	}
	switch {
	case head.Removed:
		// Its numbering goes on from its last record, which a branch's
		// (its source's) cannot.
		return fmt.Errorf("%w: s3://%s/%s held a database that was removed, whose last record stays with its numbering, which a branch (numbered on from its source) cannot follow: "+
			"branch to another key", store.ErrExists, db.Env.Store.Bucket, db.Key)
	case !head.Empty():
		return fmt.Errorf("%w: s3://%s/%s holds a database already: branch to a new key, or remove it first", store.ErrExists, db.Env.Store.Bucket, db.Key)
	}
	if err := db.ClaimCoordination(ctx); err != nil {
		return err
	}
	rec := &format.Record{
		N: 1, Token: engine.NewToken(), BlockSize: s.BlockSize, Time: time.Now(), Writer: db.Env.Cfg.WriterID,
		Unit: s.BlockSize, Made: format.Made{By: format.Reserved, Commit: s.N, Key: src},
	}
	err = db.createOwn(ctx, 1, rec.Token, rec.Encode())
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%w: s3://%s/%s was created meanwhile: branch to a new key", store.ErrExists, db.Env.Store.Bucket, db.Key)
	}
	return err
}

// createOwn creates record n of db, data, written by the attempt with
// token. A create whose answer a fault lost is tried again by the client
// and refused as existing: a refusal is this very create when the record
// read back carries token.
func (db *database) createOwn(ctx context.Context, n, token uint64, data []byte) error {
	err := db.Env.Records.Create(ctx, db.Key, n, data)
	if errors.Is(err, store.ErrExists) {
		if got, gerr := db.ReadRecord(ctx, n); gerr == nil && got.Token == token {
			return nil
		}
	}
	return err
}

// unreserve deletes the record that reserves db's key for a branch that
// was not made: no process wrote after it, since none builds on it.
func (db *database) unreserve(ctx context.Context) error {
	return db.Env.Records.Remove(ctx, db.Key, []uint64{1})
}

// branchRecord returns the first record of a branch of version s of the
// database at src: commit s.n+1, the same block map (the same base
// checkpoint, and its delta with block 0), no page changed, and a
// lineage whose nearest ancestor is src at s.n.
func branchRecord(src string, s *format.Snapshot, a plan.Attempt) *format.Record {
	n := format.NBlocks(s.Size, s.BlockSize)
	return &format.Record{
		N: s.N + 1, Parent: s.N, Token: a.Token,
		BlockSize: s.BlockSize, FileSize: s.Size,
		Time: a.Time, Writer: a.Writer,
		Base:    s.Base,
		Unit:    s.BlockSize,
		Delta:   plan.MergePageEntries(s.Delta, nil, n, s),
		Made:    format.Made{By: format.ByBranch, Commit: s.N, Key: src},
		Lineage: append(format.Lineage{{Key: src, Commit: s.N}}, s.Lineage...),
	}
}
