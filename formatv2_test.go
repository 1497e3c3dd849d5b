package s3vfs

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// sampleRecords2 returns version-2 records that exercise every field:
// inline pages over an object and over a hole, a fold, an overlay of no
// record that re-lengths an object, a version-1 base checkpoint, and a
// commit that changed nothing it carries.
func sampleRecords2() []*record2 {
	t0 := time.Unix(1700000000, 456)
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	return []*record2{{
		n: 7, parent: 6, token: 70, blockSize: 1024, fileSize: 4096, time: t0, writer: "host/7",
		unit: 512, changed: pageList{{2, 1}, {5, 2}}, inline: pageList{{2, 1}, {6, 1}},
		delta: []entry2{
			{idx: 0, ref: blockRef{1, 10, 0xabc}},
			{idx: 1, ref: blockRef{3, 30, 0xdef}, ov: &overlay{baseLen: 1024, recs: []overlayRef{{5, 50, 600}, {7, 70, 0}}, crc: 11}},
			{idx: 2, ref: blockRef{7, 70, 0x123}},
			{idx: 3, ov: &overlay{recs: []overlayRef{{7, 70, 0}}, crc: 12}},
		},
		pages: slices.Concat(page(2), page(6)),
	}, {
		n: 2, parent: 1, token: 1 << 62, blockSize: 65536, fileSize: 65536 * 3, time: t0, writer: "",
		base: ckptRef{1, 5}, unit: 65536, changed: pageList{{0, 3}},
	}, {
		n: 12, parent: 11, token: 3, blockSize: 1024, fileSize: 700, time: t0, writer: "w",
		base: ckptRef{10, 4}, unit: 512, changed: pageList{{0, 1}},
		delta:  []entry2{{idx: 0, ref: blockRef{10, 4, 9}, ov: &overlay{baseLen: 1024, recs: []overlayRef{{8, 80, 3000}, {12, 3, 0}}, crc: 1}}},
		inline: pageList{{0, 1}}, pages: page(0)[:512],
	}, {
		n: 5, parent: 4, token: 8, blockSize: 1024, fileSize: 1024, time: t0, writer: "w",
		unit:  1024,
		delta: []entry2{{idx: 0, ref: blockRef{2, 2, 2}, ov: &overlay{baseLen: 512, crc: 7}}},
	}, {
		n: 1, parent: 0, token: 1, blockSize: 512, fileSize: 0, time: t0, writer: "w", unit: 512,
	}}
}

func sampleCheckpoints2() []*checkpoint2 {
	return []*checkpoint2{{
		n: 9, token: 90, blockSize: 1024, fileSize: 3000,
		blocks: []entry2{
			{idx: 0, ref: blockRef{9, 90, 1}},
			{idx: 1, ref: blockRef{4, 40, 2}, ov: &overlay{baseLen: 1024, recs: []overlayRef{{4, 41, 100}, {9, 99, 5000}}, crc: 3}},
			{idx: 2, ov: &overlay{recs: []overlayRef{{9, 99, 5000}}, crc: 4}},
		},
	}, {n: 1, token: 1, blockSize: 512, fileSize: 0}}
}

// sameRecord2 compares records, times by instant.
func sameRecord2(a, b *record2) bool {
	if !a.time.Equal(b.time) {
		return false
	}
	x, y := *a, *b
	x.time, y.time = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

func TestRecord2RoundTrip(t *testing.T) {
	for _, r := range sampleRecords2() {
		enc := r.encode()
		got, err := decodeRecord2(enc)
		if err != nil {
			t.Fatalf("record %d: %v", r.n, err)
		}
		if !sameRecord2(r, got) {
			t.Errorf("record %d round trip:\n%+v\n%+v", r.n, r, got)
		}
		if !bytes.Equal(got.encode(), enc) {
			t.Errorf("record %d: re-encoding changes the bytes", r.n)
		}
		if _, err := decodeRecord(enc); err == nil {
			t.Errorf("record %d: a version-2 record decodes as version 1", r.n)
		}
	}
}

func TestCheckpoint2RoundTrip(t *testing.T) {
	for _, c := range sampleCheckpoints2() {
		enc := c.encode()
		got, err := decodeCheckpoint2(enc)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", c.n, err)
		}
		if !reflect.DeepEqual(c, got) {
			t.Errorf("checkpoint %d round trip:\n%+v\n%+v", c.n, c, got)
		}
		if _, err := decodeCheckpoint(enc); err == nil {
			t.Errorf("checkpoint %d: a version-2 checkpoint decodes as version 1", c.n)
		}
	}
}

