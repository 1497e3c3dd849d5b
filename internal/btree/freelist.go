package btree

import (
	"encoding/binary"
	"fmt"
)

// Freelist returns the pages on the freelist of a database file whose
// page 1 is page1, reading its trunk pages with read (pages of pageSize
// bytes): the trunk pages themselves and the leaves they list. A page it
// cannot read or a list that does not add up is an error; a cycle ends the
// walk with an error, never a loop.
func Freelist(page1 []byte, pageSize int, read func(n uint32) ([]byte, error)) (map[uint32]bool, error) {
	if len(page1) < 100 {
		return nil, fmt.Errorf("btree: page 1 is %d bytes", len(page1))
	}
	trunk := binary.BigEndian.Uint32(page1[32:36])
	count := binary.BigEndian.Uint32(page1[36:40])
	pages := binary.BigEndian.Uint32(page1[28:32])
	free := make(map[uint32]bool, count)
	for trunk != 0 {
		if trunk > pages && pages > 0 || free[trunk] || uint32(len(free)) >= count {
			return nil, fmt.Errorf("btree: freelist trunk page %d: out of the file or the count (%d)", trunk, count)
		}
		free[trunk] = true
		b, err := read(trunk)
		if err != nil {
			return nil, fmt.Errorf("btree: freelist trunk page %d: %w", trunk, err)
		}
		if len(b) != pageSize {
			return nil, fmt.Errorf("btree: freelist trunk page %d is %d bytes", trunk, len(b))
		}
		n := binary.BigEndian.Uint32(b[4:8])
		if uint64(n) > uint64(pageSize-8)/4 {
			return nil, fmt.Errorf("btree: freelist trunk page %d lists %d leaves", trunk, n)
		}
		for i := range n {
			leaf := binary.BigEndian.Uint32(b[8+4*i:])
			if leaf == 0 || leaf > pages && pages > 0 || free[leaf] {
				return nil, fmt.Errorf("btree: freelist leaf %d of trunk %d", leaf, trunk)
			}
			free[leaf] = true
		}
		trunk = binary.BigEndian.Uint32(b[0:4])
	}
	if uint32(len(free)) != count {
		return nil, fmt.Errorf("btree: the freelist holds %d pages, page 1 says %d", len(free), count)
	}
	return free, nil
}
