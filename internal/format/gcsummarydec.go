package format

import (
	"slices"
	"time"
)

// maxSummarySize bounds the sizes a summary may list, far above any
// object's: only garbage fails it.
const maxSummarySize = 1 << 50

// maxBlocks bounds the block indexes of a checkpoint in a summary: those
// of the largest file (1<<50 bytes, docs/format.md) in the smallest
// blocks.
const maxBlocks = (1 << 50) / MinBlockSize

// DecodeSummary decodes the summary object b and checks it: records and
// checkpoints ascending, no record above the head, entries within their
// maps, dense checkpoints, overlay records and lineages as in records.
func DecodeSummary(b []byte) (*Summary, error) {
	r, err := OpenSummary(b)
	if err != nil {
		return nil, err
	}
	s := &Summary{Key: r.Key, Head: r.Head}
	for bs, ok := r.NextBase(); ok; bs, ok = r.NextBase() {
		s.Bases = append(s.Bases, bs)
	}
	for rec, ok := r.NextRecord(); ok; rec, ok = r.NextRecord() {
		s.Records = append(s.Records, rec)
	}
	return s, nil
}

// SummaryReader decodes a summary one checkpoint and one record at a
// time, so that a collection can read the summary of a long history
// while holding only its bytes and the last map of each kind. OpenSummary
// has checked the whole summary, as DecodeSummary does, before the first
// is returned.
type SummaryReader struct {
	Key     string // the database it describes
	Head    uint64 // the newest commit the collection that wrote it listed
	writers []writerKey
	bases   baseCursor
	records recordCursor
}

// baseCursor is where a SummaryReader is in the summary's checkpoints.
type baseCursor struct {
	d    decoder
	left uint64       // checkpoints not yet returned
	last *SummaryBase // the checkpoint returned last; nil before the first
}

// recordCursor is where a SummaryReader is in the summary's records.
type recordCursor struct {
	d    decoder
	left uint64         // records not yet returned
	last *SummaryRecord // the record returned last; nil before the first
}

// OpenSummary checks the summary object b, decoding it once map by map,
// and returns a reader of its checkpoints and records.
func OpenSummary(b []byte) (*SummaryReader, error) {
	d := open(b, summaryMagic)
	r := &SummaryReader{Key: d.key("database key"), Head: d.uvarint("head")}
	if d.err == nil && r.Head == 0 {
		d.fail("head")
	}
	r.writers = d.writers()
	r.bases.d = *d
	var lastBase *SummaryBase
	for n := d.count("checkpoint count"); n > 0 && d.err == nil; n-- {
		bs := d.summaryBase(lastBase, r.writers)
		lastBase = &bs
	}
	r.records.d = *d
	var lastRec *SummaryRecord
	for n := d.count("record count"); n > 0 && d.err == nil; n-- {
		rec := d.summaryRecord(lastRec, r.writers, r.Head)
		lastRec = &rec
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	r.bases.left = r.bases.d.count("checkpoint count")
	r.records.left = r.records.d.count("record count")
	return r, nil
}

// NextBase returns the next checkpoint, ascending by N then token; false
// after the last.
func (r *SummaryReader) NextBase() (SummaryBase, bool) {
	c := &r.bases
	if c.left == 0 || c.d.err != nil {
		return SummaryBase{}, false
	}
	bs := c.d.summaryBase(c.last, r.writers)
	c.left--
	c.last = &bs
	return bs, c.d.err == nil
}

// NextRecord returns the next record, ascending by N; false after the
// last.
func (r *SummaryReader) NextRecord() (SummaryRecord, bool) {
	c := &r.records
	if c.left == 0 || c.d.err != nil {
		return SummaryRecord{}, false
	}
	rec := c.d.summaryRecord(c.last, r.writers, r.Head)
	c.left--
	c.last = &rec
	return rec, c.d.err == nil
}

// count decodes a count of items each at least one byte long.
func (d *decoder) count(what string) uint64 {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(what)
	}
	return n
}

// size decodes a length in bytes.
func (d *decoder) size(what string) int64 {
	n := d.uvarint(what)
	if d.err == nil && n > maxSummarySize {
		d.fail(what)
	}
	return int64(n)
}

