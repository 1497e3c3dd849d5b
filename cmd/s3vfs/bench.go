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

// Run implements command.
func (c *benchCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("bench", benchHelp, c.stdout)
	size := fs.String("size", "small", `database size: "small", "full" (about 1 GB) or a number of rows`)
	latencies := fs.String("latency", "0,20ms", "comma-separated latencies added to every request")
	workloads := fs.String("workloads", "", "comma-separated workload names or prefixes (default: all)")
	sweep := fs.Bool("sweep", false, "compare block sizes 4K/64K/256K/1M with 4K and 64K pages instead of the three targets")
	contention := fs.Bool("contention", false, "run the contention benchmark (4 processes × 4 writers updating random rows) instead of the workloads; default targets s3vfs and s3vfs-v1")
	commits := fs.Int("commits", 400, "with --contention: the commits of each run")
	targets := fs.String("targets", "", `comma-separated target names: local, s3vfs, per-page or the sweep's, and s3vfs-v1 (this library writing format version 1), run only when named (default: all but s3vfs-v1; with --contention: s3vfs,s3vfs-v1)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments (got %q)", fs.Arg(0))
	}
	sz, err := bench.ParseSize(*size)
	if err != nil {
		return usagef("bench: --size: %v", err)
	}
	cfg := bench.Config{Size: sz, Targets: bench.Targets(), Logf: func(format string, args ...any) {
		fmt.Fprintf(c.stderr, format+"\n", args...)
	}}
	if *sweep {
		cfg.Targets = bench.SweepTargets()
	}
	if *targets != "" {
		if !*sweep {
			cfg.Targets = append(cfg.Targets, bench.ComparisonTargets()...)
		}
		cfg.Targets = pickTargets(cfg.Targets, strings.Split(*targets, ","))
		if len(cfg.Targets) == 0 {
			return usagef("bench: --targets %q names no target", *targets)
		}
	}
	for _, s := range strings.Split(*latencies, ",") {
		s = strings.TrimSpace(s)
		if s == "0" {
			s = "0s"
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return usagef("bench: --latency %q: want durations such as 0,20ms", s)
		}
		cfg.Latencies = append(cfg.Latencies, d)
	}
	if *contention {
		ts := bench.ContentionTargets()
		if *targets != "" {
			ts = cfg.Targets
		}
		if *commits < 1 {
			return usagef("bench: --commits %d: want at least 1", *commits)
		}
		return bench.RunContention(ctx, c.stdout, bench.ContentionConfig{
			Latencies: cfg.Latencies, Targets: ts, Commits: *commits, Logf: cfg.Logf})
	}
	for _, w := range strings.Split(*workloads, ",") {
		if w = strings.TrimSpace(w); w != "" {
			cfg.Workloads = append(cfg.Workloads, w)
		}
	}
	return bench.Run(ctx, c.stdout, cfg)
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
