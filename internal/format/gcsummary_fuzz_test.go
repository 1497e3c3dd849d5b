package format

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleSummaries returns summaries for the decoder's fuzz corpus and
// the round-trip tests: checkpoints, records whose deltas grow, shrink
// and change base, overlays, holes, a branch's lineage, a removed record.
func sampleSummaries() []*Summary {
	t0 := time.Unix(1700000000, 0)
	base := []SummaryEntry{{0, 5, 0xaa, nil}, {1, 3, 7, nil}, {2, 0, 0, nil}, {3, 5, 0xaa, []uint64{4, 5}}}
	base2 := []SummaryEntry{{0, 8, 9, []uint64{8}}, {1, 3, 7, nil}}
	lin := Lineage{{Key: "src.db", Commit: 4}, {Key: "a/b.db", Commit: 2}}
	return []*Summary{
		{Key: "k.db", Head: 1, Records: []SummaryRecord{{N: 1, Size: 90, Created: t0, BlockSize: 4096}}},
		{Key: "x/y.db", Head: 12,
			Bases: []SummaryBase{
				{Ref: CheckpointRef{5, 0xaa}, Size: 300, Created: t0, Blocks: base},
				{Ref: CheckpointRef{8, 9}, Size: 200, Created: t0.Add(time.Second), Blocks: base2},
			},
			Records: []SummaryRecord{
				{N: 6, Size: 120, Created: t0, BlockSize: 4096, FileSize: 4 * 4096, Base: CheckpointRef{5, 0xaa}, Lineage: lin,
					Delta: []SummaryEntry{{0, 5, 0xaa, []uint64{6}}}},
				{N: 7, Size: 130, Created: t0.Add(time.Millisecond), BlockSize: 4096, FileSize: 4 * 4096, Base: CheckpointRef{5, 0xaa}, Lineage: lin,
					Delta: []SummaryEntry{{0, 5, 0xaa, []uint64{6, 7}}, {2, 7, 1 << 60, nil}}},
				{N: 8, Size: 100, Created: t0.Add(time.Second), By: ByRestore, BlockSize: 4096, FileSize: 2 * 4096, Base: CheckpointRef{8, 9}, Lineage: lin,
					Delta: []SummaryEntry{{0, 8, 9, []uint64{8}}}},
				{N: 10, Size: 140, Created: t0.Add(2 * time.Second), BlockSize: 4096, FileSize: 3 * 4096, Base: CheckpointRef{8, 9},
					Delta: []SummaryEntry{{0, 8, 9, []uint64{8, 10}}, {2, 0, 0, []uint64{10}}}},
				{N: 12, Size: 60, Created: t0.Add(3 * time.Second), By: Removed, BlockSize: 4096},
			}},
	}
}

// TestSummaryRoundTrip: a summary decodes to what was encoded, also
// when written records first as a collection writes it, its name parses
// back, and no record or checkpoint name is taken for one.
func TestSummaryRoundTrip(t *testing.T) {
	for _, s := range sampleSummaries() {
		for _, enc := range [][]byte{s.Encode(), encodeRecordsFirst(s)} {
			got, err := DecodeSummary(enc)
			if err != nil {
				t.Fatalf("summary of %s: %v", s.Key, err)
			}
			if !sameSummary(s, got) {
				t.Fatalf("round trip changed the summary:\n%+v\n%+v", s, got)
			}
		}
	}
	name := SummaryName("a/b.db", 42, 0xfeed)
	if h, tok, ok := ParseSummaryName("a/b.db", name); !ok || h != 42 || tok != 0xfeed {
		t.Errorf("%s parses as %d %x %v", name, h, tok, ok)
	}
	if !strings.HasPrefix(name, "a/b.db/"+CheckpointsDir+"/") {
		t.Errorf("summary name %s is not in the checkpoints folder", name)
	}
	for _, other := range []string{CheckpointName("a/b.db", 42, 0xfeed), InnerName("a/b.db", 42, 0xfeed), RecordName("a/b.db", 42),
		SummaryName("a/b.db", 42, 0xfeed) + InnerSuffix, strings.ToUpper(name), SummaryName("a/b.db/c.db", 42, 1)} {
		if _, _, ok := ParseSummaryName("a/b.db", other); ok {
			t.Errorf("%s is taken for a summary of a/b.db", other)
		}
	}
	if _, ok := ParseRecordName("a/b.db", name); ok {
		t.Errorf("%s is taken for a record", name)
	}
}