// summaryBase decodes a checkpoint of a summary; last is the one before
// it (nil for the first).
func (d *decoder) summaryBase(last *SummaryBase, writers []writerKey) SummaryBase {
	bs := SummaryBase{Ref: CheckpointRef{N: d.uvarint("checkpoint"), Token: d.uvarint("checkpoint token")}}
	bs.Size = d.size("checkpoint size")
	bs.Created = time.Unix(0, d.varint("checkpoint time"))
	var prev []SummaryEntry
	if last != nil {
		prev = last.Blocks
	}
	if d.err == nil && (bs.Ref.N == 0 || last != nil && !refBefore(last.Ref, bs.Ref)) {
		d.fail("checkpoint")
	}
	bs.Blocks = d.diffedEntries(prev, writers, bs.Ref.N, maxBlocks)
	for j := len(bs.Blocks) - 1; j >= 0 && d.err == nil; j-- {
		if bs.Blocks[j].Idx != int64(j) {
			d.fail("checkpoint entries") // one per block, in order
		}
	}
	return bs
}

// refBefore reports whether checkpoint a sorts before b in a summary.
func refBefore(a, b CheckpointRef) bool {
	return a.N < b.N || a.N == b.N && a.Token < b.Token
}

// summaryRecord decodes a record of a summary whose head is head; last
// is the record before it (nil for the first).
func (d *decoder) summaryRecord(last *SummaryRecord, writers []writerKey, head uint64) SummaryRecord {
	r := d.summaryRecordHead(last, head)
	if d.err != nil {
		return r // its sizes may not make a number of blocks
	}
	var prev []SummaryEntry
	if last != nil {
		prev = last.Delta
	}
	r.Delta = d.diffedEntries(prev, writers, r.N, NBlocks(r.FileSize, r.BlockSize))
	if d.err == nil && r.By.noDatabase() && r.FileSize != 0 {
		d.fail("made by") // a record of no database is empty
	}
	return r
}

// noDatabase reports whether a record made by m holds no database.
func (m MadeBy) noDatabase() bool { return Made{By: m}.NoDatabase() }

// summaryRecordHead decodes the fields of a summary's record but its
// delta; last is the record before it (nil for the first).
func (d *decoder) summaryRecordHead(last *SummaryRecord, head uint64) SummaryRecord {
	var r SummaryRecord
	prevN := uint64(0)
	if last != nil {
		prevN = last.N
	}
	gap := d.uvarint("commit number")
	if d.err == nil && (gap == 0 || gap > head-prevN) {
		d.fail("commit number") // ascending, none above the head
	}
	r.N = prevN + gap
	r.Size = d.size("record size")
	r.Created = time.Unix(0, d.varint("record time"))
	by := d.uvarint("made by")
	if d.err == nil && by >= uint64(madeByEnd) {
		d.fail("made by")
	}
	r.By = MadeBy(by)
	r.BlockSize, r.FileSize = d.sizes()
	r.Base = CheckpointRef{N: d.uvarint("base checkpoint"), Token: d.uvarint("base token")}
	if d.err == nil && r.Base.N > r.N {
		d.fail("base checkpoint")
	}
	r.Lineage = d.summaryLineage(r.N, last)
	return r
}

// summaryLineage decodes the lineage of record n of a summary; last is
// the record before it (nil for the first).
func (d *decoder) summaryLineage(n uint64, last *SummaryRecord) Lineage {
	c := d.uvarint("lineage")
	if d.err == nil && (c == 0 && last == nil || c > MaxLineage+1) {
		d.fail("lineage")
	}
	if d.err != nil {
		return nil
	}
	if c == 0 {
		return last.Lineage // commits below last.N, so below n
	}
	var lin Lineage
	for i := uint64(0); i < c-1 && d.err == nil; i++ {
		a := Ancestor{Commit: d.uvarint("ancestor commit")}
		a.Key = d.key("ancestor key")
		limit := n
		if i > 0 {
			limit = lin[i-1].Commit
		}
		if d.err == nil && (a.Commit == 0 || a.Commit >= limit) {
			d.fail("ancestor commit")
		}
		lin = append(lin, a)
	}
	if d.err == nil && last != nil && slices.Equal(lin, last.Lineage) {
		d.fail("lineage") // the same as the record before has the shorter encoding
	}
	return lin
}

