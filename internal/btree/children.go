package btree

// Children returns the child page numbers of b, an interior b-tree page
// other than page 1 whose usable bytes (the page size less the reserved
// bytes) are usable: the left child of each cell, then the right-most
// pointer. It returns nil for a page of another type, or one whose cells
// lie out of place.
func Children(b []byte, usable int) []uint32 {
	if len(b) < interiorHeaderSize || usable > len(b) || (b[0] != interiorIndex && b[0] != interiorTable) {
		return nil
	}
	w := &walker{usable: usable}
	kids, err := w.children(b, 0, 0, "")
	if err != nil {
		return nil
	}
	return kids
}