// TestSummaryRefusesOtherEncodings: a summary that says an entry in a
// longer way than the encoder writes is refused, and so is one of a
// later version, as such.
func TestSummaryRefusesOtherEncodings(t *testing.T) {
	s := sampleSummaries()[1]
	enc := s.Encode()
	if _, ok := applyEntryDiff(s.Records[0].Delta, nil, s.Records[0].Delta); ok {
		t.Error("a diff that sets an entry as it was is accepted")
	}
	if _, ok := applyEntryDiff(s.Records[0].Delta, []int64{1}, nil); ok {
		t.Error("a diff that drops an entry the map lacks is accepted")
	}
	newer := append([]byte("s3vfsG2\n"), enc[len(summaryMagic):]...)
	if _, err := DecodeSummary(newer); err == nil || !strings.Contains(err.Error(), "newer release") {
		t.Errorf("a summary of version 2: %v, want it named as newer", err)
	}
}

// sameSummary reports whether a and b say the same (times compared as
// instants).
func sameSummary(a, b *Summary) bool {
	norm := func(s *Summary) Summary {
		c := *s
		c.Bases = append([]SummaryBase(nil), s.Bases...)
		c.Records = append([]SummaryRecord(nil), s.Records...)
		for i := range c.Bases {
			c.Bases[i].Created = time.Unix(0, c.Bases[i].Created.UnixNano())
		}
		for i := range c.Records {
			c.Records[i].Created = time.Unix(0, c.Records[i].Created.UnixNano())
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FuzzDecodeSummary: any bytes decode to an error or to a summary that
// keeps the rules of the format (records ascending to the head, entries
// sorted within their maps, checkpoints dense, overlay records at most
// their map's commit) and survives re-encoding unchanged; a flipped byte
// is refused.
func FuzzDecodeSummary(f *testing.F) {
	for _, s := range sampleSummaries() {
		enc := s.Encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(summaryMagic):len(enc)-4], true, uint16(len(enc)/2), byte(0x08))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(summaryMagic, b)
		}
		s, err := DecodeSummary(b)
		if err != nil {
			return
		}
		checkSummary(t, s)
		checkReencoding(t, "summary", s.Encode(), DecodeSummary, func(s2 *Summary) bool { return sameSummary(s, s2) }, pos, flip)
		checkReencoding(t, "summary written records first", encodeRecordsFirst(s), DecodeSummary, func(s2 *Summary) bool { return sameSummary(s, s2) }, pos, flip)
	})
}

// encodeRecordsFirst encodes s as a collection writes it: its records as
// it reads them, then its checkpoints.
func encodeRecordsFirst(s *Summary) []byte {
	w := NewSummaryWriter(s.Key, s.Head)
	for _, r := range s.Records {
		w.AddRecord(r)
	}
	for _, bs := range s.Bases {
		w.AddBase(bs)
	}
	return w.Bytes()
}

// checkSummary fails t unless s keeps the rules DecodeSummary checks.
func checkSummary(t *testing.T, s *Summary) {
	t.Helper()
	if ValidateKey(s.Key) != nil || s.Head == 0 {
		t.Fatalf("decoded a summary of key %q, head %d", s.Key, s.Head)
	}
	for i, bs := range s.Bases {
		if bs.Ref.N == 0 || i > 0 && !refBefore(s.Bases[i-1].Ref, bs.Ref) {
			t.Fatalf("checkpoints out of order: %+v", s.Bases)
		}
		for j, e := range bs.Blocks {
			if e.Idx != int64(j) {
				t.Fatalf("checkpoint %+v is not dense", bs.Ref)
			}
			checkSummaryEntry(t, e, bs.Ref.N)
		}
	}
	prev := uint64(0)
	for _, r := range s.Records {
		if r.N <= prev || r.N > s.Head || r.Base.N > r.N || r.BlockSize < MinBlockSize {
			t.Fatalf("record %d after %d, head %d: %+v", r.N, prev, s.Head, r)
		}
		prev = r.N
		last := int64(-1)
		for _, e := range r.Delta {
			if e.Idx <= last || e.Idx >= NBlocks(r.FileSize, r.BlockSize) {
				t.Fatalf("record %d: entry %d after %d", r.N, e.Idx, last)
			}
			last = e.Idx
			checkSummaryEntry(t, e, r.N)
		}
	}
}

// checkSummaryEntry fails t unless e's overlay records ascend from 1 to
// at most n, and a missing object has no token.
func checkSummaryEntry(t *testing.T, e SummaryEntry, n uint64) {
	t.Helper()
	last := uint64(0)
	for _, r := range e.Overlay {
		if r <= last || r > n {
			t.Fatalf("entry %+v of commit %d: overlay records out of order", e, n)
		}
		last = r
	}
	if e.Commit == 0 && e.Token != 0 {
		t.Fatalf("entry %+v: a token without an object", e)
	}
}
