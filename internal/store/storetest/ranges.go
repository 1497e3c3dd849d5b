package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/s3vfs/s3vfs/internal/store"
)

// ranged checks GetObjectRange: ranges within the object, one past its
// end (cut short), the whole object, and a missing object.
func (s *suite) ranged(t *testing.T) {
	key := "conf/range/x"
	data := bytes.Repeat([]byte("0123456789"), 100)
	if err := s.objs.PutObject(s.ctx, key, data, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ off, n, want int64 }{{0, 10, 10}, {95, 20, 20}, {990, 100, 10}, {0, 5000, 1000}, {999, 1, 1}} {
		got, size, err := s.objs.GetObjectRange(s.ctx, key, c.off, c.n)
		if err != nil {
			t.Fatalf("range %d+%d: %v", c.off, c.n, err)
		}
		if size != 1000 || !bytes.Equal(got, data[c.off:c.off+c.want]) {
			t.Errorf("range %d+%d: %d bytes of an object of %d, want %d bytes of 1000", c.off, c.n, len(got), size, c.want)
		}
	}
	if _, _, err := s.objs.GetObjectRange(s.ctx, key, 1000, 10); err == nil {
		t.Error("range from the object's end: no error")
	}
	if _, _, err := s.objs.GetObjectRange(s.ctx, key+"-missing", 0, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("range of a missing object: %v, want ErrNotFound", err)
	}
}
