package btree

import (
	"encoding/binary"
	"maps"
	"testing"
)

func TestFreelist(t *testing.T) {
	db := testData(t)
	if len(db.free) == 0 {
		t.Fatal("the test database has no free pages")
	}
	r := newReader(t, db)
	got, err := Freelist(db.file[:db.pageSize], db.pageSize, r.read)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, db.free) {
		t.Fatalf("Freelist found %d pages, the walk %d", len(got), len(db.free))
	}
	// A trunk that points to itself is a cycle: an error, not a loop.
	trunk := binary.BigEndian.Uint32(db.file[32:])
	page := append([]byte(nil), db.file[int(trunk-1)*db.pageSize:int(trunk)*db.pageSize]...)
	binary.BigEndian.PutUint32(page[0:], trunk)
	r = newReader(t, db)
	r.overlay = map[uint32][]byte{trunk: page}
	if _, err := Freelist(db.file[:db.pageSize], db.pageSize, r.read); err == nil {
		t.Fatal("a freelist cycle gave no error")
	}
	// A count that does not match the list.
	page1 := append([]byte(nil), db.file[:db.pageSize]...)
	binary.BigEndian.PutUint32(page1[36:], uint32(len(db.free)+1))
	if _, err := Freelist(page1, db.pageSize, newReader(t, db).read); err == nil {
		t.Fatal("a wrong freelist count gave no error")
	}
}
