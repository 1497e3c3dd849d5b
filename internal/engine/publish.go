package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/tx"
	"golang.org/x/sync/errgroup"
)

// Publishing a planned commit (docs/design.md, "A write transaction and
// its commit"): its objects uploaded, its early blocks renewed, the
// conditional create of its record (the commit point) and the settling of
// an outcome a fault hid by reading the record back.

// ErrConflict reports that another writer created the commit record first.
var ErrConflict = errors.New("s3vfs: another writer committed first")

// lost ends a commit another writer got in before: SQLITE_BUSY_SNAPSHOT,
// and the head it built on is known to be old. A retry from it would lose
// again, so the next transaction asks S3, even within its staleness bound.
func (t *Txn) lost() error {
	t.db.Env.Counts.Conflicts.Add(1)
	t.db.Known.Distrust()
	return sqlite3.BUSY_SNAPSHOT
}

// publish does a planned commit: it uploads the objects (the first
// blocks of them block objects, which then enter the cache), and the
// claims that renew the transaction's early blocks (tx.Early), creates
// the record, and settles the outcome; next is the snapshot the record
// makes, changes the blocks it sets. A commit another writer got in before
// returns ErrConflict, with t still holding its writes and every object it
// uploaded (deleted when the transaction ends: a rebase keeps its early
// blocks).
func (t *Txn) publish(ctx context.Context, rec *format.Record, uploads []tx.Upload, blocks int, next *format.Snapshot, changes map[int64]format.BlockRef) error {
	db := t.db
	v := db.Env
	claims := t.Early.Claims(db.Key, rec.N, t.Spilled)
	renewals := make([]tx.Upload, len(claims))
	for i, c := range claims {
		renewals[i] = c.Upload
	}
	t.Early.Own(UploadNames(renewals)...) // deleted once the record names the early blocks
	start := time.Now()
	err := v.PutAll(ctx, slices.Concat(uploads, renewals))
	if err != nil {
		t.Early.Own(UploadNames(uploads)...)
		return t.IOErr(err, sqlite3.IOERR_WRITE)
	}
	if len(claims) > 0 {
		if err := t.Early.Renewed(db.Key, claims, start, time.Now()); err != nil {
			t.Early.Own(UploadNames(uploads)...)
			v.Counts.Conflicts.Add(1)
			return t.IOErr(err, sqlite3.BUSY_SNAPSHOT)
		}
	}

	if err := t.Allows(tx.Published); err != nil {
		t.Early.Own(UploadNames(uploads)...)
		return t.IOErr(err, sqlite3.IOERR_WRITE)
	}
	start = time.Now()
	switch err := db.CreateRecord(ctx, rec); {
	case errors.Is(err, ErrConflict):
		t.Early.Own(UploadNames(uploads)...)
		return ErrConflict // the caller rebases, or fails with lost
	case err != nil:
		// The record may exist and name what this try and the
		// transaction uploaded: the rollback that follows must not delete
		// them as orphans.
		t.Early.Abandon()
		return t.IOErr(err, sqlite3.IOERR_WRITE)
	}

	v.Counts.Commits.Add(1)
	// The new blocks are what the next transaction reads first.
	for _, u := range uploads[:blocks] {
		db.Cache().Add(u.Name, u.Data)
	}
	db.Known.Publish(next, start)
	db.Checks.Answer(db.Known.Newer(next), start)
	t.Snap = next
	_ = t.To(tx.Published) // allowed: asked before the commit point, and nothing moved t since (one goroutine commits it; its connection's waits)
	t.releaseEarly(ctx, changes)
	t.Discard(ctx)
	return nil
}

// UploadNames returns the object names of uploads.
func UploadNames(uploads []tx.Upload) []string {
	names := make([]string, len(uploads))
	for i, u := range uploads {
		names[i] = u.Name
	}
	return names
}

// PutAll uploads the objects in parallel, up to Config.Concurrency at once.
func (e *Env) PutAll(ctx context.Context, uploads []tx.Upload) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.Cfg.Concurrency)
	for _, u := range uploads {
		g.Go(func() error { return e.Store.Put(gctx, u.Name, u.Data) })
	}
	return g.Wait()
}