// TestRecord2Refused: records that break a rule of docs/format.md
// ("Format version 2") do not decode, although their checksum is right.
func TestRecord2Refused(t *testing.T) {
	base := func() *record2 { return sampleRecords2()[0] }
	tests := []struct {
		name   string
		change func(r *record2)
	}{
		{"a page unit that does not divide the block", func(r *record2) { r.unit = 768 }},
		{"a page unit below 512", func(r *record2) { r.unit = 256; r.changed = nil; r.inline = nil; r.pages = nil }},
		{"an inline page that is not changed", func(r *record2) { r.changed = pageList{{5, 2}} }},
		{"inline pages no entry reads", func(r *record2) { r.delta[3].ov = nil; r.delta[3] = entry2{idx: 3} }},
		{"an entry that reads pages the record lacks", func(r *record2) {
			r.inline, r.pages = pageList{{2, 1}}, r.pages[:512]
		}},
		{"a changed page past the file", func(r *record2) { r.changed = append(r.changed, pageRun{9, 1}) }},
		{"an overlay record above the record", func(r *record2) { r.delta[1].ov.recs[0].n = 8 }},
		{"an overlay of nothing on a hole", func(r *record2) { r.delta[3].ov.recs = nil; r.inline, r.pages = pageList{{2, 1}}, r.pages[:512] }},
		{"an overlay of nothing that keeps the length", func(r *record2) { r.delta[0].ov = &overlay{baseLen: 1024} }},
		{"a base length past the block size", func(r *record2) { r.delta[1].ov.baseLen = 1025 }},
		{"a parent that is not n-1", func(r *record2) { r.parent = 5 }},
	}
	for _, tt := range tests {
		r := base()
		tt.change(r)
		if got, err := decodeRecord2(r.encode()); err == nil {
			t.Errorf("%s: decoded %+v", tt.name, got)
		} else if !errors.Is(err, errCorrupt) {
			t.Errorf("%s: error %v is not errCorrupt", tt.name, err)
		}
	}
}

func TestRecord2Carried(t *testing.T) {
	r := sampleRecords2()[0]
	var pages []int64
	for p, b := range r.carried() {
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
		want  pageList
	}{
		{nil, nil},
		{[]int64{0}, pageList{{0, 1}}},
		{[]int64{3, 4, 5, 9, 10, 20}, pageList{{3, 3}, {9, 2}, {20, 1}}},
		{[]int64{1, 1, 2}, pageList{{1, 2}}},
	}
	for _, tt := range tests {
		l := pageListOf(tt.pages)
		if !reflect.DeepEqual(l, tt.want) {
			t.Errorf("pageListOf(%v) = %v; want %v", tt.pages, l, tt.want)
		}
		d := &decoder{b: appendPageList(nil, l)}
		got := d.pageList(100, "pages")
		if d.err != nil || len(d.b) != 0 || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decode %v = %v, %v", tt.want, got, d.err)
		}
		for _, p := range tt.pages {
			if !l.contains(p) {
				t.Errorf("%v does not contain %d", l, p)
			}
		}
		if l.contains(2000) || (len(l) > 0 && l.contains(l[0].first-1)) {
			t.Errorf("%v contains too much", l)
		}
	}
	if got := (pageList{{0, 2}}).addRun(1, 5).addRun(10, 2).addRun(11, 1); !reflect.DeepEqual(got, pageList{{0, 6}, {10, 2}}) {
		t.Errorf("addRun = %v", got)
	}
	// Adjacent runs, and runs past the limit, do not decode.
	for _, bad := range []pageList{{{0, 1}, {1, 1}}, {{99, 2}}, {{100, 1}}} {
		d := &decoder{b: appendPageList(nil, bad)}
		if got := d.pageList(100, "pages"); d.err == nil {
			t.Errorf("%v decoded as %v", bad, got)
		}
	}
	// One page costs three bytes, a thousand consecutive ones four.
	if n := len(appendPageList(nil, pageList{{7, 1}})); n != 3 {
		t.Errorf("one page: %d bytes", n)
	}
	if n := len(appendPageList(nil, pageList{{0, 1000}})); n != 4 {
		t.Errorf("1000 pages: %d bytes", n)
	}
}

// TestEntriesFromV1: a version-1 map reads as version 2 without overlays,
// and the same objects.
func TestEntriesFromV1(t *testing.T) {
	for _, r := range sampleRecords() {
		got := entriesFromV1(r.delta)
		if len(got) != len(r.delta) {
			t.Fatalf("%d entries from %d", len(got), len(r.delta))
		}
		for i, e := range got {
			if e.idx != r.delta[i].idx || e.ref != r.delta[i].ref || e.ov != nil {
				t.Errorf("entry %d = %+v from %+v", i, e, r.delta[i])
			}
		}
	}
}
