package s3proxy

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A slow request in the background merges the waves of the requests
// sent one after another beside it, but not their chain: three
// requests in sequence are a chain of three however long the fourth
// runs beside them.
func TestChainIgnoresBackground(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/b/slow" {
			<-release
		}
	}))
	defer srv.Close()
	p, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(key string) {
		resp, err := http.Get(p.URL + "/b/" + key)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}

	for range 3 {
		get("a")
	}
	if w, c := p.Waves(), p.Chain(); w != 3 || c != 3 {
		t.Fatalf("three requests in sequence: %d waves, chain %d; want 3 and 3", w, c)
	}

	p.Reset()
	var wg sync.WaitGroup
	wg.Go(func() { get("slow") })
	for p.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		get("a")
	}
	w, c := p.Waves(), p.Chain()
	close(release)
	wg.Wait()
	if w != 1 || c != 3 {
		t.Fatalf("three requests in sequence beside a slow one: %d waves, chain %d; want 1 (merged) and 3", w, c)
	}
	if c := p.Chain(); c != 3 {
		t.Fatalf("once the slow one ended: chain %d, want 3 (it began first)", c)
	}

	// A request begun before a Reset is not counted after it, even when
	// it ends after it.
	release = make(chan struct{})
	wg.Go(func() { get("slow") })
	for p.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	p.Reset()
	close(release)
	wg.Wait()
	if w, c := p.Waves(), p.Chain(); w != 0 || c != 0 {
		t.Fatalf("a request across a Reset: %d waves, chain %d after it; want 0 and 0", w, c)
	}
	get("a")
	if w, c := p.Waves(), p.Chain(); w != 1 || c != 1 {
		t.Fatalf("one request after it: %d waves, chain %d; want 1 and 1", w, c)
	}
}
