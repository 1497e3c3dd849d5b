package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/s3vfs/s3vfs/internal/bench"
)

const benchHelp = `
Usage: s3vfs bench [flags]

Measures the library against a throwaway local S3 server (as "demo" does),
with a fixed latency added to every request by a proxy, next to the same
workloads on a local file (the floor) and on this library with cache and
read-ahead off and 4 KiB blocks (one request per page). Prints a Markdown
table: ms/op, requests by kind, round trips, bytes and MB/s per workload.
docs/performance.md explains the workloads and holds a full run.

Example:

	s3vfs bench                                  # small database, 0 and 20 ms
	s3vfs bench --size full --latency 20ms       # about 1 GB
	s3vfs bench --workloads "cold point,warm point" --sweep
	s3vfs bench --targets s3vfs --workloads "cold open,cold point"
	s3vfs bench --targets s3vfs,s3vfs-v1 --workloads single  # format 2 against format 1
	s3vfs bench --contention --latency 0,20ms     # 4 processes × 4 writers on one table
`

// benchCommand runs the benchmark workloads of internal/bench.
type benchCommand struct {
	ioStreams
}

// benchFlags are bench's flags, as given.
type benchFlags struct {
	size, latencies, workloads, targets string
	sweep, contention                   bool
	commits                             int
}

// Run implements command.
func (c *benchCommand) Run(ctx context.Context, args []string) error {
	var f benchFlags
	fs := newFlagSet("bench", benchHelp, c.stdout)
	fs.StringVar(&f.size, "size", "small", `database size: "small", "full" (about 1 GB) or a number of rows`)
	fs.StringVar(&f.latencies, "latency", "0,20ms", "comma-separated latencies added to every request")
	fs.StringVar(&f.workloads, "workloads", "", "comma-separated workload names or prefixes (default: all)")
	fs.BoolVar(&f.sweep, "sweep", false, "compare block sizes 4K/64K/256K/1M with 4K and 64K pages instead of the three targets")
	fs.BoolVar(&f.contention, "contention", false, "run the contention benchmark (4 processes × 4 writers updating random rows) instead of the workloads; default targets s3vfs and s3vfs-v1")
	fs.IntVar(&f.commits, "commits", 400, "with --contention: the commits of each run")
	fs.StringVar(&f.targets, "targets", "", `comma-separated target names: local, s3vfs, per-page or the sweep's, and s3vfs-v1 (this library writing format version 1), run only when named (default: all but s3vfs-v1; with --contention: s3vfs,s3vfs-v1)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments (got %q)", fs.Arg(0))
	}
	cfg, err := f.config(func(format string, args ...any) {
		fmt.Fprintf(c.stderr, format+"\n", args...)
	})
	if err != nil {
		return err
	}
	if f.contention {
		ccfg, err := f.contentionConfig(cfg)
		if err != nil {
			return err
		}
		return bench.RunContention(ctx, c.stdout, ccfg)
	}
	return bench.Run(ctx, c.stdout, cfg)
}

// config checks the flags and returns what bench.Run is to measure,
// logging to logf.
func (f benchFlags) config(logf func(format string, args ...any)) (bench.Config, error) {
	sz, err := bench.ParseSize(f.size)
	if err != nil {
		return bench.Config{}, usagef("bench: --size: %v", err)
	}
	cfg := bench.Config{Size: sz, Targets: bench.Targets(), Logf: logf}
	if f.sweep {
		cfg.Targets = bench.SweepTargets()
	}
	if f.targets != "" {
		if !f.sweep {
			cfg.Targets = append(cfg.Targets, bench.ComparisonTargets()...)
		}
		cfg.Targets = pickTargets(cfg.Targets, strings.Split(f.targets, ","))
		if len(cfg.Targets) == 0 {
			return bench.Config{}, usagef("bench: --targets %q names no target", f.targets)
		}
	}
	if cfg.Latencies, err = parseLatencies(f.latencies); err != nil {
		return bench.Config{}, err
	}
	for _, w := range strings.Split(f.workloads, ",") {
		if w = strings.TrimSpace(w); w != "" {
			cfg.Workloads = append(cfg.Workloads, w)
		}
	}
	return cfg, nil
}

// contentionConfig returns what bench.RunContention is to measure, from
// the flags and the workloads' cfg.
func (f benchFlags) contentionConfig(cfg bench.Config) (bench.ContentionConfig, error) {
	ts := bench.ContentionTargets()
	if f.targets != "" {
		ts = cfg.Targets
	}
	if f.commits < 1 {
		return bench.ContentionConfig{}, usagef("bench: --commits %d: want at least 1", f.commits)
	}
	return bench.ContentionConfig{Latencies: cfg.Latencies, Targets: ts, Commits: f.commits, Logf: cfg.Logf}, nil
}

// parseLatencies parses --latency: comma-separated durations, "0" for none.
func parseLatencies(s string) ([]time.Duration, error) {
	var ds []time.Duration
	for _, s := range strings.Split(s, ",") {
		s = strings.TrimSpace(s)
		if s == "0" {
			s = "0s"
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, usagef("bench: --latency %q: want durations such as 0,20ms", s)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// pickTargets returns the targets of ts whose names are among names.
func pickTargets(ts []bench.Target, names []string) []bench.Target {
	var out []bench.Target
	for _, t := range ts {
		for _, n := range names {
			if strings.TrimSpace(n) == t.Name {
				out = append(out, t)
				break
			}
		}
	}
	return out
}
