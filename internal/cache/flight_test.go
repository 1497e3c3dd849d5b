package cache

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Concurrent callers of one key share one call; a caller that stops
// waiting does not stop it for the others, and the last one to stop
// cancels it.
func TestShared(t *testing.T) {
	var g Flights
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		if calls.Add(1) == 1 {
			close(started)
		}
		select {
		case <-release:
			return 42, nil
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}

	quitter, quit := context.WithCancel(context.Background())
	quitDone := make(chan error)
	go func() {
		_, err := Shared(quitter, &g, "k", fn)
		quitDone <- err
	}()
	<-started
	var wg sync.WaitGroup
	results := make([]int, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = Shared(context.Background(), &g, "k", fn)
		}()
	}
	for waiting := 0; waiting < 1+len(results); runtime.Gosched() {
		g.mu.Lock()
		waiting = g.calls["k"].waiters
		g.mu.Unlock()
	}
	quit()
	if err := <-quitDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that stopped waiting got %v", err)
	}
	close(release)
	wg.Wait()
	for i, r := range results {
		if r != 42 {
			t.Errorf("caller %d got %d, want 42", i, r)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}

	// The only caller stops waiting: the call is cancelled.
	cancelled := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go Shared(ctx, &g, "other", func(ctx context.Context) (int, error) {
		cancel()
		<-ctx.Done()
		cancelled <- context.Cause(ctx)
		return 0, ctx.Err()
	})
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("the abandoned call ended with %v", err)
	}
}
