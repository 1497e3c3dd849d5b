package btree

import "slices"

// TopDown returns the page numbers of a set of interior pages (pages, by
// page number; usable as for Children) in breadth-first order from the
// tops of their trees: first the pages that no page of the set points to
// (the roots, and pages whose parent is not in the set), then the pages
// they point to, level by level, each level in page order. Pages that no
// top reaches (a cycle of corrupt pointers) come last, in page order.
func TopDown(pages map[uint32][]byte, usable int) []uint32 {
	kids := map[uint32][]uint32{}
	pointedTo := map[uint32]bool{}
	for n, b := range pages {
		for _, c := range Children(b, usable) {
			if _, ok := pages[c]; ok && c != n {
				kids[n] = append(kids[n], c)
				pointedTo[c] = true
			}
		}
	}
	seen := map[uint32]bool{}
	var level []uint32
	for n := range pages {
		if !pointedTo[n] {
			level = append(level, n)
			seen[n] = true
		}
	}
	out := make([]uint32, 0, len(pages))
	for len(level) > 0 {
		slices.Sort(level)
		out = append(out, level...)
		var next []uint32
		for _, n := range level {
			for _, c := range kids[n] {
				if !seen[c] {
					seen[c] = true
					next = append(next, c)
				}
			}
		}
		level = next
	}
	var rest []uint32
	for n := range pages {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
