package engine

import (
	"errors"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The first bytes of a checkpoint decode whole when they are the whole
// object, of any version; as a front and the segments they hold whole
// when they are not; and a damaged segment within them, or another
// commit's checkpoint, is an error (the disk cache's entry is checked so,
// and read from S3 again when it fails).
func TestDecodeCheckpointHead(t *testing.T) {
	ref := format.CheckpointRef{N: 5, Token: 55}
	c := &format.Checkpoint{N: ref.N, Token: ref.Token, BlockSize: 1024, FileSize: 40 * 1024, SegmentShift: 2}
	for i := range int64(40) {
		c.Blocks = append(c.Blocks, format.Entry{Idx: i, Ref: format.BlockRef{Commit: 1 + uint64(i%5), Token: 7, CRC: uint32(i)}})
	}
	v3 := c.Encode()
	f, err := format.DecodeCheckpointFront(v3)
	if err != nil {
		t.Fatal(err)
	}
	v2 := *c
	v2.SegmentShift = 0

	h, err := decodeCheckpointHead(v3, ref)
	if err != nil || h.whole != nil || h.front == nil || len(h.segments) != 10 {
		t.Fatalf("the whole object: %d segments, whole %v, %v; want the front and all 10 segments", len(h.segments), h.whole != nil, err)
	}
	if h, err := decodeCheckpointHead(v2.Encode(), ref); err != nil || h.whole == nil || h.whole.Version() != 2 {
		t.Fatalf("a version-2 object: %+v, %v; want it decoded whole", h, err)
	}

	third := f.Segments[3]
	head := v3[:third.Off+third.Len/2] // segments 0 to 2 whole, 3 cut
	h, err = decodeCheckpointHead(head, ref)
	if err != nil || h.whole != nil || h.front == nil || len(h.segments) != 3 {
		t.Fatalf("the front and three segments and a half: %d segments, whole %v, %v; want the front and 3", len(h.segments), h.whole != nil, err)
	}
	for k, es := range h.segments {
		start, n := f.SegmentBlocks(k)
		if int64(len(es)) != n || es[0].Idx != start || es[0].Ref != c.Blocks[start].Ref {
			t.Fatalf("segment %d: %d entries from %d, want %d from %d", k, len(es), es[0].Idx, n, start)
		}
	}

	bad := append([]byte(nil), head...)
	bad[f.Segments[1].Off] ^= 1
	if _, err := decodeCheckpointHead(bad, ref); !errors.Is(err, format.ErrCorrupt) {
		t.Fatalf("a damaged segment within the head: %v, want ErrCorrupt", err)
	}
	if _, err := decodeCheckpointHead(head, format.CheckpointRef{N: 5, Token: 56}); !errors.Is(err, format.ErrCorrupt) {
		t.Fatalf("another commit's checkpoint: %v, want ErrCorrupt", err)
	}
}
