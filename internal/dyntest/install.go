package dyntest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/s3vfs/s3vfs/internal/testproc"
)

// CLI returns the path of dynalite's cli.js of [DynaliteVersion],
// installing it with `npm install` into the user cache directory the first
// time. Later calls, in this or any other process, reuse the cached copy.
func CLI(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	if p := os.Getenv(EnvDynalite); p != "" {
		return p, nil
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "s3vfs")
	dir := filepath.Join(parent, "dynalite-"+DynaliteVersion)
	cli := filepath.Join(dir, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("dyntest: create cache dir: %w", err)
	}
	// Serialise concurrent installs (several test packages start at once).
	// The install goes to a temporary directory that is renamed into place
	// only once it works, so dir is either absent or complete.
	unlock, err := testproc.Lock(dir + ".lock")
	if err != nil {
		return "", fmt.Errorf("dyntest: lock install dir: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	if err := install(ctx, parent, dir, logf); err != nil {
		return "", err
	}
	return cli, nil
}

// install installs dynalite into dir, a new directory in parent: into a
// temporary directory first, renamed to dir once dynalite loads. The
// caller holds dir's lock.
func install(ctx context.Context, parent, dir string, logf func(format string, args ...any)) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("dyntest: no DynamoDB server available: npm not found in PATH: "+
			"install Node.js and npm (Debian: apt-get install nodejs npm), "+
			"or set %s to dynalite's cli.js, or set %s to a DynamoDB-compatible endpoint",
			EnvDynalite, EnvEndpoint)
	}
	node, err := nodeBinary()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "dynalite-install-")
	if err != nil {
		return fmt.Errorf("dyntest: %w", err)
	}
	defer os.RemoveAll(tmp)
	// A package.json of its own keeps npm from treating some enclosing
	// directory as the project.
	if err := os.WriteFile(filepath.Join(tmp, "package.json"),
		[]byte(`{"name": "s3vfs-dynalite", "private": true}`+"\n"), 0o644); err != nil {
		return fmt.Errorf("dyntest: %w", err)
	}
	logf("dyntest: installing dynalite %s into %s with npm (first run on this machine only, a few seconds)", DynaliteVersion, dir)
	start := time.Now()
	if err := npmInstall(ctx, npm, tmp); err != nil {
		return err
	}
	if err := checkLoads(ctx, node, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("dyntest: %w", err)
	}
	logf("dyntest: installed dynalite %s in %v", DynaliteVersion, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// npmInstall runs npm to install dynalite of [DynaliteVersion] into the
// project directory dir.
func npmInstall(ctx context.Context, npm, dir string) error {
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-update-notifier",
		"dynalite@"+DynaliteVersion)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dyntest: no DynamoDB server available: npm install dynalite@%s failed: %w\n%s\n"+
			"Fix: make the npm registry reachable (see `npm config get registry`; proxies via HTTPS_PROXY), "+
			"or set %s to dynalite's cli.js, or set %s to a DynamoDB-compatible endpoint",
			DynaliteVersion, err, lastLines(out, 20), EnvDynalite, EnvEndpoint)
	}
	return nil
}

// checkLoads checks that the dynalite installed in dir loads. dynalite
// loads LevelDB's native module (classic-level) even when it keeps data in
// memory; check now that it loads, rather than cache a copy that cannot
// start.
func checkLoads(ctx context.Context, node, dir string) error {
	check := exec.CommandContext(ctx, node, "-e", "require('dynalite')")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		return fmt.Errorf("dyntest: no DynamoDB server available: dynalite %s was installed but does not load: %w\n%s\n"+
			"Fix: its native module classic-level has no prebuilt binary for this platform and must be compiled: "+
			"install a C++ toolchain (Debian: apt-get install build-essential python3) and allow npm to run "+
			"classic-level's install script; or set %s to a DynamoDB-compatible endpoint",
			DynaliteVersion, err, lastLines(out, 20), EnvEndpoint)
	}
	return nil
}
