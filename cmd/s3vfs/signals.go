package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// errInterrupted is the cause of a command's context cancelled by Ctrl-C
// or SIGTERM.
var errInterrupted = errors.New("interrupted")

// interruptRouter sends Ctrl-C (SIGINT) to the handler a command has set
// for the moment (the shell, while a statement runs: it cancels that
// statement only), or, with none set, cancels the command.
type interruptRouter struct {
	mu      sync.Mutex
	handler func()
}

// ctrlC routes the process's SIGINT: signals are the whole process's, so
// is their router.
var ctrlC interruptRouter

// route makes handle the receiver of Ctrl-C until release is called.
func (r *interruptRouter) route(handle func()) (release func()) {
	r.mu.Lock()
	r.handler = handle
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.handler = nil
		r.mu.Unlock()
	}
}

// deliver calls the handler set, if any, and reports whether there was
// one.
func (r *interruptRouter) deliver() bool {
	r.mu.Lock()
	h := r.handler
	r.mu.Unlock()
	if h == nil {
		return false
	}
	h()
	return true
}

// signalContext returns a context cancelled by SIGTERM, and by SIGINT
// when no handler takes it (see ctrlC), and the function that stops
// watching the signals.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range ch {
			if s == os.Interrupt && ctrlC.deliver() {
				continue
			}
			cancel(errInterrupted)
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}
