package engine

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/store"
)

// A passed self-test kept in disk answers for its endpoint and bucket for
// storeVerdictTTL, and no longer; an entry that does not answer is
// deleted.
func TestStoreVerdictOnDisk(t *testing.T) {
	disk := cache.NewDisk(t.TempDir(), 1<<20, cache.DiskOptions{})
	s := &store.Store{Bucket: "b", Endpoint: "http://one"}
	if PassedOnDisk(s, disk) {
		t.Fatal("an empty disk cache holds a verdict")
	}
	KeepPassed(s, disk)
	if !PassedOnDisk(s, disk) {
		t.Fatal("the verdict just kept is not found")
	}
	if PassedOnDisk(&store.Store{Bucket: "b", Endpoint: "http://two"}, disk) || PassedOnDisk(&store.Store{Bucket: "c", Endpoint: "http://one"}, disk) {
		t.Fatal("the verdict answers for another endpoint or bucket")
	}
	if PassedOnDisk(&store.Store{Bucket: "b"}, disk) || PassedOnDisk(s, nil) {
		t.Fatal("a verdict without an endpoint or a disk cache")
	}

	for _, age := range []time.Duration{storeVerdictTTL + time.Minute, -time.Hour} {
		data, _ := json.Marshal(storeVerdict{Endpoint: s.Endpoint, Bucket: s.Bucket, Passed: time.Now().Add(-age)})
		if err := os.WriteFile(verdictPath(s, disk), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if PassedOnDisk(s, disk) {
			t.Fatalf("a verdict %v old answers", age)
		}
		if _, err := os.Stat(verdictPath(s, disk)); !os.IsNotExist(err) {
			t.Fatalf("the verdict %v old is not deleted: %v", age, err)
		}
	}
}
