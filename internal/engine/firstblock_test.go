package engine

import (
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

func TestFirstBlockName(t *testing.T) {
	base := format.CheckpointRef{N: 7, Token: 0xabc}
	written := format.BlockRef{Commit: 9, Token: 0xdef, CRC: 1}
	for _, tc := range []struct {
		name string
		rec  format.Record
		want string // "": nothing to fetch
	}{
		{"empty file", format.Record{BlockLevel: true, Base: base}, ""},
		{"no checkpoint: the delta names every block", format.Record{BlockLevel: true, FileSize: 100}, ""},
		{"block 0 in the delta", format.Record{BlockLevel: true, FileSize: 100, Base: base, Delta: []format.Entry{{Idx: 0, Ref: written}, {Idx: 3, Ref: written}}},
			format.BlockName("k", 0, written)},
		{"block 0 a hole in the delta", format.Record{BlockLevel: true, FileSize: 100, Base: base, Delta: []format.Entry{{Idx: 0, Ref: format.BlockRef{}}}}, ""},
		{"the record wrote the checkpoint: its commit", format.Record{BlockLevel: true, N: 7, FileSize: 100, Base: base},
			format.BlockName("k", 0, format.BlockRef{Commit: 7, Token: 0xabc})},
		{"a head past the checkpoint that left block 0 alone: no guess",
			format.Record{BlockLevel: true, N: 9, FileSize: 100, Base: base, Delta: []format.Entry{{Idx: 2, Ref: written}}}, ""},
	} {
		got, ok := firstBlockName("k", &tc.rec)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
