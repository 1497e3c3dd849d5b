package format

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The folders a database keeps under its key prefix K + "/".
// A database key may not contain these names as a path segment, so the
// objects of two databases can never share a name (see docs/format.md).
const (
	BlocksDir      = "_blocks"
	CommitsDir     = "_commits"
	CheckpointsDir = "_checkpoints"
	StoreCheckDir  = "_storecheck" // the self-test of the store (package s3vfs, storecheck.go), cleaned up
)

// ReservedRoot is a first key segment no database may use: the VFS keeps
// objects of its own under it (the self-test of the store).
const ReservedRoot = "_s3vfs"

// maxKeyLen leaves room under S3's 1024-byte key limit for the longest
// object name this package appends to a database key.
const maxKeyLen = 900

// RecordBase is the number from which commit numbers are subtracted to form
// record names, so that the newest record sorts first in a listing.
const RecordBase = 9_999_999_999_999_999_999

// ErrInvalidKey reports a database key that cannot be used as an S3 prefix.
var ErrInvalidKey = errors.New("s3vfs: invalid database key")

// ValidateKey checks that key can name a database: a relative, clean,
// UTF-8 path that leaves room for object names and avoids reserved segments.
func ValidateKey(key string) error {
	bad := func(why, fix string) error {
		return fmt.Errorf("%w %q: %s; %s", ErrInvalidKey, truncate(key, 80), why, fix)
	}
	switch {
	case key == "":
		return bad("it is empty", "name the database, e.g. file:my/db.sqlite?vfs=s3")
	case !utf8.ValidString(key):
		return bad("it is not valid UTF-8", "S3 keys must be UTF-8")
	case len(key) > maxKeyLen:
		return bad(fmt.Sprintf("it is %d bytes long", len(key)), fmt.Sprintf("use at most %d bytes", maxKeyLen))
	case strings.HasPrefix(key, "/"):
		// SQLite opens the target of VACUUM INTO and ATTACH with the main
		// database's VFS unless its URI names another: a local path lands
		// here. "os" is ncruces' local VFS (vfs.Find), on every platform.
		return bad("it starts with '/'", "use a relative key such as file:my/db.sqlite (not file:/my/db.sqlite); "+
			"to write a local file (VACUUM INTO, ATTACH), name the local VFS in a URI: VACUUM INTO 'file:/tmp/x.db?vfs=os'")
	case strings.HasSuffix(key, "/"):
		return bad("it ends with '/'", "name a database, not a folder")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return bad("it contains a control character", "use printable characters only")
		}
	}
	if first, _, _ := strings.Cut(key, "/"); first == ReservedRoot {
		return bad("its first segment "+ReservedRoot+" is reserved", "choose another name for that folder")
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return bad("it has an empty path segment ('//')", "remove the repeated '/'")
		case ".", "..":
			return bad("it has a '.' or '..' segment", "use a clean path")
		case BlocksDir, CommitsDir, CheckpointsDir, StoreCheckDir, BranchesDir:
			return bad("it uses the reserved segment "+seg, "choose another name for that folder")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// BlockName is the object name of block index idx as written by the commit
// attempt ref names (ref.commit, ref.token). Names sort by block index first.
func BlockName(key string, idx int64, ref BlockRef) string {
	return key + "/" + BlocksDir + "/" + Pad(uint64(idx), 12) + "." + Pad(ref.Commit, 19) + "." + TokenString(ref.Token)
}

// RecordName is the object name of commit record n.
func RecordName(key string, n uint64) string {
	return RecordPrefix(key) + Pad(RecordBase-n, 19)
}

// RecordPrefix is the prefix of the names of the commit records of the
// database at key.
func RecordPrefix(key string) string { return key + "/" + CommitsDir + "/" }

// ParseRecordName returns the commit number of a record object name.
func ParseRecordName(key, name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, RecordPrefix(key))
	if !ok || len(s) != 19 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v >= RecordBase {
		return 0, false
	}
	return RecordBase - v, true
}

// CheckpointName is the object name of the checkpoint written by the commit
// attempt (n, token).
func CheckpointName(key string, n, token uint64) string {
	return key + "/" + CheckpointsDir + "/" + Pad(n, 19) + "." + TokenString(token)
}

// TokenString returns an attempt token as it appears in object names:
// 16 lowercase hexadecimal digits.
func TokenString(t uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[t&15]
		t >>= 4
	}
	return string(b[:])
}

// Pad returns v in decimal, padded with zeros on the left to width digits,
// as numbers appear in object names.
func Pad(v uint64, width int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// BranchesDir is the folder of a database's branch registrations
// ([BranchName]).
const BranchesDir = "_branches"

// BranchName is the object that registers dst as a branch of the
// database at src made at commit n: garbage collection of src keeps
// version n while it exists.
func BranchName(src string, n uint64, dst string) string {
	return BranchPrefix(src) + Pad(n, 19) + "/" + dst
}

// BranchPrefix is the prefix of the branch registrations of the database
// at key.
func BranchPrefix(key string) string { return key + "/" + BranchesDir + "/" }

// ParseBranchName returns the commit and the branch a registration of
// the database at key names.
func ParseBranchName(key, name string) (n uint64, dst string, ok bool) {
	s, ok := strings.CutPrefix(name, BranchPrefix(key))
	if !ok || len(s) < 21 || s[19] != '/' {
		return 0, "", false
	}
	n, err := strconv.ParseUint(s[:19], 10, 64)
	if err != nil || n == 0 || ValidateKey(s[20:]) != nil {
		return 0, "", false
	}
	return n, s[20:], true
}

// OverlayRecordID names record n, created by the attempt with token, in
// the block cache.
func OverlayRecordID(key string, n, token uint64) string {
	return RecordName(key, n) + "#" + TokenString(token)
}

// OverlaidID names the bytes of block idx read through entry e of the
// database at key with lineage lin in the block cache: its base object,
// the last overlay record and the CRC32C of the merge, which together fix
// them.
func OverlaidID(key string, lin Lineage, e Entry) string {
	id := key + "/" + BlocksDir + "/" + Pad(uint64(e.Idx), 12) + "+"
	if !e.Ref.IsHole() {
		id = BlockName(lin.KeyOf(key, e.Ref.Commit), e.Idx, e.Ref) + "+"
	}
	if n := len(e.Ov.Recs); n > 0 {
		id += strconv.FormatUint(e.Ov.Recs[n-1].N, 10) + "." + TokenString(e.Ov.Recs[n-1].Token)
	}
	return id + "." + strconv.FormatUint(uint64(e.Ov.CRC), 16) + "." + strconv.FormatInt(e.Ov.BaseLen, 10)
}
