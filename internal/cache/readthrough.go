package cache

import "context"

// ReadThrough returns the object whose entry is at path (see [Disk.Path]):
// from the entry if it holds length bytes (any number if length is
// negative) that verify accepts, else from fetch, and then kept as the
// entry if it is length bytes and verify accepts it. hit reports whether
// the entry answered (and fetch was not called), for the caller to count
// as a hit or a miss. On a miss fetch's error is returned as is, and its
// bytes even when verify rejects them: the caller judges them, and says
// what is wrong.
func (c *Disk) ReadThrough(ctx context.Context, path string, length int64, verify func([]byte) bool,
	fetch func(context.Context) ([]byte, error)) (data []byte, hit bool, err error) {
	if data, ok := c.Get(path, length, verify); ok {
		return data, true, nil
	}
	data, err = fetch(ctx)
	if err != nil {
		return nil, false, err
	}
	if (length < 0 || int64(len(data)) == length) && verify(data) {
		c.Put(path, data)
	}
	return data, false, nil
}
