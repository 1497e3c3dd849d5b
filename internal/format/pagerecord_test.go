package format

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleRecords2 returns version-2 records that exercise every field:
// inline pages over an object and over a hole, a fold, an overlay of no
// record that re-lengths an object, a version-1 base checkpoint, and a
// commit that changed nothing it carries.
func sampleRecords2() []*Record {
	t0 := time.Unix(1700000000, 456)
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	return []*Record{{
		N: 7, Parent: 6, Token: 70, BlockSize: 1024, FileSize: 4096, Time: t0, Writer: "host/7",
		Unit: 512, Changed: PageList{{2, 1}, {5, 2}}, Inline: PageList{{2, 1}, {6, 1}},
		Delta: []Entry{
			{Idx: 0, Ref: BlockRef{1, 10, 0xabc}},
			{Idx: 1, Ref: BlockRef{3, 30, 0xdef}, Ov: &Overlay{BaseLen: 1024, Recs: []OverlayRef{{5, 50, 600}, {7, 70, 0}}, CRC: 11}},
			{Idx: 2, Ref: BlockRef{7, 70, 0x123}},
			{Idx: 3, Ov: &Overlay{Recs: []OverlayRef{{7, 70, 0}}, CRC: 12}},
		},
		Pages: slices.Concat(page(2), page(6)),
	}, {
		N: 2, Parent: 1, Token: 1 << 62, BlockSize: 65536, FileSize: 65536 * 3, Time: t0, Writer: "",
		Base: CheckpointRef{1, 5}, Unit: 65536, Changed: PageList{{0, 3}},
	}, {
		N: 12, Parent: 11, Token: 3, BlockSize: 1024, FileSize: 700, Time: t0, Writer: "w",
		Base: CheckpointRef{10, 4}, Unit: 512, Changed: PageList{{0, 1}},
		Delta:  []Entry{{Idx: 0, Ref: BlockRef{10, 4, 9}, Ov: &Overlay{BaseLen: 1024, Recs: []OverlayRef{{8, 80, 3000}, {12, 3, 0}}, CRC: 1}}},
		Inline: PageList{{0, 1}}, Pages: page(0)[:512],
	}, {
		N: 5, Parent: 4, Token: 8, BlockSize: 1024, FileSize: 1024, Time: t0, Writer: "w",
		Unit:  1024,
		Delta: []Entry{{Idx: 0, Ref: BlockRef{2, 2, 2}, Ov: &Overlay{BaseLen: 512, CRC: 7}}},
	}, {
		N: 1, Parent: 0, Token: 1, BlockSize: 512, FileSize: 0, Time: t0, Writer: "w", Unit: 512,
	}, {
		// Version 3: a restore, a branch of a branch, a merge.
		N: 9, Parent: 8, Token: 9, BlockSize: 1024, FileSize: 2048, Time: t0, Writer: "w",
		Base: CheckpointRef{9, 9}, Unit: 1024, Changed: PageList{{0, 2}},
		Made: Made{By: ByRestore, Commit: 3},
	}, {
		N: 41, Parent: 40, Token: 4, BlockSize: 1024, FileSize: 1024, Time: t0, Writer: "w",
		Base: CheckpointRef{30, 3}, Unit: 512, Changed: PageList{{0, 1}},
		Delta:  []Entry{{Idx: 0, Ref: BlockRef{12, 2, 5}, Ov: &Overlay{BaseLen: 1024, Recs: []OverlayRef{{20, 1, 900}, {41, 4, 0}}, CRC: 6}}},
		Inline: PageList{{0, 1}}, Pages: page(9),
		Made:    Made{By: ByBranch, Commit: 40, Key: "tenants/a/db.sqlite"},
		Lineage: Lineage{{"tenants/a/db.sqlite", 40}, {"main.db", 25}},
	}, {
		N: 50, Parent: 49, Token: 5, BlockSize: 512, FileSize: 512, Time: t0, Writer: "w", Unit: 512,
		Changed: PageList{{0, 1}}, Made: Made{By: ByMerge, Commit: 44, Key: "try.db"},
	}, {
		N: 43, Parent: 42, Token: 6, BlockSize: 512, FileSize: 0, Time: t0, Writer: "w", Unit: 512,
		Lineage: Lineage{{"main.db", 25}},
	}, {
		N: 1, Token: 7, BlockSize: 4096, Time: t0, Writer: "w", Unit: 4096,
		Made: Made{By: Reserved, Commit: 80, Key: "main.db"},
	}, {
		N: 81, Parent: 80, Token: 8, BlockSize: 4096, Time: t0, Writer: "w", Unit: 4096,
		Made: Made{By: Removed},
	}}
}

