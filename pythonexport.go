package s3vfs

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

// DefaultPythonBlockSize is the block size of the layout of the Python
// library sqlite-s3vfs (its S3VFS block_size default), and the block size
// [VFS.ExportPythonLayout] uses for 0.
const DefaultPythonBlockSize = 4096

// PythonExport describes what [VFS.ExportPythonLayout] wrote.
type PythonExport struct {
	Size      int64 // bytes of the database file
	BlockSize int   // size of every block object but the last
	Blocks    int64 // block objects written, DEST/0000000000 on
	Removed   int   // stale block objects at or past Blocks deleted
}

// ExportPythonLayout writes the newest commit of the database at key to
// dest in the layout of the Python library sqlite-s3vfs, for Python
// readers: objects dest/0000000000, dest/0000000001, … (the block index,
// 10 digits, zero-padded), each exactly blockSize bytes but the last, which
// holds the rest of the file; the database file is their concatenation.
// blockSize 0 means [DefaultPythonBlockSize], the Python default; otherwise
// it must be 512 to 16 MiB, and the Python reader must be given the same
// block_size. Blocks are uploaded in parallel (up to Options.Concurrency at
// once) while the database is read, so memory stays bounded. Block objects
// already at dest with an index at or past the new block count are then
// deleted: the Python library counts every object under dest/ into the file
// size.
//
// This layout has no commit point. While the export runs (and after one
// that failed), a reader of dest may see a mix of old and new blocks, a
// missing block, or stale blocks past the new end: publish when no Python
// reader is at work, or accept that one may fail or see a torn file. It is
// one-way publication for Python readers, by one exporter at a time, never
// a second writer: changes made at dest (by Python) are not carried back
// to key, and the next export overwrites them.
//
// Nothing is written, and the error says why, if dest is not a valid key,
// is key itself or a folder that holds key, holds an s3vfs database
// (objects under dest/_commits/, dest/_blocks/ or dest/_checkpoints/: it is
// never overwritten), holds any object other than 10-digit block names
// (which the Python library would read as part of the file; an empty
// folder marker dest/ aside), or has a hot rollback journal under
// dest-journal/ (a Python transaction that died half-way, which the next
// Python opener would roll back over the export). Errors reading the
// source (such as [ErrNoDatabase]) are also reported before anything is
// written.
func (v *VFS) ExportPythonLayout(ctx context.Context, key, dest string, blockSize int) (PythonExport, error) {
	return v.exportPython(ctx, key, dest, blockSize, func(ctx context.Context) io.ReadCloser {
		return v.SerializeReader(ctx, key)
	})
}

// ExportPythonLayoutAt is [VFS.ExportPythonLayout] for commit n instead of
// the newest. Commit n must be within the retention (see [VFS.History]);
// otherwise the error matches [ErrNoCommit] and nothing is written.
func (v *VFS) ExportPythonLayoutAt(ctx context.Context, key string, n uint64, dest string, blockSize int) (PythonExport, error) {
	return v.exportPython(ctx, key, dest, blockSize, func(ctx context.Context) io.ReadCloser {
		return v.SerializeReaderAt(ctx, key, n)
	})
}

// exportPython writes the database open reads to dest in the Python
// layout, as [VFS.ExportPythonLayout] describes: it checks the arguments
// and dest, uploads the blocks while reading, then removes stale ones.
func (v *VFS) exportPython(ctx context.Context, key, dest string, blockSize int, open func(context.Context) io.ReadCloser) (PythonExport, error) {
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
			// Nothing written: the source's own error (ErrNoDatabase,
			// ErrNoCommit, …) says it best.
			return PythonExport{}, readErr
		}
		return fail(fmt.Errorf("reading the database after %d blocks (dest now holds a mix of old and new blocks: export again): %w", out.Blocks, readErr))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}

	stale := pyExportStale(existing, out.Blocks)
	if err := v.env.Store.Remove(ctx, stale); err != nil {
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
func (v *VFS) pyExportCheckDest(ctx context.Context, dest string) ([]pyExportBlock, error) {
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
func (v *VFS) pyExportUpload(ctx context.Context, src io.Reader, dest string, blockSize int) (out PythonExport, readErr, err error) {
	out = PythonExport{BlockSize: blockSize}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Concurrency)
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
		g.Go(func() error { return v.env.Store.Put(gctx, name, data) })
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
func (v *VFS) pyExportExisting(ctx context.Context, dest string) ([]pyExportBlock, error) {
	prefix := dest + "/"
	var blocks []pyExportBlock
	var other []string
	v1 := ""
	const show = 3 // objects named in an error
	err := v.env.Store.List(ctx, prefix, func(o store.Object) error {
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
