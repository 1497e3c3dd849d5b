package s3vfs

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// A passed self-test kept in disk answers for its endpoint and bucket for
// storeVerdictTTL, and no longer; an entry that does not answer is
// deleted.
func TestStoreVerdictOnDisk(t *testing.T) {
	disk := newDiskCache(t.TempDir(), 1<<20, nil)
	s := &store{bucket: "b", endpoint: "http://one"}
	if s.passedOnDisk(disk) {
		t.Fatal("an empty disk cache holds a verdict")
	}
	s.keepPassed(disk)
	if !s.passedOnDisk(disk) {
		t.Fatal("the verdict just kept is not found")
	}
	if (&store{bucket: "b", endpoint: "http://two"}).passedOnDisk(disk) || (&store{bucket: "c", endpoint: "http://one"}).passedOnDisk(disk) {
		t.Fatal("the verdict answers for another endpoint or bucket")
	}
	if (&store{bucket: "b"}).passedOnDisk(disk) || s.passedOnDisk(nil) {
		t.Fatal("a verdict without an endpoint or a disk cache")
	}

	for _, age := range []time.Duration{storeVerdictTTL + time.Minute, -time.Hour} {
		data, _ := json.Marshal(storeVerdict{Endpoint: s.endpoint, Bucket: s.bucket, Passed: time.Now().Add(-age)})
		if err := os.WriteFile(s.verdictPath(disk), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if s.passedOnDisk(disk) {
			t.Fatalf("a verdict %v old answers", age)
		}
		if _, err := os.Stat(s.verdictPath(disk)); !os.IsNotExist(err) {
			t.Fatalf("the verdict %v old is not deleted: %v", age, err)
		}
	}
}
