package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/s3vfs/s3vfs"
)

// usageError is a bad command line; its message names the fix.
type usageError struct{ msg string }

// Error implements error.
func (e *usageError) Error() string { return "s3vfs: " + e.msg }

// usagef returns a *usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// newFlagSet returns a flag set for the named command whose --help prints
// help (usage text, examples) and the flags to stdout.
func newFlagSet(name, help string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("s3vfs "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stdout, strings.TrimLeft(help, "\n"))
		fmt.Fprintln(stdout, "\nFlags:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args with fs. --help prints the help and returns
// flag.ErrHelp; any other mistake becomes one line naming the fix.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	}
	return usagef("%s: %v (run \"%s --help\" for the flags)", strings.TrimPrefix(fs.Name(), "s3vfs "), err, fs.Name())
}

// parseFlagsAnywhere is parseFlags for commands whose arguments never
// start with "-": flags may come after the arguments too (s3vfs info
// s3://b/app.db --json), as with the aws command. "--" ends the flags.
func parseFlagsAnywhere(fs *flag.FlagSet, args []string) error {
	return parseFlags(fs, flagsFirst(fs, args))
}

// flagsFirst returns args with the flags fs defines (and their values)
// moved before the other arguments, which keep their order.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			// Everything after it is an argument, even what looks a flag.
			return slices.Concat(flags, []string{"--"}, rest, args[i+1:])
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if help := name == "h" || name == "help"; strings.HasPrefix(a, "-") && help && f == nil {
			flags = append(flags, a)
			continue
		}
		if !strings.HasPrefix(a, "-") || f == nil {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, rest...)
}

// timedOut reports whether err is a request that ran out of time: the
// request timeout (--timeout), not an interrupt.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// bucketInHost reports whether host looks like a bucket prefixed to a
// local server's name (my-bucket.localhost, my-bucket.127.0.0.1,
// my-bucket.minio): a server reached without --path-style.
func bucketInHost(host string) bool {
	_, server, ok := strings.Cut(host, ".")
	return ok && (server == "localhost" || net.ParseIP(server) != nil || !strings.Contains(server, "."))
}

// explain turns err into the one line printed before exiting.
func explain(err error) string {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && bucketInHost(dns.Name):
		return fmt.Sprintf("s3vfs: cannot reach S3: host %s not found: the bucket went into the host name (virtual-hosted addressing), "+
			"which a local or S3-compatible server does not resolve: add --path-style (or S3VFS_PATH_STYLE=1)", dns.Name)
	case errors.As(err, &dns):
		return fmt.Sprintf("s3vfs: cannot reach S3: host %s not found: check --endpoint, AWS_ENDPOINT_URL_S3, --region and the network", dns.Name)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Sprintf("s3vfs: cannot reach S3 at %v (%v): check --endpoint, AWS_ENDPOINT_URL_S3 and the network", op.Addr, op.Err)
	}
	if timedOut(err) {
		return fmt.Sprintf("s3vfs: S3 did not answer in time: check --endpoint, AWS_ENDPOINT_URL_S3 and the network, or allow longer with --timeout (default %s)",
			fmtDuration(s3vfs.DefaultRequestTimeout))
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "s3vfs") {
		msg = "s3vfs: " + msg
	}
	return strings.ReplaceAll(msg, "\n", " ")
}
