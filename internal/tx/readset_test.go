package tx

import (
	"math/rand/v2"
	"testing"
)

// ByteSet against a []bool model: random ranges added, then every range
// of a few bytes asked for overlap; the set stays sorted, disjoint and
// never adjacent.
func TestByteSetModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		const size = 200
		model := make([]bool, size)
		var s ByteSet
		for range 30 {
			start := rng.Int64N(size)
			end := min(size, start+rng.Int64N(20))
			s = s.Add(start, end)
			for i := start; i < end; i++ {
				model[i] = true
			}
			for i := 1; i < len(s); i++ {
				if s[i-1].End >= s[i].Start || s[i].Start >= s[i].End {
					t.Fatalf("seed %d: not sorted, disjoint and apart: %v", seed, s)
				}
			}
		}
		for start := range int64(size) {
			for end := start + 1; end <= min(size, start+5); end++ {
				want := false
				for i := start; i < end; i++ {
					want = want || model[i]
				}
				if got := s.Overlaps(start, end); got != want {
					t.Fatalf("seed %d: overlaps(%d, %d) = %v, want %v (set %v)", seed, start, end, got, want, s)
				}
			}
		}
		if s.Overlaps(5, 5) {
			t.Fatal("an empty range overlaps")
		}
	}
}
