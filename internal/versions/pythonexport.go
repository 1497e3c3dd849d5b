package versions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// DefaultPythonBlockSize is the root's DefaultPythonBlockSize.
const DefaultPythonBlockSize = 4096

// PythonExport is the root's PythonExport, whose doc comment says what each field holds.
type PythonExport struct {
	Size      int64
	BlockSize int
	Blocks    int64
	Removed   int
}

// ExportPythonLayout is the root's VFS.ExportPythonLayout, whose doc comment is the contract.
func (v *Ops) ExportPythonLayout(ctx context.Context, key, dest string, blockSize int) (PythonExport, error) {
	return v.exportPython(ctx, key, dest, blockSize, func(ctx context.Context) io.ReadCloser {
		return v.SerializeReader(ctx, key)
	})
}

// ExportPythonLayoutAt is the root's VFS.ExportPythonLayoutAt, whose doc comment is the contract.
func (v *Ops) ExportPythonLayoutAt(ctx context.Context, key string, n uint64, dest string, blockSize int) (PythonExport, error) {
	return v.exportPython(ctx, key, dest, blockSize, func(ctx context.Context) io.ReadCloser {
		return v.SerializeReaderAt(ctx, key, n)
	})
}

// exportPython writes the database open reads to dest in the Python
// layout, as [VFS.ExportPythonLayout] describes: it checks the arguments
// and dest, uploads the blocks while reading, then removes stale ones.
func (v *Ops) exportPython(ctx context.Context, key, dest string, blockSize int, open func(context.Context) io.ReadCloser) (PythonExport, error) {
	fail := func(err error) (PythonExport, error) {
		return PythonExport{}, pyExportError(key, dest, err)
	}
	blockSize, err := checkPythonExport(key, dest, blockSize)
	if err != nil {
		return PythonExport{}, err
	}
	existing, err := v.pyExportCheckDest(ctx, dest)
	if err != nil {
		return fail(err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := open(ctx)
	defer src.Close()

	out, readErr, err := v.pyExportUpload(ctx, src, dest, blockSize)
	if err != nil {
		return fail(fmt.Errorf("uploading blocks (dest may now hold a mix of old and new blocks: export again): %w", err))
	}
	if readErr != nil {
		if out.Blocks == 0 {
			// Nothing written: the source's own error (engine.ErrNoDatabase,
			// engine.ErrNoCommit, …) says it best.
			return PythonExport{}, readErr
		}
		return fail(fmt.Errorf("reading the database after %d blocks (dest now holds a mix of old and new blocks: export again): %w", out.Blocks, readErr))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}

	stale := pyExportStale(existing, out.Blocks)
	if err := v.Env.Store.Remove(ctx, stale); err != nil {
		return fail(fmt.Errorf("removing %d stale blocks past the new end (the Python library reads them as part of the file: export again): %w", len(stale), err))
	}
	out.Removed = len(stale)
	return out, nil
}

// pyExportError wraps err, an error of the export of key to dest, with
// what the export was.
func pyExportError(key, dest string, err error) error {
	return fmt.Errorf("s3vfs: export %s to the Python layout at %s: %w", key, dest, err)
}

// checkPythonExport checks the arguments of an export of key to dest in
// the Python layout, before any request: both keys valid, the block size
// in range (returned, 0 meaning [DefaultPythonBlockSize]), and dest
// neither key nor a prefix key lies under.
func checkPythonExport(key, dest string, blockSize int) (int, error) {
	if err := format.ValidateKey(key); err != nil {
		return 0, err
	}
	if err := format.ValidateKey(dest); err != nil {
		return 0, err
	}
	switch {
	case blockSize == 0:
		blockSize = DefaultPythonBlockSize
	case blockSize < format.MinBlockSize || blockSize > format.MaxBlockSize:
		return 0, fmt.Errorf("s3vfs: Python layout block size %d is out of range: use %d to %d bytes, the block_size the Python reader is given (its default is %d)",
			blockSize, format.MinBlockSize, format.MaxBlockSize, DefaultPythonBlockSize)
	}
	switch {
	case dest == key:
		return 0, pyExportError(key, dest, fmt.Errorf("the destination is the database itself: name another key, such as %s.py", key))
	case strings.HasPrefix(key, dest+"/"):
		return 0, pyExportError(key, dest, fmt.Errorf("the database lies under the destination's prefix %s/, which the Python library would read as part of the file: name a key outside it", dest))
	}
	return blockSize, nil
}

// pyExportCheckDest returns the Python layout blocks already under dest/,
// and refuses, before a byte is written, a dest that holds anything else
// or a hot journal (which the next Python opener would roll back over the
// export).
func (v *Ops) pyExportCheckDest(ctx context.Context, dest string) ([]pyExportBlock, error) {
	// Sort what is at dest/ already: stale blocks may stay until the end,
	// anything else is refused before a byte is written.
	existing, err := v.pyExportExisting(ctx, dest)
	if err != nil {
		return nil, err
	}
	// A hot journal there would be rolled back over the export by the next
	// Python opener.
	if err := v.newDatabase(dest).CheckLegacyJournal(ctx); err != nil {
		return nil, err
	}
	return existing, nil
}

// pyExportUpload reads src block by block and uploads each block to its
// Python layout name under dest, up to Options.Concurrency at once, until
// src ends, fails, or a block cannot be named. It returns what it
// uploaded (Size, BlockSize and Blocks), the error that ended the reading
// (readErr) and that of the first upload that failed (err).
func (v *Ops) pyExportUpload(ctx context.Context, src io.Reader, dest string, blockSize int) (out PythonExport, readErr, err error) {
	out = PythonExport{BlockSize: blockSize}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.Env.Cfg.Concurrency)
	for idx := int64(0); ; idx++ {
		buf := make([]byte, blockSize)
		m, err := io.ReadFull(src, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			readErr = err
			break
		}
		if idx >= pyExportMaxBlocks {
			readErr = fmt.Errorf("the database needs more than %d blocks of %d bytes, more than 10-digit names can number: use a larger block size", int64(pyExportMaxBlocks), blockSize)
			break
		}
		if gctx.Err() != nil {
			break
		}
		data, name := buf[:m], format.LegacyBlockName(dest, idx)
		g.Go(func() error { return v.Env.Store.Put(gctx, name, data) })
		out.Size += int64(m)
		out.Blocks = idx + 1
		if m < blockSize {
			break
		}
	}
	return out, readErr, g.Wait()
}

// pyExportStale returns the names of the existing blocks at or past the
// new block count, blocks: the Python library would read them as part of
// the file.
func pyExportStale(existing []pyExportBlock, blocks int64) []string {
	var stale []string
	for _, b := range existing {
		if b.idx >= blocks {
			stale = append(stale, b.name)
		}
	}
	return stale
}

// pyExportMaxBlocks is the number of block indexes 10 digits can write.
const pyExportMaxBlocks = 10_000_000_000

type pyExportBlock struct {
	name string
	idx  int64
}

// pyExportExisting lists the Python layout blocks under dest/, and refuses a
// dest that holds an s3vfs database or any other object.
func (v *Ops) pyExportExisting(ctx context.Context, dest string) ([]pyExportBlock, error) {
	prefix := dest + "/"
	var blocks []pyExportBlock
	var other []string
	v1 := ""
	const show = 3 // objects named in an error
	err := v.Env.Store.List(ctx, prefix, func(o store.Object) error {
		rest := strings.TrimPrefix(o.Key, prefix)
		if idx, ok := engine.ParseLegacyBlockName(prefix, o.Key); ok {
			blocks = append(blocks, pyExportBlock{o.Key, idx})
			return nil
		}
		if first, _, _ := strings.Cut(rest, "/"); first == format.BlocksDir || first == format.CommitsDir || first == format.CheckpointsDir {
			v1 = o.Key
			return engine.ErrStopListing
		}
		if rest == "" && o.Size == 0 {
			return nil // a folder marker (the S3 console makes them): adds nothing to the file
		}
		other = append(other, o.Key)
		return nil
	})
	if err != nil && !errors.Is(err, engine.ErrStopListing) {
		return nil, err
	}
	if v1 != "" {
		return nil, fmt.Errorf("the destination holds an s3vfs database (%s), which is never overwritten: name another key, or delete that database first if it is truly unwanted", v1)
	}
	if len(other) > 0 {
		names := strings.Join(other[:min(len(other), show)], ", ")
		if len(other) > show {
			names += ", … (" + strconv.Itoa(len(other)) + " in all)"
		}
		return nil, fmt.Errorf("the destination holds objects that are not Python layout blocks (%s), which the Python library would read as part of the file: name another key, or move them away", names)
	}
	return blocks, nil
}
