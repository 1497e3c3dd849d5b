package tx

// Rules is how a transaction's commit may be published, decided in
// one place ([Writes.RulesFor]), from the transaction's own state, when the commit
// begins: nothing the commit releases on the way (the orphans of a try
// that lost, the early blocks of an unknown outcome, a block brought back
// into memory) can change it. Every path of a commit asks it, never the
// state it was decided from.
type Rules struct {
	// Alone: published in a record of its own, never merged with other
	// transactions of its process (the engine's groupcommit.go).
	Alone bool
	// Rebase: a try that loses the race for its record may be rebased
	// onto the newer head (the engine's rebase.go), when its read set allows.
	Rebase bool
	// Renew: it uploaded blocks early, kept through every try; a try above
	// the commit they are named for renews them first ([Early.Claims]).
	Renew bool
}

// RulesFor decides the rules of the commit of t, a view whose bytes
// before its writes are committedSize long. Blocks uploaded early are
// published alone, rebased with the blocks (renewed); a truncation is
// published alone, and never rebased: the bytes it cut are not in the
// read set, and another commit may have changed them.
func (t *Writes) RulesFor(committedSize int64) Rules {
	early := t.Early.uploaded()
	truncated := t.Floor < committedSize
	return Rules{Alone: early || truncated, Rebase: !truncated, Renew: early}
}
