// Package dyntest runs a real DynamoDB-compatible server for tests.
//
// By default it installs (once per machine, cached by version) and starts
// dynalite, an in-memory DynamoDB implementation on Node.js, on a loopback
// port, so no account and no network are needed after the first install.
// Set S3VFS_TEST_DYNAMODB_ENDPOINT (with AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and optionally AWS_REGION) to run against another
// DynamoDB-compatible server such as DynamoDB Local or AWS instead.
package dyntest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3vfs/s3vfs/internal/testproc"
)

// DynaliteVersion is the version of dynalite that [Start] installs and runs.
const DynaliteVersion = "4.0.0"

// Environment variables that point the tests at an external server or at a
// dynalite installed elsewhere.
const (
	EnvEndpoint = "S3VFS_TEST_DYNAMODB_ENDPOINT" // e.g. http://127.0.0.1:8000
	EnvRegion   = testproc.EnvRegion
	EnvDynalite = "S3VFS_DYNALITE" // path of dynalite's cli.js
)

// Server is a running DynamoDB-compatible server: either a dynalite process
// owned by this Server, or an external endpoint named by
// S3VFS_TEST_DYNAMODB_ENDPOINT.
type Server struct {
	testproc.Access // where it answers, and its credentials

	proc *testproc.Proc // nil for an external server

	clientOnce sync.Once
	client     *dynamodb.Client
}

// Start returns a running server. Progress messages (such as the one-time
// install of dynalite) go to logf, which may be nil.
func Start(ctx context.Context, logf func(format string, args ...any)) (*Server, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if access, ok := testproc.ExternalAccess(EnvEndpoint); ok {
		if access.AccessKey == "" && access.SecretKey == "" {
			// DynamoDB Local and dynalite accept any; the SDK refuses none.
			access.AccessKey, access.SecretKey = testproc.LocalAccessKey, testproc.LocalSecretKey
		}
		return &Server{Access: access}, nil
	}
	node, err := nodeBinary()
	if err != nil {
		return nil, err
	}
	cli, err := CLI(ctx, logf)
	if err != nil {
		return nil, err
	}
	// The free port is found by listening and closing, so another process
	// may take it before dynalite does; try again with a fresh port then.
	for attempt := 1; ; attempt++ {
		s, err := startDynalite(ctx, node, cli)
		if err == nil || !errors.Is(err, errAddrInUse) || attempt == 3 {
			return s, err
		}
	}
}

// nodeBinary returns the path of the Node.js interpreter.
func nodeBinary() (string, error) {
	for _, name := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("dyntest: no DynamoDB server available: node not found in PATH: "+
		"install Node.js 20 or later (Debian: apt-get install nodejs npm), "+
		"or set %s to a DynamoDB-compatible endpoint", EnvEndpoint)
}

var errAddrInUse = errors.New("address in use")

// guardScript runs dynalite's cli.js (argv[1]) so that a client that goes
// away in the middle of a request does not end the server. dynalite throws
// from the request's "error" event, and Node ends the process on an
// uncaught exception; the tests SIGKILL writers at random moments, and the
// first one killed while its request was on the wire took the server, and
// every test after it, down. Any other uncaught exception still ends it.
const guardScript = `
process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dyntest: a client went away mid-request: ' + err.message);
    return;
  }
  console.error(err);
  process.exit(70);
});
require(process.argv[1]);
`

func startDynalite(ctx context.Context, node, cli string) (*Server, error) {
	addr, err := testproc.FreeAddr()
	if err != nil {
		return nil, fmt.Errorf("dyntest: %w", err)
	}

	s := &Server{Access: testproc.LocalAccess(addr.String())}
	// Without --path dynalite keeps its tables in memory. It runs under
	// guardScript, which keeps it serving when a client dies mid-request.
	cmd := exec.Command(node, "-e", guardScript, cli, "--host", addr.IP.String(), "--port", fmt.Sprint(addr.Port))
	if s.proc, err = testproc.Start(cmd); err != nil {
		return nil, fmt.Errorf("dyntest: start dynalite: %w", err)
	}

	c := dynamodb.New(s.options(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	var listErr error // the latest ListTables' error
	err = s.proc.AwaitReady(ctx, 50*time.Millisecond, func() bool {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, listErr = c.ListTables(actx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		return listErr == nil
	})
	if err == nil {
		return s, nil
	}
	s.Close()
	switch out := s.proc.Output(); {
	case errors.Is(err, testproc.ErrExited) && strings.Contains(out, "EADDRINUSE"):
		return nil, fmt.Errorf("dyntest: dynalite could not listen on %s: %w", addr, errAddrInUse)
	case errors.Is(err, testproc.ErrExited):
		return nil, fmt.Errorf("dyntest: dynalite exited at start: %v\n%s", s.proc.State(), out)
	case errors.Is(err, testproc.ErrNotReady):
		return nil, fmt.Errorf("dyntest: dynalite did not answer ListTables within 30s: %v\n%s", listErr, out)
	}
	return nil, err
}

// Close stops the server (if this process started it) and waits for it to
// exit. Its tables, kept in memory, are gone.
func (s *Server) Close() {
	if s.proc != nil {
		s.proc.Stop()
	}
}

func (s *Server) options() dynamodb.Options {
	return dynamodb.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
}

// Client returns a DynamoDB client for the server, with its static
// credentials. Every call returns the same client.
func (s *Server) Client() *dynamodb.Client {
	s.clientOnce.Do(func() { s.client = dynamodb.New(s.options()) })
	return s.client
}

// NewTableName returns a fresh random table name. It creates nothing.
func (s *Server) NewTableName() string {
	return "s3vfs-" + testproc.RandomHex(8)
}

// lastLines returns at most the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
