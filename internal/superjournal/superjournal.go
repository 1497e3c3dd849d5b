// Package superjournal keeps the super-journals of SQLite transactions
// over several databases for the s3vfs VFSs (the library's and the embed
// package's registry), so that they answer SQLite truthfully about them.
package superjournal

import (
	"regexp"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// A transaction that writes several databases of one connection names a
// super-journal, and SQLite rolls a database back from its journal only if
// the super-journal that journal points to exists (VFS.Access). s3vfs
// refuses such transactions (settings.go), and the rollback that follows
// must then restore every database's pages, its own included. So the VFSs
// answer truthfully about super-journals:
//
//   - one named by a database key (the main database is an s3vfs one) is
//     kept in memory, shared by every open of the name in the process,
//     until SQLite deletes it;
//   - one named by an absolute path belongs to a local main database: its
//     opens, checks and deletes go to the operating system's VFS.
//
// Ordinary journals stay in memory and never exist for another connection:
// there is never a hot journal to recover (docs/design.md).

// journals holds the in-memory super-journals by name.
var journals struct {
	mu sync.Mutex
	m  map[string]*vfsutil.SliceFile // guarded by mu
}

// namePattern matches the names SQLite gives super-journals: the main
// database's name, "-mj", six hex digits, "9", two hex digits.
var namePattern = regexp.MustCompile(`-mj[0-9A-F]{6}9[0-9A-F]{2}$`)

// local reports whether name is a super-journal of a local
// main database.
func local(name string) bool {
	return strings.HasPrefix(name, "/") && namePattern.MatchString(name)
}

// Open opens the super-journal name.
func Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if local(name) {
		return vfs.Find("os").Open(name, flags)
	}
	journals.mu.Lock()
	defer journals.mu.Unlock()
	f := journals.m[name]
	if f == nil {
		if journals.m == nil {
			journals.m = map[string]*vfsutil.SliceFile{}
		}
		f = &vfsutil.SliceFile{}
		journals.m[name] = f
	}
	return f, flags | vfs.OPEN_MEMORY, nil
}

// Exists reports whether the super-journal name exists; ok is false if
// name is not a super-journal's.
func Exists(name string, flags vfs.AccessFlag) (exists, ok bool, err error) {
	if local(name) {
		exists, err = vfs.Find("os").Access(name, flags)
		return exists, true, err
	}
	if !namePattern.MatchString(name) {
		return false, false, nil
	}
	journals.mu.Lock()
	defer journals.mu.Unlock()
	_, exists = journals.m[name]
	return exists, true, nil
}

// Delete deletes the super-journal name, if name is one.
func Delete(name string, syncDir bool) error {
	if local(name) {
		return vfs.Find("os").Delete(name, syncDir)
	}
	if namePattern.MatchString(name) {
		journals.mu.Lock()
		defer journals.mu.Unlock()
		delete(journals.m, name)
	}
	return nil
}
