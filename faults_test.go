package s3vfs_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// faultCase is one kind of fault (or mix) and its rate.
type faultCase struct {
	name  string
	rate  float64
	kinds []s3test.Fault
}

// faultCases are the faults the ledger workload runs under: each kind alone
// at a rate between 1% and 30% of the eligible requests (a hung request
// costs an attempt timeout, so hangs are the rarest), then every kind but
// hangs at once at 30%.
var faultCases = []faultCase{
	{"500", 0.10, []s3test.Fault{s3test.InternalError}},
	{"503", 0.10, []s3test.Fault{s3test.SlowDown}},
	{"reset", 0.10, []s3test.Fault{s3test.Reset}},
	{"hang", 0.01, []s3test.Fault{s3test.Hang}},
	{"truncate", 0.20, []s3test.Fault{s3test.Truncate}},
	{"409", 0.30, []s3test.Fault{s3test.Conflict}},
	{"mixed", 0.30, []s3test.Fault{s3test.InternalError, s3test.SlowDown, s3test.Reset, s3test.Truncate, s3test.Conflict}},
}

// ledgerTransactions is the number of transactions committed per run of the
// workload: 1,000, or 200 with -short (CI runs the race detector with
// -short, which makes the workload about five times slower), unless
// S3VFS_LEDGER_TRANSACTIONS says otherwise.
func ledgerTransactions(t testing.TB) int {
	if s := os.Getenv("S3VFS_LEDGER_TRANSACTIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 8 {
			t.Fatalf("S3VFS_LEDGER_TRANSACTIONS=%q: want a number >= 8", s)
		}
		return n
	}
	if testing.Short() {
		return 200
	}
	return 1000
}

// TestFaults runs the ledger workload (2 processes × 4 writers) under each
// kind of fault and checks that no committed transaction is lost, no failed
// one is partly present, and the database is intact.
func TestFaults(t *testing.T) {
	runFaults(t, newEnv, func(string) bool { return true })
}

// runFaults is TestFaults's workload, on envs made by newEnv, for the fault
// cases keep accepts.
func runFaults(t *testing.T, newEnv func(testing.TB, *s3vfs.Options) *env, keep func(name string) bool) {
	const procs, writers = 2, 4
	total := ledgerTransactions(t)
	cases := slices.DeleteFunc(slices.Clone(faultCases), func(fc faultCase) bool { return !keep(fc.name) })

	// The workload waits more than it computes (backoff, busy handler,
	// attempt timeouts), so every kind runs at once, each on its own
	// bucket and proxy; the subtests then check them one by one.
	type run struct {
		e      *env
		key    string
		faults *s3test.Faults
		wait   func() ([]*ledgerResult, error)
	}
	runs := make([]run, len(cases))
	for i, fc := range cases {
		e := newEnv(t, &s3vfsOptsSmall)
		key := "faults/" + fc.name
		createLedger(t, e.name, key)
		faults := s3test.NewFaults(uint64(1000+i), fc.rate, fc.kinds...)
		faults.Install(e.proxy)
		runs[i] = run{e, key, faults, e.startLedger(key, procs, ledgerJob{
			Writers: writers, Transactions: total / (procs * writers), Seed: uint64(i),
			BlockSize: 4096, Attempt: time.Second, Request: time.Minute,
		})}
	}
	for i, fc := range cases {
		r := runs[i]
		results, err := r.wait()
		r.e.proxy.SetHook(nil)
		t.Run(fc.name, func(t *testing.T) {
			if err != nil {
				t.Fatal(err)
			}
			sum := checkLedger(t, r.e.name, r.key, results)
			n, seen := r.faults.Total()
			if n == 0 {
				t.Errorf("no %s fault was injected in %d requests", fc.name, seen)
			}
			t.Logf("| %s %d%% | %d | %s | %d | %d | %d | %v | %.0f | %s",
				fc.name, int(fc.rate*100), sum.committed, r.faults, sum.failed, sum.unknown, sum.busy,
				sum.elapsed.Round(time.Second), float64(sum.committed)/sum.elapsed.Seconds(), fmtErrors(sum.errors))
		})
	}
}

func fmtErrors(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	return strings.Join(parts, " ")
}
