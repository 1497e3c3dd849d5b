package versions

import (
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// TestSummaryNameIsNoCheckpoint: the name of a collection summary, in the
// checkpoints folder, is no checkpoint, inner pages, claim or block to the
// collector and to Remove, which parse names with parseCheckpointName and
// parseBlockName; and a checkpoint's name is no summary.
func TestSummaryNameIsNoCheckpoint(t *testing.T) {
	const key = "a/b.db"
	name := format.SummaryName(key, 12, 0xabc)
	if _, _, ok := parseCheckpointName(key, name); ok {
		t.Errorf("%s parses as a checkpoint", name)
	}
	if _, _, _, ok := parseBlockName(key, name); ok {
		t.Errorf("%s parses as a block", name)
	}
	for _, ckpt := range []string{format.CheckpointName(key, 12, 0xabc), format.InnerName(key, 12, 0xabc)} {
		if _, _, ok := format.ParseSummaryName(key, ckpt); ok {
			t.Errorf("%s parses as a summary", ckpt)
		}
		if _, _, ok := parseCheckpointName(key, ckpt); !ok {
			t.Errorf("%s does not parse as a checkpoint", ckpt)
		}
	}
}
