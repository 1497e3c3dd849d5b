package versions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/tx"
)

// Deserialize and Restore publish a version that replaces whatever is
// there, so a commit that lands meanwhile is no reason to stop: they try
// again on top of it. Against a writer that commits back to back, trying
// again at once tends to lose again, in step with it; a growing, jittered
// pause puts the next try at a random point of the writer's cycle, and a
// deadline, not a count of tries, decides when to give up.
//
// A pause lies between two uploads of the attempt (the next try writes a
// checkpoint), so it counts toward tx.MaxAttemptPause, which attemptClock
// still enforces before every try; the pauses here are far shorter.
const (
	publishRetryTime = time.Minute            // how long to keep trying after the first lost race, unless ctx's deadline is sooner
	publishPauseMin  = 5 * time.Millisecond   // the first pause, before jitter
	publishPauseMax  = 500 * time.Millisecond // the longest pause, before jitter
)

// PublishRetry paces the tries of one Deserialize or Restore. The zero
// value is ready to use.
type PublishRetry struct {
	start    time.Time // the first lost race
	deadline time.Time
	pause    time.Duration // the latest pause before jitter
	lost     int           // races lost so far
	resumed  time.Time     // when the latest pause ended: the current try began
}

// LostRace notes a lost race and waits before the next try: a pause that
// doubles from publishPauseMin up to publishPauseMax, each drawn at random
// from its upper half. It returns an error instead, at once, when the
// pause and a try as long as the one just lost would end past the deadline
// (publishRetryTime after the first lost race, or ctx's deadline if
// sooner), and ctx's error if ctx is done first. The deadline starts at
// the first lost race, not at the call: the first try of a large
// Deserialize or Restore may upload for a long time.
func (r *PublishRetry) LostRace(ctx context.Context) error {
	now := time.Now()
	if r.lost == 0 {
		r.start, r.deadline = now, now.Add(publishRetryTime)
		if d, ok := ctx.Deadline(); ok && d.Before(r.deadline) {
			r.deadline = d
		}
	}
	r.lost++
	r.pause = min(max(2*r.pause, publishPauseMin), publishPauseMax)
	sleep := r.pause/2 + rand.N(r.pause/2+1)
	var try time.Duration // the try just lost; unknown for the first
	if !r.resumed.IsZero() {
		try = now.Sub(r.resumed)
	}
	if now.Add(sleep + try).After(r.deadline) {
		return fmt.Errorf("lost the commit race to other writers %d times in %v; try again",
			r.lost, now.Sub(r.start).Round(time.Millisecond))
	}
	t := time.NewTimer(sleep)
	defer t.Stop()
	select {
	case <-t.C:
		r.resumed = time.Now()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AttemptClock watches the pauses of one commit attempt that may outlive a
// garbage collection's view of it (Deserialize, Restore). It is safe for
// concurrent use by the attempt's uploads.
type AttemptClock struct {
	mu       sync.Mutex
	last     time.Time     // the latest upload; guarded by mu
	maxPause time.Duration // guarded by mu
}

// Touch notes that an object of the attempt was written.
func (a *AttemptClock) Touch() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if !a.last.IsZero() {
		a.maxPause = max(a.maxPause, now.Sub(a.last))
	}
	a.last = now
}

// Check returns an error if the attempt paused too long to publish safely.
func (a *AttemptClock) Check(op, key string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	pause := a.maxPause
	if !a.last.IsZero() {
		pause = max(pause, time.Since(a.last))
	}
	if pause > tx.MaxAttemptPause {
		return fmt.Errorf("s3vfs: %s %s: paused %v between uploads (more than %v): garbage collection may have removed its blocks, so nothing was published; run it again",
			op, key, pause.Round(time.Second), tx.MaxAttemptPause)
	}
	return nil
}
