package tx

import (
	"testing"
	"time"
)

// The documented value: the root's docs and GCOptions.Grace's default (an
// hour) rely on it.
func TestMaxAttemptPause(t *testing.T) {
	if MaxAttemptPause != 15*time.Minute {
		t.Fatalf("MaxAttemptPause is %v, documented as 15 minutes", MaxAttemptPause)
	}
}
