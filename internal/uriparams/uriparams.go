// Package uriparams knows the URI parameters a database opened through
// s3vfs may carry: those SQLite and its wrappers interpret, and those of
// s3vfs and its embed package. Both refuse any other, so that a typo
// (&bucekt=) is named as such rather than taken for a missing parameter.
package uriparams

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
)

// sqlite are URI parameters that SQLite or the driver interpret.
var sqlite = map[string]bool{
	"vfs": true, "mode": true, "cache": true, "psow": true, "nolock": true,
	"immutable": true, "modeof": true,
	// The keys of ncruces' encrypting wrappers (vfs/adiantum, vfs/xts),
	// which read them from the same URI.
	"key": true, "hexkey": true, "textkey": true,
}

// ours are the URI parameters s3vfs and its embed package interpret.
var ours = map[string]bool{
	"staleness": true, "block_cache": true, "cache_dir": true,
	"bucket": true, // read by the embed package's VFS, which picks the bucket per database
	"commit": true, "asof": true, "retention": true,
	"coordinator": true, "table": true,
}

// Known reports whether name is a URI parameter a database may carry:
// one of SQLite's, one of s3vfs's, or one starting with "_" (the
// driver's, such as _pragma and _txlock).
func Known(name string) bool {
	return len(name) > 0 && name[0] == '_' || sqlite[name] || ours[name]
}

// Check returns an error naming the first parameter of params, in sorted
// order, that is not Known, and nil when there is none.
func Check(params url.Values) error {
	for _, n := range slices.Sorted(maps.Keys(params)) {
		if !Known(n) {
			return fmt.Errorf("s3vfs: unknown URI parameter %q: see the URI parameter reference (docs/reference.md) for the supported ones", n)
		}
	}
	return nil
}

// Names returns, sorted, the parameters Known accepts by name (those
// starting with "_" aside): what docs/reference.md must document.
func Names() []string {
	var names []string
	for _, m := range []map[string]bool{sqlite, ours} {
		for n := range m {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
