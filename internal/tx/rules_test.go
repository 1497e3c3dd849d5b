package tx

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// spilledView returns a view of 4 blocks of 16 bytes over a committed
// file of 48 bytes, whose blocks 1 and 2 were uploaded early, block 2
// twice (so under two tokens).
func spilledView(t *testing.T) *Writes {
	t.Helper()
	tokens := []uint64{101, 102}
	next := func() uint64 { tok := tokens[0]; tokens = tokens[1:]; return tok }
	now := time.Now()
	v := &Writes{Dirty: true, Pending: map[int64][]byte{3: make([]byte, 16)}, PendingSize: 64, Floor: 48}
	v.Spilled = map[int64]format.BlockRef{}
	for _, idx := range []int64{1, 2, 2} {
		ref := format.BlockRef{Commit: 8, Token: v.Early.TokenFor(idx, 8, now, next), CRC: uint32(idx)}
		v.Early.Own(format.BlockName("db", idx, ref))
		v.Spilled[idx] = ref
	}
	if len(v.Early.tokens) != 2 || v.Spilled[1].Token != 101 || v.Spilled[2].Token != 102 {
		t.Fatalf("tokens %v, spilled %v: a block uploaded again must take a new token", v.Early.tokens, v.Spilled)
	}
	return v
}

