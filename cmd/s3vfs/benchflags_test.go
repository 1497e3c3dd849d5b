package main

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/bench"
)

// TestBenchFlagsConfig checks what bench's flags plan, with no server.
func TestBenchFlagsConfig(t *testing.T) {
	names := func(ts []bench.Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	f := benchFlags{size: "2000", latencies: "0, 20ms", workloads: "cold open, ,warm", targets: "s3vfs-v1,s3vfs", commits: 40}
	cfg, err := f.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 20 * time.Millisecond}; !slices.Equal(cfg.Latencies, want) {
		t.Errorf("latencies %v, want %v", cfg.Latencies, want)
	}
	if want := []string{"cold open", "warm"}; !slices.Equal(cfg.Workloads, want) {
		t.Errorf("workloads %q, want %q", cfg.Workloads, want)
	}
	if got, want := names(cfg.Targets), []string{"s3vfs", "s3vfs-v1"}; !slices.Equal(got, want) {
		t.Errorf("targets %q, want %q", got, want)
	}
	cc, err := f.contentionConfig(cfg)
	if err != nil || cc.Commits != 40 || !slices.Equal(names(cc.Targets), names(cfg.Targets)) {
		t.Errorf("contention config %+v, %v", cc, err)
	}
	f.targets = ""
	cfg, _ = f.config(nil)
	if cc, _ := f.contentionConfig(cfg); !slices.Equal(names(cc.Targets), names(bench.ContentionTargets())) {
		t.Errorf("contention targets %q, want the default", names(cc.Targets))
	}

	for _, bad := range []benchFlags{
		{size: "tiny", latencies: "0"},
		{size: "small", latencies: "-1s"},
		{size: "small", latencies: "0", targets: "nowhere"},
	} {
		var u *usageError
		if _, err := bad.config(nil); !errors.As(err, &u) {
			t.Errorf("%+v: got %v, want a usage error", bad, err)
		}
	}
	var u *usageError
	if _, err := (benchFlags{commits: 0}).contentionConfig(cfg); !errors.As(err, &u) {
		t.Errorf("--commits 0: got %v, want a usage error", err)
	}
}
