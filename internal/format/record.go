package format

// The questions about a record whose answer depends on its format
// version, answered by the record, so that callers need not ask which
// version it is.

// PageLevel reports whether the record is of format version 2 (page
// level): it lists the pages it changed, may carry pages that later
// versions overlay, and readers must ask whether its version is still
// readable (docs/format.md, "Format version 2").
func (rec *Record) PageLevel() bool { return !rec.BlockLevel }

// ChangedPages returns the pages the commit changed, of unit bytes each,
// and false for a version-1 record, which does not say.
func (rec *Record) ChangedPages() (pages PageList, unit int64, ok bool) {
	if rec.BlockLevel {
		return nil, 0, false
	}
	return rec.Changed, rec.Unit, true
}

// BaseDelta returns the entries of the record's delta as base objects:
// for a version-2 record, the object of each entry without its overlay
// (which is read with the block).
func (rec *Record) BaseDelta() []Entry {
	if rec.BlockLevel {
		return rec.Delta
	}
	out := make([]Entry, 0, len(rec.Delta))
	for _, e := range rec.Delta {
		out = append(out, Entry{Idx: e.Idx, Ref: e.Ref})
	}
	return out
}
