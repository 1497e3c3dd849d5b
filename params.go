package s3vfs

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/uriparams"
)

// params are the per-database settings read from the URI of a database
// (file:KEY?vfs=s3&NAME=VALUE...). docs/reference.md lists them all.
type params struct {
	immutable    bool          // immutable=1: the database never changes; never refresh
	readOnly     bool          // set by immutable=1, commit= and asof=
	staleness    time.Duration // staleness=MS: reuse a head confirmed this recently
	stalenessSet bool          // staleness= was given; otherwise Options.Staleness applies
	cacheSet     bool          // block_cache= was given
	cacheSize    int64         // block_cache=BYTES: a cache of the database's own; 0 for none
	cacheDir     string        // cache_dir=PATH: a disk cache of the database's own

	// History (timetravel.go, retention.go).
	atCommit  uint64        // commit=N: read commit N, read-only
	asOf      time.Time     // asof=RFC3339: read the commit current then, read-only
	retention time.Duration // retention=DURATION: the database is collected with it

	// coordinator=bucket|dynamodb and table=NAME: the coordinator the
	// database expects (records.go); the VFS's must be that one.
	coordinator, table string
}

func parseParams(uri *vfs.Filename) (params, error) {
	var p params
	if uri == nil {
		return p, nil
	}
	if err := uriparams.Check(uri.URIParameters()); err != nil {
		return p, err
	}
	p.immutable = uri.URIBoolean("immutable", false)
	p.readOnly = p.immutable
	if s := uri.URIParameter("staleness"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
			return p, fmt.Errorf("s3vfs: URI parameter staleness=%q: want milliseconds from 0 to 86400000", s)
		}
		p.staleness = time.Duration(ms) * time.Millisecond
		p.stalenessSet = true
	}
	// SQLite owns cache= (shared or private; any other value fails the
	// open with "no such cache mode"), hence block_cache=.
	if s := uri.URIParameter("block_cache"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return p, fmt.Errorf("s3vfs: URI parameter block_cache=%q: want a size in bytes from 0 (no cache) to 1099511627776", s)
		}
		p.cacheSet, p.cacheSize = true, n
	}
	p.cacheDir = uri.URIParameter("cache_dir")
	if err := p.parseHistory(uri); err != nil {
		return p, err
	}
	p.coordinator, p.table = uri.URIParameter("coordinator"), uri.URIParameter("table")
	switch {
	case p.coordinator != "" && p.coordinator != "bucket" && p.coordinator != "dynamodb":
		return p, fmt.Errorf("s3vfs: URI parameter coordinator=%q: want bucket or dynamodb", p.coordinator)
	case p.coordinator == "dynamodb" && p.table == "":
		return p, errors.New("s3vfs: URI parameter coordinator=dynamodb needs table=NAME, the DynamoDB table of the commits")
	case p.table != "" && p.coordinator != "dynamodb":
		return p, errors.New("s3vfs: URI parameter table= is the DynamoDB table of coordinator=dynamodb: add coordinator=dynamodb")
	}
	return p, nil
}
