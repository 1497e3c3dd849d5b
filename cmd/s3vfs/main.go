// Command s3vfs imports, exports, queries and inspects SQLite databases kept
// in an S3 bucket by the s3vfs library, lists their history, restores old
// versions, branches and removes databases, and collects garbage.
//
// Databases are named s3://BUCKET/KEY. AWS settings come from the standard
// chain (environment, shared config and credentials files), with --profile,
// --region, --endpoint (or AWS_ENDPOINT_URL_S3) and --path-style for
// S3-compatible servers. Run "s3vfs help" for the commands, and
// "s3vfs demo" to try it with no account.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1 // the command failed
	exitUsage       = 2 // bad command line
	exitInterrupted = 130
)

func main() {
	ctx, stop := signalContext()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	code := exitCode(ctx, err, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode prints err, if any, as one line and maps it to an exit code.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "s3vfs: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, explain(err))
	var u *usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitError
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

// ioStreams are the standard streams a command uses; tests swap them.
type ioStreams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	std := ioStreams{stdin, stdout, stderr}
	if len(args) == 0 {
		return usagef("no command given: run \"s3vfs help\" for the list of commands")
	}
	name, rest := args[0], args[1:]
	var cmd command
	switch name {
	case "demo":
		cmd = &demoCommand{ioStreams: std}
	case "import":
		cmd = &importCommand{ioStreams: std}
	case "export":
		cmd = &exportCommand{ioStreams: std}
	case "query":
		cmd = &queryCommand{ioStreams: std}
	case "shell":
		cmd = &shellCommand{ioStreams: std}
	case "info":
		cmd = &infoCommand{ioStreams: std}
	case "log", "history":
		cmd = &logCommand{ioStreams: std}
	case "gc":
		cmd = &gcCommand{ioStreams: std}
	case "restore":
		cmd = &restoreCommand{ioStreams: std}
	case "branch":
		cmd = &branchCommand{ioStreams: std}
	case "merge":
		cmd = &mergeCommand{ioStreams: std}
	case "rm":
		cmd = &rmCommand{ioStreams: std}
	case "bench":
		cmd = &benchCommand{ioStreams: std}
	case "doctor":
		cmd = &doctorCommand{ioStreams: std}
	case "migrate":
		cmd = &migrateCommand{ioStreams: std}
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "--help"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, mainUsage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return nil
	default:
		return &usageError{fmt.Sprintf("unknown command %q: run \"s3vfs help\" for the list of commands", name)}
	}
	return cmd.Run(ctx, rest)
}

const mainUsage = `s3vfs keeps SQLite databases in an S3 bucket.

Usage:

	s3vfs <command> [flags] [arguments]

Commands:

	demo     run a throwaway local S3 server and show the library at work
	import   copy a local SQLite file into S3:      s3vfs import app.db s3://bucket/app.db
	export   copy a database from S3 to a file:     s3vfs export [--commit N] s3://bucket/app.db app.db
	query    run SQL (one or more statements):      s3vfs query s3://bucket/app.db "SELECT 1"
	shell    interactive SQL prompt:                s3vfs shell s3://bucket/app.db
	info     block size, page size, commit, objects: s3vfs info s3://bucket/app.db
	log      list the commits kept (or "history"):  s3vfs log s3://bucket/app.db
	gc       delete what no kept version needs:     s3vfs gc --dry-run s3://bucket/app.db
	restore  publish an old commit as the newest:   s3vfs restore s3://bucket/app.db 1234
	branch   a new database from a commit, no copy: s3vfs branch s3://bucket/app.db@1234 s3://bucket/test.db
	merge    bring a branch's changes back:         s3vfs merge s3://bucket/test.db s3://bucket/app.db
	rm       remove a database and its history:    s3vfs rm --yes s3://bucket/test.db
	bench    measure against a local S3 server:     s3vfs bench --latency 20ms
	doctor   test the store behind a bucket:        s3vfs doctor s3://bucket
	migrate  move a Python sqlite-s3vfs database:   s3vfs migrate s3://bucket/app.db
	version  print the version

Run "s3vfs <command> --help" for a command's flags and examples.
Databases are named s3://BUCKET/KEY. AWS settings come from the standard
environment and config files; see docs/cli.md.
`
