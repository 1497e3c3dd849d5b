package s3vfs

import "testing"

func TestFirstBlockName(t *testing.T) {
	base := ckptRef{n: 7, token: 0xabc}
	written := blockRef{commit: 9, token: 0xdef, crc: 1}
	for _, tc := range []struct {
		name string
		rec  record
		want string // "": nothing to fetch
	}{
		{"empty file", record{base: base}, ""},
		{"no checkpoint: the delta names every block", record{fileSize: 100}, ""},
		{"block 0 in the delta", record{fileSize: 100, base: base, delta: []entry{{0, written}, {3, written}}},
			blockName("k", 0, written)},
		{"block 0 a hole in the delta", record{fileSize: 100, base: base, delta: []entry{{0, blockRef{}}}}, ""},
		{"the record wrote the checkpoint: its commit", record{n: 7, fileSize: 100, base: base},
			blockName("k", 0, blockRef{commit: 7, token: 0xabc})},
		{"a head past the checkpoint that left block 0 alone: no guess",
			record{n: 9, fileSize: 100, base: base, delta: []entry{{2, written}}}, ""},
	} {
		got, ok := firstBlockName("k", &tc.rec)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