func sampleCheckpoints2() []*Checkpoint {
	return []*Checkpoint{{
		N: 9, Token: 90, BlockSize: 1024, FileSize: 3000,
		Blocks: []Entry{
			{Idx: 0, Ref: BlockRef{9, 90, 1}},
			{Idx: 1, Ref: BlockRef{4, 40, 2}, Ov: &Overlay{BaseLen: 1024, Recs: []OverlayRef{{4, 41, 100}, {9, 99, 5000}}, CRC: 3}},
			{Idx: 2, Ov: &Overlay{Recs: []OverlayRef{{9, 99, 5000}}, CRC: 4}},
		},
	}, {N: 1, Token: 1, BlockSize: 512, FileSize: 0}}
}

// sameRecord2 compares records, times by instant.
func sameRecord2(a, b *Record) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	x, y := *a, *b
	x.Time, y.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

func TestRecord2RoundTrip(t *testing.T) {
	for _, r := range sampleRecords2() {
		enc := r.encodePages()
		got, err := DecodePageRecord(enc)
		if err != nil {
			t.Fatalf("record %d: %v", r.N, err)
		}
		if !sameRecord2(r, got) {
			t.Errorf("record %d round trip:\n%+v\n%+v", r.N, r, got)
		}
		if !bytes.Equal(got.encodePages(), enc) {
			t.Errorf("record %d: re-encoding changes the bytes", r.N)
		}
		if _, err := DecodeBlockRecord(enc); err == nil {
			t.Errorf("record %d: a version-2 record decodes as version 1", r.N)
		}
	}
}

func TestCheckpoint2RoundTrip(t *testing.T) {
	for _, c := range sampleCheckpoints2() {
		enc := c.encodePages()
		got, err := DecodePageCheckpoint(enc)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", c.N, err)
		}
		if !reflect.DeepEqual(c, got) {
			t.Errorf("checkpoint %d round trip:\n%+v\n%+v", c.N, c, got)
		}
		if _, err := DecodeBlockCheckpoint(enc); err == nil {
			t.Errorf("checkpoint %d: a version-2 checkpoint decodes as version 1", c.N)
		}
	}
}

// TestRecord2Refused: records that break a rule of docs/format.md
// ("Format version 2") do not decode, although their checksum is right.
func TestRecord2Refused(t *testing.T) {
	base := func() *Record { return sampleRecords2()[0] }
	tests := []struct {
		name   string
		change func(r *Record)
	}{
		{"a page unit that does not divide the block", func(r *Record) { r.Unit = 768 }},
		{"a page unit below 512", func(r *Record) { r.Unit = 256; r.Changed = nil; r.Inline = nil; r.Pages = nil }},
		{"an inline page that is not changed", func(r *Record) { r.Changed = PageList{{5, 2}} }},
		{"inline pages no entry reads", func(r *Record) { r.Delta[3].Ov = nil; r.Delta[3] = Entry{Idx: 3} }},
		{"an entry that reads pages the record lacks", func(r *Record) {
			r.Inline, r.Pages = PageList{{2, 1}}, r.Pages[:512]
		}},
		{"a changed page past the file", func(r *Record) { r.Changed = append(r.Changed, PageRun{9, 1}) }},
		{"an overlay record above the record", func(r *Record) { r.Delta[1].Ov.Recs[0].N = 8 }},
		{"an overlay of nothing on a hole", func(r *Record) { r.Delta[3].Ov.Recs = nil; r.Inline, r.Pages = PageList{{2, 1}}, r.Pages[:512] }},
		{"an overlay of nothing that keeps the length", func(r *Record) { r.Delta[0].Ov = &Overlay{BaseLen: 1024} }},
		{"a base length past the block size", func(r *Record) { r.Delta[1].Ov.BaseLen = 1025 }},
		{"a parent that is not n-1", func(r *Record) { r.Parent = 5 }},
	}
	for _, tt := range tests {
		r := base()
		tt.change(r)
		if got, err := DecodePageRecord(r.encodePages()); err == nil {
			t.Errorf("%s: decoded %+v", tt.name, got)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v is not ErrCorrupt", tt.name, err)
		}
	}
}

func TestRecord2Carried(t *testing.T) {
	r := sampleRecords2()[0]
	var pages []int64
	for p, b := range r.Carried() {
		pages = append(pages, p)
		if len(b) != 512 || b[0] != byte(p) {
			t.Errorf("page %d: %d bytes of %d", p, len(b), b[0])
		}
	}
	if !slices.Equal(pages, []int64{2, 6}) {
		t.Errorf("carried pages %v", pages)
	}
	if got := r.inlineBlocks(); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("inline blocks %v", got)
	}
}

