package s3vfs

import (
	"fmt"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/engine"
)

// Coordinator is where a VFS keeps the commit records of its databases,
// and so where a commit happens: by default the bucket (nil in
// [Options.Coordinator]: a conditional create of K/_commits/…), or a
// DynamoDB table ([github.com/s3vfs/s3vfs/dynamodb.NewCoordinator]) for
// stores whose conditional creates cannot be trusted. Blocks and
// checkpoints stay in the bucket either way. Every process that writes a
// database must use the same coordinator: a database coordinated
// elsewhere than its bucket carries a marker that the bucket's own
// coordinator refuses to write past.
//
// Only packages of this module implement it: Records returns the
// module's commit log, an internal type, so that no coordinator outside
// the module claims the log's contract (one winner among racing creates,
// strongly consistent reads), which only the module's conformance suite
// checks. Opening it later costs no change to this method set.
type Coordinator interface {
	// Name names the coordinator in messages, and is the text of the
	// marker a database it keeps leaves in its bucket, byte for byte:
	// "DynamoDB table T".
	Name() string
	// URI names the coordinator as the URI parameters do, what
	// coordinator= must name: "dynamodb&table=T".
	URI() string
	// MaxRecordSize bounds the records it keeps; a commit whose record
	// would be larger writes a checkpoint. 0: any.
	MaxRecordSize() int
	// Records returns its log for a VFS of bucket, which the fix in its
	// errors names.
	Records(bucket string) commitlog.Log
}

// checkCoordinator returns an error if the URI parameters p ask for
// another coordinator than the VFS's: the database would be written with
// two commit points.
func (v *VFS) checkCoordinator(p engine.Params) error {
	if p.Coordinator == "" {
		return nil
	}
	have := "bucket"
	if c := v.opts.Coordinator; c != nil {
		have = c.URI()
	}
	want := p.Coordinator
	if want == "dynamodb" {
		want += "&table=" + p.Table
	}
	if have != want {
		return fmt.Errorf("s3vfs: the URI asks for coordinator=%s but this VFS keeps commits with coordinator=%s: "+
			"give the VFS that coordinator (Options.Coordinator), or fix the URI", want, have)
	}
	return nil
}
