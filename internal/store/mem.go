package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mem is an [Objects] in memory: one bucket that keeps the contract
// exactly (conditional creates, ETags, ordered listings), for fast tests
// of everything above the store. It runs the same conformance suite as
// [S3]. Its zero value is not ready: make one with [NewMem].
type Mem struct {
	mu   sync.Mutex
	objs map[string]memObject
	seq  uint64 // makes ETags unique
}

type memObject struct {
	data     []byte
	etag     string
	modified time.Time
}

var _ Objects = (*Mem)(nil)

// NewMem returns an empty bucket in memory.
func NewMem() *Mem { return &Mem{objs: map[string]memObject{}} }

// GetObject implements [Objects]; a missing object's error reads as S3's
// NoSuchKey.
func (m *Mem) GetObject(ctx context.Context, key, ifMatch string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	switch {
	case !ok:
		return nil, &classified{kind: ErrNotFound, err: fmt.Errorf("NoSuchKey: %s", key)}
	case ifMatch != "" && o.etag != ifMatch:
		return nil, &classified{kind: ErrExists, err: fmt.Errorf("PreconditionFailed: ETag %s, want %s", o.etag, ifMatch)}
	}
	return slices.Clone(o.data), nil
}

// GetObjectRange implements [Objects].
func (m *Mem) GetObjectRange(ctx context.Context, key string, off, n int64) ([]byte, int64, error) {
	data, err := m.GetObject(ctx, key, "")
	if err != nil {
		return nil, 0, err
	}
	size := int64(len(data))
	if off < 0 || n <= 0 || off >= size {
		return nil, 0, fmt.Errorf("InvalidRange: bytes %d-%d of %d", off, off+n-1, size)
	}
	return data[off:min(off+n, size):min(off+n, size)], size, nil
}

// PutObject implements [Objects]; each put makes a new ETag.
func (m *Mem) PutObject(ctx context.Context, key string, data []byte, ifNoneMatch bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok && ifNoneMatch {
		return &classified{kind: ErrExists, err: fmt.Errorf("PreconditionFailed: %s exists", key)}
	}
	m.seq++
	m.objs[key] = memObject{data: slices.Clone(data), etag: fmt.Sprintf(`"m%d"`, m.seq), modified: time.Now()}
	return nil
}

// ListObjects implements [Objects]; its times are those of the puts.
func (m *Mem) ListObjects(ctx context.Context, prefix, startAfter string, limit int) ([]Object, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	more := len(keys) > limit
	keys = keys[:min(len(keys), limit)]
	objs := make([]Object, len(keys))
	for i, k := range keys {
		o := m.objs[k]
		objs[i] = Object{Key: k, Size: int64(len(o.data)), LastModified: o.modified, ETag: o.etag}
	}
	return objs, more, nil
}

// RemoveObjects implements [Objects]; more than [MaxRemoveBatch] keys are
// refused, as S3 refuses them.
func (m *Mem) RemoveObjects(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) > MaxRemoveBatch {
		return fmt.Errorf("MalformedXML: %d keys in one request, at most %d", len(keys), MaxRemoveBatch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.objs, k)
	}
	return nil
}
