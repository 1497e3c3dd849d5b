package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3server"
)

// Config is what Run measures.
type Config struct {
	Size      Size
	Latencies []time.Duration // added by the proxy to every request
	Targets   []Target        // default: Targets()
	Workloads []string        // names (or name prefixes) to run; default: all
	Repeat    int             // runs of each cold point, range and warm workload, averaged; default 3
	// MaxWait skips a whole-database workload on a target without
	// read-ahead when blocks × latency would exceed it; default 2m.
	MaxWait time.Duration
	Dir     string // for local files; default a temporary directory
	Logf    func(format string, args ...any)
}

// Run starts an S3 server (see package s3test), runs every workload on
// every target at every latency, and writes a Markdown table to w, one
// row as each measurement ends. It is what the s3vfs bench command runs.
func Run(ctx context.Context, w io.Writer, cfg Config) error {
	cfg = cfg.withDefaults()
	e, stop, err := startEnv(ctx, cfg.Dir, cfg.Size, cfg.Logf)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Fprintf(w, "size: %s (%d rows), %s/%s, %d CPUs, %s\n\n", cfg.Size.Name, cfg.Size.Rows,
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(w, "| workload | target | latency | ms/op | round trips | GET | PUT | LIST | DELETE | MB moved | MB/s | peak heap MB | peak live MB |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range cfg.Targets {
		if err := runTarget(ctx, w, e, cfg, t); err != nil {
			return err
		}
	}
	e.Proxy.SetLatency(0)
	return nil
}

// withDefaults returns cfg with its zero fields (but Dir) set to their
// defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Targets == nil {
		cfg.Targets = Targets()
	}
	if cfg.Repeat <= 0 {
		cfg.Repeat = 3
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 2 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return cfg
}

// startEnv starts an S3 server and an [Env] of size on it, with local
// files in dir, or in a temporary directory when dir is "". stop stops
// the server and removes what startEnv made.
func startEnv(ctx context.Context, dir string, size Size, logf func(format string, args ...any)) (_ *Env, stop func(), err error) {
	var undo []func()
	stop = func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "s3vfs-bench-"); err != nil {
			return nil, nil, err
		}
		undo = append(undo, func() { os.RemoveAll(dir) })
	}
	server, err := s3server.Start(ctx, logf)
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, server.Close)
	e, err := NewEnv(ctx, server, dir, size)
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, func() { e.Close() })
	return e, stop, nil
}

// runTarget prepares target t and measures the selected workloads on it
// at every latency of cfg, writing a row of w for each.
func runTarget(ctx context.Context, w io.Writer, e *Env, cfg Config, t Target) error {
	cfg.Logf("preparing %s", t.Name)
	p, err := e.Prepare(ctx, t)
	if err != nil {
		return fmt.Errorf("bench: preparing %s: %w", t.Name, err)
	}
	for _, lat := range cfg.Latencies {
		if t.Local && lat != cfg.Latencies[0] {
			continue // latency does not apply to a local file
		}
		e.Proxy.SetLatency(lat)
		for _, wl := range Workloads() {
			if !selected(cfg.Workloads, wl.Name) {
				continue
			}
			if err := measure(ctx, w, cfg, p, wl, lat); err != nil {
				p.Close()
				return err
			}
		}
		p.Close()
	}
	return nil
}

// measure runs wl on p at latency lat, as many times as cfg repeats it,
// and writes the mean as a row of w, or why it was skipped.
func measure(ctx context.Context, w io.Writer, cfg Config, p *Prepared, wl Workload, lat time.Duration) error {
	t := p.Target
	latName := lat.String()
	if t.Local {
		latName = "-"
	}
	if why := p.TooSlow(wl, lat, cfg.MaxWait); why != "" {
		fmt.Fprintf(w, "| %s | %s | %s | skipped: %s ||||||||||\n", wl.Name, t.Name, latName, why)
		return nil
	}
	n := runs(wl, cfg.Repeat)
	cfg.Logf("%s / %s / %v", wl.Name, t.Name, lat)
	var sum Result
	sum.Requests = map[s3proxy.Kind]int{}
	for range n {
		r, err := wl.Run(ctx, p)
		if err != nil {
			return fmt.Errorf("bench: %s on %s at %v: %w", wl.Name, t.Name, lat, err)
		}
		sum.Add(r)
	}
	fmt.Fprintln(w, row(wl.Name, t.Name, latName, sum, wl.Chained, n))
	return nil
}

// runs returns how many times wl is run for one row: repeat for the cold
// open, point, range and warm workloads, whose single runs vary; once for
// the others.
func runs(wl Workload, repeat int) int {
	for _, prefix := range []string{"warm", "cold open", "cold point", "cold range"} {
		if strings.HasPrefix(wl.Name, prefix) {
			return repeat
		}
	}
	return 1
}

// TooSlow says why wl on p would take longer than limit at latency lat:
// a whole-database workload without read-ahead waits one round trip per
// block. It returns "" when it would not.
func (p *Prepared) TooSlow(wl Workload, lat, limit time.Duration) string {
	if !wl.Whole || p.Local || p.Opts.ReadAhead >= 0 {
		return ""
	}
	bs := int64(blockSize(p.Target))
	blocks := (p.size + bs - 1) / bs
	if wait := time.Duration(blocks) * lat; wait > limit {
		return fmt.Sprintf("%d blocks one at a time ≈ %.0f s", blocks, wait.Seconds())
	}
	return ""
}

func blockSize(t Target) int {
	if t.Opts.BlockSize == 0 {
		return s3vfs.DefaultBlockSize
	}
	return t.Opts.BlockSize
}

func selected(names []string, name string) bool {
	return len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(name, n) })
}

// row formats the mean of n runs whose results were summed into r.
func row(workload, target, lat string, r Result, chained bool, n int) string {
	f := float64(n)
	ms := float64(r.Elapsed.Microseconds()) / 1000 / f
	per := func(k s3proxy.Kind) string {
		if target == "local" {
			return "-"
		}
		return trim(float64(r.Requests[k]) / f)
	}
	waves, moved := "-", "-"
	if target != "local" {
		waves = trim(float64(r.RoundTrips(chained)) / f)
		moved = fmt.Sprintf("%.1f", float64(r.Bytes)/f/1e6)
	}
	mbs := "-"
	if r.Data > 0 && r.Elapsed > 0 {
		mbs = fmt.Sprintf("%.0f", float64(r.Data)/1e6/r.Elapsed.Seconds())
	}
	return fmt.Sprintf("| %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f |",
		workload, target, lat, ms, waves, per(s3proxy.GET), per(s3proxy.PUT), per(s3proxy.LIST), per(s3proxy.DELETE),
		moved, mbs, float64(r.PeakHeap)/1e6, float64(r.PeakLive)/1e6)
}

func trim(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}
