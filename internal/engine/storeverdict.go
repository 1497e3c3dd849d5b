package engine

import (
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// A self-test that passed is kept in the disk cache, so that later
// processes on the machine that share the directory (a command run by
// cron, a function's next cold start) write without running it again.
// The verdict names the endpoint and the bucket, and expires: a store
// that changes under the same name is tested again within a day.

// storeVerdictTTL is how long a passed self-test kept in disk spares
// later processes the test.
const storeVerdictTTL = 24 * time.Hour

// storeVerdict is the entry of a passed self-test in the disk cache.
type storeVerdict struct {
	Endpoint string    `json:"endpoint"`
	Bucket   string    `json:"bucket"`
	Passed   time.Time `json:"passed"`
}

// EndpointOf names the endpoint client sends its requests to: its base
// endpoint if it has one, else the AWS region.
func EndpointOf(client *s3.Client) string {
	o := client.Options()
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		return *o.BaseEndpoint
	}
	return "aws:" + o.Region
}

// verdictPath is the file of the verdict on the store s in disk.
func verdictPath(s *store.Store, disk *cache.Disk) string {
	return disk.Path(s.Bucket, format.ReservedRoot+"/storecheck/verdict@"+s.Endpoint)
}

// PassedOnDisk reports whether disk holds a passed self-test of the store s
// younger than storeVerdictTTL. An expired or foreign entry is deleted.
func PassedOnDisk(s *store.Store, disk *cache.Disk) bool {
	if disk == nil || s.Endpoint == "" {
		return false
	}
	_, ok := disk.Get(verdictPath(s, disk), -1, func(data []byte) bool {
		var v storeVerdict
		if json.Unmarshal(data, &v) != nil || v.Endpoint != s.Endpoint || v.Bucket != s.Bucket {
			return false
		}
		age := time.Since(v.Passed)
		return age >= -LastModifiedSlack && age < storeVerdictTTL
	})
	return ok
}

// KeepPassed records in disk that the store s passed the self-test now.
func KeepPassed(s *store.Store, disk *cache.Disk) {
	if disk == nil || s.Endpoint == "" {
		return
	}
	data, err := json.Marshal(storeVerdict{Endpoint: s.Endpoint, Bucket: s.Bucket, Passed: time.Now()})
	if err == nil {
		disk.Put(verdictPath(s, disk), data)
	}
}