// diffedEntries decodes what entryDiff.appendTo writes and applies it
// to prev: the entries of a map of fewer than limit blocks whose overlay
// records are at most maxRec.
func (d *decoder) diffedEntries(prev []SummaryEntry, writers []writerKey, maxRec uint64, limit int64) []SummaryEntry {
	nd := d.count("dropped entries")
	dropped := make([]int64, 0, min(nd, 1<<16))
	prevLimit := int64(0) // what prev may drop: its own entries
	if len(prev) > 0 {
		prevLimit = prev[len(prev)-1].Idx + 1
	}
	for i, last := uint64(0), int64(-1); i < nd && d.err == nil; i++ {
		last = d.summaryIndex(last, prevLimit)
		dropped = append(dropped, last)
	}
	ns := d.count("entries")
	set := make([]SummaryEntry, 0, min(ns, 1<<16))
	for i, last := uint64(0), int64(-1); i < ns && d.err == nil; i++ {
		e := SummaryEntry{Idx: d.summaryIndex(last, limit)}
		last = e.Idx
		p := d.uvarint("entry writer")
		if d.err == nil && p > uint64(len(writers)) {
			d.fail("entry writer")
		}
		if d.err == nil && p > 0 {
			e.Commit, e.Token = writers[p-1].commit, writers[p-1].token
		}
		e.Overlay = d.summaryOverlay(maxRec)
		set = append(set, e)
	}
	if d.err != nil {
		return nil
	}
	out, ok := applyEntryDiff(prev, dropped, set)
	if !ok || len(out) > 0 && out[len(out)-1].Idx >= limit {
		d.fail("entries")
		return nil
	}
	return out
}

// summaryIndex decodes the index of an entry after the one at last (-1
// for the first) in a map of fewer than limit blocks.
func (d *decoder) summaryIndex(last, limit int64) int64 {
	gap := d.uvarint("entry index")
	if d.err == nil && gap >= uint64(limit-last-1) {
		d.fail("entry index")
		return last
	}
	return last + 1 + int64(gap)
}

// summaryOverlay decodes the overlay records of an entry: ascending, at
// least 1, at most maxRec; nil for none.
func (d *decoder) summaryOverlay(maxRec uint64) []uint64 {
	k := d.count("overlay")
	var out []uint64
	last := uint64(0)
	for j := uint64(0); j < k && d.err == nil; j++ {
		gap := d.uvarint("overlay record")
		if d.err == nil && (gap == 0 || gap > maxRec-last) {
			d.fail("overlay record")
		}
		last += gap
		out = append(out, last)
	}
	return out
}

// applyEntryDiff returns prev without the entries at dropped and with
// those of set (both ascending); false if the diff is not the one
// diffEntries makes: a dropped index prev lacks, an entry set as it
// was, an index both dropped and set.
func applyEntryDiff(prev []SummaryEntry, dropped []int64, set []SummaryEntry) ([]SummaryEntry, bool) {
	if len(dropped) == 0 && len(set) == 0 {
		return prev, true
	}
	out := make([]SummaryEntry, 0, max(0, len(prev)+len(set)-len(dropped)))
	i, di, si := 0, 0, 0
	for i < len(prev) || si < len(set) {
		if si < len(set) && (i == len(prev) || set[si].Idx <= prev[i].Idx) {
			if i < len(prev) && set[si].Idx == prev[i].Idx {
				if prev[i].equal(set[si]) || di < len(dropped) && dropped[di] == prev[i].Idx {
					return nil, false
				}
				i++
			}
			out = append(out, set[si])
			si++
			continue
		}
		switch {
		case di < len(dropped) && dropped[di] < prev[i].Idx:
			return nil, false
		case di < len(dropped) && dropped[di] == prev[i].Idx:
			di++
		default:
			out = append(out, prev[i])
		}
		i++
	}
	if len(out) == 0 {
		out = nil
	}
	return out, di == len(dropped)
}
