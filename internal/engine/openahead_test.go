package engine

import (
	"slices"
	"testing"
)

// A read ahead reads the parts given, in runs of parts that follow one
// another in the object within the run's bytes, and nothing when holding
// them exceeds the budget.
func TestPlanRuns(t *testing.T) {
	const size = 100 // each part's bytes, and twice that held
	at := func(ks ...int) []aheadPart {
		var out []aheadPart
		for _, k := range ks {
			out = append(out, aheadPart{k: k, off: int64(k) * size, len: size, held: 2 * size})
		}
		return out
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, tc := range []struct {
		name          string
		parts         []aheadPart
		budget, bytes int64
		want          [][]int
	}{
		{"all, one run", at(all...), 20 * size, 10 * size, [][]int{all}},
		{"all, runs of three", at(all...), 1 << 20, 3 * size, [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}}},
		{"runs shorter than a part", at(0, 1, 2), 1 << 20, 1, [][]int{{0}, {1}, {2}}},
		{"over the budget", at(all...), 20*size - 1, 1 << 20, nil},
		{"gaps end runs", at(0, 2, 3, 4, 6, 7, 8), 14 * size, 1 << 20, [][]int{{0}, {2, 3, 4}, {6, 7, 8}}},
		{"nothing", nil, 0, 1 << 20, nil},
	} {
		runs, total := planRuns(tc.parts, tc.budget, tc.bytes)
		var got [][]int
		for _, r := range runs {
			var ks []int
			for _, p := range r {
				ks = append(ks, p.k)
			}
			got = append(got, ks)
		}
		want := int64(0)
		for _, r := range tc.want {
			want += int64(len(r)) * 2 * size
		}
		if !slices.EqualFunc(got, tc.want, slices.Equal) || total != want {
			t.Errorf("%s: %v holding %d bytes, want %v holding %d", tc.name, got, total, tc.want, want)
		}
	}
	r := at(3, 4, 5)
	if off, n := runBytes(r); off != 3*size || n != 3*size {
		t.Errorf("runBytes of parts 3 to 5: %d and %d, want %d and %d", off, n, 3*size, 3*size)
	}
}