func TestPageList(t *testing.T) {
	tests := []struct {
		pages []int64
		want  PageList
	}{
		{nil, nil},
		{[]int64{0}, PageList{{0, 1}}},
		{[]int64{3, 4, 5, 9, 10, 20}, PageList{{3, 3}, {9, 2}, {20, 1}}},
		{[]int64{1, 1, 2}, PageList{{1, 2}}},
	}
	for _, tt := range tests {
		l := PageListOf(tt.pages)
		if !reflect.DeepEqual(l, tt.want) {
			t.Errorf("pageListOf(%v) = %v; want %v", tt.pages, l, tt.want)
		}
		d := &decoder{b: appendPageList(nil, l)}
		got := d.pageList(100, "pages")
		if d.err != nil || len(d.b) != 0 || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decode %v = %v, %v", tt.want, got, d.err)
		}
		for _, p := range tt.pages {
			if !l.Contains(p) {
				t.Errorf("%v does not contain %d", l, p)
			}
		}
		if l.Contains(2000) || (len(l) > 0 && l.Contains(l[0].First-1)) {
			t.Errorf("%v contains too much", l)
		}
	}
	if got := (PageList{{0, 2}}).AddRun(1, 5).AddRun(10, 2).AddRun(11, 1); !reflect.DeepEqual(got, PageList{{0, 6}, {10, 2}}) {
		t.Errorf("addRun = %v", got)
	}
	// Adjacent runs, and runs past the limit, do not decode.
	for _, bad := range []PageList{{{0, 1}, {1, 1}}, {{99, 2}}, {{100, 1}}} {
		d := &decoder{b: appendPageList(nil, bad)}
		if got := d.pageList(100, "pages"); d.err == nil {
			t.Errorf("%v decoded as %v", bad, got)
		}
	}
	// One page costs three bytes, a thousand consecutive ones four.
	if n := len(appendPageList(nil, PageList{{7, 1}})); n != 3 {
		t.Errorf("one page: %d bytes", n)
	}
	if n := len(appendPageList(nil, PageList{{0, 1000}})); n != 4 {
		t.Errorf("1000 pages: %d bytes", n)
	}
}

func TestLineageKeyOf(t *testing.T) {
	l := Lineage{{"b.db", 40}, {"a.db", 25}}
	for c, want := range map[uint64]string{1: "a.db", 25: "a.db", 26: "b.db", 40: "b.db", 41: "c.db", 99: "c.db"} {
		if got := l.KeyOf("c.db", c); got != want {
			t.Errorf("commit %d: key %q, want %q", c, got, want)
		}
	}
	if got := Lineage(nil).KeyOf("c.db", 3); got != "c.db" {
		t.Errorf("no lineage: key %q", got)
	}
	if l.Point() != 40 || Lineage(nil).Point() != 0 {
		t.Errorf("branch points %d, %d", l.Point(), Lineage(nil).Point())
	}
}

func TestRecord3Versions(t *testing.T) {
	for _, r := range sampleRecords2() {
		enc := r.encodePages()
		want := recordMagic2
		if r.Made != (Made{}) || len(r.Lineage) > 0 {
			want = recordMagic3
		}
		if !hasMagic(enc, want) {
			t.Errorf("record %d encodes as %q, want %q", r.N, enc[:8], want)
		}
		got, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("record %d: %v", r.N, err)
		}
		if got.Size != len(enc) {
			t.Errorf("record %d: size %d, want %d", r.N, got.Size, len(enc))
		}
		if got.Size = 0; got.BlockLevel || !sameRecord2(got, r) {
			t.Errorf("record %d decodes as %+v", r.N, got)
		}
	}
	// A version-3 magic on fields a version-2 record has is refused: it
	// has the shorter encoding.
	r := sampleRecords2()[1]
	enc := r.encodePages()
	body := append(enc[len(recordMagic2):len(enc)-4:len(enc)-4], 0, 0)
	if _, err := DecodePageRecord(sealed(recordMagic3, body)); err == nil {
		t.Error("a version-3 record with nothing of version 3 decoded")
	}
}

func TestNewerVersionNamed(t *testing.T) {
	enc := sampleRecords2()[0].encodePages()
	enc[6] = '7'
	_, err := DecodeRecord(enc)
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "version 7 commit record") || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("a version-7 record: %v", err)
	}
}

// TestRecord3RefusedByOlderReaders: a release before record version 3
// decoded a record by its magic, as version 2 if it was s3vfsR2 and as
// version 1 otherwise; both decoders refuse a version-3 record (so an
// older reader refuses a branch, "unknown format", rather than read it
// without its lineage).
func TestRecord3RefusedByOlderReaders(t *testing.T) {
	for _, r := range sampleRecords2() {
		enc := r.encodePages()
		if !hasMagic(enc, recordMagic3) {
			continue
		}
		if _, err := DecodeBlockRecord(enc); err == nil || !strings.Contains(err.Error(), "unknown format") {
			t.Errorf("record %d: the version-1 decoder: %v", r.N, err)
		}
		if d := open(enc, recordMagic2); d.err == nil {
			t.Errorf("record %d: the version-2 magic check passed", r.N)
		}
	}
}
