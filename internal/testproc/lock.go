package testproc

import (
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive lock on the file at path, created if needed,
// for as long as the process holds it: the installs of a server by test
// packages that start at once take turns. It returns the unlock.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
