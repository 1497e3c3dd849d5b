package format

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A collection summary (docs/format.md, "Collection summaries") is what a
// garbage collection learnt from the commit records and checkpoints it
// read, left for the next collection of the database, which then reads
// only the records and checkpoints the summary does not describe. It is
// an accelerator: each record and checkpoint in it carries its size and
// creation time as listed, and a collection uses what the summary says of
// one only while its listing says the same.

// summaryMagic begins a summary of version 1.
const summaryMagic = "s3vfsG1\n"

// summaryPrefix begins the name of a summary within the checkpoints
// folder: no checkpoint, inner pages or claim name starts with it.
const summaryPrefix = "gc."

// SummaryName is the object name of the summary a collection of the
// database at key wrote with head as the newest commit it listed, under
// a token of its own: two collections never write the same name.
func SummaryName(key string, head, token uint64) string {
	return key + "/" + CheckpointsDir + "/" + summaryPrefix + Pad(head, 19) + "." + TokenString(token)
}

// ParseSummaryName returns the head and token of a summary object name
// of the database at key.
func ParseSummaryName(key, name string) (head, token uint64, ok bool) {
	s, found := strings.CutPrefix(name, key+"/"+CheckpointsDir+"/"+summaryPrefix)
	if !found || len(s) != 19+1+16 || s[19] != '.' {
		return 0, 0, false
	}
	h, err1 := strconv.ParseUint(s[:19], 10, 64)
	t, err2 := strconv.ParseUint(s[20:], 16, 64)
	if err1 != nil || err2 != nil || h == 0 || TokenString(t) != s[20:] {
		return 0, 0, false
	}
	return h, t, true
}

// Summary is a collection summary.
type Summary struct {
	Key     string          // the database it describes
	Head    uint64          // the newest commit the collection that wrote it listed
	Bases   []SummaryBase   // checkpoints, ascending by N then Token
	Records []SummaryRecord // records, ascending by N, none above Head
}

// SummaryBase is a checkpoint as garbage collection reads it: the objects
// and overlay records of its map.
type SummaryBase struct {
	Ref     CheckpointRef  // the checkpoint
	Size    int64          // its length in bytes, as listed
	Created time.Time      // its creation time, as listed
	Blocks  []SummaryEntry // one per block, in order
}

// SummaryRecord is a commit record as garbage collection reads it: the
// fields that decide which objects its version uses.
type SummaryRecord struct {
	N         uint64         // the commit number
	Size      int64          // the record's length in bytes, as listed
	Created   time.Time      // its creation time, as listed
	By        MadeBy         // how the commit was made
	BlockSize int64          // the database's block size
	FileSize  int64          // the database's size at commit N
	Base      CheckpointRef  // its base checkpoint
	Lineage   Lineage        // where the objects of older commits live
	Delta     []SummaryEntry // its delta, sorted by Idx, all < NBlocks
}

// SummaryEntry is an entry of a block map as garbage collection reads it:
// the block's object and the records whose pages overlay it.
type SummaryEntry struct {
	Idx     int64    // the block's index
	Commit  uint64   // the commit number in the object's name; 0 for no object
	Token   uint64   // the attempt token in the object's name; 0 for no object
	Overlay []uint64 // the overlay records, ascending; nil for none
}

// SummaryEntries returns es as garbage collection reads them.
func SummaryEntries(es []Entry) []SummaryEntry {
	if len(es) == 0 {
		return nil
	}
	out := make([]SummaryEntry, len(es))
	for i, e := range es {
		out[i] = SummaryEntry{Idx: e.Idx, Commit: e.Ref.Commit, Token: e.Ref.Token}
		if e.Ov != nil && len(e.Ov.Recs) > 0 {
			out[i].Overlay = make([]uint64, len(e.Ov.Recs))
			for j, r := range e.Ov.Recs {
				out[i].Overlay[j] = r.N
			}
		}
	}
	return out
}

