package plan

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
// (internal/engine/commit.go).

// Attempt is what identifies one attempt at a commit.
type Attempt struct {
	Token  uint64      // random, per attempt (engine.NewToken)
	Time   time.Time   // for the record (engine.CommitTime)
	Writer string      // Options.WriterID
	Made   format.Made // how the commit is made, when not by a transaction (a merge); version 2 only
}

// BlockPlan is what a commit writes, and what it makes once published.
type BlockPlan struct {
	Rec     *format.Record
	Next    *format.Snapshot          // the snapshot rec makes
	Changes map[int64]format.BlockRef // every block the commit sets: written, spilled, or a new hole
	Uploads []tx.Upload               // the changed blocks in index order, then any checkpoint
	Blocks  int                       // how many of uploads are blocks
}

// Rewrites returns the blocks that the commit of w on s must rewrite
// although the transaction did not write them, and that are not pending
// yet: a block whose length changes with the file size, so that every
// object is exactly as long as its block (only the last is short), and
// the block a truncation cut, if the file grew again past it. The caller
// loads each as a pending block (with its committed bytes) before it plans
// the commit.
func Rewrites(s *format.Snapshot, w tx.Writes) []int64 {
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

// Blocks plans the commit of w on s as commit s.n+1 of the database at
// key: the blocks it uploads, the record, and a checkpoint when the
// record's delta would list more than checkpointAfter blocks or tooLarge
// (nil: never) says the record does not fit where records are kept.
func Blocks(key string, s *format.Snapshot, w tx.Writes, a Attempt, tooLarge func(*format.Record) bool) BlockPlan {
	bs, size := s.BlockSize, w.PendingSize
	newLen := format.NBlocks(size, bs)
	n := s.N + 1
	p := BlockPlan{Changes: make(map[int64]format.BlockRef, len(w.Pending)+len(w.Spilled))}
	for _, idx := range slices.Sorted(maps.Keys(w.Pending)) {
		if idx >= newLen {
			continue
		}
		data := w.Pending[idx][:format.BlockLen(idx, bs, size)]
		ref := format.BlockRef{Commit: n, Token: a.Token, CRC: format.Checksum(data)}
		p.Changes[idx] = ref
		p.Uploads = append(p.Uploads, tx.Upload{Name: format.BlockName(key, idx, ref), Data: data})
	}
	p.Blocks = len(p.Uploads)
	for idx, ref := range w.Spilled {
		if idx < newLen {
			p.Changes[idx] = ref // uploaded early (spill.go)
		}
	}
	// Blocks past the old end, or wholly past a truncation, that were not
	// written since are holes: never written, read as zeros.
	for idx := min(s.Blocks.Len(), format.NBlocks(w.Floor, bs)); idx < newLen; idx++ {
		if _, ok := p.Changes[idx]; !ok {
			p.Changes[idx] = format.BlockRef{}
		}
	}

	p.Rec = &format.Record{BlockLevel: true,
		N: n, Parent: s.N, Token: a.Token,
		BlockSize: bs, FileSize: size,
		Time: a.Time, Writer: a.Writer,
		Base:  s.Base,
		Delta: format.MergeEntries(s.Delta, p.Changes, newLen),
	}
	blocks := s.Blocks.With(newLen, p.Changes)
	baseMap := s.BaseMap
	if len(p.Rec.Delta) > checkpointAfter(newLen) || (tooLarge != nil && tooLarge(p.Rec)) {
		c := format.NewCheckpoint(n, a.Token, bs, size, blocks)
		p.Uploads = append(p.Uploads, tx.Upload{Name: format.CheckpointName(key, n, a.Token), Data: c.Encode()})
		p.Rec.Base, p.Rec.Delta, baseMap = format.CheckpointRef{N: n, Token: a.Token}, nil, blocks
	}
	p.Next = format.RecordSnapshot(p.Rec, blocks, baseMap)
	return p
}

// checkpointAfter is how many blocks a record's delta may list before the
// commit writes a new checkpoint instead: enough that small commits never
// checkpoint, few enough that a record stays small next to the database.
func checkpointAfter(nblocks int64) int {
	return 64 + int(nblocks/8)
}
