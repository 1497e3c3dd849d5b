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
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "s3vfs-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	server, err := s3server.Start(ctx, cfg.Logf)
	if err != nil {
		return err
	}
	defer server.Close()
	e, err := NewEnv(ctx, server, cfg.Dir, cfg.Size)
	if err != nil {
		return err
	}
	defer e.Close()

	fmt.Fprintf(w, "size: %s (%d rows), %s/%s, %d CPUs, %s\n\n", cfg.Size.Name, cfg.Size.Rows,
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(w, "| workload | target | latency | ms/op | round trips | GET | PUT | LIST | DELETE | MB moved | MB/s | peak heap MB | peak live MB |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range cfg.Targets {
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
				latName := lat.String()
				if t.Local {
					latName = "-"
				}
				if why := p.TooSlow(wl, lat, cfg.MaxWait); why != "" {
					fmt.Fprintf(w, "| %s | %s | %s | skipped: %s ||||||||||\n", wl.Name, t.Name, latName, why)
					continue
				}
				n := 1
				if strings.HasPrefix(wl.Name, "warm") || strings.HasPrefix(wl.Name, "cold open") || strings.HasPrefix(wl.Name, "cold point") || strings.HasPrefix(wl.Name, "cold range") {
					n = cfg.Repeat
				}
				cfg.Logf("%s / %s / %v", wl.Name, t.Name, lat)
				var sum Result
				sum.Requests = map[s3proxy.Kind]int{}
				for range n {
					r, err := wl.Run(ctx, p)
					if err != nil {
						p.Close()
						return fmt.Errorf("bench: %s on %s at %v: %w", wl.Name, t.Name, lat, err)
					}
					sum.Add(r)
				}
				fmt.Fprintln(w, row(wl.Name, t.Name, latName, sum, n))
			}
			p.Close()
		}
	}
	e.Proxy.SetLatency(0)
	return nil
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
func row(workload, target, lat string, r Result, n int) string {
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
		waves = trim(float64(r.Waves) / f)
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
