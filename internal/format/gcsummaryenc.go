package format

import (
	"encoding/binary"
	"slices"
)

// equal reports whether e and f say the same.
func (e SummaryEntry) equal(f SummaryEntry) bool {
	return e.Idx == f.Idx && e.Commit == f.Commit && e.Token == f.Token && slices.Equal(e.Overlay, f.Overlay)
}

// Encode returns the bytes of s.
func (s *Summary) Encode() []byte {
	w := NewSummaryWriter(s.Key, s.Head)
	for _, bs := range s.Bases {
		w.AddBase(bs)
	}
	for _, r := range s.Records {
		w.AddRecord(r)
	}
	return w.Bytes()
}

// SummaryWriter encodes a summary one checkpoint and one record at a
// time, so that a collection can write the summary of a long history
// while holding only the bytes written and the last map of each kind.
// Checkpoints go ascending by N then token, records ascending by N and
// none above the head; the two may interleave. The summary is the one
// Encode writes of the same checkpoints and records, but its writer
// table lists the writers in the order the maps added reach them, and
// the entries name writers by their positions in it: the bytes differ
// when records come before checkpoints, the summary decoded does not.
type SummaryWriter struct {
	key              string
	head             uint64
	writers          writerTable
	bases, records   []byte // the checkpoints and records written, without their counts
	nBases, nRecords int
	lastBase         []SummaryEntry // the map of the checkpoint added last
	lastRec          *SummaryRecord // the record added last; nil before the first
}

// NewSummaryWriter returns a writer of the summary of the database at
// key that a collection which listed head as its newest commit writes.
func NewSummaryWriter(key string, head uint64) *SummaryWriter {
	return &SummaryWriter{key: key, head: head}
}

// AddBase adds checkpoint bs. The writer holds bs's map until the next
// checkpoint is added: it must not change meanwhile.
func (w *SummaryWriter) AddBase(bs SummaryBase) {
	w.bases = binary.AppendUvarint(w.bases, bs.Ref.N)
	w.bases = binary.AppendUvarint(w.bases, bs.Ref.Token)
	w.bases = binary.AppendUvarint(w.bases, uint64(bs.Size))
	w.bases = binary.AppendVarint(w.bases, bs.Created.UnixNano())
	w.bases = diffEntries(w.lastBase, bs.Blocks, &w.writers).appendTo(w.bases, &w.writers)
	w.lastBase = bs.Blocks
	w.nBases++
}

// AddRecord adds record r. The writer holds r's delta and lineage until
// the next record is added: they must not change meanwhile.
func (w *SummaryWriter) AddRecord(r SummaryRecord) {
	var prev []SummaryEntry
	if w.lastRec != nil {
		prev = w.lastRec.Delta
	}
	w.records = r.appendTo(w.records, w.lastRec)
	w.records = diffEntries(prev, r.Delta, &w.writers).appendTo(w.records, &w.writers)
	w.lastRec = &r
	w.nRecords++
}

// Records returns the number of records added.
func (w *SummaryWriter) Records() int { return w.nRecords }

// Bytes returns the summary of what was added.
func (w *SummaryWriter) Bytes() []byte {
	b := make([]byte, 0, len(summaryMagic)+len(w.key)+len(w.bases)+len(w.records)+64+len(w.writers.list)*12)
	b = appendString(append(b, summaryMagic...), w.key)
	b = binary.AppendUvarint(b, w.head)
	b = w.writers.appendTo(b)
	b = binary.AppendUvarint(b, uint64(w.nBases))
	b = append(b, w.bases...)
	b = binary.AppendUvarint(b, uint64(w.nRecords))
	b = append(b, w.records...)
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
