package engine

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/uriparams"
)

// Params are the per-database settings read from the URI of a database
// (file:KEY?vfs=s3&NAME=VALUE...). docs/reference.md lists them all.
type Params struct {
	Immutable    bool          // immutable=1: the database never changes; never refresh
	ReadOnly     bool          // set by immutable=1, commit= and asof=
	Staleness    time.Duration // staleness=MS: reuse a head confirmed this recently
	StalenessSet bool          // staleness= was given; otherwise Options.Staleness applies
	CacheSet     bool          // block_cache= was given
	CacheSize    int64         // block_cache=BYTES: a cache of the database's own; 0 for none
	CacheDir     string        // cache_dir=PATH: a disk cache of the database's own

	// History (timetravel.go, times.go).
	AtCommit  uint64        // commit=N: read commit N, read-only
	AsOf      time.Time     // asof=RFC3339: read the commit current then, read-only
	Retention time.Duration // retention=DURATION: the database is collected with it

	// coordinator=bucket|dynamodb and table=NAME: the coordinator the
	// database expects (records.go); the VFS's must be that one.
	Coordinator, Table string
}

// ParseParams reads the parameters of a database's URI, and returns an
// error that names the parameter and the values it takes for a bad one.
func ParseParams(uri *vfs.Filename) (Params, error) {
	var p Params
	if uri == nil {
		return p, nil
	}
	if err := uriparams.Check(uri.URIParameters()); err != nil {
		return p, err
	}
	p.Immutable = uri.URIBoolean("immutable", false)
	p.ReadOnly = p.Immutable
	if s := uri.URIParameter("staleness"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
			return p, fmt.Errorf("s3vfs: URI parameter staleness=%q: want milliseconds from 0 to 86400000", s)
		}
		p.Staleness = time.Duration(ms) * time.Millisecond
		p.StalenessSet = true
	}
	// SQLite owns cache= (shared or private; any other value fails the
	// open with "no such cache mode"), hence block_cache=.
	if s := uri.URIParameter("block_cache"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return p, fmt.Errorf("s3vfs: URI parameter block_cache=%q: want a size in bytes from 0 (no cache) to 1099511627776", s)
		}
		p.CacheSet, p.CacheSize = true, n
	}
	p.CacheDir = uri.URIParameter("cache_dir")
	if err := p.parseHistory(uri); err != nil {
		return p, err
	}
	p.Coordinator, p.Table = uri.URIParameter("coordinator"), uri.URIParameter("table")
	switch {
	case p.Coordinator != "" && p.Coordinator != "bucket" && p.Coordinator != "dynamodb":
		return p, fmt.Errorf("s3vfs: URI parameter coordinator=%q: want bucket or dynamodb", p.Coordinator)
	case p.Coordinator == "dynamodb" && p.Table == "":
		return p, errors.New("s3vfs: URI parameter coordinator=dynamodb needs table=NAME, the DynamoDB table of the commits")
	case p.Table != "" && p.Coordinator != "dynamodb":
		return p, errors.New("s3vfs: URI parameter table= is the DynamoDB table of coordinator=dynamodb: add coordinator=dynamodb")
	}
	return p, nil
}

// parseHistory reads the URI parameters of time travel and retention:
//
//	commit=N            read commit N (read-only)
//	asof=RFC3339        read the commit that was the newest at that time (read-only)
//	retention=DURATION  the retention the database is collected with (e.g. 72h)
func (p *Params) parseHistory(uri *vfs.Filename) error {
	if s := uri.URIParameter("commit"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 || n >= format.RecordBase {
			return fmt.Errorf("s3vfs: URI parameter commit=%q: want a commit number from 1 (see the history of the database)", s)
		}
		p.AtCommit = n
	}
	if s := uri.URIParameter("asof"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("s3vfs: URI parameter asof=%q: want an RFC 3339 time such as 2024-05-01T12:00:00Z", s)
		}
		if p.AtCommit != 0 {
			return errors.New("s3vfs: URI parameters commit= and asof= both name a version: use one of them")
		}
		p.AsOf = t
	}
	if p.AtCommit != 0 || !p.AsOf.IsZero() {
		p.ReadOnly = true
	}
	if s := uri.URIParameter("retention"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return fmt.Errorf("s3vfs: URI parameter retention=%q: want a duration of at least 1s such as 24h or 90m", s)
		}
		p.Retention = d
	}
	return nil
}

// Pinned reports whether the URI names a past version (commit= or asof=).
func (p Params) Pinned() bool { return p.AtCommit != 0 || !p.AsOf.IsZero() }
