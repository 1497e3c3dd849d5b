package s3vfs_test

import (
	"testing"
	"time"
)

// TestContention: 4 processes × 4 goroutines (3 writers, 1 reader each) on
// one database. Writers move money between accounts and retry on
// SQLITE_BUSY; readers check that every snapshot they see holds the whole
// total. Afterwards no committed transfer is lost and the balances are
// exactly what the ledger rows say.
func TestContention(t *testing.T) {
	runContention(t, newEnv(t, &s3vfsOptsSmall))
}

// runContention is TestContention's workload on e.
func runContention(t *testing.T, e *env) {
	const procs, writers, readers = 4, 3, 1
	total := ledgerTransactions(t) * 2 / 5 // 400 by default
	createLedger(t, e.name, "contention.db")

	results := e.ledgerRun("contention.db", procs, ledgerJob{
		Writers: writers, Readers: readers, Transactions: total / (procs * writers), Seed: 7,
		BlockSize: 4096, Attempt: 5 * time.Second, Request: time.Minute,
	})
	sum := checkLedger(t, e.name, "contention.db", results)

	if sum.reads == 0 {
		t.Error("the readers checked no snapshot")
	}
	attempts := sum.committed + sum.failed + sum.unknown
	if sum.busy == 0 {
		t.Error("12 writers on one database never conflicted: the test does not test contention")
	}
	if other := attempts - sum.committed - sum.busy; other != 0 {
		t.Errorf("%d transactions failed with errors other than SQLITE_BUSY: %v", other, sum.errors)
	}
	t.Logf("| contention %d×%d | %d | %d attempts | %d BUSY (%.0f%%) | %d snapshots checked | %v | %.1f commits/s",
		procs, writers+readers, sum.committed, attempts, sum.busy, 100*float64(sum.busy)/float64(attempts),
		sum.reads, sum.elapsed.Round(time.Second), float64(sum.committed)/sum.elapsed.Seconds())
}
