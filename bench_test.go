package s3vfs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/bench"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// BenchmarkWorkloads runs the workloads of docs/performance.md on a local
// file, on this library with its defaults, and on the one-request-per-page
// strategy, at 0 and 20 ms of added latency per request. The database is
// small unless S3VFS_BENCH_SIZE says otherwise (see internal/bench); CI
// runs it with -benchtime=1x.
func BenchmarkWorkloads(b *testing.B) {
	size, err := bench.SizeFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e, err := bench.NewEnv(ctx, server, b.TempDir(), size)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, t := range bench.Targets() {
		p, err := e.Prepare(ctx, t)
		if err != nil {
			b.Fatal(err)
		}
		for _, lat := range []time.Duration{0, 20 * time.Millisecond} {
			if t.Local && lat > 0 {
				continue
			}
			for _, wl := range bench.Workloads() {
				b.Run(fmt.Sprintf("%s/latency=%v/%s", t.Name, lat, wl.Name), func(b *testing.B) {
					if why := p.TooSlow(wl, lat, 10*time.Minute); why != "" {
						b.Skip(why)
					}
					e.Proxy.SetLatency(lat)
					defer e.Proxy.SetLatency(0)
					runWorkload(ctx, b, p, wl)
				})
			}
		}
		p.Close()
	}
}

// BenchmarkColdOpenGrowth measures how what a cold open moves and holds
// grows with the database (docs/performance.md, "Growth"): the cold open
// and the cold point lookup at 20 ms, on databases of 5,000, 20,000 and
// 80,000 rows (about 0.7, 2.8 and 11 MB) with 1 KiB pages, so that small
// databases have the b-tree depth and the share of inner pages of large
// ones, stored in 64 KiB blocks and in 4 KiB blocks (the block map's
// axis: many blocks).
func BenchmarkColdOpenGrowth(b *testing.B) {
	ctx := context.Background()
	var workloads []bench.Workload
	for _, wl := range bench.Workloads() {
		if wl.Name == "cold open" || wl.Name == "cold point lookup" {
			workloads = append(workloads, wl)
		}
	}
	for _, rows := range []int{5_000, 20_000, 80_000} {
		e, err := bench.NewEnv(ctx, server, b.TempDir(), bench.Size{Name: fmt.Sprint(rows), Rows: rows})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range growthCases() {
			p, err := e.Prepare(ctx, bench.Target{Name: "s3vfs", PageSize: 1024, Opts: c.opts})
			if err != nil {
				b.Fatal(err)
			}
			for _, wl := range workloads {
				b.Run(fmt.Sprintf("rows=%d/%s/%s", rows, c.name, wl.Name), func(b *testing.B) {
					e.Proxy.SetLatency(20 * time.Millisecond)
					defer e.Proxy.SetLatency(0)
					runWorkload(ctx, b, p, wl)
					b.ReportMetric(float64(p.Size())/1e6, "db-MB")
				})
			}
			p.Close()
		}
		e.Close()
	}
}

// growthCases are the settings BenchmarkColdOpenGrowth measures: blocks of
// 64 KiB and of 4 KiB, and inner pages whose front is the default (512
// KiB: every inner page of these small databases) or 16 KiB, which
// stands for the default at a database 32 times larger than a front's
// worth of inner pages, with the bundles past it read ahead after the
// open (the default) or not (prefetch=off). With 4 KiB blocks and the small front, the block
// map too: in segments of 64 blocks of which the open reads 4 KiB
// (map=4K), which stands for the default 512 KiB at a map 128 times
// larger; without it, the map of these small databases is read whole.
func growthCases() []struct {
	name string
	opts s3vfs.Options
} {
	type growthCase = struct {
		name string
		opts s3vfs.Options
	}
	var out []growthCase
	for _, bs := range []int{64 << 10, 4 << 10} {
		o := s3vfs.Options{BlockSize: bs}
		off := s3vfs.Options{BlockSize: bs, OpenPrefetch: -1}
		out = append(out, growthCase{fmt.Sprintf("block=%dK", bs>>10), o},
			growthCase{fmt.Sprintf("block=%dK/front=16K", bs>>10), *s3vfs.WithInnerFront(&o, 16<<10)},
			growthCase{fmt.Sprintf("block=%dK/front=16K/prefetch=off", bs>>10), *s3vfs.WithInnerFront(&off, 16<<10)})
	}
	small := s3vfs.WithInnerFront(&s3vfs.Options{BlockSize: 4 << 10}, 16<<10)
	smallOff := s3vfs.WithInnerFront(&s3vfs.Options{BlockSize: 4 << 10, OpenPrefetch: -1}, 16<<10)
	return append(out, growthCase{"block=4K/front=16K/map=4K", *s3vfs.WithSegments(small, 6, 4<<10)},
		growthCase{"block=4K/front=16K/map=4K/prefetch=off", *s3vfs.WithSegments(smallOff, 6, 4<<10)})
}

// runWorkload runs wl on p b.N times and reports its figures: the
// measured time, the requests by kind, the sequential round trips, the
// bytes moved and the peak heap, per op.
func runWorkload(ctx context.Context, b *testing.B, p *bench.Prepared, wl bench.Workload) {
	var sum bench.Result
	sum.Requests = map[s3proxy.Kind]int{}
	n := 0
	for b.Loop() {
		r, err := wl.Run(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		n++
		sum.Add(r)
	}
	f := float64(n)
	// ms/op is the measured part of an op; ns/op also counts
	// its setup (a fresh VFS, warming a connection).
	b.ReportMetric(float64(sum.Elapsed.Microseconds())/1000/f, "ms/op")
	for _, k := range []s3proxy.Kind{s3proxy.GET, s3proxy.PUT, s3proxy.LIST, s3proxy.DELETE} {
		b.ReportMetric(float64(sum.Requests[k])/f, string(k)+"/op")
	}
	b.ReportMetric(float64(sum.RoundTrips(wl.Chained))/f, "roundtrips/op")
	b.ReportMetric(float64(sum.Bytes)/f, "netbytes/op")
	b.ReportMetric(float64(sum.PeakHeap)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(sum.PeakLive)/1e6, "peak-live-MB")
	if sum.Data > 0 {
		b.ReportMetric(float64(sum.Data)/1e6/sum.Elapsed.Seconds(), "MB/s")
	}
}

// BenchmarkContention runs the contention benchmark of docs/performance.md
// (4 processes × 4 goroutines updating random rows of a 100,000-row
// table) on this library with its defaults and writing format version 1,
// at 0 and 20 ms of added latency.
func BenchmarkContention(b *testing.B) {
	ctx := context.Background()
	e, err := bench.NewEnv(ctx, server, b.TempDir(), bench.Small)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	commits := 200
	if testing.Short() {
		commits = 50
	}
	for _, t := range bench.ContentionTargets() {
		for _, lat := range []time.Duration{0, 20 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/latency=%v", t.Name, lat), func(b *testing.B) {
				e.Proxy.SetLatency(lat)
				defer e.Proxy.SetLatency(0)
				var sum bench.ContentionResult
				for b.Loop() {
					r, err := e.Contention(ctx, t, 4, 4, commits)
					if err != nil {
						b.Fatal(err)
					}
					sum.Commits += r.Commits
					sum.Busy += r.Busy
					sum.Rebases += r.Rebases
					sum.Elapsed += r.Elapsed
				}
				b.ReportMetric(sum.CommitsPerSecond(), "commits/s")
				b.ReportMetric(100*sum.BusyShare(), "busy%")
				b.ReportMetric(float64(sum.Rebases)/float64(sum.Commits), "rebases/commit")
			})
		}
	}
}
