package docsnippets

// docs/migrating.md, "Step by step": VFS.Migrate.

import (
	"context"

	"github.com/s3vfs/s3vfs"
)

func migratingMigrate(ctx context.Context, v *s3vfs.VFS) (s3vfs.MigrateReport, error) {
	report, err := v.Migrate(ctx, "legacy/app.db", &s3vfs.MigrateOptions{
		To:           "app.db", // "" migrates in place
		DeleteLegacy: true,
	})
	return report, err
}
