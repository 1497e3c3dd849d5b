package cache

import (
	"context"
	"sync"
)

// Flights runs one request for all concurrent callers of the same key
// ([Shared]). The zero value is ready to use.
type Flights struct {
	mu    sync.Mutex
	calls map[string]*flight // in flight, by key; guarded by mu
}

// flight is one shared request and the callers waiting for it.
type flight struct {
	waiters int                     // callers still waiting; guarded by Flights.mu
	cancel  context.CancelCauseFunc // stops the request
	done    chan struct{}           // closed when val and err are set
	val     any
	err     error
}

// Shared runs fn once for all concurrent callers with the same key. The
// shared call does not inherit one caller's cancellation (one interrupted
// query must not fail the others that wait on the same request); each
// caller stops waiting when its own ctx is done, and once every caller
// has stopped waiting the call is cancelled, so that nobody's abandoned
// request runs on (a closed file's read-ahead, say). fn bounds its own
// time (a store's request timeout does): it keeps none of ctx's deadline.
// fn runs in a goroutine that ends when fn returns.
func Shared[T any](ctx context.Context, g *Flights, key string, fn func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	c := g.calls[key]
	if c == nil {
		cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		c = &flight{cancel: cancel, done: make(chan struct{})}
		if g.calls == nil {
			g.calls = map[string]*flight{}
		}
		g.calls[key] = c
		go func() {
			val, err := fn(cctx)
			g.mu.Lock()
			c.val, c.err = val, err
			if g.calls[key] == c {
				delete(g.calls, key)
			}
			g.mu.Unlock()
			cancel(nil)
			close(c.done)
		}()
	}
	c.waiters++
	g.mu.Unlock()

	var zero T
	select {
	case <-c.done:
		if c.err != nil {
			return zero, c.err
		}
		return c.val.(T), nil
	case <-ctx.Done():
		g.mu.Lock()
		if c.waiters--; c.waiters == 0 {
			// Nobody wants the answer any more: stop the request, and let
			// the next caller start a new one.
			c.cancel(context.Cause(ctx))
			if g.calls[key] == c {
				delete(g.calls, key)
			}
		}
		g.mu.Unlock()
		return zero, context.Cause(ctx)
	}
}
