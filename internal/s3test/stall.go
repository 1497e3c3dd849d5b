package s3test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Stall makes p hold every request match picks until the test ends, then
// answer it 503 (or drop it when the client gives up first), and returns a
// channel that receives once a request is held. It replaces p's hook.
func Stall(t testing.TB, p *s3proxy.Proxy, match func(s3proxy.Request) bool) <-chan struct{} {
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if !match(req) {
			return false
		}
		select {
		case held <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	return held
}

// PauseFirst makes p hold the first request match picks for d, then pass
// it on to the server, and returns a channel closed when that request
// arrives. It replaces p's hook.
func PauseFirst(p *s3proxy.Proxy, match func(s3proxy.Request) bool, d time.Duration) <-chan struct{} {
	arrived := make(chan struct{})
	var once sync.Once
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if match(req) {
			once.Do(func() {
				close(arrived)
				time.Sleep(d)
			})
		}
		return false
	})
	return arrived
}
