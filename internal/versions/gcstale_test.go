package versions

import (
	"context"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// A summary item can be stale in one way only: it describes a record as
// it was before Remove overwrote it with a removed record, the listing
// showing the same size and time (with DynamoDB, which keeps the time).
// The collection must then mark at least what fresh reads would: taking
// a removed record for the commit it was can only keep more. Checked on
// random histories: every removed record in turn is replaced by a stale
// commit with an arbitrary delta, and the objects marked live must
// include those marked from the fresh records. It fails if the versions
// were cut at the first removed record instead of the last.
func TestGCStaleSummaryKeepsMore(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for range 200 {
		recs, base := randomHistory(rng)
		fresh := liveOf(t, recs, base)
		for i := range recs {
			if recs[i].By != format.Removed {
				continue
			}
			stale := append([]format.SummaryRecord(nil), recs...)
			stale[i] = randomCommit(rng, recs[i].N, base.Ref)
			got := liveOf(t, stale, base)
			for b := range fresh.blocks {
				if !got.blocks[b] {
					t.Fatalf("seed %d: with record %d stale, block %v is not kept; fresh reads keep it", seed, recs[i].N, b)
				}
			}
			for n := range fresh.records {
				if !got.records[n] {
					t.Fatalf("seed %d: with record %d stale, overlay record %d is not kept; fresh reads keep it", seed, recs[i].N, n)
				}
			}
		}
	}
}

// marked is what a collection marked live.
type marked struct {
	blocks  map[blockID]bool
	records map[uint64]bool
}

// liveOf marks live what the versions recs use over base, which the
// summary describes as listed (so nothing is read).
func liveOf(t *testing.T, recs []format.SummaryRecord, base format.SummaryBase) marked {
	t.Helper()
	c := markFromSummary(t, recs, []format.SummaryBase{base}, 0, 0)
	return marked{maps.Clone(c.liveBlocks), maps.Clone(c.liveRecords)}
}

// markFromSummary runs the marking of a collection whose retained
// records are recs over checkpoints bases, all of which the summary it
// starts from describes as listed, reading window records and
// concurrency checkpoints at a time (0: the defaults); it checks that
// the summary the collection would leave describes every record.
func markFromSummary(t *testing.T, recs []format.SummaryRecord, bases []format.SummaryBase, window, concurrency int) *collector {
	t.Helper()
	recs = slices.Clone(recs)
	retained := make([]listed, len(recs))
	for i := range recs {
		recs[i].Size, recs[i].Created = 100+int64(i), time.Unix(2000+int64(recs[i].N), 0)
		retained[i] = listed{Object: store.Object{Size: recs[i].Size, LastModified: recs[i].Created}, kind: kindRecord, commit: recs[i].N}
	}
	head := recs[len(recs)-1].N
	r, err := format.OpenSummary((&format.Summary{Key: "k", Head: head, Bases: bases, Records: recs}).Encode())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{key: "k", v: &Ops{Env: &engine.Env{}}, window: window}
	c.v.Env.Cfg.Concurrency = concurrency
	c.report.Oldest = recs[0].N // every record is within the retention
	c.useSummary(listed{Object: store.Object{Key: "k/_checkpoints/gc.summary"}}, r)
	c.summary.ckpts = map[format.CheckpointRef]listed{}
	for _, b := range bases {
		c.summary.ckpts[b.Ref] = listed{Object: store.Object{Size: b.Size, LastModified: b.Created}}
	}
	c.summary.next = format.NewSummaryWriter("k", head)
	if err := c.markLive(context.Background(), retained); err != nil {
		t.Fatal(err)
	}
	if c.report.Read != 0 {
		t.Fatalf("the collection read %d objects the summary describes", c.report.Read)
	}
	next, err := format.DecodeSummary(c.summary.next.Bytes())
	if err != nil {
		t.Fatalf("the next summary: %v", err)
	}
	if len(next.Records) != len(recs) {
		t.Fatalf("the next summary describes %d records of %d", len(next.Records), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(next.Records[i].Delta, recs[i].Delta) || next.Records[i].N != recs[i].N {
			t.Fatalf("the next summary says of record %d: %+v, want %+v", recs[i].N, next.Records[i], recs[i])
		}
	}
	// It describes the checkpoints the versions build on, each as it is.
	var used []format.SummaryBase
	for _, b := range bases {
		if c.liveCkpts[b.Ref] {
			used = append(used, b)
		}
	}
	if len(next.Bases) != len(used) {
		t.Fatalf("the next summary describes %d checkpoints, want the %d the versions build on", len(next.Bases), len(used))
	}
	for i, b := range used {
		got := next.Bases[i]
		if got.Ref != b.Ref || got.Size != b.Size || !got.Created.Equal(b.Created) || !reflect.DeepEqual(got.Blocks, b.Blocks) {
			t.Fatalf("the next summary says of checkpoint %+v: %+v, want %+v", b.Ref, got, b)
		}
	}
	return c
}

// randomHistory returns 2 to 12 retained records over one base
// checkpoint of 8 blocks, some removed.
func randomHistory(rng *rand.Rand) ([]format.SummaryRecord, format.SummaryBase) {
	base := format.SummaryBase{Ref: format.CheckpointRef{N: 1, Token: 11}, Size: 100, Created: time.Unix(1000, 0)}
	for idx := range int64(8) {
		base.Blocks = append(base.Blocks, format.SummaryEntry{Idx: idx, Commit: 1, Token: 11})
	}
	var recs []format.SummaryRecord
	for n := uint64(2); n < uint64(4+rng.IntN(11)); n++ {
		if rng.IntN(4) == 0 {
			recs = append(recs, format.SummaryRecord{N: n, By: format.Removed, BlockSize: 4096})
			continue
		}
		recs = append(recs, randomCommit(rng, n, base.Ref))
	}
	return recs, base
}

// randomCommit returns record n, a commit over base of 1 to 8 blocks
// whose delta rewrites some of them, some with overlays.
func randomCommit(rng *rand.Rand, n uint64, base format.CheckpointRef) format.SummaryRecord {
	r := format.SummaryRecord{N: n, BlockSize: 4096, FileSize: 4096 * int64(1+rng.IntN(8)), Base: base}
	for idx := range format.NBlocks(r.FileSize, r.BlockSize) {
		if rng.IntN(3) == 0 {
			e := format.SummaryEntry{Idx: idx, Commit: n, Token: 100 + n}
			if rng.IntN(2) == 0 {
				e.Overlay = []uint64{n}
			}
			r.Delta = append(r.Delta, e)
		}
	}
	return r
}
