package s3vfs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// memObjects is an objectStore in memory: one bucket that keeps the
// objectStore contract exactly (conditional creates, ETags, ordered
// listings), for fast tests of everything above the store. It runs the
// same conformance suite as the S3 implementation.
type memObjects struct {
	mu   sync.Mutex
	objs map[string]memObject
	seq  uint64 // makes ETags unique
}

type memObject struct {
	data     []byte
	etag     string
	modified time.Time
}

var _ objectStore = (*memObjects)(nil)

func newMemObjects() *memObjects { return &memObjects{objs: map[string]memObject{}} }

func (m *memObjects) getObject(ctx context.Context, key, ifMatch string) ([]byte, error) {
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

func (m *memObjects) putObject(ctx context.Context, key string, data []byte, ifNoneMatch bool) error {
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

func (m *memObjects) listObjects(ctx context.Context, prefix, startAfter string, limit int) ([]object, bool, error) {
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
	objs := make([]object, len(keys))
	for i, k := range keys {
		o := m.objs[k]
		objs[i] = object{Key: k, Size: int64(len(o.data)), LastModified: o.modified, ETag: o.etag}
	}
	return objs, more, nil
}

func (m *memObjects) removeObjects(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) > maxRemoveBatch {
		return fmt.Errorf("MalformedXML: %d keys in one request, at most %d", len(keys), maxRemoveBatch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.objs, k)
	}
	return nil
}
