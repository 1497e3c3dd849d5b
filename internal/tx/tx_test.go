package tx

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestTxLife walks every pair of states: To allows exactly the moves of
// the table in docs/design.md ("The transaction"), and a refused move
// leaves the state as it was and names both states.
func TestTxLife(t *testing.T) {
	allowed := map[[2]State]bool{
		{Idle, Running}:      true,
		{Running, Queued}:    true,
		{Running, Failed}:    true,
		{Queued, Published}:  true,
		{Queued, Rebased}:    true,
		{Queued, Failed}:     true,
		{Rebased, Published}: true,
		{Rebased, Rebased}:   true,
		{Rebased, Failed}:    true,
		{Published, Running}: true,
	}
	all := []State{Idle, Running, Queued, Rebased, Published, Failed}
	for _, from := range all {
		for _, to := range all {
			tr := &Tx{state: from}
			err := tr.To(to)
			want := allowed[[2]State{from, to}] || to == Idle
			switch {
			case want && err != nil:
				t.Errorf("%s → %s refused: %v", from, to, err)
			case want && tr.State() != to:
				t.Errorf("%s → %s: state is %s", from, to, tr.State())
			case !want && err == nil:
				t.Errorf("%s → %s allowed", from, to)
			case !want && tr.State() != from:
				t.Errorf("%s → %s refused, but the state became %s", from, to, tr.State())
			case !want && !(strings.Contains(err.Error(), from.String()) && strings.Contains(err.Error(), to.String())):
				t.Errorf("%s → %s: the error names neither: %v", from, to, err)
			}
		}
	}
}

// TestTxCommitPaths follows the paths a commit takes through the states.
func TestTxCommitPaths(t *testing.T) {
	s := &format.Snapshot{N: 3, Size: 8192, BlockSize: 4096}
	var tr Tx
	if tr.State() != Idle {
		t.Fatalf("zero value is %s", tr.State())
	}
	tr.Snap = s
	tr.Begin(s.Size)
	if tr.State() != Running || !tr.Dirty {
		t.Fatalf("after Begin: %s, dirty %v", tr.State(), tr.Dirty)
	}
	tr.Pending[0] = make([]byte, 4096)
	tr.Truncate(s.BlockSize, 4096) // published alone, never rebased
	if err := tr.Queue(s.Size); err != nil {
		t.Fatal(err)
	}
	if !tr.Rules.Alone || tr.Rules.Rebase {
		t.Errorf("rules of a truncation: %+v", tr.Rules)
	}
	if err := tr.To(Rebased); err != nil {
		t.Fatal(err)
	}
	if err := tr.To(Published); err != nil {
		t.Fatal(err)
	}
	if err := tr.Allows(Published); err == nil {
		t.Error("a published transaction may be published again")
	}
	// The trim after a commit: a new transaction on what it published.
	tr.Dirty = false
	tr.Begin(s.Size)
	if tr.State() != Running {
		t.Fatalf("a write after a commit: %s", tr.State())
	}
	cause := errors.New("lost")
	if got := tr.Fail(cause); got != cause || tr.Err != cause || tr.State() != Failed {
		t.Fatalf("Fail: %v, Err %v, state %s", got, tr.Err, tr.State())
	}
	tr.Begin(s.Size) // the rollback's writes: still failed
	if tr.State() != Failed || tr.Queue(s.Size) == nil {
		t.Errorf("a failed transaction was revived: %s", tr.State())
	}
}

// TestMerge checks that a merged transaction holds its members' writes,
// newest block wins, their reads and written bytes together, and runs on
// the base.
func TestMerge(t *testing.T) {
	base := &format.Snapshot{N: 9, Token: 0xb, Size: 8192, BlockSize: 4096}
	a := &Tx{Snap: base, Writes: Writes{Pending: map[int64][]byte{0: bytes.Repeat([]byte{1}, 4096), 1: bytes.Repeat([]byte{1}, 4096)}, PendingSize: 8192}}
	a.Reads.Bytes = a.Reads.Bytes.Add(0, 100)
	a.Written = a.Written.Add(4096, 4200)
	b := &Tx{Snap: base, Writes: Writes{Pending: map[int64][]byte{1: bytes.Repeat([]byte{2}, 4096), 2: bytes.Repeat([]byte{2}, 4096)}, PendingSize: 12288}}
	b.Reads.Bytes = b.Reads.Bytes.Add(5000, 6000)
	b.Written = b.Written.Add(8192, 9000)

	m := Merge(base, a, b)
	if m.State() != Running || m.Snap != base || m.Reads.N != base.N || m.Reads.Token != base.Token || !m.Dirty || m.Floor != base.Size {
		t.Fatalf("merged: state %s, snap %v, reads on %d/%x, dirty %v, floor %d", m.State(), m.Snap, m.Reads.N, m.Reads.Token, m.Dirty, m.Floor)
	}
	for idx, want := range map[int64]byte{0: 1, 1: 2, 2: 2} {
		if got := m.Pending[idx]; len(got) != 4096 || got[0] != want {
			t.Errorf("block %d: %v…, want %d", idx, got[:1], want)
		}
	}
	if m.PendingSize != 12288 {
		t.Errorf("size %d, want the last member's", m.PendingSize)
	}
	if !m.Reads.Bytes.Overlaps(0, 100) || !m.Reads.Bytes.Overlaps(5000, 6000) || m.Reads.Bytes.Overlaps(200, 4000) {
		t.Errorf("reads %v", m.Reads.Bytes)
	}
	if !m.Written.Overlaps(4096, 4200) || !m.Written.Overlaps(8192, 9000) {
		t.Errorf("written %v", m.Written)
	}
	m.Pending[1][0] = 7
	if b.Pending[1][0] != 2 {
		t.Error("the merged transaction shares a member's block")
	}
	if err := m.Queue(base.Size); err != nil || m.Rules.Alone || !m.Rules.Rebase {
		t.Errorf("queued merged: %v, rules %+v", err, m.Rules)
	}
}
