package s3vfs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/s3vfs/s3vfs/internal/dyntest"
	"github.com/s3vfs/s3vfs/internal/s3server"
)

// Tests that need several OS processes re-execute the test binary. The
// child finds its job in these environment variables and talks to the
// parent's S3 server through S3VFS_TEST_ENDPOINT.
const (
	childEnv       = "S3VFS_TEST_CHILD"        // the child mode to run
	childBucketEnv = "S3VFS_TEST_CHILD_BUCKET" // the bucket to use
	childKeyEnv    = "S3VFS_TEST_CHILD_KEY"    // the database key
	childArgEnv    = "S3VFS_TEST_CHILD_ARG"    // a mode-specific argument
	childParamsEnv = "S3VFS_TEST_CHILD_PARAMS" // URI parameters added to the child's database name
)

// childModes maps a child mode name to its body, which returns the exit
// code. Test files register their modes in init functions.
var childModes = map[string]func() int{}

func runChild(mode string) int {
	fn := childModes[mode]
	if fn == nil {
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
	return fn()
}

// childCommand returns a command that runs mode in a child process against
// the env's bucket (through the env's proxy) and database key; params are
// URI parameters for the child's database name (childDB).
func (e *env) childCommand(mode, key, arg string, params ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"="+mode,
		childBucketEnv+"="+e.bucket,
		childKeyEnv+"="+key,
		childArgEnv+"="+arg,
		childParamsEnv+"="+strings.Join(params, "&"),
		childTableEnv+"="+e.table,
		"S3VFS_TEST_ENDPOINT="+e.proxy.URL,
		"AWS_ACCESS_KEY_ID="+server.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+server.SecretKey,
		"AWS_REGION="+server.Region,
	)
	if e.table != "" {
		cmd.Env = append(cmd.Env, dyntest.EnvEndpoint+"="+dyn.server.Endpoint)
	}
	cmd.Stderr = os.Stderr
	return cmd
}

// childServer returns, in a child process, an S3 server handle for the
// parent's endpoint, and the bucket, key and argument the parent passed.
func childServer() (srv *s3server.Server, bucket, key, arg string) {
	srv, err := s3server.Start(context.Background(), nil) // S3VFS_TEST_ENDPOINT is set
	if err != nil {
		panic(err)
	}
	return srv, os.Getenv(childBucketEnv), os.Getenv(childKeyEnv), os.Getenv(childArgEnv)
}
