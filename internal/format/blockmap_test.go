package format

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// BlockMap against a plain slice: random resizes and changes, every
// version kept and checked again at the end (With never changes a map it
// was given).
func TestBlockMapModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type version struct {
		m     BlockMap
		model []BlockRef
	}
	var versions []version
	var m BlockMap
	var model []BlockRef
	for step := range 300 {
		n := int64(rng.IntN(3 * chunkLen))
		if step%10 == 0 {
			n = int64(rng.IntN(4)) // small maps, and the empty one
		}
		changes := map[int64]BlockRef{}
		for range rng.IntN(20) {
			i := rng.Int64N(n+2) - 1 // a few out of range
			changes[i] = BlockRef{Commit: uint64(step + 1), Token: rng.Uint64(), CRC: rng.Uint32()}
		}
		m = m.With(n, changes)
		next := make([]BlockRef, n)
		copy(next, model)
		for i, ref := range changes {
			if i >= 0 && i < n {
				next[i] = ref
			}
		}
		model = next
		versions = append(versions, version{m, model})
	}
	for k, v := range versions {
		if v.m.Len() != int64(len(v.model)) {
			t.Fatalf("version %d: Len %d, want %d", k, v.m.Len(), len(v.model))
		}
		var got []BlockRef
		for i, ref := range v.m.All() {
			if i != int64(len(got)) || v.m.Get(i) != ref {
				t.Fatalf("version %d: All and Get disagree at %d", k, i)
			}
			got = append(got, ref)
		}
		if !slices.Equal(got, v.model) && (len(got) != 0 || len(v.model) != 0) {
			t.Fatalf("version %d: the map differs from the model", k)
		}
		if !v.m.Get(-1).IsHole() || !v.m.Get(v.m.Len()).IsHole() {
			t.Fatalf("version %d: a block out of range is not a hole", k)
		}
	}
}

// A map holds the references of its blocks, not a whole chunk: a database
// of a few blocks keeps a few references in memory.
func TestBlockMapSmall(t *testing.T) {
	m := BlockMap{}.With(2, map[int64]BlockRef{1: {Commit: 1}})
	held := 0
	for _, c := range m.chunks {
		held += cap(c)
	}
	if held != 2 {
		t.Fatalf("a map of 2 blocks holds %d references, want 2", held)
	}
	big := BlockMap{}.With(2*chunkLen+1, nil)
	grown := big.With(2*chunkLen+1, map[int64]BlockRef{5: {Commit: 2}})
	if &grown.chunks[1][0] != &big.chunks[1][0] || &grown.chunks[0][0] == &big.chunks[0][0] {
		t.Fatal("With copies the chunk it changes and shares the others")
	}
}
