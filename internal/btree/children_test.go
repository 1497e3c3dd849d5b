package btree

import (
	"encoding/binary"
	"slices"
	"testing"
)

// Children reads the child pointers of an interior page, and nothing of
// a page of another type or with a cell out of place.
func TestChildren(t *testing.T) {
	page := make([]byte, 512)
	page[0] = interiorTable
	binary.BigEndian.PutUint16(page[3:], 2)    // two cells
	binary.BigEndian.PutUint32(page[8:], 99)   // the right-most pointer
	binary.BigEndian.PutUint16(page[12:], 400) // cell 0
	binary.BigEndian.PutUint16(page[14:], 450) // cell 1
	binary.BigEndian.PutUint32(page[400:], 7)
	binary.BigEndian.PutUint32(page[450:], 8)
	if got := Children(page, 512); !slices.Equal(got, []uint32{7, 8, 99}) {
		t.Errorf("children %v, want [7 8 99]", got)
	}
	leaf := slices.Clone(page)
	leaf[0] = leafTable
	if got := Children(leaf, 512); got != nil {
		t.Errorf("children of a leaf: %v", got)
	}
	bad := slices.Clone(page)
	binary.BigEndian.PutUint16(bad[14:], 510) // a cell past the usable bytes
	if got := Children(bad, 512); got != nil {
		t.Errorf("children of a page with a cell out of place: %v", got)
	}
}

// interior returns an interior table page of 512 bytes pointing to kids.
func interior(kids ...uint32) []byte {
	page := make([]byte, 512)
	page[0] = interiorTable
	cells := kids[:len(kids)-1]
	binary.BigEndian.PutUint16(page[3:], uint16(len(cells)))
	binary.BigEndian.PutUint32(page[8:], kids[len(kids)-1])
	for i, c := range cells {
		off := 200 + 8*i
		binary.BigEndian.PutUint16(page[12+2*i:], uint16(off))
		binary.BigEndian.PutUint32(page[off:], c)
	}
	return page
}

// TopDown orders a set of interior pages level by level from the tops:
// two trees, one whose root is outside the set, and a cycle of corrupt
// pointers last.
func TestTopDown(t *testing.T) {
	pages := map[uint32][]byte{
		2: interior(9, 4), // a root; 100, 101 are leaves (not in the set)
		9: interior(100, 101), 4: interior(102, 103),
		30: interior(31, 32), // its parent lies outside the set
		31: interior(104), 32: interior(105),
		50: interior(51), 51: interior(50), // a cycle
	}
	want := []uint32{2, 30, 4, 9, 31, 32, 50, 51}
	if got := TopDown(pages, 512); !slices.Equal(got, want) {
		t.Errorf("TopDown = %v, want %v", got, want)
	}
}
