package tx

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestTxViewReadAt checks every read of a few views against a plain
// []byte reference of what the view holds.
func TestTxViewReadAt(t *testing.T) {
	const bs = 4
	committed := []byte("abcdefghij") // 10 bytes: blocks abcd efgh ij
	size := int64(len(committed))
	spilledData := map[int64][]byte{1: []byte("SSSS"), 3: []byte("TTTT")}
	blk := func(b string) []byte { return []byte(b) }

	tests := []struct {
		name string
		view Writes
		want string
	}{
		{"clean", Writes{}, "abcdefghij"},
		{"a pending block", Writes{Dirty: true, Pending: map[int64][]byte{1: blk("WXYZ")}, PendingSize: 10, Floor: 10}, "abcdWXYZij"},
		{"grown past the end", Writes{Dirty: true, Pending: map[int64][]byte{3: blk("PQ\x00\x00")}, PendingSize: 14, Floor: 10}, "abcdefghij\x00\x00PQ"},
		{"truncated", Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: 5, Floor: 5}, "abcde"},
		{"truncated, then regrown", Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: 12, Floor: 5}, "abcde\x00\x00\x00\x00\x00\x00\x00"},
		{"spilled blocks", Writes{Dirty: true, Pending: map[int64][]byte{}, Spilled: map[int64]format.BlockRef{1: {Commit: 1}, 3: {Commit: 1}}, PendingSize: 15, Floor: 10}, "abcdSSSSij\x00\x00TTT"},
	}
	for _, tt := range tests {
		want := []byte(tt.want)
		if got := tt.view.Size(size); got != int64(len(want)) {
			t.Errorf("%s: size = %d; want %d", tt.name, got, len(want))
		}
		for off := range int64(len(want) + 2) {
			for n := range len(want) + 3 {
				b := bytes.Repeat([]byte{'?'}, n)
				got, err := tt.view.ReadAt(bs, size, b, off,
					func(b []byte, off int64) (int, error) {
						if off+int64(len(b)) > tt.view.Live(size) {
							t.Fatalf("%s: read of committed bytes [%d, %d) past the live %d", tt.name, off, off+int64(len(b)), tt.view.Live(size))
						}
						return copy(b, committed[off:]), nil
					},
					func(idx int64, ref format.BlockRef) ([]byte, error) { return spilledData[idx], nil })
				wantN := max(0, min(n, len(want)-int(off)))
				wantErr := error(nil)
				if wantN < n {
					wantErr = io.EOF
				}
				ref := make([]byte, n)
				if off < int64(len(want)) {
					copy(ref, want[off:])
				}
				if got != wantN || err != wantErr || !bytes.Equal(b, ref) {
					t.Errorf("%s: readAt(%d bytes at %d) = %d, %v, %q; want %d, %v, %q", tt.name, n, off, got, err, b, wantN, wantErr, ref)
				}
			}
		}
	}

	// An error of a source ends the read with it.
	boom := errors.New("boom")
	v := Writes{Dirty: true, Pending: map[int64][]byte{0: blk("WXYZ")}, PendingSize: 10, Floor: 10}
	b := make([]byte, 10)
	n, err := v.ReadAt(bs, size, b, 0, func([]byte, int64) (int, error) { return 0, boom }, nil)
	if n != 4 || !errors.Is(err, boom) {
		t.Errorf("readAt with a failing source = %d, %v; want 4, boom", n, err)
	}
}
