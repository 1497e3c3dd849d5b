package embed

import (
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs"
)

// TestBucketNotBlockedByConfigLoad: while the AWS configuration loads
// (which may wait on the network), the databases of buckets already in
// use still open; two opens racing to a new bucket share one VFS.
func TestBucketNotBlockedByConfigLoad(t *testing.T) {
	loading := make(chan struct{}, 2)
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock()
	r := &registry{buckets: map[string]*s3vfs.VFS{}, awsConfig: func() (aws.Config, error) {
		loading <- struct{}{}
		<-release
		return aws.Config{Region: "us-east-1"}, nil
	}}
	known, err := s3vfs.New(s3.New(s3.Options{Region: "us-east-1"}), "known", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.buckets["known\x00"] = known

	made := make(chan *s3vfs.VFS, 2)
	for range 2 {
		go func() {
			v, err := r.bucket("new", "")
			if err != nil {
				t.Error(err)
			}
			made <- v
		}()
	}
	<-loading // one open is loading the configuration

	got := make(chan *s3vfs.VFS, 1)
	go func() {
		v, _ := r.bucket("known", "")
		got <- v
	}()
	select {
	case v := <-got:
		if v != known {
			t.Errorf("bucket known: another VFS")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the open of a bucket in use waited for the AWS configuration to load")
	}

	unblock()
	if a, b := <-made, <-made; a == nil || a != b {
		t.Fatalf("two opens of a new bucket got different VFSs: %p %p", a, b)
	}
}