// SummarizeRecord returns rec as garbage collection reads it, its size
// and creation time as listed.
func SummarizeRecord(rec *Record, size int64, created time.Time) SummaryRecord {
	return SummaryRecord{
		N: rec.N, Size: size, Created: created, By: rec.Made.By,
		BlockSize: rec.BlockSize, FileSize: rec.FileSize, Base: rec.Base,
		Lineage: rec.Lineage, Delta: SummaryEntries(rec.Delta),
	}
}

// equal reports whether e and f say the same.
func (e SummaryEntry) equal(f SummaryEntry) bool {
	return e.Idx == f.Idx && e.Commit == f.Commit && e.Token == f.Token && slices.Equal(e.Overlay, f.Overlay)
}

// Encode returns the bytes of s.
func (s *Summary) Encode() []byte {
	// Each map is written as its difference from the one before it, whose
	// entries it mostly repeats (a record's delta is cumulative since its
	// base); the writer table holds the objects of the entries written.
	var writers writerTable
	baseDiffs := make([]entryDiff, len(s.Bases))
	var prev []SummaryEntry
	for i, bs := range s.Bases {
		baseDiffs[i] = diffEntries(prev, bs.Blocks, &writers)
		prev = bs.Blocks
	}
	recDiffs := make([]entryDiff, len(s.Records))
	prev = nil
	for i, r := range s.Records {
		recDiffs[i] = diffEntries(prev, r.Delta, &writers)
		prev = r.Delta
	}
	b := appendString([]byte(summaryMagic), s.Key)
	b = binary.AppendUvarint(b, s.Head)
	b = writers.appendTo(b)
	b = binary.AppendUvarint(b, uint64(len(s.Bases)))
	for i, bs := range s.Bases {
		b = binary.AppendUvarint(b, bs.Ref.N)
		b = binary.AppendUvarint(b, bs.Ref.Token)
		b = binary.AppendUvarint(b, uint64(bs.Size))
		b = binary.AppendVarint(b, bs.Created.UnixNano())
		b = baseDiffs[i].appendTo(b, &writers)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Records)))
	var last *SummaryRecord
	for i := range s.Records {
		b = s.Records[i].appendTo(b, last)
		b = recDiffs[i].appendTo(b, &writers)
		last = &s.Records[i]
	}
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// appendTo appends the fields of r but its delta; last is the record
// before it in the summary (nil for the first).
func (r *SummaryRecord) appendTo(b []byte, last *SummaryRecord) []byte {
	prevN := uint64(0)
	if last != nil {
		prevN = last.N
	}
	b = binary.AppendUvarint(b, r.N-prevN)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = binary.AppendVarint(b, r.Created.UnixNano())
	b = binary.AppendUvarint(b, uint64(r.By))
	b = binary.AppendUvarint(b, uint64(r.BlockSize))
	b = binary.AppendUvarint(b, uint64(r.FileSize))
	b = binary.AppendUvarint(b, r.Base.N)
	b = binary.AppendUvarint(b, r.Base.Token)
	if last != nil && slices.Equal(r.Lineage, last.Lineage) {
		return binary.AppendUvarint(b, 0) // the lineage of the record before
	}
	b = binary.AppendUvarint(b, uint64(len(r.Lineage))+1)
	for _, a := range r.Lineage {
		b = binary.AppendUvarint(b, a.Commit)
		b = appendString(b, a.Key)
	}
	return b
}

// entryDiff is a map as its difference from the one before it: the
// indexes of the entries it drops, and its entries the one before does
// not have as they are, both ascending.
type entryDiff struct {
	dropped []int64
	set     []SummaryEntry
}

// diffEntries returns cur as its difference from prev, and puts the
// objects of the entries it sets in writers.
func diffEntries(prev, cur []SummaryEntry, writers *writerTable) entryDiff {
	var d entryDiff
	i, j := 0, 0
	for i < len(prev) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(prev) && prev[i].Idx < cur[j].Idx:
			d.dropped = append(d.dropped, prev[i].Idx)
			i++
		case i == len(prev) || cur[j].Idx < prev[i].Idx:
			d.set = append(d.set, cur[j])
			j++
		default:
			if !prev[i].equal(cur[j]) {
				d.set = append(d.set, cur[j])
			}
			i++
			j++
		}
	}
	for _, e := range d.set {
		writers.add(BlockRef{Commit: e.Commit, Token: e.Token})
	}
	return d
}

