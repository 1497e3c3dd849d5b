package s3vfs

import (
	"maps"
	"slices"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// A commit is planned, then done. Planning is pure: from the snapshot a
// transaction began on and its pending writes, it decides the new record,
// the blocks to upload and whether to write a checkpoint (this file).
// Doing uploads the plan, creates the record and handles the outcome
// (commit.go).

// commitAttempt is what identifies one attempt at a commit.
type commitAttempt struct {
	token  uint64      // random, per attempt (newToken)
	time   time.Time   // for the record (commitTime)
	writer string      // Options.WriterID
	made   format.Made // how the commit is made, when not by a transaction (a merge); version 2 only
}

// commitPlan is what a commit writes, and what it makes once published.
type commitPlan struct {
	rec     *format.Record
	next    *format.Snapshot          // the snapshot rec makes
	changes map[int64]format.BlockRef // every block the commit sets: written, spilled, or a new hole
	uploads []tx.Upload               // the changed blocks in index order, then any checkpoint
	blocks  int                       // how many of uploads are blocks
}

// rewrites returns the blocks that the commit of w on s must rewrite
// although the transaction did not write them, and that are not pending
// yet: a block whose length changes with the file size, so that every
// object is exactly as long as its block (only the last is short), and
// the block a truncation cut, if the file grew again past it. The caller
// loads each as a pending block (with its committed bytes) before it plans
// the commit.
func rewrites(s *format.Snapshot, w tx.Writes) []int64 {
	bs, newLen := s.BlockSize, format.NBlocks(w.PendingSize, s.BlockSize)
	cut := int64(-1)
	if w.Floor < s.Size && w.Floor%bs != 0 {
		cut = w.Floor / bs
	}
	var out []int64
	for _, idx := range []int64{s.Blocks.Len() - 1, newLen - 1, cut} {
		if _, ok := w.Spilled[idx]; ok {
			continue // spilled blocks are always whole and current
		}
		if _, ok := w.Pending[idx]; ok || slices.Contains(out, idx) {
			continue
		}
		if idx >= 0 && idx < newLen && (idx == cut || format.BlockLen(idx, bs, w.PendingSize) != format.BlockLen(idx, bs, s.Size)) {
			out = append(out, idx)
		}
	}
	return out
}

// planCommit plans the commit of w on s as commit s.n+1 of the database at
// key: the blocks it uploads, the record, and a checkpoint when the
// record's delta would list more than checkpointAfter blocks or tooLarge
// (nil: never) says the record does not fit where records are kept.
func planCommit(key string, s *format.Snapshot, w tx.Writes, a commitAttempt, tooLarge func(*format.Record) bool) commitPlan {
	bs, size := s.BlockSize, w.PendingSize
	newLen := format.NBlocks(size, bs)
	n := s.N + 1
	p := commitPlan{changes: make(map[int64]format.BlockRef, len(w.Pending)+len(w.Spilled))}
	for _, idx := range slices.Sorted(maps.Keys(w.Pending)) {
		if idx >= newLen {
			continue
		}
		data := w.Pending[idx][:format.BlockLen(idx, bs, size)]
		ref := format.BlockRef{Commit: n, Token: a.token, CRC: format.Checksum(data)}
		p.changes[idx] = ref
		p.uploads = append(p.uploads, tx.Upload{Name: format.BlockName(key, idx, ref), Data: data})
	}
	p.blocks = len(p.uploads)
	for idx, ref := range w.Spilled {
		if idx < newLen {
			p.changes[idx] = ref // uploaded early (spill.go)
		}
	}
	// Blocks past the old end, or wholly past a truncation, that were not
	// written since are holes: never written, read as zeros.
	for idx := min(s.Blocks.Len(), format.NBlocks(w.Floor, bs)); idx < newLen; idx++ {
		if _, ok := p.changes[idx]; !ok {
			p.changes[idx] = format.BlockRef{}
		}
	}

	p.rec = &format.Record{
		N: n, Parent: s.N, Token: a.token,
		BlockSize: bs, FileSize: size,
		Time: a.time, Writer: a.writer,
		Base:  s.Base,
		Delta: format.MergeEntries(s.Delta, p.changes, newLen),
	}
	blocks := s.Blocks.With(newLen, p.changes)
	baseMap := s.BaseMap
	if len(p.rec.Delta) > checkpointAfter(newLen) || (tooLarge != nil && tooLarge(p.rec)) {
		c := format.NewCheckpoint(n, a.token, bs, size, blocks)
		p.uploads = append(p.uploads, tx.Upload{Name: format.CheckpointName(key, n, a.token), Data: c.Encode()})
		p.rec.Base, p.rec.Delta, baseMap = format.CheckpointRef{N: n, Token: a.token}, nil, blocks
	}
	p.next = format.RecordSnapshot(p.rec, blocks, baseMap)
	return p
}

// checkpointAfter is how many blocks a record's delta may list before the
// commit writes a new checkpoint instead: enough that small commits never
// checkpoint, few enough that a record stays small next to the database.
func checkpointAfter(nblocks int64) int {
	return 64 + int(nblocks/8)
}