// TestCommitRules: how a commit may be published follows from the
// transaction's own state.
func TestCommitRules(t *testing.T) {
	plain := Writes{Dirty: true, Pending: map[int64][]byte{0: nil}, PendingSize: 48, Floor: 48}
	grown := Writes{Dirty: true, Pending: map[int64][]byte{3: nil}, PendingSize: 64, Floor: 48}
	truncated := Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: 32, Floor: 32}
	tests := []struct {
		name string
		view *Writes
		want Rules
	}{
		{"plain", &plain, Rules{Rebase: true}},
		{"grown", &grown, Rules{Rebase: true}},
		{"truncated", &truncated, Rules{Alone: true}},
		{"blocks uploaded early", spilledView(t), Rules{Alone: true, Rebase: true, Renew: true}},
	}
	for _, tt := range tests {
		if got := tt.view.RulesFor(48); got != tt.want {
			t.Errorf("%s: rules %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestCommitRulesSurviveRelease: every path that releases part of a
// transaction's state on the way to or after a try leaves the rules
// decided from it as they were: a transaction that uploaded blocks early
// stays one, whatever of them is deleted, forgotten or cut.
func TestCommitRulesSurviveRelease(t *testing.T) {
	release := []struct {
		name string
		do   func(v *Writes)
	}{
		{"a lost try's uploads owned", func(v *Writes) { v.Early.Own("db/_blocks/x", "db/_checkpoints/y") }},
		{"orphans deleted", func(v *Writes) { v.Early.Release("db", nil) }},
		{"orphans deleted but the published", func(v *Writes) { v.Early.Release("db", v.Spilled) }},
		{"forgotten (outcome unknown)", func(v *Writes) { v.Early.Abandon() }},
		{"brought back into memory", func(v *Writes) {
			for idx := range v.Spilled {
				v.DropSpilled(idx)
				v.Pending[idx] = make([]byte, 16)
			}
		}},
		{"cut by a trim past the committed size", func(v *Writes) { v.DropSpilled(3); v.Truncate(16, 48) }},
	}
	for _, r := range release {
		v := spilledView(t)
		before := v.RulesFor(48)
		r.do(v)
		if after := v.RulesFor(48); after != before {
			t.Errorf("%s: rules %+v, were %+v", r.name, after, before)
		}
	}
}

// TestEarlyClaims: a try above the commit the early blocks are named for
// renews every token whose blocks the view still uses, and none other.
func TestEarlyClaims(t *testing.T) {
	v := spilledView(t)
	if c := v.Early.Claims("db", 8, v.Spilled); c != nil {
		t.Errorf("the first try, commit 8, claims %v; its attempt names commit 8 already", c)
	}
	names := claimNames(v.Early.Claims("db", 11, v.Spilled))
	want := []string{format.CheckpointName("db", 11, 101), format.CheckpointName("db", 11, 102)}
	if !slices.Equal(names, want) {
		t.Errorf("claims for commit 11: %v, want %v", names, want)
	}
	v.DropSpilled(1) // token 101 now names only an orphan
	if names := claimNames(v.Early.Claims("db", 12, v.Spilled)); !slices.Equal(names, []string{format.CheckpointName("db", 12, 102)}) {
		t.Errorf("claims for commit 12 after block 1 came back: %v", names)
	}
	if c := (&Early{}).Claims("db", 12, nil); c != nil {
		t.Errorf("a transaction that uploaded nothing early claims %v", c)
	}
}

// claimNames returns the object names of claims.
func claimNames(claims []Claim) []string {
	var out []string
	for _, c := range claims {
		out = append(out, c.Name)
	}
	return out
}

// TestEarlyRenewed: a try is published only if, for every token it
// renews, the renewal ended within MaxAttemptPause of the start of that
// token's newest object, the oldest token's included.
func TestEarlyRenewed(t *testing.T) {
	start := time.Now()
	e := Early{Commit: 8, renewedAt: map[uint64]time.Time{101: start, 102: start.Add(10 * time.Minute)}}
	both := []Claim{{Token: 101}, {Token: 102}}
	if err := e.Renewed("db", both, start.Add(time.Minute), start.Add(MaxAttemptPause)); err != nil {
		t.Errorf("renewed within the bound: %v", err)
	}
	for tok, at := range e.renewedAt {
		if at != start.Add(time.Minute) {
			t.Errorf("token %d: the claim did not become its newest object: %v", tok, at)
		}
	}
	// Token 102 was written 1 minute before, token 101 more than
	// MaxAttemptPause before: its blocks may be gone.
	e.renewedAt[102] = start.Add(MaxAttemptPause)
	err := e.Renewed("db", both, start.Add(MaxAttemptPause+time.Minute), start.Add(time.Minute+MaxAttemptPause+time.Second))
	if err == nil || !strings.Contains(err.Error(), "run the transaction again") {
		t.Errorf("renewed past the bound for the older token: %v, want an error naming the fix", err)
	}
}

// TestEarlyRelease: the end of a transaction deletes what it owns but the
// blocks its published record names, each once.
func TestEarlyRelease(t *testing.T) {
	v := spilledView(t)
	v.Early.Own(format.BlockName("db", 1, v.Spilled[1])) // owned twice
	keep := map[int64]format.BlockRef{1: v.Spilled[1]}
	got := v.Early.Release("db", keep)
	want := []string{format.BlockName("db", 2, format.BlockRef{Commit: 8, Token: 101}), format.BlockName("db", 2, v.Spilled[2])}
	if !slices.Equal(got, want) {
		t.Errorf("released %v, want %v", got, want)
	}
	if again := v.Early.Release("db", nil); len(again) != 0 {
		t.Errorf("released again: %v", again)
	}
}

// TestEarlyTokenAfterPause: an upload more than MaxAttemptPause after the
// newest token's last takes a new token: the old one's objects may have
// been collected meanwhile, and a fresh object under it would hide that.
func TestEarlyTokenAfterPause(t *testing.T) {
	tokens := []uint64{1, 2}
	next := func() uint64 { tok := tokens[0]; tokens = tokens[1:]; return tok }
	var e Early
	start := time.Now()
	first := e.TokenFor(1, 5, start, next)
	if again := e.TokenFor(2, 5, start.Add(MaxAttemptPause), next); again != first {
		t.Errorf("within the pause: token %d, want %d", again, first)
	}
	if late := e.TokenFor(3, 5, start.Add(2*MaxAttemptPause+time.Second), next); late == first {
		t.Errorf("after the pause: token %d reused", late)
	}
}
