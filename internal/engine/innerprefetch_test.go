package engine

import (
	"slices"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// A prefetch reads the bundles not at hand, in runs of consecutive
// bundles within the run's bytes, and nothing when they exceed the
// budget.
func TestPlanBundlePrefetch(t *testing.T) {
	const unit = 1024
	f := &format.InnerFront{}
	f.Unit = unit
	for k := range int64(10) {
		f.Bundles = append(f.Bundles, format.InnerBundle{Pages: format.PageList{}.AddRun(100+10*k, 4)})
	}
	bundle := f.Bundles[0].Len(unit) // 4 pages and a checksum
	none := func(int) bool { return false }
	for _, tc := range []struct {
		name          string
		have          func(int) bool
		budget, bytes int64
		want          []bundleRun
	}{
		{"all, one run", none, 10 * bundle, 10 * bundle, []bundleRun{{0, 10}}},
		{"all, runs of three", none, 1 << 20, 3 * bundle, []bundleRun{{0, 3}, {3, 6}, {6, 9}, {9, 10}}},
		{"runs shorter than a bundle", none, 1 << 20, 1, []bundleRun{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 10}}},
		{"over the budget", none, 10*bundle - 1, 1 << 20, nil},
		{"held ones skipped", func(k int) bool { return k%4 == 1 }, 7 * bundle, 1 << 20, []bundleRun{{0, 1}, {2, 5}, {6, 9}}},
		{"all held", func(int) bool { return true }, 0, 1 << 20, nil},
	} {
		if got := planBundlePrefetch(f, tc.have, tc.budget, tc.bytes); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
