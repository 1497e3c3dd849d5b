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

// sized is a Value of a given size that counts its evictions.
type sized struct {
	size    int64
	evicted *int
}

func (v sized) Size() int64 { return v.size }
func (v sized) Evicted()    { *v.evicted++ }

// A Value shares the bound with bytes, is evicted in the same order, and
// is told when it is evicted; one not kept (too large, or its name held)
// is not told. Touch keeps an entry from being the next evicted. Get
// does not return a Value as bytes.
func TestLRUValues(t *testing.T) {
	c := NewLRU(10)
	var evicted int
	if !c.AddValue("v", sized{4, &evicted}) {
		t.Fatal("a value within the bound is not kept")
	}
	if _, ok := c.Get("v"); ok {
		t.Error("Get returns a value as bytes")
	}
	c.Add("a", make([]byte, 4))
	if !c.Touch("v") || c.Touch("absent") {
		t.Error("Touch reports a held entry absent, or an absent one held")
	}
	c.Add("b", make([]byte, 4)) // 12 bytes: a, now the least recent, goes
	if _, ok := c.Get("a"); ok || evicted != 0 {
		t.Fatalf("after touching v, a is kept (or v evicted %d times)", evicted)
	}
	if c.AddValue("v", sized{1, &evicted}) || c.AddValue("huge", sized{11, &evicted}) {
		t.Error("a value under a held name, or over the bound, is kept")
	}
	c.Add("c", make([]byte, 4)) // b goes: adding under v's name made v the most recent
	if _, ok := c.Get("b"); ok || evicted != 0 {
		t.Fatalf("b is kept (or v evicted %d times)", evicted)
	}
	c.Add("d", make([]byte, 4)) // v is the least recent
	if evicted != 1 || c.Bytes() != 8 {
		t.Errorf("v evicted %d times, %d bytes held; want once, 8", evicted, c.Bytes())
	}

	// A cold value takes only free room: kept in it, evicted first.
	if !c.AddColdValue("w", sized{2, &evicted}) || !c.Touch("w") {
		t.Fatal("a cold value in free room is not kept")
	}
	c.AddColdValue("x", sized{2, &evicted}) // 12 bytes: x, the least recent, goes at once
	if c.Touch("x") || evicted != 2 || c.Bytes() != 10 {
		t.Errorf("a cold value past the bound: kept %v, %d evictions, %d bytes; want it evicted at once, 10 bytes", c.Touch("x"), evicted, c.Bytes())
	}
	for _, name := range []string{"c", "d"} {
		if _, ok := c.Get(name); !ok {
			t.Errorf("%s was evicted to make room for a cold value", name)
		}
	}
}
