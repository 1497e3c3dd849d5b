package s3vfs

import (
	"context"

	"golang.org/x/sync/singleflight"
)

// shared runs fn once for all concurrent callers with the same key. The
// shared call does not inherit a caller's cancellation (one interrupted
// query must not fail the others that wait on the same request); each
// caller still stops waiting when its own ctx is done. The call itself is
// bounded by the store's request timeout.
func shared[T any](ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (T, error)) (T, error) {
	detached := context.WithoutCancel(ctx)
	ch := g.DoChan(key, func() (any, error) { return fn(detached) })
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero T
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
