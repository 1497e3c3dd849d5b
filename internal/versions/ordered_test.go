package versions

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestOrdered(t *testing.T) {
	for _, tt := range []struct{ limit, n int }{{1, 5}, {3, 10}, {8, 3}, {0, 4}, {4, 0}} {
		var inFlight, most atomic.Int64
		fetch := func(ctx context.Context, i int) (int, error) {
			now := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			return i * i, nil
		}
		var got []int
		for v, err := range Ordered(context.Background(), tt.limit, tt.n, fetch) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if len(got) != tt.n {
			t.Errorf("limit %d, n %d: got %d values", tt.limit, tt.n, len(got))
		}
		for i, v := range got {
			if v != i*i {
				t.Errorf("limit %d, n %d: value %d = %d", tt.limit, tt.n, i, v)
			}
		}
		if m := most.Load(); m > int64(max(tt.limit, 1)) {
			t.Errorf("limit %d, n %d: %d fetches at once", tt.limit, tt.n, m)
		}
	}

	// The first error ends the iteration.
	boom := errors.New("boom")
	var seen []int
	for v, err := range Ordered(context.Background(), 4, 10, func(ctx context.Context, i int) (int, error) {
		if i == 3 {
			return 0, boom
		}
		return i, nil
	}) {
		if err != nil {
			if !errors.Is(err, boom) {
				t.Errorf("err = %v", err)
			}
			seen = append(seen, -1)
			continue
		}
		seen = append(seen, v)
	}
	if want := []int{0, 1, 2, -1}; len(seen) != len(want) || seen[3] != -1 {
		t.Errorf("yielded %v; want %v", seen, want)
	}
}