// appendTo appends d: the dropped indexes, then the entries set, each
// index as its distance from the one before.
func (d entryDiff) appendTo(b []byte, writers *writerTable) []byte {
	b = binary.AppendUvarint(b, uint64(len(d.dropped)))
	last := int64(-1)
	for _, idx := range d.dropped {
		b = binary.AppendUvarint(b, uint64(idx-last-1))
		last = idx
	}
	b = binary.AppendUvarint(b, uint64(len(d.set)))
	last = -1
	for _, e := range d.set {
		b = binary.AppendUvarint(b, uint64(e.Idx-last-1))
		last = e.Idx
		b = binary.AppendUvarint(b, writers.position(BlockRef{Commit: e.Commit, Token: e.Token}))
		b = binary.AppendUvarint(b, uint64(len(e.Overlay)))
		lastRec := uint64(0)
		for _, n := range e.Overlay {
			b = binary.AppendUvarint(b, n-lastRec)
			lastRec = n
		}
	}
	return b
}

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
	d := open(b, summaryMagic)
	s := &Summary{Key: d.key("database key"), Head: d.uvarint("head")}
	if d.err == nil && s.Head == 0 {
		d.fail("head")
	}
	writers := d.writers()
	s.Bases = d.summaryBases(writers)
	s.Records = d.summaryRecords(writers, s.Head)
	return decoded(d, s)
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

// summaryBases decodes the checkpoints of a summary.
func (d *decoder) summaryBases(writers []writerKey) []SummaryBase {
	n := d.count("checkpoint count")
	var out []SummaryBase
	var prev []SummaryEntry
	for i := uint64(0); i < n && d.err == nil; i++ {
		bs := SummaryBase{Ref: CheckpointRef{N: d.uvarint("checkpoint"), Token: d.uvarint("checkpoint token")}}
		bs.Size = d.size("checkpoint size")
		bs.Created = time.Unix(0, d.varint("checkpoint time"))
		if d.err == nil && (bs.Ref.N == 0 || i > 0 && !refBefore(out[i-1].Ref, bs.Ref)) {
			d.fail("checkpoint")
		}
		bs.Blocks = d.diffedEntries(prev, writers, bs.Ref.N, maxBlocks)
		for j := len(bs.Blocks) - 1; j >= 0 && d.err == nil; j-- {
			if bs.Blocks[j].Idx != int64(j) {
				d.fail("checkpoint entries") // one per block, in order
			}
		}
		if d.err == nil {
			out = append(out, bs)
			prev = bs.Blocks
		}
	}
	return out
}

// refBefore reports whether checkpoint a sorts before b in a summary.
func refBefore(a, b CheckpointRef) bool {
	return a.N < b.N || a.N == b.N && a.Token < b.Token
}

// summaryRecords decodes the records of a summary whose head is head.
func (d *decoder) summaryRecords(writers []writerKey, head uint64) []SummaryRecord {
	n := d.count("record count")
	var out []SummaryRecord
	var last *SummaryRecord
	for i := uint64(0); i < n && d.err == nil; i++ {
		r := d.summaryRecord(last, head)
		if d.err != nil {
			break
		}
		var prev []SummaryEntry
		if last != nil {
			prev = last.Delta
		}
		r.Delta = d.diffedEntries(prev, writers, r.N, NBlocks(r.FileSize, r.BlockSize))
		if d.err == nil && r.By.noDatabase() && r.FileSize != 0 {
			d.fail("made by") // a record of no database is empty
		}
		if d.err == nil {
			out = append(out, r)
			last = &out[len(out)-1]
		}
	}
	return out
}

// noDatabase reports whether a record made by m holds no database.
func (m MadeBy) noDatabase() bool { return Made{By: m}.NoDatabase() }

// summaryRecord decodes the fields of a summary's record but its delta;
// last is the record before it (nil for the first).
func (d *decoder) summaryRecord(last *SummaryRecord, head uint64) SummaryRecord {
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
