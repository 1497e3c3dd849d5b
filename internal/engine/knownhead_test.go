package engine

import (
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

func TestKnownHead(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	const fallback = time.Hour
	var k KnownHead
	if s, ok := k.Provable(t0, fallback); s != nil || ok {
		t.Fatalf("zero value: provable = %v, %v", s, ok)
	}
	if _, ok := k.Fresh(t0, 1<<62); ok {
		t.Fatal("zero value: fresh")
	}

	s5, s4, s6 := &format.Snapshot{N: 5}, &format.Snapshot{N: 4}, &format.Snapshot{N: 6}
	k.Publish(s5, t0)
	k.Publish(s4, t0.Add(time.Hour)) // older: ignored, and confirms nothing
	if s, at := k.Get(); s != s5 || !at.Equal(t0) {
		t.Fatalf("get = %v, %v", s.N, at)
	}
	k.Publish(&format.Snapshot{N: 5}, t0.Add(time.Minute)) // the same commit, confirmed again
	if _, at := k.Get(); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("confirmed at %v", at)
	}
	if k.Newer(s4) != s5 || k.Newer(s6) != s6 {
		t.Fatal("newer")
	}

	for _, tt := range []struct {
		name      string
		declared  []time.Duration
		after     time.Duration // since the confirmation
		provable  bool
		freshWith time.Duration // a staleness bound under which it is fresh
	}{
		{"just confirmed", nil, 0, true, 0},
		{"within half the fallback", nil, 29 * time.Minute, true, 29 * time.Minute},
		{"at half the fallback", nil, 30 * time.Minute, false, time.Hour},
		{"a shorter declared retention wins", []time.Duration{10 * time.Minute}, 6 * time.Minute, false, time.Hour},
		{"the shortest declared wins", []time.Duration{20 * time.Minute, 10 * time.Minute, 40 * time.Minute}, 4 * time.Minute, true, time.Hour},
		{"a longer declared retention replaces the fallback", []time.Duration{4 * time.Hour}, 90 * time.Minute, true, 2 * time.Hour},
	} {
		var k KnownHead
		for _, d := range tt.declared {
			k.DeclareRetention(d)
		}
		k.Publish(s5, t0)
		now := t0.Add(tt.after)
		if s, ok := k.Provable(now, fallback); s != s5 || ok != tt.provable {
			t.Errorf("%s: provable = %v; want %v", tt.name, ok, tt.provable)
		}
		if _, ok := k.Fresh(now, tt.freshWith); !ok {
			t.Errorf("%s: not fresh within %v", tt.name, tt.freshWith)
		}
		if tt.after > 0 {
			if _, ok := k.Fresh(now, tt.after-1); ok {
				t.Errorf("%s: fresh within %v", tt.name, tt.after-1)
			}
		}
		k.Distrust()
		if _, ok := k.Provable(now, fallback); ok {
			t.Errorf("%s: provable after distrust", tt.name)
		}
		if _, ok := k.Fresh(now, time.Hour); ok {
			t.Errorf("%s: fresh after distrust", tt.name)
		}
	}
}
