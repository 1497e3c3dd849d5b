package testproc

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is a server process the tests started. Its output is kept out of
// the test log, to be shown if it dies; it dies with the parent where the
// platform allows it; [Proc.Stop] ends it.
type Proc struct {
	cmd  *exec.Cmd
	out  SyncWriter
	done chan struct{} // closed once the process has exited
}

// Start starts cmd with its standard output and error captured, and
// returns the running process.
func Start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Output returns what the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// State describes how the process exited; call it after [Proc.Done].
func (p *Proc) State() *os.ProcessState { return p.cmd.ProcessState }

// Stop asks the process to end (SIGTERM), kills it if it has not within
// five seconds, and waits for it to exit.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// FreeAddr returns a loopback address (127.0.0.1:PORT) whose port was free
// a moment ago. Another process may take it before the server listens.
func FreeAddr() (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr), nil
}

// startTimeout is how long [Proc.AwaitReady] waits for a server to get
// ready.
const startTimeout = 30 * time.Second

// The outcomes of [Proc.AwaitReady] other than ready.
var (
	ErrExited   = errors.New("the server exited at start")
	ErrNotReady = errors.New("the server did not get ready within 30s")
)

// AwaitReady asks ready, at once and then every poll, whether the server
// the process runs is ready, until it is. It returns nil once ready
// returns true, [ErrExited] if the process exits first, ctx's error if ctx
// ends first, and [ErrNotReady] after 30 seconds. It stops nothing: the
// caller stops the process on an error.
func (p *Proc) AwaitReady(ctx context.Context, poll time.Duration, ready func() bool) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		if time.Now().After(deadline) {
			return ErrNotReady
		}
	}
}
