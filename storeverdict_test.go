package s3vfs

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
	if passedOnDisk(s, disk) {
		t.Fatal("an empty disk cache holds a verdict")
	}
	keepPassed(s, disk)
	if !passedOnDisk(s, disk) {
		t.Fatal("the verdict just kept is not found")
	}
	if passedOnDisk(&store.Store{Bucket: "b", Endpoint: "http://two"}, disk) || passedOnDisk(&store.Store{Bucket: "c", Endpoint: "http://one"}, disk) {
		t.Fatal("the verdict answers for another endpoint or bucket")
	}
	if passedOnDisk(&store.Store{Bucket: "b"}, disk) || passedOnDisk(s, nil) {
		t.Fatal("a verdict without an endpoint or a disk cache")
	}

	for _, age := range []time.Duration{storeVerdictTTL + time.Minute, -time.Hour} {
		data, _ := json.Marshal(storeVerdict{Endpoint: s.Endpoint, Bucket: s.Bucket, Passed: time.Now().Add(-age)})
		if err := os.WriteFile(verdictPath(s, disk), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if passedOnDisk(s, disk) {
			t.Fatalf("a verdict %v old answers", age)
		}
		if _, err := os.Stat(verdictPath(s, disk)); !os.IsNotExist(err) {
			t.Fatalf("the verdict %v old is not deleted: %v", age, err)
		}
	}
}
