package engine

import (
	"context"
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// FreshChecks runs the freshness checks of one database (database.check)
// so that a caller only ever adopts the answer of a check that started
// after it asked. A check already in flight when a transaction begins may
// have been answered by S3 before a commit the transaction must see (even
// one this process made); sharing it would be a stale read. Callers that
// arrive while a check runs share the next one, which starts as soon as the
// running one ends: at most two checks per database are outstanding,
// however many transactions begin at once. The zero value is ready to use.
type FreshChecks struct {
	mu      sync.Mutex
	running bool       // a check is in flight; guarded by mu
	next    *freshCall // the check that callers arriving now will share; guarded by mu
}

// freshCall is one check and the callers waiting for it.
type freshCall struct {
	ctx      context.Context // the first caller's, without its cancellation
	lastCall time.Time       // when its last caller asked; guarded by freshChecks.mu
	done     chan struct{}   // closed when s and err are set
	s        *format.Snapshot
	err      error
}

// Do returns the answer of a run of check that starts after Do was
// called. The run does not inherit a caller's cancellation (one
// interrupted query must not fail the others that share it; each run is
// bounded by the store's request timeout), but each caller stops waiting
// when its own ctx is done.
func (c *FreshChecks) Do(ctx context.Context, check func(context.Context) (*format.Snapshot, error)) (*format.Snapshot, error) {
	c.mu.Lock()
	call := c.next
	if call == nil {
		call = &freshCall{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		c.next = call
		if !c.running {
			c.startLocked(check)
		}
	}
	call.lastCall = time.Now()
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.s, call.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Answer answers the callers waiting for the next check, if every one of
// them asked before start, with s: a commit of this process whose record
// create was sent at start succeeded, so s was the newest commit at a
// moment after they asked, which is what a check would have told them.
// They are spared its round trip.
func (c *FreshChecks) Answer(s *format.Snapshot, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if call := c.next; call != nil && call.lastCall.Before(start) {
		c.next = nil
		call.s = s
		close(call.done)
	}
}

// startLocked starts the next check in a goroutine that lives until the
// check returns, then starts the check queued meanwhile, if any.
func (c *FreshChecks) startLocked(check func(context.Context) (*format.Snapshot, error)) {
	call := c.next
	c.next = nil
	c.running = true
	go func() {
		call.s, call.err = check(call.ctx)
		close(call.done)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.running = false
		if c.next != nil {
			c.startLocked(check)
		}
	}()
}
