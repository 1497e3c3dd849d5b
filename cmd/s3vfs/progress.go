package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress wraps r so that reading it draws a progress bar (bytes, rate,
// ETA) on stderr when stderr is a terminal, and stops with ctx's error once
// ctx is done. size is -1 when unknown. finish clears the bar.
func progress(ctx context.Context, r io.Reader, size int64, desc string, stderr io.Writer) (_ io.Reader, finish func()) {
	cr := &ctxReader{ctx: ctx, r: r}
	if !isTerminal(stderr) {
		return cr, func() {}
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetRenderBlankState(true),
	)
	pr := progressbar.NewReader(cr, bar)
	return &pr, func() {
		bar.Finish()
		fmt.Fprintln(stderr)
	}
}

// progressFunc returns a progress callback, as s3vfs.MigrateOptions.Progress
// takes, that draws a bar on stderr when stderr is a terminal (nil when it
// is not), and finish, which ends the bar's line. Call finish before
// printing anything else, so that the next line starts on a line of its
// own.
func progressFunc(desc string, stderr io.Writer) (set func(done, total int64), finish func()) {
	if !isTerminal(stderr) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	set = func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetDescription(desc),
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionShowCount())
		}
		bar.Set64(done)
	}
	finish = func() {
		if bar != nil {
			bar.Finish()
			fmt.Fprintln(stderr)
			bar = nil
		}
	}
	return set, finish
}

// ctxReader fails reads once ctx is done, also a read that is blocked
// (on a pipe, say): an interrupt then stops the copy at once. A read left
// blocked finishes in the background into ctxReader's own buffer.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	buf  []byte
	done chan readResult // the read in flight, if any
}

type readResult struct {
	n   int
	err error
}

// Read implements [io.Reader].
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.done == nil {
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)]
		ch := make(chan readResult, 1)
		c.done = ch
		go func() {
			n, err := c.r.Read(buf)
			ch <- readResult{n, err}
		}()
	}
	select {
	case res := <-c.done:
		c.done = nil
		n := copy(p, c.buf[:res.n])
		return n, res.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
