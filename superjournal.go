package s3vfs

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
// must then restore every database's pages, its own included. So the VFS
// answers truthfully about super-journals:
//
//   - one named by a database key (the main database is an s3vfs one) is
//     kept in memory, shared by every open of the name in the process,
//     until SQLite deletes it;
//   - one named by an absolute path belongs to a local main database: its
//     opens, checks and deletes go to the operating system's VFS.
//
// Ordinary journals stay in memory and never exist for another connection:
// there is never a hot journal to recover (docs/design.md).

// superJournals holds the in-memory super-journals by name.
var superJournals struct {
	mu sync.Mutex
	m  map[string]*vfsutil.SliceFile // guarded by mu
}

// superJournalName matches the names SQLite gives super-journals: the main
// database's name, "-mj", six hex digits, "9", two hex digits.
var superJournalName = regexp.MustCompile(`-mj[0-9A-F]{6}9[0-9A-F]{2}$`)

// localSuperJournal reports whether name is a super-journal of a local
// main database.
func localSuperJournal(name string) bool {
	return strings.HasPrefix(name, "/") && superJournalName.MatchString(name)
}

// openSuperJournal opens the super-journal name.
func openSuperJournal(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if localSuperJournal(name) {
		return vfs.Find("os").Open(name, flags)
	}
	superJournals.mu.Lock()
	defer superJournals.mu.Unlock()
	f := superJournals.m[name]
	if f == nil {
		if superJournals.m == nil {
			superJournals.m = map[string]*vfsutil.SliceFile{}
		}
		f = &vfsutil.SliceFile{}
		superJournals.m[name] = f
	}
	return f, flags | vfs.OPEN_MEMORY, nil
}

// superJournalExists reports whether the super-journal name exists; ok is
// false if name is not a super-journal's.
func superJournalExists(name string, flags vfs.AccessFlag) (exists, ok bool, err error) {
	if localSuperJournal(name) {
		exists, err = vfs.Find("os").Access(name, flags)
		return exists, true, err
	}
	if !superJournalName.MatchString(name) {
		return false, false, nil
	}
	superJournals.mu.Lock()
	defer superJournals.mu.Unlock()
	_, exists = superJournals.m[name]
	return exists, true, nil
}

// deleteSuperJournal deletes the super-journal name, if name is one.
func deleteSuperJournal(name string, syncDir bool) error {
	if localSuperJournal(name) {
		return vfs.Find("os").Delete(name, syncDir)
	}
	if superJournalName.MatchString(name) {
		superJournals.mu.Lock()
		defer superJournals.mu.Unlock()
		delete(superJournals.m, name)
	}
	return nil
}
