package main

import (
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// BenchmarkPrintRows prints SELECT * of a million-row table in each output
// format and reports the Go heap's peak while it prints: output streams,
// so the peak does not grow with the result.
//
//	go test -run '^$' -bench PrintRows -benchtime 1x ./cmd/s3vfs
func BenchmarkPrintRows(b *testing.B) {
	const rows = 1_000_000
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	err = conn.Exec(`CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, total REAL, note TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
		INSERT INTO orders SELECT i, 'customer ' || (i % 997), i * 1.25, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note' END FROM n`)
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{formatTable, formatCSV, formatJSON} {
		b.Run(format, func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				stmt, _, err := conn.Prepare(`SELECT * FROM orders`)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				stop := sampleHeap(&peak)
				err = printRows(io.Discard, stmt, rowFormat{name: format})
				stop()
				stmt.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(rows, "rows/op")
		})
	}
}

// sampleHeap records the largest Go heap seen in *peak, every millisecond,
// until the returned function is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			*peak = max(*peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