// CreateRecord is the commit point: the conditional create of record n.
// A failed or ambiguous create is settled by reading the record back: a
// record carrying our token is our commit (an earlier attempt whose answer
// was lost), any other record is a lost race.
func (db *Database) CreateRecord(ctx context.Context, rec *format.Record) error {
	rs := db.Env.Records
	data := rec.Encode()
	// Never create a record on a parent seen too long ago (confirmParent).
	if err := db.confirmParent(ctx, rec.Parent); err != nil {
		return err
	}
	if rec.Parent == 0 {
		if err := db.ClaimCoordination(ctx); err != nil {
			return err
		}
	}
	// Once the create may have been sent, finish settling it even if the
	// statement is interrupted: its outcome must be known.
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 50 * time.Millisecond)
		}
		if err = rs.Create(ctx, db.Key, rec.N, data); err == nil {
			// Its own encoding decodes: the error cannot happen, and the
			// record is created either way.
			_, _ = db.KeepRecord(rec.N, data)
			return nil
		}
		if refused(err) {
			if attempt == 0 {
				// Refused, not lost: no create of this commit was carried out.
				return fmt.Errorf("s3vfs: commit %d of %s: %w", rec.N, db.Key, err)
			}
			// An earlier attempt's answer was lost, and trying again
			// cannot help: only reading back can still settle it.
		}
		got, gerr := db.readBack(ctx, rec.N, errors.Is(err, store.ErrExists))
		switch {
		case gerr == nil:
			r, derr := db.KeepRecord(rec.N, got) // the rebase that follows a lost race reads it
			if derr != nil {
				// Unreadable: it may be ours. Calling it a lost race would
				// delete the blocks of a published commit.
				return fmt.Errorf("s3vfs: commit %d of %s: outcome unknown: %w (and the record read back does not decode: %v)", rec.N, db.Key, err, derr)
			}
			if r.Token == rec.Token {
				return nil
			}
			return ErrConflict
		case errors.Is(gerr, store.ErrNotFound) && refused(err):
			return fmt.Errorf("s3vfs: commit %d of %s: outcome unknown: %w (no record found; an earlier try may still land)", rec.N, db.Key, err)
		case errors.Is(gerr, store.ErrNotFound):
			continue // nothing there yet (409, or a failed request): try again
		default:
			return fmt.Errorf("s3vfs: commit %d of %s: outcome unknown: %w (and reading it back: %s)", rec.N, db.Key, err, readBackError(err, gerr))
		}
	}
	// No record was found after any attempt, but a create still in flight
	// somewhere may land later: the outcome is not known for certain.
	return fmt.Errorf("s3vfs: commit %d of %s: outcome unknown: %w (no record found after %d attempts)", rec.N, db.Key, err, 4)
}

// readBack reads record n, whose create failed, to settle whose it is.
// When the create found the name taken (lost), it reads the records after
// it too, RebaseProbe in all at once: the rebase that follows builds on
// them, and a record found missing proves the one before it the newest
// (commitlog.Cache.ProveNewest), which spares the rebase a round trip.
func (db *Database) readBack(ctx context.Context, n uint64, lost bool) ([]byte, error) {
	if !lost {
		return db.Env.Records.Get(ctx, db.Key, n)
	}
	start := time.Now()
	got := make([][]byte, RebaseProbe)
	errs := make([]error, RebaseProbe)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = db.Env.Records.Get(ctx, db.Key, n+uint64(i)) })
	}
	wg.Wait()
	for i := 1; i < len(got) && errs[0] == nil && !reservesKey(got[0]); i++ {
		if errors.Is(errs[i], store.ErrNotFound) {
			db.Recent.ProveNewest(n+uint64(i)-1, start)
			break
		}
		if errs[i] != nil {
			break
		}
		if _, err := db.KeepRecord(n+uint64(i), got[i]); err != nil {
			break
		}
	}
	return got[0], errs[0]
}

// readBackError is the message of gerr, the failed read-back of a record
// whose create failed with err, for a message that carries both. Where the
// two end with the same fix (the one S3 errors and the coordinator's carry
// in parentheses, see Error), the message gives it once, with err.
func readBackError(err, gerr error) string {
	msg := gerr.Error()
	if i := strings.LastIndex(msg, " ("); i >= 0 && strings.HasSuffix(msg, ")") && strings.HasSuffix(err.Error(), msg[i:]) {
		return msg[:i]
	}
	return msg
}

// refused reports whether a failed create was refused for good (the
// credentials may not write, the bucket is gone): the server carried
// nothing out, and trying again would be refused again.
func refused(err error) bool {
	return errors.Is(err, store.ErrAccessDenied) || errors.Is(err, store.ErrNoBucket)
}

// RemoveOrphans deletes, best effort, the objects of a commit attempt that
// was not published. Whatever remains is removed later by garbage collection.
func (e *Env) RemoveOrphans(ctx context.Context, names []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = e.Store.Remove(ctx, names)
}

// reservesKey reports whether data is a record that reserves its key for
// a branch: the branch's numbering jumps past the record after it, so a
// missing record after it proves nothing.
func reservesKey(data []byte) bool {
	rec, err := format.DecodeRecord(data)
	return err == nil && rec.Made.By == format.Reserved
}

// confirmParent makes sure, before record parent+1 is created, that parent
// is still the newest commit, or that it was seen as the newest recently
// enough that record parent+1 cannot have been created and collected
// since. Otherwise the conditional create could succeed on a name that
// garbage collection freed, and fork the history. It usually costs
// nothing: the snapshot was confirmed when the transaction began. A
// transaction older than half the retention pays one LIST.
func (db *Database) confirmParent(ctx context.Context, parent uint64) error {
	head, provable := db.Known.Provable(time.Now(), db.Env.Cfg.Retention)
	if head != nil && head.N > parent {
		return ErrConflict
	}
	if provable && head.N == parent {
		return nil
	}
	start := time.Now()
	s, err := db.ReadHead(ctx, head, nil)
	if err != nil {
		return err
	}
	db.Known.Publish(s, start)
	if s.N != parent {
		return ErrConflict
	}
	return nil
}
