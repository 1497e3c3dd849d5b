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

// ctxReader fails reads once ctx is done, so that an interrupt stops a
// copy between two reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
