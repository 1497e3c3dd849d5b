package format

// LegacyLayout is what a listing found of a Python-layout database.
type LegacyLayout struct {
	Sizes []int64  // object size of each block
	ETags []string // ETag of each block object as listed
}

// LegacyBlockName is the object name of block idx in the Python layout.
func LegacyBlockName(key string, idx int64) string {
	return key + "/" + Pad(uint64(idx), 10)
}
