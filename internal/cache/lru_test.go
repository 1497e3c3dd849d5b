package cache

import "testing"

// An LRU keeps what fits its bound, evicting the least recently used
// first; an object larger than the bound, or any with no bound, is not
// kept.
func TestLRU(t *testing.T) {
	c := NewLRU(10)
	c.Add("a", make([]byte, 4))
	c.Add("b", make([]byte, 4))
	if _, ok := c.Get("a"); !ok { // a is now the most recent
		t.Fatal("a is not kept")
	}
	c.Add("c", make([]byte, 4)) // 12 bytes: b goes
	if _, ok := c.Get("b"); ok {
		t.Error("b, the least recently used, is kept past the bound")
	}
	for _, name := range []string{"a", "c"} {
		if _, ok := c.Get(name); !ok {
			t.Errorf("%s is not kept", name)
		}
	}
	if c.Bytes() != 8 {
		t.Errorf("Bytes = %d, want 8", c.Bytes())
	}
	c.Add("big", make([]byte, 11))
	if _, ok := c.Get("big"); ok || c.Bytes() != 8 {
		t.Errorf("an object over the bound is kept (Bytes %d)", c.Bytes())
	}

	none := NewLRU(0)
	none.Add("a", []byte{1})
	if _, ok := none.Get("a"); ok || none.Limit() != 0 {
		t.Error("an LRU of no bytes keeps an object")
	}
}
