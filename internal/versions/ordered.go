package versions

import (
	"context"
	"iter"
	"sync"
)

// Ordered yields fetch(0), fetch(1), ... fetch(n-1) in order, running up to
// limit of them ahead in parallel (at least one). It stops at the first
// error, which it yields. Every goroutine it starts has ended when it
// returns.
func Ordered[T any](ctx context.Context, limit, n int, fetch func(context.Context, int) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		type result struct {
			v   T
			err error
		}
		limit := max(limit, 1)
		futures := make([]chan result, min(limit, n)) // fetch(i) answers on futures[i%limit]
		next := 0
		for i := 0; i < n; i++ {
			for ; next < n && next < i+limit; next++ {
				ch := make(chan result, 1)
				futures[next%limit] = ch
				wg.Add(1)
				go func(j int) {
					defer wg.Done()
					v, err := fetch(ctx, j)
					ch <- result{v, err}
				}(next)
			}
			r := <-futures[i%limit]
			if !yield(r.v, r.err) || r.err != nil {
				return
			}
		}
	}
}
