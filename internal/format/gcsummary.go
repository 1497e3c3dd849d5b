package format

import (
	"strconv"
	"strings"
	"time"
)

// A collection summary (docs/format.md, "Collection summaries") is what a
// garbage collection learnt from the commit records and checkpoints it
// read, left for the next collection of the database, which then reads
// only the records and checkpoints the summary does not describe. It is
// an accelerator: each record and checkpoint in it carries its size and
// creation time as listed, and a collection uses what the summary says of
// one only while its listing says the same.

// summaryMagic begins a summary of version 1.
const summaryMagic = "s3vfsG1\n"

// summaryPrefix begins the name of a summary within the checkpoints
// folder: no checkpoint, inner pages or claim name starts with it.
const summaryPrefix = "gc."

// SummaryName is the object name of the summary a collection of the
// database at key wrote with head as the newest commit it listed, under
// a token of its own: two collections never write the same name.
func SummaryName(key string, head, token uint64) string {
	return key + "/" + CheckpointsDir + "/" + summaryPrefix + Pad(head, 19) + "." + TokenString(token)
}

// ParseSummaryName returns the head and token of a summary object name
// of the database at key.
func ParseSummaryName(key, name string) (head, token uint64, ok bool) {
	s, found := strings.CutPrefix(name, key+"/"+CheckpointsDir+"/"+summaryPrefix)
	if !found || len(s) != 19+1+16 || s[19] != '.' {
		return 0, 0, false
	}
	h, err1 := strconv.ParseUint(s[:19], 10, 64)
	t, err2 := strconv.ParseUint(s[20:], 16, 64)
	if err1 != nil || err2 != nil || h == 0 || TokenString(t) != s[20:] {
		return 0, 0, false
	}
	return h, t, true
}

// Summary is a collection summary.
type Summary struct {
	Key     string          // the database it describes
	Head    uint64          // the newest commit the collection that wrote it listed
	Bases   []SummaryBase   // checkpoints, ascending by N then Token
	Records []SummaryRecord // records, ascending by N, none above Head
}

// SummaryBase is a checkpoint as garbage collection reads it: the objects
// and overlay records of its map.
type SummaryBase struct {
	Ref     CheckpointRef  // the checkpoint
	Size    int64          // its length in bytes, as listed
	Created time.Time      // its creation time, as listed
	Blocks  []SummaryEntry // one per block, in order
}

// SummaryRecord is a commit record as garbage collection reads it: the
// fields that decide which objects its version uses.
type SummaryRecord struct {
	N         uint64         // the commit number
	Size      int64          // the record's length in bytes, as listed
	Created   time.Time      // its creation time, as listed
	By        MadeBy         // how the commit was made
	BlockSize int64          // the database's block size
	FileSize  int64          // the database's size at commit N
	Base      CheckpointRef  // its base checkpoint
	Lineage   Lineage        // where the objects of older commits live
	Delta     []SummaryEntry // its delta, sorted by Idx, all < NBlocks
}

// SummaryEntry is an entry of a block map as garbage collection reads it:
// the block's object and the records whose pages overlay it.
type SummaryEntry struct {
	Idx     int64    // the block's index
	Commit  uint64   // the commit number in the object's name; 0 for no object
	Token   uint64   // the attempt token in the object's name; 0 for no object
	Overlay []uint64 // the overlay records, ascending; nil for none
}

// SummaryEntries returns es as garbage collection reads them.
func SummaryEntries(es []Entry) []SummaryEntry {
	if len(es) == 0 {
		return nil
	}
	out := make([]SummaryEntry, len(es))
	for i, e := range es {
		out[i] = SummaryEntry{Idx: e.Idx, Commit: e.Ref.Commit, Token: e.Ref.Token}
		if e.Ov != nil && len(e.Ov.Recs) > 0 {
			out[i].Overlay = make([]uint64, len(e.Ov.Recs))
			for j, r := range e.Ov.Recs {
				out[i].Overlay[j] = r.N
			}
		}
	}
	return out
}

// SummarizeRecord returns rec as garbage collection reads it, its size
// and creation time as listed.
func SummarizeRecord(rec *Record, size int64, created time.Time) SummaryRecord {
	return SummaryRecord{
		N: rec.N, Size: size, Created: created, By: rec.Made.By,
		BlockSize: rec.BlockSize, FileSize: rec.FileSize, Base: rec.Base,
		Lineage: rec.Lineage, Delta: SummaryEntries(rec.Delta),
	}
}
