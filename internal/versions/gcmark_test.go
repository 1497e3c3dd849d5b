package versions

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The collection marks live exactly what the retained versions read,
// holding a window of records and checkpoints at a time: checked on
// random histories over several base checkpoints (records built on them
// in any order, some on none, some removed, the first sometimes a
// branch's reservation), with windows of every small size, against the
// plain reading of every version block by block. A block is read from
// the version's delta when the delta has it, else from its base; past
// the last removal only.
func TestGCMarkMatchesEveryVersion(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	for round := range 500 {
		recs, bases := randomBasesHistory(rng)
		want := readEveryVersion(recs, bases)
		window, concurrency := 1+rng.IntN(5), 1+rng.IntN(3)
		c := markFromSummary(t, recs, bases, window, concurrency)
		switch {
		case !maps.Equal(c.liveBlocks, want.blocks):
			t.Fatalf("seed %d round %d (window %d): blocks marked %v, want %v", seed, round, window, c.liveBlocks, want.blocks)
		case !maps.Equal(c.liveRecords, want.records):
			t.Fatalf("seed %d round %d (window %d): overlay records marked %v, want %v", seed, round, window, c.liveRecords, want.records)
		case !maps.Equal(c.liveCkpts, want.ckpts):
			t.Fatalf("seed %d round %d (window %d): checkpoints marked %v, want %v", seed, round, window, c.liveCkpts, want.ckpts)
		case c.report.Oldest != want.oldest || c.report.HeadSize != want.headSize:
			t.Fatalf("seed %d round %d (window %d): oldest version %d, head size %d; want %d, %d", seed, round, window, c.report.Oldest, c.report.HeadSize, want.oldest, want.headSize)
		}
	}
}

// markedAll is what reading every version marks, and the oldest
// version and the size of the head it finds.
type markedAll struct {
	blocks   map[blockID]bool
	records  map[uint64]bool
	ckpts    map[format.CheckpointRef]bool
	oldest   uint64
	headSize int64
}

// readEveryVersion marks what reading each block of each version of
// recs over bases reads, the plain way.
func readEveryVersion(recs []format.SummaryRecord, bases []format.SummaryBase) markedAll {
	m := markedAll{blocks: map[blockID]bool{}, records: map[uint64]bool{}, ckpts: map[format.CheckpointRef]bool{}, oldest: recs[0].N}
	if len(recs) > 1 && recs[0].By == format.Reserved {
		m.oldest = recs[1].N // a branch's reservation is no version
	}
	first := 0
	for i, r := range recs {
		if r.By == format.Removed {
			first = i + 1
		}
	}
	if first < len(recs) {
		m.headSize = recs[len(recs)-1].FileSize
	}
	mark := func(e format.SummaryEntry) {
		if e.Commit != 0 {
			m.blocks[blockID{e.Idx, e.Commit, e.Token}] = true
		}
		for _, n := range e.Overlay {
			m.records[n] = true
		}
	}
	for _, r := range recs[first:] {
		var base []format.SummaryEntry
		for _, b := range bases {
			if b.Ref == r.Base {
				base = b.Blocks
				m.ckpts[b.Ref] = true
			}
		}
		delta := map[int64]format.SummaryEntry{}
		for _, e := range r.Delta {
			delta[e.Idx] = e
		}
		for idx := range format.NBlocks(r.FileSize, r.BlockSize) {
			if e, ok := delta[idx]; ok {
				mark(e)
			} else if idx < int64(len(base)) {
				mark(base[idx])
			}
		}
	}
	return m
}

// randomBasesHistory returns 1 to 14 retained records over up to three
// base checkpoints of up to 10 blocks each (some holes, some overlaid;
// some of the same commit, told apart by their tokens).
func randomBasesHistory(rng *rand.Rand) ([]format.SummaryRecord, []format.SummaryBase) {
	var bases []format.SummaryBase
	for k := range uint64(1 + rng.IntN(3)) {
		n := 1 + rng.Uint64N(3)
		b := format.SummaryBase{Ref: format.CheckpointRef{N: n, Token: 50 - k}, Size: 10 + int64(k), Created: time.Unix(500+int64(k), 0)}
		for idx := range int64(rng.IntN(11)) {
			e := format.SummaryEntry{Idx: idx}
			if rng.IntN(5) > 0 {
				e.Commit, e.Token = 1+rng.Uint64N(n), 7
			}
			if rng.IntN(4) == 0 {
				e.Overlay = []uint64{n}
			}
			b.Blocks = append(b.Blocks, e)
		}
		bases = append(bases, b)
	}
	slices.SortFunc(bases, func(a, b format.SummaryBase) int { return compareRefs(a.Ref, b.Ref) })
	var recs []format.SummaryRecord
	for n := range uint64(1 + rng.IntN(14)) {
		recs = append(recs, randomRecord(rng, 4+n, bases))
	}
	return recs, bases
}

// randomRecord returns record n over one of bases or none: the first
// sometimes a branch's reservation, some removed, the others commits of
// up to 11 blocks whose deltas set some of them (some holes, some
// overlaid).
func randomRecord(rng *rand.Rand, n uint64, bases []format.SummaryBase) format.SummaryRecord {
	switch {
	case n == 4 && rng.IntN(4) == 0:
		return format.SummaryRecord{N: n, By: format.Reserved, BlockSize: 4096}
	case rng.IntN(6) == 0:
		return format.SummaryRecord{N: n, By: format.Removed, BlockSize: 4096}
	}
	base := format.CheckpointRef{}
	if k := rng.IntN(len(bases) + 1); k < len(bases) {
		base = bases[k].Ref
	}
	r := format.SummaryRecord{N: n, BlockSize: 4096, FileSize: 4096 * int64(rng.IntN(12)), Base: base}
	for idx := range format.NBlocks(r.FileSize, r.BlockSize) {
		if rng.IntN(3) == 0 {
			e := format.SummaryEntry{Idx: idx, Commit: n, Token: 100 + n}
			if rng.IntN(4) == 0 {
				e.Commit, e.Token = 0, 0 // a hole
			}
			if rng.IntN(2) == 0 {
				e.Overlay = []uint64{n}
			}
			r.Delta = append(r.Delta, e)
		}
	}
	return r
}
